"""Inferred shapes against PyTorch (CPU, torch==2.13.0) as the oracle, over random parameters.

Each test draws parameters, writes a one-layer spec, and compares netdsl's static output shape with
the shape of the matching torch layer's output on a zero tensor. Where torch refuses the
configuration, netdsl must refuse it too. Fixed cases of every kind, shapes and values, are in
tests/opcases (tests/ops/test_cases_reference.py).
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netdsl.spec import check_text

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def infer(layer: dict, *shapes):
    """netdsl's output shape for one layer on inputs of these shapes, or None if it rejects the spec."""
    inputs = [{"name": f"x{i}", "shape": list(s)} for i, s in enumerate(shapes)]
    layer = {"name": "layer", **layer}
    if len(shapes) > 1:
        layer["inputs"] = [f"x{i}" for i in range(len(shapes))]
    spec = json.dumps({"netdsl": 1, "inputs": inputs, "layers": [layer]})  # JSON is YAML
    checked, diagnostics = check_text(spec)
    if checked is None:
        assert all(d.code in ("shape-mismatch", "invalid-value") for d in diagnostics), list(diagnostics)
        return None
    return checked.types["layer"].shape


def torch_shape(fn, *shapes):
    try:
        with torch.no_grad():
            return tuple(fn(*[torch.zeros(s) for s in shapes]).shape)
    except (RuntimeError, ValueError, IndexError):
        return None


def zeros_in_output(shape):
    return shape is not None and any(d == 0 for d in shape)


spatial = st.integers(1, 40)


@SETTINGS
@given(c=st.integers(1, 8), h=spatial, w=spatial, out=st.integers(1, 8), kh=st.integers(1, 7),
       kw=st.integers(1, 7), sh=st.integers(1, 4), sw=st.integers(1, 4), ph=st.integers(0, 3),
       pw=st.integers(0, 3), dh=st.integers(1, 3), dw=st.integers(1, 3), groups=st.sampled_from([1, 2, 4]),
       bias=st.booleans())
def test_convolution(c, h, w, out, kh, kw, sh, sw, ph, pw, dh, dw, groups, bias):
    layer = {"kind": "convolution", "out_channels": out, "kernel": [kh, kw], "stride": [sh, sw],
             "padding": [ph, pw], "dilation": [dh, dw], "groups": groups, "bias": bias}
    ours = infer(layer, (2, c, h, w))
    if c % groups or out % groups:
        assert ours is None
        return
    module = nn.Conv2d(c, out, (kh, kw), (sh, sw), (ph, pw), (dh, dw), groups, bias)
    theirs = torch_shape(module, (2, c, h, w))
    assert ours == theirs


@SETTINGS
@given(c=st.integers(1, 4), h=spatial, w=spatial, k=st.integers(1, 7), top=st.integers(0, 3),
       left=st.integers(0, 3), bottom=st.integers(0, 3), right=st.integers(0, 3), s=st.integers(1, 3))
def test_convolution_asymmetric_padding(c, h, w, k, top, left, bottom, right, s):
    layer = {"kind": "convolution", "out_channels": 3, "kernel": k, "stride": s,
             "padding": {"top": top, "left": left, "bottom": bottom, "right": right}}
    module = nn.Conv2d(c, 3, k, s)
    theirs = torch_shape(lambda x: module(F.pad(x, (left, right, top, bottom))), (1, c, h, w))
    assert infer(layer, (1, c, h, w)) == theirs


@SETTINGS
@given(c=st.integers(1, 4), h=spatial, w=spatial, k=st.integers(1, 7), d=st.integers(1, 3))
def test_convolution_same_matches_torch_same(c, h, w, k, d):
    layer = {"kind": "convolution", "out_channels": 3, "kernel": k, "padding": "same", "dilation": d}
    theirs = torch_shape(nn.Conv2d(c, 3, k, padding="same", dilation=d), (1, c, h, w))
    assert infer(layer, (1, c, h, w)) == theirs == (1, 3, h, w)


