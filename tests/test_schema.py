"""The JSON Schema (tests/test_regenerate.py holds the committed copy current): shipped specs are valid
against it, bad ones not."""

import pathlib

import pytest
import yaml

from netdsl.schema import build_schema

jsonschema = pytest.importorskip("jsonschema")
ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))


def validator():
    schema = build_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_shipped_specs_match_the_schema_and_declare_it(path):
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema="), "specs declare the schema for editors"
    declared = text.splitlines()[0].split("$schema=", 1)[1]
    assert (path.parent / declared).resolve() == ROOT / "schema" / "netdsl-1.schema.json"
    errors = list(validator().iter_errors(yaml.safe_load(text)))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("layer", [
    {"name": "c", "kind": "convolution", "out_channels": 4, "kernal": 3},   # unknown parameter
    {"name": "c", "kind": "convolution", "kernel": 3},                       # missing out_channels
    {"name": "c", "kind": "convolutoin", "out_channels": 4, "kernel": 3},    # unknown kind
    {"name": "u", "kind": "upsample", "mode": "cubic", "scale": 2},          # bad choice
    {"name": "p", "kind": "max_pool", "kernel": 0},                          # out of range
    {"name": "b", "block": "x", "repeat": 0},                                # repeat out of range
    {"name": "r", "kind": "relu", "block": "x"},                             # both kind and block
    {"name": "f", "kind": "fully_connected", "out_features": 2, "weights": "w"},  # weights map not a mapping
])
def test_schema_rejects_bad_layers(layer):
    spec = {"netdsl": 1, "inputs": [{"name": "d", "shape": [1, 3, 8, 8]}], "layers": [layer]}
    assert list(validator().iter_errors(spec))


def test_schema_accepts_block_parameters_inside_blocks():
    spec = {"netdsl": 1, "inputs": [{"name": "d", "shape": [-1, 3, 8, 8], "batch": {"min": 1, "opt": 1, "max": 2}}],
            "blocks": {"u": {"params": {"c": "required"},
                             "layers": [{"name": "conv", "kind": "convolution", "out_channels": "$c", "kernel": 3}]}},
            "layers": [{"name": "x", "block": "u", "with": {"c": 4}}]}
    assert not list(validator().iter_errors(spec))


def test_schema_accepts_block_parameters_inside_lists():
    spec = {"netdsl": 1, "inputs": [{"name": "d", "shape": [1, 4, 8, 8]}],
            "blocks": {"u": {"params": {"c": "required"},
                             "layers": [{"name": "g", "kind": "constant", "shape": ["$c", 1, 1]},
                                        {"name": "r", "kind": "reshape", "shape": [0, "$c", -1]}]}},
            "layers": [{"name": "x", "block": "u", "with": {"c": 4}}]}
    assert not list(validator().iter_errors(spec))
    spec["blocks"]["u"]["layers"][1]["shape"] = [0, "c", -1]
    assert list(validator().iter_errors(spec))


def test_schema_knows_the_weights_section():
    base = {"netdsl": 1, "inputs": [{"name": "d", "shape": [1, 4]}],
            "layers": [{"name": "f", "kind": "fully_connected", "out_features": 2, "weights": {"weight": "head.w"}}]}
    good = [{"file": "w.safetensors", "prefix": "module.", "rename": [{"from": "fc", "to": "head"}]}, "w.wts"]
    bad = [{"perfix": "module."}, {"rename": [{"from": "fc"}]}, ""]
    for weights in good:
        assert not list(validator().iter_errors({**base, "weights": weights})), weights
    for weights in bad:
        assert list(validator().iter_errors({**base, "weights": weights})), weights


def test_schema_knows_every_top_level_key_the_reader_takes():
    from netdsl.spec.read import TOP_KEYS

    assert set(build_schema()["properties"]) == set(TOP_KEYS)


def test_schema_knows_the_build_section():
    base = {"netdsl": 1, "inputs": [{"name": "d", "shape": [1, 4]}],
            "layers": [{"name": "f", "kind": "fully_connected", "out_features": 2}]}
    good = [{"precision": "fp16", "workspace": "1GiB", "refit": "refit", "optimization_level": 3},
            {"strip_weights": True, "version_compatible": True, "exclude_lean_runtime": True,
             "hardware_compatibility": "ampere+", "targets": ["sm86", "sm89"]}]
    bad = [{"precison": "fp16"}, {"strip_weights": "yes"}, {"optimization_level": 9}, {"refit": "always"}]
    for build in good:
        assert not list(validator().iter_errors({**base, "build": build})), build
    for build in bad:
        assert list(validator().iter_errors({**base, "build": build})), build
