"""trtexec and Polygraphy spellings: shapes map onto the batch of a dynamic input or are refused with
what netdsl supports; precision flags agree with --precision; workspace units as trtexec reads them."""

import argparse

import pytest

from netdsl.diagnostics import UsageError
from netdsl.spec import check_text
from netdsl.cli.trtexec import batch_from_shapes, parse_shapes, precision_of, workspace_of

SPEC = """\
netdsl: 1
inputs:
  - {name: image, shape: [-1, 3, 32, 32], batch: {min: 1, opt: 4, max: 8}}
  - {name: mask, shape: [-1, 1, 32, 32], batch: {min: 1, opt: 4, max: 8}}
  - {name: scale, shape: [1, 1, 1, 1]}
layers:
  - {name: both, kind: concat, inputs: [image, mask]}
"""


def args(**values):
    defaults = dict(shapes=None, min_shapes=None, opt_shapes=None, max_shapes=None, batch=None, precision=None,
                    precision_flags=None, workspace=None, mem_pool_size=None, pool_limit=None)
    return argparse.Namespace(**{**defaults, **values})


@pytest.fixture(scope="module")
def checked():
    checked, diagnostics = check_text(SPEC)
    assert checked is not None, list(diagnostics)
    return checked


@pytest.mark.parametrize("text,expected", [
    ("image:4x3x32x32", {"image": (4, 3, 32, 32)}),
    ("image:4x3x32x32,mask:4x1x32x32", {"image": (4, 3, 32, 32), "mask": (4, 1, 32, 32)}),
    ("'image':[4,3,32,32]", {"image": (4, 3, 32, 32)}),
    ("image:[4, 3, 32, 32],mask:[4,1,32,32]", {"image": (4, 3, 32, 32), "mask": (4, 1, 32, 32)}),
])
def test_parse_shapes(text, expected):
    assert parse_shapes(text, "--shapes") == expected


@pytest.mark.parametrize("text", ["image", "image:4x3xx32", "image:four", ":4x3"])
def test_bad_shape_text(text):
    with pytest.raises(UsageError, match="expected NAME:NxCxHxW"):
        parse_shapes(text, "--shapes")


def test_shapes_alone_fix_the_batch_as_trtexec_does(checked):
    notes = []
    assert batch_from_shapes(checked, args(shapes=["image:4x3x32x32"]), notes) == (4, 4, 4)
    assert "min = opt = max" in notes[0]


def test_min_opt_max_shapes(checked):
    given = args(min_shapes=["image:2x3x32x32"], max_shapes=["image:16x3x32x32,mask:16x1x32x32"])
    assert batch_from_shapes(checked, given, []) == (2, 4, 16)  # opt: the spec's
    polygraphy = args(min_shapes=["image:[1,3,32,32]"], opt_shapes=["image:[2,3,32,32]"], max_shapes=["image:[3,3,32,32]"])
    assert batch_from_shapes(checked, polygraphy, []) == (1, 2, 3)
    assert batch_from_shapes(checked, args(), []) is None


@pytest.mark.parametrize("given,message", [
    (dict(shapes=["image:4x3x64x64"]), "dimension 2 is 32, not 64; netdsl varies only the batch"),
    (dict(shapes=["scale:2x1x1x1"]), "its batch is fixed; write -1 as the first dimension"),
    (dict(shapes=["imag:4x3x32x32"]), "did you mean `image`?"),
    (dict(shapes=["image:4x3x32"]), "3 dimensions"),
    (dict(shapes=["image:4x3x32x32,mask:8x1x32x32"]), "one batch range for every dynamic input"),
    (dict(min_shapes=["image:8x3x32x32"], max_shapes=["image:2x3x32x32"]), "min <= opt <= max"),
    (dict(shapes=["image:4x3x32x32"], batch="1,2,3"), "not both"),
])
def test_shapes_netdsl_cannot_build_are_refused(checked, given, message):
    with pytest.raises(UsageError, match=message):
        batch_from_shapes(checked, args(**given), [])


def test_precision_flags():
    assert precision_of(args(precision_flags=["float16"])) == "float16"
    assert precision_of(args(precision="half", precision_flags=["float16"])) == "float16"
    assert precision_of(args(precision="bf16")) == "bfloat16"
    with pytest.raises(UsageError, match="conflicting precisions: --precision fp16 and --bf16"):
        precision_of(args(precision="fp16", precision_flags=["bfloat16"]))


def test_workspace_spellings():
    assert workspace_of(args(workspace="1G")) == "1G"
    assert workspace_of(args(mem_pool_size=["workspace:1024"])) == "1024M"  # trtexec: MiB
    assert workspace_of(args(mem_pool_size=["workspace:1G"])) == "1G"
    assert workspace_of(args(pool_limit=["workspace:4096"])) == "4096"  # Polygraphy: bytes
    with pytest.raises(UsageError, match="trtexec's old --workspace counted MiB: write 1024M"):
        workspace_of(args(workspace="1024"))
    with pytest.raises(UsageError, match="workspace pool only"):
        workspace_of(args(mem_pool_size=["dlaSRAM:1M"]))
