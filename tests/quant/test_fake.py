"""Fake quantization against PyTorch: the numpy quantizer bit for bit against
torch.fake_quantize_per_tensor_affine / ..._per_channel_affine (INT8) and a float8_e4m3fn cast (FP8), and
every quantized kind run by the reference executor against the same layer in PyTorch on inputs and
weights fake-quantized by PyTorch."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.quant.fake import fake_quantize, round_fp8_e4m3, scale_of

from opcases import random_weights
from quant.helpers import quantized_spec, quantizer

torch = pytest.importorskip("torch")


def torch_fake(x, scale, dtype, axis=None):
    """PyTorch's fake quantization, symmetric: the oracle."""
    x = torch.as_tensor(x)
    scale = torch.as_tensor(np.asarray(scale, np.float32))
    low, high = {"int8": (-128, 127), "int4": (-8, 7)}.get(dtype, (None, None))
    if low is not None and axis is None:
        return torch.fake_quantize_per_tensor_affine(x, float(scale), 0, low, high)
    if low is not None:
        return torch.fake_quantize_per_channel_affine(x, scale, torch.zeros(scale.numel(), dtype=torch.int32), axis,
                                                      low, high)
    shape = [1] * x.dim()
    if axis is not None:
        shape[axis] = -1
    scale = scale.reshape(shape)
    inverse = torch.tensor(1.0, dtype=torch.float32) / scale  # what PyTorch's fake-quantize kernels multiply by
    return (x * inverse).clamp(-448, 448).to(torch.float8_e4m3fn).to(torch.float32) * scale


def awkward(shape, seed=0):
    """Values with rounding ties, saturation and zeros in them."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 4).astype(np.float32)
    flat = x.reshape(-1)
    flat[:10] = [0.5, 1.5, 2.5, -0.5, -2.5, 1e4, -1e4, 0.0, 127.5, -128.5]
    return x


@pytest.mark.parametrize("dtype", ["int8", "fp8", "int4"])
def test_per_tensor_bit_exact(dtype):
    x = awkward((6, 7, 8))
    for scale in (1.0, 0.05, 0.37, 3.0):
        got = fake_quantize(x, np.float32(scale), dtype)
        assert np.array_equal(got, torch_fake(x, np.float32(scale), dtype).numpy()), scale


@pytest.mark.parametrize("dtype", ["int8", "fp8", "int4"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_per_channel_bit_exact(dtype, axis):
    x = awkward((5, 4, 3), seed=1)
    scales = np.linspace(0.01, 0.5, x.shape[axis]).astype(np.float32)
    got = fake_quantize(x, scales, dtype, axis=axis)
    assert np.array_equal(got, torch_fake(x, scales, dtype, axis % 3).numpy())


def test_fp8_rounding_matches_torch_over_the_whole_range():
    values = np.concatenate([np.linspace(-460, 460, 400001, dtype=np.float32),
                             np.random.default_rng(2).standard_normal(20000).astype(np.float32) * 1e-3])
    expected = torch.from_numpy(values).clamp(-448, 448).to(torch.float8_e4m3fn).to(torch.float32).numpy()
    assert np.array_equal(round_fp8_e4m3(values), expected)


def test_scales_and_zero_ranges():
    assert scale_of(127.0, "int8") == np.float32(1.0) and scale_of(448.0, "fp8") == np.float32(1.0)
    assert scale_of(0.0, "int8") == np.float32(1.0)  # a channel of zeros: any positive scale gives zeros


# -- every quantized kind: reference executor vs PyTorch on fake-quantized operands ---------------------------

KINDS = {
    "convolution": ("  - {name: q, kind: convolution, out_channels: 4, kernel: 3, padding: 1, groups: 1}",
                    lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1), 0),
    "deconvolution": ("  - {name: q, kind: deconvolution, out_channels: 4, kernel: 3, stride: 2}",
                      lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, stride=2), 1),
    "fully_connected": ("  - {name: q, kind: fully_connected, out_features: 5}",
                        lambda x, w, b: torch.nn.functional.linear(x.flatten(1), w, b), 0),
    "linear": ("  - {name: q, kind: linear, out_features: 5}",
               lambda x, w, b: torch.nn.functional.linear(x, w, b), 0),
}


@pytest.mark.parametrize("kind,dtype", [(k, d) for k in sorted(KINDS) for d in ("int8", "fp8", "int4")
                                        if d != "int4" or k in ("fully_connected", "linear")])  # int4: GEMM weights
def test_weighted_kinds_against_torch(kind, dtype):
    layer, torch_layer, axis = KINDS[kind]
    checked = quantized_spec(layer, dtype=dtype)
    bound = random_weights(checked, seed=3)
    x = awkward((2, 3, 9, 9), seed=4)
    amax = 6.0
    got = reference.run(checked, bound, {"x": x}, quantizer=quantizer(checked, {"x": amax}))["q"]
    weight = bound["q.weight"].array
    weight_scales = scale_of(np.abs(weight).max(axis=tuple(i for i in range(weight.ndim) if i != axis)), dtype)
    x_fake = x if dtype == "int4" else torch_fake(x, scale_of(amax, dtype), dtype)  # int4: weights only
    expected = torch_layer(torch.as_tensor(x_fake), torch_fake(weight, weight_scales, dtype, axis),
                           torch.from_numpy(bound["q.bias"].array)).numpy()
    # float32 sums of up to 27 products in a different order: a few ulps of the largest output
    np.testing.assert_allclose(got, expected, atol=1e-5 * np.abs(expected).max(), rtol=0)
    unquantized = reference.run(checked, bound, {"x": x})["q"]
    assert not np.allclose(got, unquantized, atol=1e-6), "quantization changed nothing"


@pytest.mark.parametrize("dtype", ["int8", "fp8"])
def test_matmul_quantizes_both_inputs(dtype):
    checked = quantized_spec("  - {name: q, kind: matmul, inputs: [a, b]}", dtype=dtype,
                             inputs="  - {name: a, shape: [2, 4, 6]}\n  - {name: b, shape: [2, 6, 3]}")
    a, b = awkward((2, 4, 6), 5), awkward((2, 6, 3), 6)
    got = reference.run(checked, {}, {"a": a, "b": b}, quantizer=quantizer(checked, {"a": 5.0, "b": 3.0}))["q"]
    expected = torch.matmul(torch_fake(a, scale_of(5.0, dtype), dtype), torch_fake(b, scale_of(3.0, dtype), dtype))
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5 * float(expected.abs().max()), rtol=0)
