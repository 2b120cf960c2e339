"""Every zoo model lowered to TensorRT and evaluated with TensorRT's layer semantics
(netdsl.trt.evaluate), against the reference executor and the PyTorch model, on the model's own random
state_dict (tests/zoo). Tolerances relative to the largest |output|: float32 1e-4 (the zoo's own:
summation order over thousands of terms), float16 1e-2 and bfloat16 5e-2 (`netdsl verify`'s: rounding
of every tensor through 20-50 layers; observed maxima are about a tenth of these).

The bigger networks (AlexNet, VGG-16, ResNet-50: seconds each through numpy) are marked slow and run
with `pytest -m slow`."""

import sys
from pathlib import Path

import numpy as np
import pytest

from evalcommon import relative_error
from netdsl import reference
from netdsl.build import load_spec, network_for
from netdsl.spec.buildopts import BuildOptions
from netdsl.weights.bind import bind

pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "zoo"))
from test_zoo import randomized, state_tensors  # noqa: E402
from torch_models import MODELS  # noqa: E402

TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2}
SLOW = {"alexnet", "vgg16", "resnet50"}
run_slow = pytest.mark.slow  # left out of the default run; CI runs `pytest -m slow` too


def lenet():
    sys.path.insert(0, str(ROOT / "tools"))
    from train_lenet import LeNet

    model = randomized(LeNet(), 0)
    return lambda x: torch.softmax(model(x), 1), model


def model_for(name):
    if name == "lenet":
        return lenet()
    model = randomized(MODELS[name](), 0)
    return model, model


SPECS = {"lenet": "specs/lenet.yaml", **{name: f"specs/zoo/{name}.yaml" for name in MODELS}}
PARAMS = [pytest.param(name, marks=[pytest.mark.slow, run_slow] if name in SLOW else []) for name in sorted(SPECS)]


@pytest.mark.parametrize("name", PARAMS)
def test_zoo_evaluator_matches_reference_and_pytorch(name):
    from netdsl.trt.evaluate import Evaluator

    checked = load_spec(str(ROOT / SPECS[name]))
    forward, model = model_for(name)
    bound = bind(checked, state_tensors(model), f"{name} state_dict", strict=True)
    source = checked.graph.inputs[0]
    x = np.random.default_rng(1).standard_normal((2,) + tuple(source.shape[1:])).astype(np.float32)
    [expected] = reference.run(checked, bound, {source.name: x}).values()
    with torch.no_grad():
        theirs = forward(torch.from_numpy(x)).numpy()
    for precision in ("float32", "float16", "bfloat16"):
        _, network, ctx = network_for(checked, bound, BuildOptions(precision=precision))
        [got] = Evaluator(network, ctx).run({source.name: x}).values()
        assert relative_error(got, expected) <= TOLERANCE[precision], (precision, relative_error(got, expected))
        assert relative_error(got, theirs) <= TOLERANCE[precision], (precision, relative_error(got, theirs))
