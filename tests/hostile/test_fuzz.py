"""Fuzzing the spec reader and every weight reader with hypothesis. Any input either loads or gives
netdsl's own error (with a location); never another exception, never more than the deadline per
input, and weight readers never allocate more than a bound proportional to the file.

CI runs a bounded number of examples; for a longer run:
    NETDSL_FUZZ_EXAMPLES=20000 python -m pytest tests/hostile/test_fuzz.py -q
"""

import os
import pathlib
import tracemalloc

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from netdsl.diagnostics import SpecError, UsageError
from netdsl.spec import check_text
from netdsl.weights import read_weights, write_weights

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("NETDSL_FUZZ_EXAMPLES", 150))
SPECS = [p.read_text() for p in sorted((ROOT / "specs").rglob("*.yaml"))]
FUZZ = settings(max_examples=EXAMPLES, deadline=3000, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.data_too_large])
YAML_CHARS = " -:{}[],#&*!|>'\"\n\t0123456789abcxyz._$~%@`<=?"


def assert_checks(text: str) -> None:
    checked, diagnostics = check_text(text, "fuzz.yaml")
    assert (checked is None) == diagnostics.has_errors
    for diagnostic in diagnostics:
        assert diagnostic.pos is not None and diagnostic.pos.line >= 1 and diagnostic.message


@FUZZ
@given(data=st.data())
def test_mutated_specs(data):
    text = data.draw(st.sampled_from(SPECS))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "duplicate", "replace"]))
        if action == "delete":
            text = text[:at] + text[at + data.draw(st.integers(1, 40)):]
        elif action == "insert":
            text = text[:at] + data.draw(st.text(YAML_CHARS, max_size=12)) + text[at:]
        elif action == "duplicate":
            lines = text.splitlines(keepends=True)
            if lines:
                index = data.draw(st.integers(0, len(lines) - 1))
                text = "".join(lines[:index + 1] + [lines[index]] * data.draw(st.integers(1, 3)) + lines[index + 1:])
        else:
            text = text[:at] + data.draw(st.sampled_from(["-1", "0", "1e999", "null", "~", "&a", "*a", "<<: *a",
                                                          "!!python/object:os.system", "$x", "[", "}", "\t",
                                                          "\ufeff", "\x00", "9" * 70])) + text[at + 1:]
    assert_checks(text)


@FUZZ
@given(st.text(YAML_CHARS, max_size=400))
def test_token_soup(text):
    assert_checks(text)


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True)
                           | st.text(max_size=12), lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=40)
LAYER_KEYS = ["name", "kind", "inputs", "out_channels", "kernel", "stride", "padding", "groups", "block", "with",
              "repeat", "when", "weights", "axis", "shape", "scale", "size"]


@FUZZ
@given(layers=st.lists(st.dictionaries(st.sampled_from(LAYER_KEYS), json_values | st.sampled_from(
    ["conv", "relu", "convolution", "add", "concat", "x", 3, [1, 2], "same"]), max_size=6), max_size=8),
       inputs=json_values)
def test_structured_nonsense(layers, inputs):
    document = {"netdsl": 1, "inputs": [{"name": "x", "shape": [1, 3, 8, 8]}] if inputs is None else inputs,
                "layers": layers}
    assert_checks(yaml.safe_dump(document, allow_unicode=True))


def sample_files(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"a.weight": rng.standard_normal((4, 3)).astype(np.float32), "a.bias": np.arange(4, dtype=np.float32),
              "b.running_var": np.ones(2, np.float16)}
    files = {}
    for extension in ("safetensors", "wts", "npz"):
        path = tmp_path / f"w.{extension}"
        write_weights(str(path), arrays)
        files[extension] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    return sample_files(tmp_path_factory.mktemp("weights"))


@FUZZ
@given(data=st.data(), extension=st.sampled_from(["safetensors", "wts", "npz"]))
def test_mutated_weight_files(tmp_path_factory, weight_files, data, extension):
    raw = bytearray(weight_files[extension])
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "number"]))
        if action == "flip" and at < len(raw):
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "truncate":
            del raw[at:]
        elif action == "insert":
            raw[at:at] = data.draw(st.binary(max_size=16))
        else:
            raw[at:at] = data.draw(st.sampled_from([b"99999999999", b"4294967296", b"-1", b"0x", b"18446744073709551615",
                                                    (2**63).to_bytes(8, "little"), b'"data_offsets":[0,9e99]']))
    path = tmp_path_factory.mktemp("fuzz") / f"f.{extension}"
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        tensors = read_weights(str(path))
        for tensor in tensors.values():
            tensor.as_float32()
    except (SpecError, UsageError):
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak <= 64 * len(raw) + (4 << 20), f"{peak:,} bytes allocated for a {len(raw):,}-byte file"


def test_npz_member_claiming_a_gigabyte_costs_nothing(tmp_path, weight_files):
    """Found by the fuzzer: zipfile reads as many bytes as a member's central-directory entry says it
    occupies, and a file's read(n) allocates n bytes before finding the file shorter. Here the first
    member claims about 1 GB of compressed data."""
    raw = bytearray(weight_files["npz"])
    entry = raw.find(b"PK\x01\x02")
    raw[entry + 20:entry + 24] = (0x3FFFFFFF).to_bytes(4, "little")
    path = tmp_path / "claims.npz"
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    try:
        read_weights(str(path))
    except SpecError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak <= 64 * len(raw) + (4 << 20)
