"""Binding weight files to specs: PyTorch state_dicts bind unchanged; every problem is reported."""

import pathlib

import numpy as np
import pytest

from netdsl.diagnostics import Diagnostics, SpecError
from netdsl.spec import load
from netdsl.weights import read_weights, write_weights
from netdsl.weights.bind import bind

torch = pytest.importorskip("torch")
nn = torch.nn
ROOT = pathlib.Path(__file__).resolve().parents[2]


class LeNet(nn.Module):  # tensorrtx's pytorchx LeNet: conv1, conv2, fc1, fc2, fc3
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)


class BasicBlock(nn.Module):  # torchvision's module names
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths = [64, 128, 256, 512]
        for index, width in enumerate(widths):
            cin = widths[index - 1] if index else 64
            stride = 1 if index == 0 else 2
            setattr(self, f"layer{index + 1}", nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width, 1)))
        self.fc = nn.Linear(512, 1000)


def state_dict(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("extension", ["safetensors", "wts", "npz"])
def test_lenet_state_dict_binds_unchanged(tmp_path, extension):
    path = str(tmp_path / f"lenet.{extension}")
    weights = state_dict(LeNet())
    write_weights(path, weights)
    diagnostics = Diagnostics()
    bound = bind(load(str(ROOT / "specs/lenet.yaml")), read_weights(path), path, diagnostics=diagnostics)
    assert list(diagnostics) == []
    assert sorted(bound) == sorted(weights)
    for name, weight in bound.items():
        assert weight.array.shape == weights[name].shape and np.array_equal(weight.array, weights[name])


def test_torchvision_style_resnet18_binds_with_no_diagnostic(tmp_path):
    model = ResNet18()
    path = str(tmp_path / "r18.safetensors")
    weights = state_dict(model)
    write_weights(path, weights)
    diagnostics = Diagnostics()
    bound = bind(load(str(ROOT / "specs/zoo/resnet18.yaml")), read_weights(path), path, strict=True,
                 diagnostics=diagnostics)
    assert list(diagnostics) == []  # num_batches_tracked are known buffers, not "unused"
    assert len(bound) == len([k for k in weights if not k.endswith("num_batches_tracked")])
    assert sum(p.numel() for p in model.parameters()) == 11_689_512


def test_every_problem_is_reported_together(tmp_path):
    weights = state_dict(LeNet())
    del weights["conv2.bias"]
    weights["fc1.weight"] = weights["fc1.weight"][:, :256]
    weights["fc3.bias"] = weights["fc3.bias"].copy()
    weights["fc3.bias"][0] = np.inf
    weights["fc2.weight"] = weights["fc2.weight"].astype(np.int64)
    weights["conv1.bais"] = np.zeros(6, np.float32)
    path = str(tmp_path / "bad.safetensors")
    write_weights(path, weights)
    with pytest.raises(SpecError) as caught:
        bind(load(str(ROOT / "specs/lenet.yaml")), read_weights(path), path, strict=True)
    found = {(d.code, d.weight, d.pos.path.endswith("lenet.yaml")) for d in caught.value.diagnostics}
    assert found == {("missing-weight", "conv2.bias", True), ("weight-shape", "fc1.weight", True),
                     ("weight-not-finite", "fc3.bias", True), ("weight-dtype", "fc2.weight", True),
                     ("unused-weight", "conv1.bais", False)}
    missing = next(d for d in caught.value.diagnostics if d.code == "missing-weight")
    conv2_line = next(i for i, line in enumerate((ROOT / "specs/lenet.yaml").read_text().splitlines(), 1)
                      if "{name: conv2," in line)
    assert missing.pos.line == conv2_line and missing.layer == "conv2"


def test_unused_weights_warn_unless_strict(tmp_path):
    weights = {**state_dict(LeNet()), "stray.weight": np.ones(2, np.float32)}
    path = str(tmp_path / "stray.wts")
    write_weights(path, weights)
    diagnostics = Diagnostics()
    bind(load(str(ROOT / "specs/lenet.yaml")), read_weights(path), path, diagnostics=diagnostics)
    [warning] = diagnostics
    assert (warning.code, warning.severity, warning.pos.line) == ("unused-weight", "warning", 12)


def test_wts_count_mismatch_names_both_counts(tmp_path):
    weights = state_dict(LeNet())
    weights["conv1.weight"] = weights["conv1.weight"].reshape(-1)[:100]
    path = str(tmp_path / "short.wts")
    write_weights(path, weights)
    with pytest.raises(SpecError, match="has 100 values, layer `conv1` needs 150"):
        bind(load(str(ROOT / "specs/lenet.yaml")), read_weights(path), path)


MAPPED_LENET = """\
netdsl: 1
weights:
  file: w/lenet.safetensors
  prefix: module.
  rename:
    - {from: fc, to: classifier.fc}
inputs:
  - {name: data, shape: [1, 1, 32, 32]}
layers:
  - {name: conv1, kind: convolution, out_channels: 6, kernel: 5}
  - {name: pool1, kind: max_pool, kernel: 2}
  - {name: conv2, kind: convolution, out_channels: 16, kernel: 5, weights: {weight: c2.w, bias: c2.b}}
  - {name: pool2, kind: max_pool, kernel: 2}
  - {name: fc1, kind: fully_connected, out_features: 120}
  - {name: fc2, kind: fully_connected, out_features: 84}
  - {name: fc3, kind: fully_connected, out_features: 10}
"""


def mapped_keys(weights):
    """The names a DataParallel checkpoint of a model with a `classifier` submodule would use."""
    renamed = {}
    for name, array in weights.items():
        if name.startswith("conv2."):
            renamed["c2." + name[6:7]] = array
        elif name.startswith("fc"):
            renamed["module.classifier." + name] = array
        else:
            renamed["module." + name] = array
    return renamed


def test_spec_maps_file_names_by_prefix_rename_and_per_layer(tmp_path):
    weights = state_dict(LeNet())
    (tmp_path / "w").mkdir()
    write_weights(str(tmp_path / "w/lenet.safetensors"), mapped_keys(weights))
    spec = tmp_path / "lenet.yaml"
    spec.write_text(MAPPED_LENET)
    checked = load(str(spec))
    assert checked.graph.weights.file == str(tmp_path / "w/lenet.safetensors")  # relative to the spec
    diagnostics = Diagnostics()
    path = checked.graph.weights.file
    bound = bind(checked, read_weights(path), path, strict=True, diagnostics=diagnostics)
    assert list(diagnostics) == []
    assert sorted(bound) == sorted(weights)  # canonical names whatever the file calls them
    for name, weight in bound.items():
        assert np.array_equal(weight.array, weights[name])


def test_mapped_names_in_errors_and_unmatched_rules(tmp_path):
    weights = mapped_keys(state_dict(LeNet()))
    del weights["module.conv1.bias"], weights["c2.w"]
    write_weights(str(tmp_path / "w.safetensors"), weights)
    spec = tmp_path / "lenet.yaml"
    spec.write_text(MAPPED_LENET.replace("{from: fc, to: classifier.fc}",
                                         "{from: fc, to: classifier.fc}\n    - {from: head, to: x}"))
    diagnostics = Diagnostics()
    bind(load(str(spec)), read_weights(str(tmp_path / "w.safetensors")), "w.safetensors", diagnostics=diagnostics)
    found = {(d.code, d.pos.line, d.pos.col): d.message for d in diagnostics}
    assert set(found) == {("missing-weight", 11, 5), ("missing-weight", 13, 77), ("unused-rename", 7, 7)}
    assert "(looked up as `module.conv1.bias`)" in found["missing-weight", 11, 5]
    assert "(looked up as `c2.w`)" in found["missing-weight", 13, 77]


def test_two_weights_from_one_file_entry_are_refused(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("netdsl: 1\ninputs: [{name: x, shape: [1, 4]}]\nlayers:\n"
                    "  - {name: fc, kind: fully_connected, out_features: 4, weights: {weight: w, bias: w}}\n")
    with pytest.raises(SpecError, match="`fc.bias` and `fc.weight` both read `w`"):
        bind(load(str(spec)), {}, "w.safetensors")


def test_weight_keys_starting_with_a_dot_are_relative_to_the_block_instance(tmp_path):
    # ConvNeXt's CNBlock registers `layer_scale` on the block's module itself: features.1.0.layer_scale
    spec = tmp_path / "s.yaml"
    spec.write_text("netdsl: 1\ninputs: [{name: x, shape: [1, 4, 2, 2]}]\n"
                    "blocks:\n  scaled:\n    inputs: [x]\n    layers:\n"
                    "      - {name: gain, kind: constant, shape: [4, 1, 1], weights: {value: .layer_scale}}\n"
                    "      - {name: mul, kind: mul, inputs: [gain, x]}\n"
                    "layers:\n  - {name: stage, block: scaled, repeat: 2}\n"
                    "  - {name: top, kind: constant, shape: [1], weights: {value: .gain}}\n")
    weights = {"stage.0.layer_scale": np.full((4, 1, 1), 2, np.float32),
               "stage.1.layer_scale": np.full((4, 1, 1), 3, np.float32), "gain": np.ones(1, np.float32)}
    write_weights(str(tmp_path / "w.safetensors"), weights)
    bound = bind(load(str(spec)), read_weights(str(tmp_path / "w.safetensors")), "w.safetensors", strict=True)
    assert {name: float(w.array.flat[0]) for name, w in bound.items()} == {
        "stage.0.gain.value": 2.0, "stage.1.gain.value": 3.0, "top.value": 1.0}


INDEX_SPEC = """netdsl: 1
inputs: [{name: x, shape: [1, 5, 2]}]
layers:
  - {name: index, kind: constant, shape: [3], dtype: int64}
  - {name: table, kind: constant, shape: [5, 2]}
  - {name: picked, kind: gather, dim: 0, inputs: [table, index]}
"""


@pytest.mark.parametrize("extension", ["safetensors", "wts"])
def test_integer_buffers_bind_to_integer_constants(tmp_path, extension):
    # Swin's relative_position_index: an int64 buffer of the state_dict (float32 in a .wts file)
    spec = tmp_path / "s.yaml"
    spec.write_text(INDEX_SPEC)
    path = str(tmp_path / f"w.{extension}")
    write_weights(path, {"index.value": np.array([4, 0, 2]), "table.value": np.ones((5, 2), np.float32)})
    checked = load(str(spec))
    bound = bind(checked, read_weights(path), path, strict=True)
    assert bound["index.value"].array.tolist() == [4, 0, 2]
    from netdsl import summary

    rows = {row["name"]: row for row in summary.to_json(checked)["layers"]}
    assert (rows["index"]["params"], rows["index"]["buffers"], rows["table"]["params"]) == (0, 3, 10)


def test_integer_constants_refuse_fractions_and_float_constants_refuse_integers(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(INDEX_SPEC)
    path = str(tmp_path / "w.safetensors")
    write_weights(path, {"index.value": np.array([4, 0.5, 2], np.float32), "table.value": np.ones((5, 2), np.int64)})
    diagnostics = Diagnostics()
    bind(load(str(spec)), read_weights(path), path, diagnostics=diagnostics)
    found = {d.weight: d.message for d in diagnostics}
    assert set(found) == {"index.value", "table.value"}
    assert "must hold integers" in found["index.value"] and "need floating point" in found["table.value"]
