"""netdsl.from_torch and `netdsl import --torch`: a PyTorch module as a spec whose names are its module
paths, whose blocks are its repeated children, whose weights are its state_dict, and whose reference
outputs are the module's."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import netdsl
from onnx_helpers import randomized

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "zoo"))
from torch_models import MODELS  # noqa: E402


def test_resnet18_keeps_module_names_blocks_and_state_dict():
    model = randomized(MODELS["resnet18"](), seed=4)
    imported = netdsl.from_torch(model, torch.randn(1, 3, 224, 224))
    state = {k: v.numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(imported.weights) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(imported.weights[key], value, err_msg=key)
    # blocks are named after the modules' class (BasicBlock), which an ONNX file does not record
    assert "- {name: layer1, block: basic_block, repeat: 2}" in imported.text
    assert "- {name: layer3, block: basic_block_2, with: {out_channels: 256}, repeat: 2" in imported.text
    assert "layer1.0.conv1" in {n.name for n in imported.checked.graph.nodes}
    x = np.random.default_rng(5).standard_normal((2, 3, 224, 224)).astype(np.float32)
    [ours] = imported.reference({"input": x}).values()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.abs(ours - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))
    assert model.training is False  # (randomized put it in eval mode; from_torch leaves the mode as it was)


def test_mobilenet_v2_blocks_are_named_after_their_class():
    imported = netdsl.from_torch(randomized(MODELS["mobilenet_v2"]()), torch.randn(1, 3, 64, 64))
    lines = imported.text.splitlines()
    assert sum(", block: inverted_residual, with: {" in line for line in lines) == 16  # features.2 ... 17
    assert "  - {name: features.0, block: features_0, with: {stride: 2}}" in lines  # an nn.Sequential: no class name


def test_the_module_keeps_its_training_mode():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU()).train()
    imported = netdsl.from_torch(model, torch.randn(2, 4))
    assert model.training
    assert [n.kind for n in imported.checked.graph.nodes] == ["fully_connected", "relu"]
    assert set(imported.weights) == {"0.weight", "0.bias"}


@pytest.mark.slow  # a subprocess importing torch and tracing MobileNetV2: about 8 s
def test_cli_import_torch(tmp_path):
    out = tmp_path / "mobilenet.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "zoo")}
    result = subprocess.run([sys.executable, "-m", "netdsl", "import", "--torch", "torch_models:MobileNetV2",
                             "--shape", "Nx3x96x96", "-o", str(out)], capture_output=True, text=True, cwd=ROOT,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "weights: mobilenet.safetensors" in text and (tmp_path / "mobilenet.safetensors").exists()
    assert "shape: [-1, 3, 96, 96]" in text
    result = subprocess.run([sys.executable, "-m", "netdsl", "validate", str(out), "--weights", "--strict"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_import_torch_needs_a_shape(tmp_path):
    result = subprocess.run([sys.executable, "-m", "netdsl", "import", "--torch", "torch_models:MobileNetV2",
                             "-o", str(tmp_path / "m.yaml")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and "--shape" in result.stderr and "Traceback" not in result.stderr
