"""Whole networks on the reference executor against PyTorch: ResNet-18 (torchvision's structure, written
out in torch functions here) and the shipped LeNet, whose PyTorch predictions on the held-out digits
the reference must reproduce exactly."""

import pathlib

import numpy as np
import pytest

from netdsl import reference
from netdsl.build import bind_weights, load_spec
from netdsl.weights.bind import BoundWeight

torch = pytest.importorskip("torch")
F = torch.nn.functional
ROOT = pathlib.Path(__file__).resolve().parents[2]


def resnet18_torch(w, x):
    def bn(x, name):
        return F.batch_norm(x, w[f"{name}.running_mean"], w[f"{name}.running_var"], w[f"{name}.weight"],
                            w[f"{name}.bias"], False, 0.0, 1e-5)

    x = F.relu(bn(F.conv2d(x, w["conv1.weight"], None, 2, 3), "bn1"))
    x = F.max_pool2d(x, 3, 2, 1)
    for stage in range(1, 5):
        for block in range(2):
            name = f"layer{stage}.{block}"
            stride = 2 if stage > 1 and block == 0 else 1
            y = F.relu(bn(F.conv2d(x, w[f"{name}.conv1.weight"], None, stride, 1), f"{name}.bn1"))
            y = bn(F.conv2d(y, w[f"{name}.conv2.weight"], None, 1, 1), f"{name}.bn2")
            if f"{name}.downsample.0.weight" in w:
                x = bn(F.conv2d(x, w[f"{name}.downsample.0.weight"], None, stride), f"{name}.downsample.1")
            x = F.relu(y + x)
    return F.linear(F.adaptive_avg_pool2d(x, 1).flatten(1), w["fc.weight"], w["fc.bias"])


def test_resnet18_matches_torch():
    checked = load_spec(str(ROOT / "specs/zoo/resnet18.yaml"))
    rng = np.random.default_rng(0)
    bound = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            fan_in = int(np.prod(slot.shape[1:])) or 1
            array = (rng.standard_normal(slot.shape) * (np.sqrt(2 / fan_in) if slot.name == "weight" and len(
                slot.shape) > 1 else 0.1)).astype(np.float32)
            if slot.name == "running_var":
                array = np.abs(array) + 0.5
            if slot.name == "weight" and len(slot.shape) == 1:  # batch norm gamma: keeps activations near 1
                array = array + 0.3
            name = f"{node.name}.{slot.name}"
            bound[name] = BoundWeight(name, node.name, slot.name, array)
    x = rng.standard_normal((2, 3, 224, 224)).astype(np.float32)
    got = reference.run(checked, bound, {"input": x})["logits"]
    with torch.no_grad():
        expected = resnet18_torch({k: torch.from_numpy(b.array) for k, b in bound.items()}, torch.from_numpy(x)).numpy()
    error = np.abs(got - expected).max()
    assert error <= 1e-4, (error, np.abs(expected).max())


def test_shipped_lenet_reproduces_pytorch_predictions_and_accuracy():
    checked = load_spec(str(ROOT / "specs/lenet.yaml"))
    bound = bind_weights(checked)
    with np.load(ROOT / "weights/lenet_heldout.npz", allow_pickle=False) as data:
        images, labels, prob, predicted = data["images"], data["labels"], data["prob"], data["predicted"]
    batch = checked.graph.inputs[0].batch[2]
    got = np.concatenate([reference.run(checked, bound, {"data": images[i:i + batch]})["prob"]
                          for i in range(0, len(images), batch)])
    assert np.array_equal(got.argmax(1), predicted)
    assert (got.argmax(1) == labels).mean() == (predicted == labels).mean()
    assert np.abs(got - prob).max() <= 1e-4
