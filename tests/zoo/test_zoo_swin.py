"""ConvNeXt-T and Swin-T against their PyTorch definitions (tests/zoo/torch_models_swin.py, torchvision's
module names): parameter counts and MACs equal torchvision's published figures; weights exported by
netdsl.weights.from_torch bind with no renaming; the reference executor equals the model in eval mode on batch 2;
TensorRT-RTX builds them in float32, float16 and bfloat16, its inferred shapes equal to netdsl's (the
lowering compares them layer by layer, and the outputs here)."""

import pathlib
import sys
import time

import numpy as np
import pytest

from netdsl import reference, summary
from netdsl.build import load_spec
from netdsl.weights import read_weights
from netdsl.weights.bind import bind
from netdsl.weights.from_torch import export_weights

torch = pytest.importorskip("torch")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from torch_models_swin import MODELS  # noqa: E402

ROOT = HERE.parents[1]

# torchvision's model docs: parameters and GFLOPS (multiply-accumulates of convolutions, linear layers and,
# for Swin, the attention matmuls) at 224x224.
PUBLISHED = {"convnext_tiny": (28_589_128, 4.46), "swin_t": (28_288_354, 4.49)}


def spec(name):
    return load_spec(str(ROOT / "specs" / "zoo" / f"{name}.yaml"))


def randomized(model, seed):
    """Random weights that keep activations near unit scale and make every branch count: layer scales and
    norm gains near 1 (ConvNeXt's trained layer scales are far above their 1e-6 start), matrices scaled by
    1/sqrt(fan_in), position-bias tables of unit size. Integer buffers (Swin's relative_position_index)
    keep their values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("layer_scale"):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.5 + 0.5)
            elif name.endswith("relative_position_bias_table"):
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
            elif tensor.dim() == 1 and name.endswith(".weight"):  # norm gains
                tensor.copy_(1 + 0.2 * torch.randn(tensor.shape, generator=generator))
            elif tensor.dim() == 1:
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) / tensor[0].numel() ** 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """name -> (model with random weights, its weights bound from a safetensors file export_weights wrote)."""
    cache = {}

    def get(name):
        if name not in cache:
            model = randomized(MODELS[name](), 0)
            path = str(tmp_path_factory.mktemp(name) / f"{name}.safetensors")
            export_weights(model, path)
            cache[name] = model, bind(spec(name), read_weights(path), path, strict=True)
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameters_and_macs_equal_torchvision(name):
    params, gflops = PUBLISHED[name]
    table = summary.to_json(spec(name))
    assert table["total_params"] == params == sum(p.numel() for p in MODELS[name]().parameters())
    assert round(table["total_macs"] / 1e9, 2) == gflops


@pytest.mark.parametrize("extension", ["safetensors", pytest.param("wts", marks=pytest.mark.slow)])  # .wts: ~5 s
@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_weights_bind_with_no_renaming(tmp_path, name, extension):
    model = MODELS[name]()
    path = str(tmp_path / f"{name}.{extension}")
    export_weights(model, path)
    checked = spec(name)
    bound = bind(checked, read_weights(path), path, strict=True)  # strict: every entry used
    state = model.state_dict()
    keys = {f"{node.name}.{slot}": key for node in checked.graph.nodes for slot, key in node.weight_names.items()}
    assert sorted(keys.get(name, name) for name in bound) == sorted(state)
    for weight in bound.values():
        expected = state[keys.get(weight.name, weight.name)]
        assert np.array_equal(weight.array.reshape(expected.shape), expected.numpy().astype(np.float32))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_reference_equals_pytorch_on_batch_2(exported, name):
    model, bound = exported(name)
    checked = spec(name)
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    [output] = reference.run(checked, bound, {"input": x}).values()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    # Both sides compute in float32, in other orders (BLAS blocking, numpy's vs PyTorch's erf): sums of up to
    # 3,072 terms in the linear layers, some 20 (ConvNeXt-T) or 12 (Swin-T) residual blocks deep, each adding
    # rounding differences of a few ulps. Measured: 6e-7 and 7e-7 of the largest output; 2e-5 leaves room
    # for other BLAS builds and stays far below what a wrong mask gives (1e-2).
    error = float(np.abs(output - expected).max() / np.abs(expected).max())
    assert error <= 2e-5, error


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_tensorrt_builds_with_netdsl_shapes(exported, name, precision):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import build_plan, network_for
    from netdsl.spec.buildopts import BuildOptions

    _, bound = exported(name)
    checked = spec(name)
    options = BuildOptions(precision=precision)
    # Lowering compares TensorRT's inferred shape and dtype of every layer with netdsl's (check_type);
    # the network's outputs are compared here too.
    _, network, _ = network_for(checked, bound, options)
    outputs = {network.get_output(i).name: tuple(network.get_output(i).shape) for i in range(network.num_outputs)}
    assert outputs == {o.name: (-1,) + checked.types[o.source].shape[1:] for o in checked.graph.outputs}
    start = time.perf_counter()
    plan = build_plan(checked, bound, options)
    print(f"{name} {precision}: built in {time.perf_counter() - start:.1f} s, {plan.data.nbytes / 1e6:.0f} MB")
    assert plan.data.nbytes > 10_000_000
