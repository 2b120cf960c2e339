"""Build options: the spellings people bring from trtexec, Polygraphy, PyTorch and numpy are accepted and
recorded under the canonical name; the ones that would mean something else are refused with the reason."""

import re

import pytest

from netdsl.spec import check_text
from netdsl.spec.buildopts import check_option


@pytest.mark.parametrize("spelling,canonical", [
    ("float32", "float32"), ("fp32", "float32"), ("float", "float32"),
    ("float16", "float16"), ("fp16", "float16"), ("half", "float16"), ("FP16", "float16"),
    ("bfloat16", "bfloat16"), ("bf16", "bfloat16"), ("BF16", "bfloat16"),
])
def test_precision_spellings(spelling, canonical):
    assert check_option("precision", spelling) == canonical


@pytest.mark.parametrize("spelling,message", [
    ("fp17", "precision must be one of float32, float16, bfloat16 (also fp32"),
    ("int8", "quantize explicitly"),
    ("fp8", "quantize explicitly"),
    (16, "precision must be one of"),
])
def test_other_precisions_are_refused(spelling, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_option("precision", spelling)


def test_spec_precision_alias_is_stored_canonically():
    checked, diagnostics = check_text("netdsl: 1\nbuild: {precision: half}\ninputs: [{name: x, shape: [1, 4]}]\n"
                                      "layers: [{name: r, kind: relu}]\n")
    assert not diagnostics.has_errors and checked.graph.build.precision == "float16"


@pytest.mark.parametrize("text,size", [
    ("1073741824", 1 << 30), ("1GiB", 1 << 30), ("1G", 1 << 30), ("512M", 512 << 20), ("64K", 64 << 10),
    ("2 MiB", 2 << 20), ("1T", 1 << 40), (4096, 4096),
])
def test_workspace_sizes(text, size):
    assert check_option("workspace", text) == size


@pytest.mark.parametrize("text,message", [
    ("1GB", "ambiguous"), ("1 MB", "ambiguous"), ("1XB", "workspace is a size"), ("2T", "from 1 byte to 1 TiB"),
])
def test_bad_workspace_sizes(text, message):
    with pytest.raises(ValueError, match=message):
        check_option("workspace", text)
