"""`netdsl import` of ONNX files that PyTorch writes (made here with random weights, nothing
downloaded): the spec validates, its weights bind strictly under the state_dict's names, its
reference outputs equal ONNX Runtime's on the file, its parameter count equals the model's, and it
reads like a hand-written spec (module names, batch norm as a layer, blocks with repeat)."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import bound_weights, randomized, run_onnxruntime, torch_export

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "zoo"))
from torch_models import MODELS  # noqa: E402


def imported_from_torch(model, tmp_path, shape, name="model", **export):
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / f"{name}.onnx"
    torch_export(model, path, shape, **export)
    imported = import_onnx(str(path), str(tmp_path / f"{name}.yaml"))
    return path, imported


def assert_same_outputs(path, imported, shape, batch=2):
    checked = imported.checked
    x = np.random.default_rng(1).standard_normal((batch, *shape[1:])).astype(np.float32)
    ours = reference.run(checked, bound_weights(imported), {checked.graph.inputs[0].name: x})
    theirs = run_onnxruntime(path.read_bytes(), {"input": x})
    for (name, value), expected in zip(ours.items(), theirs):
        scale = max(1.0, float(np.abs(expected).max()))
        assert value.shape == expected.shape, name
        assert np.abs(value - expected).max() <= 1e-4 * scale, (name, np.abs(value - expected).max(), scale)


def parameters(checked) -> int:
    return sum(slot.count for node in checked.graph.nodes for slot in node.weight_slots(checked.types)
               if slot.trainable)


def test_resnet18(tmp_path):
    model = randomized(MODELS["resnet18"]())
    path, imported = imported_from_torch(model, tmp_path, (1, 3, 224, 224), "resnet18")
    assert parameters(imported.checked) == sum(p.numel() for p in model.parameters()) == 11_689_512
    assert set(imported.weights) == {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    text = imported.text
    assert ("- {name: layer2, block: layer, with: {out_channels: 128}, repeat: 2, first: {stride: 2, downsample: "
            "true}}") in text
    assert "{name: bn1, kind: batch_norm}" in text and "when: $downsample" in text
    assert "shape: [-1, 3, 224, 224], batch: {min: 1, opt: 1, max: 32}}  # dimension 0 is ONNX's `batch`" in text
    assert "- {name: fc, kind: fully_connected, out_features: 1000}" in text  # Flatten + Gemm
    assert_same_outputs(path, imported, (1, 3, 224, 224))


def test_mobilenet_v2(tmp_path):
    model = randomized(MODELS["mobilenet_v2"]())
    path, imported = imported_from_torch(model, tmp_path, (1, 3, 224, 224), "mobilenet_v2")
    assert parameters(imported.checked) == sum(p.numel() for p in model.parameters()) == 3_504_872
    text = imported.text
    assert '{name: "2", kind: relu6}' in text  # Clip(0, 6) is PyTorch's ReLU6
    # features.2 ... features.17 are no chain (widths, strides and the residual vary): one block, with:
    assert [line.split(",")[0] for line in text.splitlines() if "block: features_2," in line] == [
        f"  - {{name: features.{i}" for i in range(2, 18)]
    assert "params: {conv_0_0_out_channels: required, stride: 1, conv_2_out_channels: required, residual: false}" in text
    assert "{name: add, kind: add, inputs: [conv.3, x], when: $residual}" in text
    assert ("- {name: features.3, block: features_2, with: {conv_0_0_out_channels: 144, conv_2_out_channels: 24, "
            "residual: true}}") in text
    assert "- {name: features.4, block: features_2, with: {conv_0_0_out_channels: 144, stride: 2, " in text
    # the Conv2dNormActivation modules (features.0, features.1.conv.0, features.18) are a block of their own
    assert "- {name: features.18, block: features_0, with: {out_channels: 1280, kernel: 1, padding: 0}}" in text
    assert len(text.splitlines()) <= 66  # the hand-written specs/zoo/mobilenet_v2.yaml's length
    assert_same_outputs(path, imported, (1, 3, 224, 224))


def test_unet_small_with_shape_computations(tmp_path):
    # interpolate(scale_factor=2) with a dynamic batch: PyTorch computes Resize's sizes from Shape
    model = randomized(MODELS["unet_small"]())
    path, imported = imported_from_torch(model, tmp_path, (1, 3, 64, 64), "unet")
    onnx_ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert parameters(imported.checked) == sum(p.numel() for p in model.parameters())
    assert "{name: resize, kind: interpolate, scale_factor: 2.0, mode: bilinear}" in imported.text, onnx_ops
    assert_same_outputs(path, imported, (1, 3, 64, 64))


class Flattening(torch.nn.Module):
    """x.reshape(x.shape[0], -1, 4): PyTorch writes Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4, 6)

    def forward(self, x):
        return torch.nn.functional.gelu(self.proj(x.reshape(x.shape[0], -1, 4)))


def test_shape_chain_becomes_a_plain_reshape_and_linear_is_one_layer(tmp_path):
    model = randomized(Flattening())
    path, imported = imported_from_torch(model, tmp_path, (2, 8, 3), "flat")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert {"Shape", "Gather", "Concat", "Reshape", "MatMul", "Add", "Erf"} <= set(ops), ops
    assert [n.kind for n in imported.checked.graph.nodes] == ["reshape", "linear", "gelu"], imported.text
    assert "kind: reshape, shape: [0, -1, 4]}" in imported.text
    assert "{name: proj, kind: linear, out_features: 6}" in imported.text
    assert_same_outputs(path, imported, (2, 8, 3), batch=3)


def test_cli_import_then_validate_and_summary(tmp_path):
    model = randomized(MODELS["resnet18"]())
    torch_export(model, tmp_path / "r18.onnx", (1, 3, 224, 224))
    out = tmp_path / "specs" / "r18.yaml"
    out.parent.mkdir()
    result = subprocess.run([sys.executable, "-m", "netdsl", "import", str(tmp_path / "r18.onnx"), "-o", str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and (tmp_path / "specs" / "r18.safetensors").exists()
    result = subprocess.run([sys.executable, "-m", "netdsl", "validate", str(out), "--weights", "--strict"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


class Gridded(torch.nn.Module):
    """A grid computed in forward from the input's size (as YOLOv8's anchors are): the file holds it as
    a constant, which is no parameter of the model."""

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Conv2d(3, 2, 1)

    def forward(self, x):
        h, w = x.shape[-2:]
        grid = torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w) / (h * w)
        return self.proj(x) - grid


def test_a_traced_constant_is_a_buffer_not_a_parameter(tmp_path):
    from netdsl.summary import to_json

    model = randomized(Gridded())
    path, imported = imported_from_torch(model, tmp_path, (1, 3, 4, 5), "grid")
    assert "kind: constant, shape: [1, 1, 4, 5], buffer: true}" in imported.text
    summary = to_json(imported.checked)
    assert summary["total_params"] == sum(p.numel() for p in model.parameters())
    assert sum(layer["buffers"] for layer in summary["layers"]) == 20
    assert_same_outputs(path, imported, (1, 3, 4, 5))
