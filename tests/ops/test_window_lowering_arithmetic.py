"""The arithmetic of the window kinds' TensorRT decompositions, replayed in numpy against PyTorch
(engines cannot run here: TensorRT-RTX builds on the CPU but runs on RTX GPUs only). Each replay
follows the documented semantics of the TensorRT layers used: a FILL-mode slice reads its fill value
outside the input; a deconvolution's pre/post padding crops its full output."""

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from netdsl.ops._numpy import deconvolution
from netdsl.ops.deconvolution import spread
from netdsl.ops.pooling import cell_starts
from netdsl.spec import check_text

torch = pytest.importorskip("torch")
F = torch.nn.functional
SETTINGS = settings(max_examples=40, deadline=None)


def one_layer(layer: dict, shape):
    spec = {"netdsl": 1, "inputs": [{"name": "x", "shape": list(shape)}], "layers": [{"name": "l", **layer}]}
    checked, _ = check_text(json.dumps(spec))
    return checked


def fill_slice(x, start, size, stride, fill):
    """TensorRT's slice in FILL mode on the spatial axes."""
    for axis, (b, n, s) in enumerate(zip(start, size, stride), start=2):
        index = b + np.arange(n) * s
        inside = (index >= 0) & (index < x.shape[axis])
        taken = np.take(x, np.clip(index, 0, x.shape[axis] - 1), axis=axis)
        shape = [1] * x.ndim
        shape[axis] = n
        x = np.where(inside.reshape(shape), taken, np.float32(fill))
    return x


@SETTINGS
@given(rank=st.integers(1, 3), data=st.data())
def test_dilated_max_pool_as_slices(rank, data):
    sizes = data.draw(st.lists(st.integers(4, 9), min_size=rank, max_size=rank))
    kernel = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    padding = [data.draw(st.integers(0, k // 2)) for k in kernel]
    ceil = data.draw(st.booleans())
    checked = one_layer({"kind": "max_pool", "kernel": kernel, "stride": stride, "dilation": dilation,
                         "padding": padding, "ceil_mode": ceil}, (2, 3, *sizes))
    if checked is None:
        return
    node = checked.graph.nodes[0]
    win = node.op.window(node, checked.types["x"])
    out = checked.types["l"].shape
    x = np.random.default_rng(0).standard_normal((2, 3, *sizes)).astype(np.float32)
    cells = [fill_slice(x, start, out[2:], win.stride, -np.inf) for start in cell_starts(win)]
    expected = getattr(F, f"max_pool{rank}d")(torch.from_numpy(x), kernel, stride, padding, dilation, ceil).numpy()
    np.testing.assert_array_equal(np.maximum.reduce(cells), expected)


@SETTINGS
@given(rank=st.integers(1, 3), bias=st.booleans(), data=st.data())
def test_deconvolution_output_padding_and_dilation(rank, bias, data):
    sizes = data.draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank))
    kernel = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    stride = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    dilation = data.draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank))
    padding = data.draw(st.lists(st.integers(0, 2), min_size=rank, max_size=rank))
    extra = [data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    checked = one_layer({"kind": "deconvolution", "out_channels": 4, "kernel": kernel, "stride": stride,
                         "dilation": dilation, "padding": padding, "output_padding": extra, "groups": 2,
                         "bias": bias}, (2, 4, *sizes))
    if checked is None:
        return
    node = checked.graph.nodes[0]
    win, appended, spread_by = node.op.trt_window(node, checked.types["x"])
    out = checked.types["l"].shape
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, *sizes)).astype(np.float32)
    weight = rng.standard_normal((4, 2, *kernel)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32) if bias else None
    # TensorRT's deconvolution: full output cropped by pre/post padding; then the appended zeros, then the bias
    reached = [o - a for o, a in zip(out[2:], appended)]
    y = deconvolution(x, spread(weight, spread_by) if spread_by else weight, None, win.padding, win.stride,
                      win.dilation, 2, reached)
    assert list(y.shape[2:]) == reached
    y = np.pad(y, ((0, 0), (0, 0), *((0, a) for a in appended)))
    if bias:
        y = y + b.reshape((1, -1) + (1,) * rank)
    function = getattr(F, f"conv_transpose{rank}d")
    expected = function(torch.from_numpy(x), torch.from_numpy(weight), None if b is None else torch.from_numpy(b),
                        stride, padding, extra, 2, dilation).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5 * max(1, np.abs(expected).max()))
