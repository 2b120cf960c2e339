"""EfficientNet-B0 and MobileNetV3-Small (specs/zoo) against PyTorch models with torchvision's module names
(tests/zoo/torch_models_cnn2.py): torchvision's parameter counts and GFLOPS figures, weights exported by
netdsl.weights.from_torch binding strictly with no renaming, the reference executor equal to the model in eval mode
on batch 2 (slow), and TensorRT-RTX builds in float16 and bfloat16 (slow; tests/trt/test_build.py builds
every shipped spec in float32 in the default run)."""

import pathlib
import sys

import numpy as np
import pytest

from netdsl import build, reference, summary
from netdsl.spec.buildopts import BuildOptions
from netdsl.weights.from_torch import export_weights

torch = pytest.importorskip("torch")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from torch_models import randomized  # noqa: E402
from torch_models_cnn2 import MODELS  # noqa: E402

ROOT = HERE.parents[1]
# torchvision's model docs: num_params, and GFLOPS, which count multiply-accumulates of convolutions and
# linear layers (elementwise work such as batch norm, activations, the SE product and residual adds is
# left out, as netdsl's summary leaves it out).
PUBLISHED = {"efficientnet_b0": (5_288_548, 0.39), "mobilenet_v3_small": (2_542_856, 0.06)}


def spec(name):
    return build.load_spec(str(ROOT / "specs" / "zoo" / f"{name}.yaml"))


def pytorch_macs(model):
    """Multiply-accumulates per sample of every Conv2d and Linear, counted from their outputs in PyTorch (on
    the meta device: shapes only, no arithmetic)."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        else:
            per_output = module.in_features
        total += output[0].numel() * per_output

    counted = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    hooks = [m.register_forward_hook(count) for m in counted]
    with torch.no_grad():
        model.to("meta").eval()(torch.zeros(1, 3, 224, 224, device="meta"))
    for hook in hooks:
        hook.remove()
    return total


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameters_and_macs_are_torchvisions(name):
    table = summary.to_json(spec(name))
    params, gflops = PUBLISHED[name]
    model = MODELS[name]()
    assert table["total_params"] == params == sum(p.numel() for p in model.parameters())
    assert table["total_macs"] == pytorch_macs(model)
    assert round(table["total_macs"] / 1e9, 2) == gflops, table["total_macs"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (model in eval mode with random weights, path of its weights exported by netdsl.weights.from_torch)."""
    models = {}

    def get(name):
        if name not in models:
            model = randomized(MODELS[name](), 0)  # He-scaled weights keep activations near unit scale
            path = str(tmp_path_factory.mktemp("zoo") / f"{name}.safetensors")
            export_weights(model, path)
            models[name] = model, path
        return models[name]
    return get


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_weights_bind_with_no_renaming(exported, name):
    checked = spec(name)
    model, path = exported(name)
    bound = build.bind_weights(checked, path, strict=True)  # strict: every tensor is used
    names = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    assert set(bound) == names  # each weight under its state_dict key: canonical names are <layer>.<slot>


@pytest.mark.slow  # about 3 s each on two idle cores, over 5 s on a busy machine
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_reference_equals_the_model_in_eval_mode(exported, name):
    checked = spec(name)
    model, path = exported(name)
    bound = build.bind_weights(checked, path, strict=True)
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    [output] = reference.run(checked, bound, {"input": x}).values()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    scale = float(np.abs(expected).max())
    assert 0.05 < scale < 20, scale  # neither vanished nor blown up, so the relative bound below means something
    # float32 both sides, summed in different orders: about 50 layers deep, sums of up to 1,152 products.
    # Measured: 5.4e-7 (EfficientNet-B0), 5.3e-7 (MobileNetV3-Small) of the output's scale.
    error = float(np.abs(output - expected).max())
    assert error <= 1e-5 * scale, (error, scale)


@pytest.mark.slow  # 2 to 4 s each; tests/trt/test_build.py builds these specs in float32 in the default run
@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_builds_with_tensorrt_rtx(exported, name, precision):
    pytest.importorskip("tensorrt_rtx")
    checked = spec(name)
    bound = build.bind_weights(checked, exported(name)[1], strict=True)
    options = BuildOptions(precision=precision)
    # The lowering compares TensorRT's inferred shape and dtype with netdsl's after every layer; here the
    # network's outputs as TensorRT sees them, against netdsl's.
    _, network, _ = build.network_for(checked, bound, options)
    trt_outputs = [tuple(network.get_output(i).shape) for i in range(network.num_outputs)]
    plan = build.build_plan(checked, bound, options)
    assert trt_outputs == [tuple(o["shape"]) for o in plan.outputs] == [(-1, 1000)]
    assert plan.notes == []  # no layer fell back to float32: TensorRT-RTX builds each one in this precision
    assert plan.data.nbytes > 1_000_000

