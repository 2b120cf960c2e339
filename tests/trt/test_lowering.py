"""Lowering to TensorRT with the real TensorRT-RTX: what precision does to inputs, outputs and weights,
how layers and weights are named, and TensorRT's window shapes against netdsl's on random parameters.
Every kind's cases are lowered and built by tests/trt/test_cases_lowering.py (tests/opcases)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from netdsl.build import build_plan, network_for
from netdsl.diagnostics import NetdslError
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


def one_layer(layer: str, shape=(2, 8, 16, 16), dynamic=False):
    """A one-layer network on an input x0 (with ``dynamic``, its batch from 1 to 4)."""
    dims = [-1, *shape[1:]] if dynamic else list(shape)
    batch = ", batch: {min: 1, opt: 2, max: 4}" if dynamic else ""
    checked, diagnostics = check_text(f"netdsl: 1\ninputs:\n  - {{name: x0, shape: {dims}{batch}}}\nlayers:\n"
                                      f"  - {{name: l, {layer}}}\n")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


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


def test_float16_refuses_folded_batch_norm_weights_out_of_range():
    from netdsl.diagnostics import NetdslError

    spec = """netdsl: 1
inputs: [{name: x, shape: [1, 2, 4, 4]}]
layers:
  - {name: conv, kind: convolution, out_channels: 2, kernel: 1}
  - {name: bn, kind: batch_norm}
"""
    checked, _ = check_text(spec)
    weights = random_weights(checked)
    for name, value in (("conv.weight", 1.0), ("conv.bias", 0.0), ("bn.bias", 0.0), ("bn.running_mean", 0.0),
                        ("bn.running_var", 1.0)):
        weights[name].array[...] = value
    weights["bn.weight"].array[...] = 70000.0  # conv.weight * 70000 / sqrt(1 + 1e-5): past 65504
    with pytest.raises(NetdslError, match="`conv.weight` has 4 values beyond float16's range"):
        network_for(checked, weights, BuildOptions(precision="float16"))
    weights["bn.weight"].array[...] = 60000.0  # within: one layer, the convolution, holds the batch norm
    network, ctx = network_for(checked, weights, BuildOptions(precision="float16"))[1:]
    assert [network.get_layer(i).type.name for i in range(network.num_layers)] == ["CAST", "CONVOLUTION", "CAST"]
    assert ctx.names["conv.weight"][2][-1] == "bn.running_var"


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