@SETTINGS
@given(h=spatial, w=spatial, k=st.integers(1, 7), s=st.integers(1, 4))
def test_convolution_same_with_stride_gives_ceil(h, w, k, s):
    # torch has no strided 'same'; TensorRT's SAME_UPPER gives ceil(input / stride).
    shape = infer({"kind": "convolution", "out_channels": 2, "kernel": k, "stride": s, "padding": "same"},
                  (1, 1, h, w))
    assert shape == (1, 2, -(-h // s), -(-w // s))


@SETTINGS
@given(c=st.integers(1, 8), h=st.integers(1, 20), w=st.integers(1, 20), out=st.integers(1, 8),
       k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3), d=st.integers(1, 2),
       groups=st.sampled_from([1, 2]))
def test_deconvolution(c, h, w, out, k, s, p, d, groups):
    layer = {"kind": "deconvolution", "out_channels": out, "kernel": k, "stride": s, "padding": p,
             "dilation": d, "groups": groups}
    ours = infer(layer, (1, c, h, w))
    if c % groups or out % groups:
        assert ours is None
        return
    theirs = torch_shape(nn.ConvTranspose2d(c, out, k, s, p, dilation=d, groups=groups), (1, c, h, w))
    if zeros_in_output(theirs):
        theirs = None
    assert ours == theirs


@SETTINGS
@given(h=spatial, w=spatial, kh=st.integers(1, 6), kw=st.integers(1, 6), sh=st.integers(1, 4),
       sw=st.integers(1, 4), data=st.data(), ceil=st.booleans(), kind=st.sampled_from(["max_pool", "avg_pool"]),
       include_pad=st.booleans(), default_stride=st.booleans())
def test_pooling(h, w, kh, kw, sh, sw, data, ceil, kind, include_pad, default_stride):
    # torch requires padding <= kernel / 2; draw within that.
    ph = data.draw(st.integers(0, kh // 2))
    pw = data.draw(st.integers(0, kw // 2))
    layer = {"kind": kind, "kernel": [kh, kw], "padding": [ph, pw], "ceil_mode": ceil}
    stride = None if default_stride else (sh, sw)
    if stride:
        layer["stride"] = list(stride)
    if kind == "avg_pool":
        layer["count_include_pad"] = include_pad
        module = nn.AvgPool2d((kh, kw), stride, (ph, pw), ceil_mode=ceil, count_include_pad=include_pad)
    else:
        module = nn.MaxPool2d((kh, kw), stride, (ph, pw), ceil_mode=ceil)
    theirs = torch_shape(module, (1, 3, h, w))
    if zeros_in_output(theirs):
        theirs = None
    assert infer(layer, (1, 3, h, w)) == theirs


@SETTINGS
@given(c=st.integers(1, 8), h=spatial, w=spatial, kind=st.sampled_from(["global_avg_pool", "global_max_pool"]))
def test_global_pooling(c, h, w, kind):
    module = nn.AdaptiveAvgPool2d(1) if kind == "global_avg_pool" else nn.AdaptiveMaxPool2d(1)
    assert infer({"kind": kind}, (2, c, h, w)) == torch_shape(module, (2, c, h, w))


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=2, max_size=4), out=st.integers(1, 32), bias=st.booleans())
def test_fully_connected_flattens_like_torch(shape, out, bias):
    features = 1
    for d in shape[1:]:
        features *= d
    linear = nn.Linear(features, out, bias)
    theirs = torch_shape(lambda x: linear(torch.flatten(x, 1)), tuple(shape))
    assert infer({"kind": "fully_connected", "out_features": out, "bias": bias}, tuple(shape)) == theirs


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=5), data=st.data())
def test_flatten(shape, data):
    rank = len(shape)
    start = data.draw(st.integers(-rank, rank - 1))
    end = data.draw(st.integers(-rank, rank - 1))
    ours = infer({"kind": "flatten", "start_dim": start, "end_dim": end}, tuple(shape))
    assert ours == torch_shape(lambda x: torch.flatten(x, start, end), tuple(shape))


@SETTINGS
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), data=st.data())
def test_reshape(shape, data):
    total = 1
    for d in shape:
        total *= d
    # a target made of factors of the total, possibly with one -1, or a random (often wrong) one
    factors = [d for d in range(1, total + 1) if total % d == 0]
    first = data.draw(st.sampled_from(factors))
    target = data.draw(st.sampled_from([[first, total // first], [first, -1], [-1], [total, 1, 1],
                                        [first, data.draw(st.integers(1, 7))]]))
    ours = infer({"kind": "reshape", "shape": target}, tuple(shape))
    assert ours == torch_shape(lambda x: x.reshape(target), tuple(shape))


@SETTINGS
@given(h=st.integers(1, 16), w=st.integers(1, 16), sh=st.sampled_from([0.5, 1, 1.5, 2, 2.5, 3, 4]),
       sw=st.sampled_from([0.5, 1, 2, 3]), mode=st.sampled_from(["nearest", "bilinear"]))
def test_upsample_scale(h, w, sh, sw, mode):
    module = nn.Upsample(scale_factor=(sh, sw), mode=mode)
    theirs = torch_shape(module, (1, 2, h, w))
    if zeros_in_output(theirs):
        theirs = None
    assert infer({"kind": "upsample", "mode": mode, "scale": [sh, sw]}, (1, 2, h, w)) == theirs


@SETTINGS
@given(h=st.integers(1, 16), w=st.integers(1, 16), oh=st.integers(1, 40), ow=st.integers(1, 40))
def test_upsample_size(h, w, oh, ow):
    theirs = torch_shape(nn.Upsample(size=(oh, ow), mode="bilinear"), (1, 2, h, w))
    assert infer({"kind": "upsample", "mode": "bilinear", "size": [oh, ow]}, (1, 2, h, w)) == theirs


@SETTINGS
@given(base=st.lists(st.integers(1, 6), min_size=2, max_size=4), sizes=st.lists(st.integers(1, 6), min_size=2,
                                                                              max_size=4), data=st.data())
def test_concat(base, sizes, data):
    rank = len(base)
    axis = data.draw(st.integers(1, rank - 1))
    shapes = [tuple(base[:axis] + [s] + base[axis + 1:]) for s in sizes]
    if data.draw(st.booleans()):  # sometimes break another axis
        other = data.draw(st.sampled_from([i for i in range(rank) if i != axis]))
        broken = list(shapes[-1])
        broken[other] += 1
        shapes[-1] = tuple(broken)
    negative = data.draw(st.booleans())
    ours = infer({"kind": "concat", "axis": axis - rank if negative else axis}, *shapes)
    assert ours == torch_shape(lambda *xs: torch.cat(xs, axis), *shapes)


@SETTINGS
@given(a=st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=4), data=st.data(),
       kind=st.sampled_from(["add", "sub", "mul", "max", "min", "div"]))
def test_elementwise_broadcasting(a, data, kind):
    b = [data.draw(st.sampled_from([d, 1, d + 1])) for d in a]
    fn = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "max": torch.maximum, "min": torch.minimum,
          "div": torch.div}[kind]
    assert infer({"kind": kind}, tuple(a), tuple(b)) == torch_shape(fn, tuple(a), tuple(b))


@SETTINGS
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4), data=st.data())
def test_softmax_axis(shape, data):
    rank = len(shape)
    axis = data.draw(st.integers(-rank - 1, rank))
    ours = infer({"kind": "softmax", "axis": axis}, tuple(shape))
    theirs = torch_shape(lambda x: torch.softmax(x, axis), tuple(shape))
    if axis % rank == 0 and theirs is not None and -rank <= axis < rank:
        assert ours is None  # netdsl refuses softmax over the batch axis on purpose
    else:
        assert ours == theirs
