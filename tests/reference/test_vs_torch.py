"""The numpy reference executor against PyTorch 2.13 (CPU) as the oracle: every layer kind over a matrix
of parameters, then whole networks; maximum absolute error <= 1e-4 in float32."""

import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from netdsl import reference
from netdsl.ops import REGISTRY
from netdsl.spec import check_text
from netdsl.weights.bind import BoundWeight

torch = pytest.importorskip("torch")
F = torch.nn.functional
TOLERANCE = 1e-4
EXAMPLES = int(os.environ.get("NETDSL_EXAMPLES", 60))


def spec(layer: str, shape, inputs=1):
    names = [f"x{i}" for i in range(inputs)]
    lines = ["netdsl: 1", "inputs:"] + [f"  - {{name: {n}, shape: {list(shape)}}}" for n in names]
    wired = f", inputs: [{', '.join(names)}]" if inputs > 1 else ""
    checked, diagnostics = check_text("\n".join(lines + ["layers:", f"  - {{name: l, {layer}{wired}}}"]) + "\n")
    return checked, diagnostics


def weights_for(checked, rng):
    bound = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            array = rng.standard_normal(slot.shape).astype(np.float32)
            if slot.name == "running_var":
                array = np.abs(array) + 0.1
            bound[f"{node.name}.{slot.name}"] = BoundWeight(f"{node.name}.{slot.name}", node.name, slot.name, array)
    return bound


def compare(layer, shape, oracle, inputs=1, seed=0, scale=1.0):
    """Run the one-layer spec on the reference and ``oracle(w, *xs)`` in torch; return the max error."""
    checked, diagnostics = spec(layer, shape, inputs)
    assert checked is not None, [str(d) for d in diagnostics]
    rng = np.random.default_rng(seed)
    bound = weights_for(checked, rng)
    xs = [rng.standard_normal(shape).astype(np.float32) * scale for _ in range(inputs)]
    got = reference.run(checked, bound, {f"x{i}": x for i, x in enumerate(xs)})["l"]
    w = {name.split(".", 1)[1]: torch.from_numpy(b.array) for name, b in bound.items()}
    with torch.no_grad():
        expected = oracle(w, *(torch.from_numpy(x) for x in xs)).numpy()
    assert got.shape == expected.shape
    error = float(np.abs(got - expected).max()) if got.size else 0.0
    assert error <= TOLERANCE, f"{layer}: max abs error {error:g}"
    return error


def pad4(padding):
    """netdsl's (top, left, bottom, right) as F.pad's (left, right, top, bottom)."""
    top, left, bottom, right = padding
    return (left, right, top, bottom)


CASES = [
    ("kind: relu", lambda w, x: F.relu(x)),
    ("kind: relu6", lambda w, x: F.relu6(x)),
    ("kind: clip, min: -0.5, max: 1.5", lambda w, x: torch.clamp(x, -0.5, 1.5)),
    ("kind: leaky_relu, negative_slope: 0.2", lambda w, x: F.leaky_relu(x, 0.2)),
    ("kind: sigmoid", lambda w, x: torch.sigmoid(x)),
    ("kind: tanh", lambda w, x: torch.tanh(x)),
    ("kind: silu", lambda w, x: F.silu(x)),
    ("kind: hardswish", lambda w, x: F.hardswish(x)),
    ("kind: gelu", lambda w, x: F.gelu(x)),
    ("kind: gelu, approximate: tanh", lambda w, x: F.gelu(x, approximate="tanh")),
    ("kind: elu, alpha: 0.7", lambda w, x: F.elu(x, 0.7)),
    ("kind: softmax", lambda w, x: F.softmax(x, 1)),
    ("kind: softmax, axis: -1", lambda w, x: F.softmax(x, -1)),
    ("kind: batch_norm, eps: 0.001", lambda w, x: F.batch_norm(x, w["running_mean"], w["running_var"], w["weight"],
                                                                w["bias"], False, 0.0, 0.001)),
    ("kind: global_avg_pool", lambda w, x: F.adaptive_avg_pool2d(x, 1)),
    ("kind: global_max_pool", lambda w, x: F.adaptive_max_pool2d(x, 1)),
    ("kind: fully_connected, out_features: 7", lambda w, x: F.linear(x.flatten(1), w["weight"], w["bias"])),
    ("kind: fully_connected, out_features: 7, bias: false", lambda w, x: F.linear(x.flatten(1), w["weight"])),
    ("kind: flatten", lambda w, x: x.flatten(1)),
    ("kind: flatten, start_dim: 2", lambda w, x: x.flatten(2)),
    ("kind: reshape, shape: [0, -1, 5]", lambda w, x: x.reshape(x.shape[0], -1, 5)),
    ("kind: lrn, size: 5, alpha: 0.001, beta: 0.75, k: 2", lambda w, x: F.local_response_norm(x, 5, 0.001, 0.75, 2)),
    ("kind: lrn, size: 3", lambda w, x: F.local_response_norm(x, 3)),
    ("kind: identity", lambda w, x: x),
    ("kind: dropout, p: 0.5", lambda w, x: x),
    ("kind: upsample, scale: 2", lambda w, x: F.interpolate(x, scale_factor=2, mode="nearest")),
    ("kind: upsample, size: [13, 7]", lambda w, x: F.interpolate(x, size=(13, 7), mode="nearest")),
    ("kind: upsample, mode: bilinear, scale: [2, 3]", lambda w, x: F.interpolate(x, scale_factor=(2, 3),
                                                                                 mode="bilinear")),
    ("kind: upsample, mode: bilinear, size: [9, 17]", lambda w, x: F.interpolate(x, size=(9, 17), mode="bilinear")),
    ("kind: upsample, mode: bilinear, size: [9, 17], align_corners: true",
     lambda w, x: F.interpolate(x, size=(9, 17), mode="bilinear", align_corners=True)),
    ("kind: upsample, mode: bilinear, scale: 0.5", lambda w, x: F.interpolate(x, scale_factor=0.5, mode="bilinear")),
]
MULTI = [
    ("kind: add", lambda w, a, b, c: a + b + c),
    ("kind: sub", lambda w, a, b: a - b),
    ("kind: mul", lambda w, a, b, c: a * b * c),
    ("kind: div", lambda w, a, b: a / b),
    ("kind: max", lambda w, a, b, c: torch.maximum(torch.maximum(a, b), c)),
    ("kind: min", lambda w, a, b: torch.minimum(a, b)),
    ("kind: concat", lambda w, a, b: torch.cat([a, b], 1)),
    ("kind: concat, axis: -1", lambda w, a, b, c: torch.cat([a, b, c], -1)),
]


