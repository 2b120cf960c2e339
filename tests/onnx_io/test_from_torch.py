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


MODULE_FILE = '''
import torch


class Two(torch.nn.Module):
    """Two outputs, one of them also read by a later layer, and the input returned as it is."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return y, self.head(y.mean((2, 3)))


def make():
    return Two()


def broken():
    raise ValueError("no weights here")
'''


def import_torch(folder, *args):
    # -P: the current folder is not put on sys.path, as for the installed `netdsl` script
    return subprocess.run([sys.executable, "-P", "-m", "netdsl", "import", "--torch", *args], capture_output=True,
                          text=True, cwd=folder, timeout=300)


@pytest.fixture
def module_folder(tmp_path):
    (tmp_path / "mymodule.py").write_text(MODULE_FILE)
    return tmp_path


def test_cli_import_torch_finds_the_module_in_the_current_folder_and_names_the_outputs(module_folder):
    result = import_torch(module_folder, "mymodule:make", "--shape", "1x3x8x8", "-o", "two.yaml")
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(module_folder))
    try:
        import mymodule

        model = mymodule.make().eval()
    finally:
        sys.path.remove(str(module_folder))
        sys.modules.pop("mymodule", None)
    network = netdsl.load(str(module_folder / "two.yaml"))
    assert [o["name"] for o in network.outputs] == ["output0", "output1"]
    x = np.random.default_rng(7).standard_normal((1, 3, 8, 8)).astype(np.float32)
    outputs = network.bind().reference({"input": x})
    with torch.no_grad():
        expected = [t.numpy() for t in model(torch.from_numpy(x))]
    for name, want in zip(("output0", "output1"), expected):
        np.testing.assert_allclose(outputs[name], want, rtol=1e-5, atol=1e-6, err_msg=name)

    result = import_torch(module_folder, "mymodule:make", "--shape", "1x3x8x8", "-o", "named.yaml",
                          "--output-names", "features,logits")
    assert result.returncode == 0, result.stderr
    assert [o["name"] for o in netdsl.load(str(module_folder / "named.yaml")).outputs] == ["features", "logits"]


@pytest.mark.parametrize("args, code, says", [
    (["mymodule:make", "--output-names", "a"], 2, "the module returns 2 tensor(s)"),
    (["mymodule:make", "--output-names", "a,a"], 2, "distinct"),
    (["mymodule:make", "--output-names", "input,b"], 2, "`input` is already the name"),
    (["nomodule:make"], 2, "no module `nomodule` in the current folder"),
    (["mymodule:nothing"], 2, "has no `nothing`"),
    (["mymodule:broken"], 1, "ValueError: no weights here"),
])
def test_cli_import_torch_refusals(module_folder, args, code, says):
    result = import_torch(module_folder, *args, "--shape", "1x3x8x8", "-o", "out.yaml")
    assert result.returncode == code and says in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (module_folder / "out.yaml").exists() and not (module_folder / "out.safetensors").exists()


def test_output_names_of_an_onnx_import_are_a_usage_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "netdsl", "import", "model.onnx", "-o", "m.yaml",
                             "--output-names", "a"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "--torch" in result.stderr


def test_an_input_returned_as_it_is_keeps_its_name_and_the_output_gets_its_own():
    class Both(torch.nn.Module):
        def forward(self, x):
            return x, torch.relu(x)

    imported = netdsl.from_torch(Both(), torch.randn(1, 4), output_names=["same", "positive"])
    x = np.array([[-1.0, 2.0, -3.0, 4.0]], np.float32)
    outputs = imported.reference({"input": x})
    np.testing.assert_array_equal(outputs["same"], x)
    np.testing.assert_array_equal(outputs["positive"], np.maximum(x, 0))


def test_import_help_names_the_tracer():
    result = subprocess.run([sys.executable, "-m", "netdsl", "import", "-h"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, env={**os.environ, "COLUMNS": "2000"})
    assert "torch.fx" not in result.stdout and "TorchScript" in result.stdout
