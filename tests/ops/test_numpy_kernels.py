"""The shared numpy kernels against independent oracles: erf against Python's math.erf (correctly rounded
to float32), sigmoid against the float64 formula, the batched grouped convolution, max pooling's windows and silu against PyTorch."""

import math

import numpy as np
import pytest

from netdsl.ops._numpy import convolution, erf, max_windows, sigmoid, silu_in_place


def float32_ulps(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """|got - exact| in units of float32's spacing at exact (exact rounded to float32 first)."""
    exact32 = exact.astype(np.float32)
    spacing = np.spacing(np.maximum(np.abs(exact32), np.finfo(np.float32).smallest_subnormal))
    return np.abs(got.astype(np.float64) - exact32) / spacing


def test_erf_within_one_ulp_of_math_erf_over_the_float32_range():
    rng = np.random.default_rng(0)
    magnitudes = np.concatenate([
        np.linspace(0, 4.5, 300_001, dtype=np.float32),  # every region and both seams (2, 4)
        np.logspace(-45, 1.5, 100_001).astype(np.float32),  # subnormals up to 31
        np.abs(rng.standard_normal(100_000) * 2).astype(np.float32),
        np.array([np.finfo(np.float32).max, np.finfo(np.float32).tiny, 1.0, 2.0, 4.0], np.float32)])
    x = np.concatenate([magnitudes, -magnitudes])
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    ulps = float32_ulps(erf(x), exact)
    assert ulps.max() <= 1.0, x[np.argmax(ulps)]  # measured: 0 (every value rounds as math.erf's does)
    assert erf(x).dtype == np.float32


def test_erf_of_infinities_and_nan():
    got = erf(np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], np.float32))
    assert got[:2].tolist() == [1.0, -1.0] and np.isnan(got[2])
    assert np.signbit(got[4]) and got[3] == 0


def test_sigmoid_within_three_ulps_of_the_float64_formula():
    x = np.concatenate([np.linspace(-88, 40, 200_001, dtype=np.float32), np.array([-np.inf, np.inf], np.float32)])
    wide = x.astype(np.float64)
    with np.errstate(over="ignore"):
        exact = 1 / (1 + np.exp(-wide))
    got = sigmoid(x)
    assert got.dtype == np.float32
    # float32 exp is accurate to a few ulps and the sum and reciprocal round once each: 3 ulps measured,
    # as for the earlier two-branch form exp(-|x|) / (1 + exp(-|x|))
    assert float32_ulps(got, exact).max() <= 3.0
    assert sigmoid(np.array([-1000.0, np.nan], np.float32))[0] == 0 and np.isnan(sigmoid(np.array([np.nan]))[0])


@pytest.mark.parametrize("groups, in_channels, out_channels, kernel, stride, padding, dilation", [
    (8, 8, 8, (3, 3), (1, 1), (1, 1), (1, 1)),  # depthwise
    (8, 8, 8, (5, 5), (2, 2), (2, 2), (1, 1)),  # depthwise, strided (EfficientNet's)
    (4, 8, 12, (3, 3), (2, 1), (1, 0), (2, 1)),  # grouped, several channels per group
    (1, 6, 5, (1, 1), (1, 1), (0, 0), (1, 1)),  # 1x1: the input itself as the columns
    (2, 6, 4, (2,), (3,), (1,), (1,)),  # 1-D
    (3, 3, 6, (2, 2, 2), (1, 2, 1), (1, 0, 1), (1, 1, 2)),  # 3-D, depth multiplier 2
    (6, 6, 6, (3, 3), (1, 1), (2, 2), (2, 1)),  # depthwise, unit stride, dilated (the flattened form)
    (4, 4, 4, (2, 3, 2), (1, 1, 1), (1, 1, 0), (1, 1, 1)),  # depthwise 3-D, unit stride
    (2, 4, 6, (2, 3), (2, 1), (4, 3), (1, 2)),  # padding beyond the kernel's reach: whole taps are zeros
])
def test_convolution_matches_torch(groups, in_channels, out_channels, kernel, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    rank = len(kernel)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, in_channels, *(9 + i for i in range(rank)))).astype(np.float32)
    w = rng.standard_normal((out_channels, in_channels // groups, *kernel)).astype(np.float32)
    b = rng.standard_normal(out_channels).astype(np.float32)
    conv = getattr(torch.nn.functional, f"conv{rank}d")
    expected = conv(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, padding, dilation,
                    groups).numpy()
    got = convolution(x, w, b, padding * 2, stride, dilation, groups, expected.shape[2:])
    # float32 sums of at most 8 * 27 products of unit normals: 1e-5 relative to the largest value
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("kernel, stride, dilation", [
    ((3, 3), (2, 2), (1, 1)),  # ResNet's
    ((5, 5), (1, 1), (1, 1)),  # SPPF's
    ((2, 3), (1, 2), (2, 1)),
    ((3,), (2,), (2,)),
    ((2, 1, 3), (1, 2, 1), (1, 1, 2)),
])
def test_max_windows_matches_torch(kernel, stride, dilation):
    torch = pytest.importorskip("torch")
    rank = len(kernel)
    x = np.random.default_rng(2).standard_normal((2, 3, *(11 + i for i in range(rank)))).astype(np.float32)
    pool = getattr(torch.nn.functional, f"max_pool{rank}d")
    expected = pool(torch.from_numpy(x), kernel, stride, 0, dilation).numpy()
    got = max_windows(x, kernel, stride, dilation, expected.shape[2:])
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)  # a maximum is exact


def test_silu_in_place_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.concatenate([np.linspace(-100, 40, 50_001, dtype=np.float32), np.array([-np.inf, np.inf], np.float32)])
    expected = torch.nn.functional.silu(torch.from_numpy(x.copy())).numpy()
    got = silu_in_place(x)
    assert got is x
    # float32 exp, sum, reciprocal and product each round once: a few ulps of the value
    np.testing.assert_allclose(got[:-2], expected[:-2], rtol=1e-6, atol=1e-30)
    assert got[-1] == np.inf and np.isnan(got[-2]) == np.isnan(expected[-2])
