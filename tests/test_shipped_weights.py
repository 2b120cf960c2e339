"""The weights the repo ships (tools/train_lenet.py): both files agree, bind strictly to the spec, and a
plain PyTorch LeNet with them reproduces the shipped predictions and the accuracy docs/weights.md states."""

import pathlib
import re

import numpy as np
import pytest

from netdsl.diagnostics import Diagnostics
from netdsl.spec import load
from netdsl.weights import read_weights
from netdsl.weights.bind import bind

torch = pytest.importorskip("torch")
F = torch.nn.functional
ROOT = pathlib.Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"


def heldout():
    with np.load(WEIGHTS / "lenet_heldout.npz", allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def test_safetensors_and_wts_hold_the_same_values():
    safetensors = read_weights(str(WEIGHTS / "lenet.safetensors"))
    wts = read_weights(str(WEIGHTS / "lenet.wts"))
    assert sorted(safetensors) == sorted(wts)
    for name, tensor in safetensors.items():
        assert np.array_equal(tensor.data.reshape(-1), wts[name].data), name


def test_spec_default_weights_bind_strictly():
    checked = load(str(ROOT / "specs/lenet.yaml"))
    assert pathlib.Path(checked.graph.weights.file) == WEIGHTS / "lenet.safetensors"
    diagnostics = Diagnostics()
    bound = bind(checked, read_weights(checked.graph.weights.file), checked.graph.weights.file, strict=True,
                 diagnostics=diagnostics)
    assert list(diagnostics) == [] and len(bound) == 10


def torch_lenet(weights, x):
    """LeNet-5 written out in torch functions, independent of netdsl's spec and tools/."""
    w = {name: torch.from_numpy(np.array(t.data)) for name, t in weights.items()}
    x = F.max_pool2d(F.relu(F.conv2d(x, w["conv1.weight"], w["conv1.bias"])), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, w["conv2.weight"], w["conv2.bias"])), 2)
    x = F.relu(F.linear(x.flatten(1), w["fc1.weight"], w["fc1.bias"]))
    x = F.relu(F.linear(x, w["fc2.weight"], w["fc2.bias"]))
    return F.softmax(F.linear(x, w["fc3.weight"], w["fc3.bias"]), dim=1)


def test_pytorch_reproduces_shipped_predictions_and_stated_accuracy():
    data = heldout()
    assert data["images"].shape == (360, 1, 32, 32) and data["images"].dtype == np.float32
    prob = torch_lenet(read_weights(str(WEIGHTS / "lenet.safetensors")), torch.from_numpy(data["images"])).numpy()
    np.testing.assert_allclose(prob, data["prob"], rtol=1e-4, atol=1e-6)
    assert np.array_equal(prob.argmax(1), data["predicted"])
    accuracy = float((data["predicted"] == data["labels"]).mean())
    stated = re.search(r"held-out accuracy of ([0-9.]+)%", (ROOT / "docs" / "weights.md").read_text())
    assert stated, "docs/weights.md states the held-out accuracy"
    assert float(stated.group(1)) == round(accuracy * 100, 1)
