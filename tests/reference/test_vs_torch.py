"""The numpy reference executor against PyTorch 2.13 (CPU) as the oracle on random parameters of the 2-D
window kinds (hypothesis; 1-D and 3-D: test_windows_vs_torch.py); maximum absolute error <= 1e-4 in float32.
Every kind's fixed cases are in tests/opcases, run by tests/ops/test_cases_reference.py."""

import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from netdsl import reference
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
