"""Lowering to TensorRT with the real TensorRT-RTX: every layer kind and its main variations is lowered
as a one-layer network (the lowering compares TensorRT's inferred shape of every layer with netdsl's and
raises on any difference) and built into a plan."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from netdsl.build import build_plan, network_for
from netdsl.diagnostics import NetdslError
from netdsl.ops import REGISTRY
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions

trt = pytest.importorskip("tensorrt_rtx")


def random_weights(checked, seed=0):
    """Random values for every weight slot the spec declares (variances positive)."""
    from netdsl.weights.bind import BoundWeight

    rng = np.random.default_rng(seed)
    bound = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            array = rng.standard_normal(slot.shape).astype(np.float32) * 0.1
            if slot.name == "running_var":
                array = np.abs(array) + 0.5
            name = f"{node.name}.{slot.name}"
            bound[name] = BoundWeight(name, node.name, slot.name, array)
    return bound


def one_layer(layer: str, shape=(2, 8, 16, 16), inputs=1, dynamic=False):
    dims = [-1, *shape[1:]] if dynamic else list(shape)
    batch = ", batch: {min: 1, opt: 2, max: 4}" if dynamic else ""
    names = [f"x{i}" for i in range(inputs)]
    lines = ["netdsl: 1", "inputs:"] + [f"  - {{name: {n}, shape: {dims}{batch}}}" for n in names]
    wired = f", inputs: [{', '.join(names)}]" if inputs > 1 else ""
    lines += ["layers:", f"  - {{name: l, {layer}{wired}}}"]
    checked, diagnostics = check_text("\n".join(lines) + "\n")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


CASES = [
    ("kind: convolution, out_channels: 4, kernel: 3", (2, 8, 16, 16)),
    ("kind: convolution, out_channels: 4, kernel: [3, 5], stride: 2, padding: [1, 2], bias: false", (2, 8, 16, 17)),
    ("kind: convolution, out_channels: 8, kernel: 3, padding: same, stride: 2", (2, 8, 15, 16)),
    ("kind: convolution, out_channels: 8, kernel: 3, groups: 8, dilation: 2", (2, 8, 16, 16)),
    ("kind: convolution, out_channels: 4, kernel: 2, padding: {top: 1, bottom: 0, left: 0, right: 1}", (2, 8, 9, 9)),
    ("kind: deconvolution, out_channels: 4, kernel: 4, stride: 2, padding: 1", (2, 8, 8, 8)),
    ("kind: deconvolution, out_channels: 8, kernel: 3, groups: 2, bias: false, dilation: 2", (2, 8, 8, 8)),
    ("kind: max_pool, kernel: 2", (2, 8, 16, 16)),
    ("kind: max_pool, kernel: 3, stride: 2, padding: 1", (2, 8, 15, 15)),
    ("kind: max_pool, kernel: 3, stride: 2, ceil_mode: true", (2, 8, 16, 16)),
    ("kind: avg_pool, kernel: 3, stride: 1, padding: 1, count_include_pad: false", (2, 8, 16, 16)),
    ("kind: avg_pool, kernel: 2, ceil_mode: true", (2, 8, 15, 15)),
    ("kind: global_avg_pool", (2, 8, 7, 7)),
    ("kind: global_max_pool", (2, 8, 7, 7)),
    ("kind: fully_connected, out_features: 10", (2, 8, 4, 4)),
    ("kind: fully_connected, out_features: 10, bias: false", (2, 32)),
    ("kind: relu", (2, 8, 4, 4)),
    ("kind: relu6", (2, 8, 4, 4)),
    ("kind: clip, min: -1, max: 2", (2, 8, 4, 4)),
    ("kind: leaky_relu, negative_slope: 0.2", (2, 8, 4, 4)),
    ("kind: sigmoid", (2, 8, 4, 4)),
    ("kind: tanh", (2, 8, 4, 4)),
    ("kind: silu", (2, 8, 4, 4)),
    ("kind: hardswish", (2, 8, 4, 4)),
    ("kind: gelu", (2, 8, 4, 4)),
    ("kind: gelu, approximate: tanh", (2, 8, 4, 4)),
    ("kind: elu, alpha: 0.5", (2, 8, 4, 4)),
    ("kind: softmax", (2, 10)),
    ("kind: softmax, axis: -1", (2, 8, 4, 5)),
    ("kind: batch_norm", (2, 8, 4, 4)),
    ("kind: batch_norm, eps: 0.001", (2, 8)),
    ("kind: concat", (2, 8, 4, 4)),
    ("kind: concat, axis: 3", (2, 8, 4, 4)),
    ("kind: flatten", (2, 8, 4, 4)),
    ("kind: flatten, start_dim: 2", (2, 8, 4, 4)),
    ("kind: reshape, shape: [0, -1, 2]", (2, 8, 4, 4)),
    ("kind: reshape, shape: [0, 4, 2, 16]", (2, 8, 4, 4)),
    ("kind: upsample, scale: 2", (2, 8, 5, 5)),
    ("kind: upsample, mode: bilinear, size: [11, 7]", (2, 8, 5, 5)),
    ("kind: upsample, mode: bilinear, scale: [2, 3], align_corners: true", (2, 8, 5, 5)),
    ("kind: lrn, size: 5", (2, 8, 4, 4)),
    ("kind: identity", (2, 8, 4, 4)),
    ("kind: dropout, p: 0.2", (2, 8, 4, 4)),
] + [(f"kind: {kind}", (2, 8, 4, 4)) for kind in ("add", "sub", "mul", "div", "max", "min")]
MULTI_INPUT = {"concat", "add", "sub", "mul", "div", "max", "min"}


def kind_of(layer):
    return layer.split(",")[0].split(": ")[1]


def test_every_layer_kind_has_a_case():
    from opcases import covered_kinds

    assert {kind_of(layer) for layer, _ in CASES} | covered_kinds() == set(REGISTRY)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("layer,shape", CASES, ids=[layer for layer, _ in CASES])
def test_layer_lowers_with_matching_shapes_and_builds(layer, shape, dynamic):
    checked = one_layer(layer, shape, inputs=2 if kind_of(layer) in MULTI_INPUT else 1, dynamic=dynamic)
    plan = build_plan(checked, random_weights(checked), BuildOptions())
    assert plan.data.nbytes > 1000


@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
@pytest.mark.parametrize("layer,shape", [c for c in CASES if kind_of(c[0]) in (
    "convolution", "deconvolution", "fully_connected", "batch_norm", "add", "softmax", "hardswish")][::2])
def test_reduced_precision_builds(layer, shape, precision):
    checked = one_layer(layer, shape, inputs=2 if kind_of(layer) in MULTI_INPUT else 1, dynamic=True)
    plan = build_plan(checked, random_weights(checked), BuildOptions(precision=precision))
    assert plan.data.nbytes > 1000


def network_dtypes(checked, precision):
    _, network, ctx = network_for(checked, random_weights(checked), BuildOptions(precision=precision))
    return network, ctx


def test_precision_casts_inputs_and_outputs_and_converts_weights():
    checked = one_layer("kind: convolution, out_channels: 4, kernel: 3")
    network, ctx = network_dtypes(checked, "float16")
    assert network.get_input(0).dtype == trt.float32 and network.get_output(0).dtype == trt.float32
    conv = next(network.get_layer(i) for i in range(network.num_layers) if network.get_layer(i).name == "l")
    assert conv.get_output(0).dtype == trt.float16
    assert {a.dtype for a in ctx.keep} == {np.dtype(np.float16)}


def test_float16_refuses_weights_out_of_range():
    from netdsl.diagnostics import NetdslError

    checked = one_layer("kind: fully_connected, out_features: 2", (1, 4))
    weights = random_weights(checked)
    weights["l.weight"].array[0, 0] = 1e6
    with pytest.raises(NetdslError, match="`l.weight` has 1 values beyond float16's range"):
        network_for(checked, weights, BuildOptions(precision="float16"))


def test_bfloat16_rounding_matches_torch():
    torch = pytest.importorskip("torch")
    from netdsl.trt.lowering import bfloat16_bits

    values = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 1e3
    values[:4] = [0.0, -0.0, np.inf, 1.0 + 2**-8]  # 1 + 2^-8 is a tie: rounds to even (1.0)
    expected = torch.from_numpy(values).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(bfloat16_bits(values), expected)


def test_weights_and_layers_are_named_after_the_spec():
    checked = one_layer("kind: batch_norm")
    network, ctx = network_dtypes(checked, "float32")
    assert set(ctx.names) == {"l.scale", "l.shift"}
    assert ctx.names["l.scale"][2] == ("l.weight", "l.bias", "l.running_mean", "l.running_var")
    checked = one_layer("kind: fully_connected, out_features: 3", (2, 8))
    network, ctx = network_dtypes(checked, "float32")
    assert set(ctx.names) == {"l.weight", "l.bias"}
    assert [network.get_layer(i).name for i in range(network.num_layers)] == ["l/weight", "l/matmul", "l/bias", "l"]


@settings(max_examples=int(__import__("os").environ.get("NETDSL_EXAMPLES", 40)), deadline=None)
@given(size=st.integers(4, 20), width=st.integers(4, 20), kernel=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 2),
       ceil=st.booleans(), same=st.booleans(), kind=st.sampled_from(["max_pool", "avg_pool", "convolution"]))
def test_window_shapes_agree_with_tensorrt(size, width, kernel, stride, pad, ceil, same, kind):
    """TensorRT's own shape inference against netdsl's (PyTorch's rules) for ceil mode and `same`."""
    pad = min(pad, kernel // 2)
    if kind == "convolution":
        layer = f"kind: convolution, out_channels: 2, kernel: {kernel}, stride: {stride}, " + (
            "padding: same" if same else f"padding: {pad}")
    else:
        layer = f"kind: {kind}, kernel: {kernel}, stride: {stride}, padding: {pad}, ceil_mode: {str(ceil).lower()}"
    checked, _ = check_text(f"netdsl: 1\ninputs: [{{name: x, shape: [1, 2, {size}, {width}]}}]\nlayers:\n"
                            f"  - {{name: l, {layer}}}\n")
    if checked is None:  # netdsl refused it (window larger than the input): nothing to lower
        return
    try:
        network_for(checked, random_weights(checked))  # raises InternalError on any shape difference
    except NetdslError as error:  # the one documented case TensorRT cannot express
        assert ceil and "rounds this input's height and width differently" in str(error)
