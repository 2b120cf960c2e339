"""The model zoo against PyTorch: each spec binds the state_dict of a PyTorch model with torchvision's
module names strictly (no rename, nothing unused), has its parameter count, and the reference executor
matches the model's output on random weights and inputs. Builds: tests/trt/test_build.py builds every
shipped spec."""

import pathlib

import numpy as np
import pytest

from netdsl import reference
from netdsl.build import load_spec
from netdsl.weights import read_weights
from netdsl.weights.bind import bind

torch = pytest.importorskip("torch")
sys_path = pathlib.Path(__file__).resolve().parent
import sys  # noqa: E402

sys.path.insert(0, str(sys_path))
from torch_models import MODELS, gen_wts, randomized  # noqa: E402

ROOT = sys_path.parents[1]



def state_tensors(model):
    from netdsl.weights import Tensor

    return {k: Tensor(k, str(v.dtype).replace("torch.", ""), tuple(v.shape), v.detach().numpy())
            for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_spec_matches_pytorch(name):
    checked = load_spec(str(ROOT / "specs" / "zoo" / f"{name}.yaml"))
    model = randomized(MODELS[name](), 0)
    bound = bind(checked, state_tensors(model), f"{name} state_dict", strict=True)
    assert sum(p.numel() for p in model.parameters()) == sum(
        w.array.size for w in bound.values() if not w.slot.startswith("running_"))
    shape = (1,) + tuple(checked.graph.inputs[0].shape[1:])
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    [output] = reference.run(checked, bound, {checked.graph.inputs[0].name: x}).values()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(output - expected).max() <= 1e-4 * scale, (np.abs(output - expected).max(), scale)


@pytest.mark.parametrize("name,spec", [("lenet", "specs/lenet.yaml"), ("resnet18", "specs/zoo/resnet18.yaml")])
def test_tensorrtx_wts_round_trip(tmp_path, name, spec):
    checked = load_spec(str(ROOT / spec))
    if name == "lenet":
        sys.path.insert(0, str(ROOT / "tools"))
        from train_lenet import LeNet

        model = randomized(LeNet(), 2)

        def forward(x):
            return torch.softmax(model(x), 1)
    else:
        model = randomized(MODELS[name](), 2)
        forward = model
    path = tmp_path / f"{name}.wts"
    gen_wts(model, path)
    assert "  " in path.read_text().splitlines()[1][:40]  # the two-space variant
    bound = bind(checked, read_weights(str(path)), str(path), strict=True)
    shape = (2,) + tuple(checked.graph.inputs[0].shape[1:])
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    [output] = reference.run(checked, bound, {checked.graph.inputs[0].name: x}).values()
    with torch.no_grad():
        expected = forward(torch.from_numpy(x)).numpy()
    assert np.abs(output - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))
