"""Checkpoints whose names differ from the spec's by one prefix (DataParallel's `module.`, a `backbone.`
wrapper, a `model.` too many): one diagnostic with the exact `weights:` mapping instead of one per
tensor, and `module.` read automatically when that is unambiguous."""

import pathlib

import numpy as np
import pytest

from netdsl.diagnostics import Diagnostics
from netdsl.spec import load
from netdsl.spec.weightnames import find_prefix_rule
from netdsl.weights import read_weights, write_weights
from netdsl.weights.bind import bind

SPEC = """\
netdsl: 1
weights: w.wts
inputs: [{name: x, shape: [1, 3, 8, 8]}]
layers:
  - {name: stem.0, kind: convolution, out_channels: 4, kernel: 3, bias: false}
  - {name: stem.1, kind: batch_norm}
  - {name: fc, kind: fully_connected, out_features: 2}
"""
SHAPES = {"stem.0.weight": (4, 3, 3, 3), "stem.1.weight": (4,), "stem.1.bias": (4,), "stem.1.running_mean": (4,),
          "stem.1.running_var": (4,), "fc.weight": (2, 144), "fc.bias": (2,)}


def state(prefix="", drop=()):
    rng = np.random.default_rng(0)
    arrays = {prefix + name: rng.random(shape, dtype=np.float32) + 0.5 for name, shape in SHAPES.items()
              if name not in drop}
    arrays[prefix + "stem.1.num_batches_tracked"] = np.zeros((1,), np.float32)
    return arrays


def bind_file(tmp_path, arrays, spec=SPEC):
    spec_path = tmp_path / "net.yaml"
    spec_path.write_text(spec)
    write_weights(str(tmp_path / "w.wts"), arrays)
    checked = load(str(spec_path))
    diagnostics = Diagnostics()
    bound = bind(checked, read_weights(str(tmp_path / "w.wts")), str(tmp_path / "w.wts"), diagnostics=diagnostics)
    return bound, diagnostics


def test_dataparallel_prefix_is_read_with_one_warning(tmp_path):
    bound, diagnostics = bind_file(tmp_path, state("module."))
    assert [(d.severity, d.code) for d in diagnostics] == [("warning", "weights-prefix")]
    [warning] = diagnostics
    assert "all 7 weights" in warning.message and "under `module.`" in warning.message
    assert warning.pos.line == 2  # the spec's `weights:` line
    assert warning.hint == "say so in the spec to silence this: `weights: {file: w.wts, prefix: module.}`"
    assert sorted(bound) == sorted(SHAPES)
    assert np.array_equal(bound["fc.bias"].array, state("module.")["module.fc.bias"])


@pytest.mark.parametrize("prefix", ["backbone.", "model.net."])
def test_other_prefixes_give_one_error_whose_mapping_works(tmp_path, prefix):
    bound, diagnostics = bind_file(tmp_path, state(prefix))
    assert [(d.severity, d.code) for d in diagnostics] == [("error", "weights-prefix")]
    mapping = diagnostics[0].hint.split("`")[1]
    assert mapping == f"weights: {{file: w.wts, prefix: {prefix}}}"
    # The suggested mapping, pasted into the spec, binds every weight with no diagnostics at all.
    bound, diagnostics = bind_file(tmp_path, state(prefix), SPEC.replace("weights: w.wts", mapping))
    assert list(diagnostics) == [] and sorted(bound) == sorted(SHAPES)


def test_names_with_a_prefix_too_many_suggest_a_rename(tmp_path):
    spec = SPEC.replace("stem.0", "model.stem.0").replace("stem.1", "model.stem.1").replace("name: fc", "name: model.fc")
    bound, diagnostics = bind_file(tmp_path, state(), spec)
    [error] = diagnostics
    assert "lack the leading `model.`" in error.message
    mapping = error.hint.split("`")[1]
    assert mapping == "weights: {file: w.wts, rename: [{from: model., to: ''}]}"
    bound, diagnostics = bind_file(tmp_path, state(), spec.replace("weights: w.wts", mapping))
    assert list(diagnostics) == []


def test_a_prefix_plus_a_missing_weight_reports_both(tmp_path):
    bound, diagnostics = bind_file(tmp_path, state("module.", drop=("fc.bias",)))
    assert [(d.severity, d.code) for d in diagnostics] == [("error", "weights-prefix"), ("error", "missing-weight")]
    assert "6 of the 7 weights" in diagnostics[0].message and "`fc.bias`" in diagnostics[1].message


def test_scattered_differences_are_not_called_a_prefix():
    assert find_prefix_rule(["conv1.weight", "fc.bias"], ["conv1.w", "head.bias"]) is None
    assert find_prefix_rule(["a.b.weight"], ["module.a.b.weight"]) is None  # one weight: the per-weight hint
    # A lone slot name (`weight`) is no evidence: layers named differently are not a prefix change.
    assert find_prefix_rule(["conv.weight", "conv.bias"], ["c.weight", "c.bias"]) is None
