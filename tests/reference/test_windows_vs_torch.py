"""The reference executor's convolution, pooling and resizing over 1 and 3 spatial axes (2-D: see
test_vs_torch.py) against PyTorch, over random parameters."""

import json

import numpy as np
import pytest
from hypothesis import event, given, settings, strategies as st

from netdsl import reference
from opcases import random_weights
from netdsl.spec import check_text

torch = pytest.importorskip("torch")
F = torch.nn.functional
SETTINGS = settings(max_examples=40, deadline=None)


def per_axis(rank, low, high):
    return st.lists(st.integers(low, high), min_size=rank, max_size=rank)


def run(layer: dict, shape, oracle):
    """The one-layer spec on random inputs, against ``oracle(x, weights)``; None if netdsl refused it."""
    spec = {"netdsl": 1, "inputs": [{"name": "x", "shape": list(shape)}], "layers": [{"name": "l", **layer}]}
    checked, _ = check_text(json.dumps(spec))
    if checked is None:
        return None
    bound = random_weights(checked)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    got = reference.run(checked, bound, {"x": x})["l"]
    w = {b.slot: torch.from_numpy(b.array) for b in bound.values()}
    with torch.no_grad():
        expected = oracle(torch.from_numpy(x), w).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-5 * max(1.0, float(np.abs(expected).max())))
    return got


@SETTINGS
@given(rank=st.sampled_from([1, 3]), data=st.data(), groups=st.sampled_from([1, 2]), bias=st.booleans())
def test_convolution(rank, data, groups, bias):
    sizes = data.draw(per_axis(rank, 3, 8))
    kernel, stride, dilation = data.draw(per_axis(rank, 1, 3)), data.draw(per_axis(rank, 1, 2)), data.draw(
        per_axis(rank, 1, 2))
    padding = data.draw(per_axis(rank, 0, 2))
    layer = {"kind": "convolution", "out_channels": 4, "kernel": kernel, "stride": stride, "dilation": dilation,
             "padding": padding, "groups": groups, "bias": bias}
    function = getattr(F, f"conv{rank}d")
    oracle = lambda x, w: function(x, w["weight"], w.get("bias"), stride, padding, dilation, groups)  # noqa: E731
    try:
        oracle(torch.zeros(2, 4, *sizes), {"weight": torch.zeros(4, 4 // groups, *kernel)})
    except RuntimeError:  # PyTorch refuses it (the dilated kernel is larger than the padded input): so must netdsl
        event("refused: a size of 0 (as PyTorch)")
        assert run(layer, (2, 4, *sizes), oracle) is None
        return
    assert run(layer, (2, 4, *sizes), oracle) is not None


@SETTINGS
@given(rank=st.sampled_from([1, 3]), data=st.data(), kind=st.sampled_from(["max_pool", "avg_pool"]),
       ceil=st.booleans(), include=st.booleans())
def test_pooling(rank, data, kind, ceil, include):
    sizes = data.draw(per_axis(rank, 3, 9))
    kernel, stride = data.draw(per_axis(rank, 1, 3)), data.draw(per_axis(rank, 1, 3))
    padding = [data.draw(st.integers(0, k // 2)) for k in kernel]
    layer = {"kind": kind, "kernel": kernel, "stride": stride, "padding": padding, "ceil_mode": ceil}
    if kind == "max_pool":
        dilation = data.draw(per_axis(rank, 1, 2))
        layer["dilation"] = dilation
        function = getattr(F, f"max_pool{rank}d")
        oracle = lambda x, w: function(x, kernel, stride, padding, dilation, ceil)  # noqa: E731
    else:
        layer["count_include_pad"] = include
        function = getattr(F, f"avg_pool{rank}d")
        oracle = lambda x, w: function(x, kernel, stride, padding, ceil, include)  # noqa: E731
    try:
        oracle(torch.zeros(2, 3, *sizes), {})
    except RuntimeError:  # PyTorch refuses it (output size below 1): so must netdsl
        assert run(layer, (2, 3, *sizes), oracle) is None
        return
    assert run(layer, (2, 3, *sizes), oracle) is not None


@SETTINGS
@given(rank=st.sampled_from([1, 2, 3]), data=st.data(), maximum=st.booleans())
def test_adaptive_pooling(rank, data, maximum):
    sizes, out = data.draw(per_axis(rank, 1, 9)), data.draw(per_axis(rank, 1, 6))
    function = getattr(F, f"adaptive_{'max' if maximum else 'avg'}_pool{rank}d")
    layer = {"kind": f"adaptive_{'max' if maximum else 'avg'}_pool", "output_size": out}
    assert run(layer, (2, 3, *sizes), lambda x, w: function(x, out)) is not None


@SETTINGS
@given(mode=st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"]),
       data=st.data(), corners=st.booleans(), by_size=st.booleans())
def test_interpolate(mode, data, corners, by_size):
    rank = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}.get(mode) or data.draw(st.integers(1, 3))
    sizes = data.draw(per_axis(rank, 1, 7))
    corners = corners and mode not in ("nearest", "nearest-exact", "area")
    layer = {"kind": "interpolate", "mode": mode, "align_corners": corners}
    if by_size:
        size = data.draw(per_axis(rank, 1, 12))
        layer["size"], kwargs = size, {"size": size}
    else:
        factors = data.draw(st.lists(st.sampled_from([0.5, 0.75, 1, 1.3, 1.5, 2, 2.5, 3]), min_size=rank,
                                     max_size=rank))
        layer["scale_factor"], kwargs = factors, {"scale_factor": factors}
    align = corners if corners else None
    oracle = lambda x, w: F.interpolate(x, mode=mode, align_corners=align, **kwargs)  # noqa: E731
    try:
        empty = oracle(torch.zeros(2, 3, *sizes), {}).numel() == 0
    except RuntimeError:  # PyTorch refuses a scale that leaves a size of 0 (but for "area"): so must netdsl
        empty = True
    if empty:  # "area" gives an empty tensor there; netdsl has no zero-size tensors and refuses both
        event("refused: a size of 0 (as PyTorch)")
        assert run(layer, (2, 3, *sizes), oracle) is None
        return
    assert run(layer, (2, 3, *sizes), oracle) is not None