@pytest.mark.parametrize("layer,oracle", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch(layer, oracle):
    compare(layer, (2, 6, 5, 5), oracle, scale=3.0)


@pytest.mark.parametrize("layer,oracle", MULTI, ids=[c[0] for c in MULTI])
def test_multi_input_layer_matches_torch(layer, oracle):
    compare(layer, (2, 4, 3, 5), oracle, inputs=oracle.__code__.co_argcount - 1)


def test_every_layer_kind_is_compared():
    from opcases import covered_kinds

    kinds = {layer.split(",")[0].split(": ")[1] for layer, _ in CASES + MULTI}
    assert kinds | {"convolution", "deconvolution", "max_pool", "avg_pool"} | covered_kinds() == set(REGISTRY)


def test_elementwise_broadcast_matches_torch():
    checked, _ = check_text("netdsl: 1\ninputs:\n  - {name: a, shape: [2, 4, 3, 5]}\n  - {name: b, shape: [1, 4, 1, 5]}\n"
                            "layers:\n  - {name: l, kind: mul, inputs: [a, b]}\n")
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 4, 3, 5)).astype(np.float32), rng.standard_normal((1, 4, 1, 5)).astype(np.float32)
    assert np.array_equal(reference.run(checked, {}, {"a": a, "b": b})["l"], (torch.from_numpy(a) * torch.from_numpy(b)).numpy())


padding_strategy = st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)))


@settings(max_examples=EXAMPLES, deadline=None)
@given(size=st.tuples(st.integers(5, 12), st.integers(5, 12)), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.integers(1, 3), dilation=st.integers(1, 2), groups=st.sampled_from([1, 2, 4]),
       padding=padding_strategy, bias=st.booleans(), same=st.booleans())
def test_convolution_matches_torch(size, kernel, stride, dilation, groups, padding, bias, same):
    pad = "same" if same and stride == 1 else (list(padding) if isinstance(padding, tuple) else padding)
    layer = (f"kind: convolution, out_channels: 8, kernel: {list(kernel)}, stride: {stride}, dilation: {dilation}, "
             f"groups: {groups}, padding: {pad}, bias: {str(bias).lower()}")
    checked, _ = spec(layer, (2, 4, *size))
    if checked is None:
        return  # netdsl refused it (the window does not fit)

    def oracle(w, x):
        return F.conv2d(x, w["weight"], w.get("bias"), stride, pad if pad == "same" else (
            tuple(padding) if isinstance(padding, tuple) else padding), dilation, groups)

    compare(layer, (2, 4, *size), oracle)


@settings(max_examples=EXAMPLES, deadline=None)
@given(size=st.tuples(st.integers(2, 7), st.integers(2, 7)), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.integers(1, 3), dilation=st.integers(1, 2), groups=st.sampled_from([1, 2]),
       padding=st.integers(0, 2), bias=st.booleans())
def test_deconvolution_matches_torch(size, kernel, stride, dilation, groups, padding, bias):
    layer = (f"kind: deconvolution, out_channels: 6, kernel: {list(kernel)}, stride: {stride}, dilation: {dilation}, "
             f"groups: {groups}, padding: {padding}, bias: {str(bias).lower()}")
    checked, _ = spec(layer, (2, 4, *size))
    if checked is None:
        return
    compare(layer, (2, 4, *size), lambda w, x: F.conv_transpose2d(x, w["weight"], w.get("bias"), stride, padding, 0,
                                                                 groups, dilation))


@settings(max_examples=EXAMPLES, deadline=None)
@given(size=st.tuples(st.integers(3, 12), st.integers(3, 12)), kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       ceil=st.booleans(), include=st.booleans(), kind=st.sampled_from(["max_pool", "avg_pool"]))
def test_pooling_matches_torch(size, kernel, stride, padding, ceil, include, kind):
    padding = tuple(min(p, k // 2) for p, k in zip(padding, kernel))  # PyTorch: padding <= kernel / 2
    layer = (f"kind: {kind}, kernel: {list(kernel)}, stride: {list(stride)}, padding: {list(padding)}, "
             f"ceil_mode: {str(ceil).lower()}" + (f", count_include_pad: {str(include).lower()}" if kind == "avg_pool" else ""))
    checked, _ = spec(layer, (2, 3, *size))
    if checked is None:
        return
    if kind == "max_pool":
        oracle = lambda w, x: F.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil)  # noqa: E731
    else:
        oracle = lambda w, x: F.avg_pool2d(x, kernel, stride, padding, ceil, include)  # noqa: E731
    compare(layer, (2, 3, *size), oracle)
