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


@pytest.mark.parametrize("padding, size, block", [
    ((1, 1, 1, 1), (12, 10), 1 << 18),  # ResNet's and YOLO's 3x3: one block per sample
    ((1, 1, 1, 1), (14, 6), 32 * 16 * 3 * 2),  # blocks of 2 tile rows of 7: the last one shorter
    ((0, 2, 2, 0), (10, 8), 1),  # one tile row per block; padding on one side of each axis
    ((0, 0, 0, 0), (10, 12), 1 << 18),  # no padding
])
def test_winograd_convolution_matches_float64_torch(monkeypatch, padding, size, block):
    torch = pytest.importorskip("torch")
    import netdsl.ops._numpy as kernels

    monkeypatch.setattr(kernels, "_WINOGRAD_BLOCK", block)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 32, *size)).astype(np.float32)
    w = rng.standard_normal((40, 32, 3, 3)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    top, left, bottom, right = padding
    padded = torch.nn.functional.pad(torch.from_numpy(x).double(), (left, right, top, bottom))
    exact = torch.nn.functional.conv2d(padded, torch.from_numpy(w).double(), torch.from_numpy(b).double()).numpy()
    out_sizes = exact.shape[2:]
    assert kernels._winograd_fits(x, w, padding, (1, 1), (1, 1), 1, out_sizes)
    got = convolution(x, w, b, padding, (1, 1), (1, 1), 1, out_sizes)
    monkeypatch.setattr(kernels, "_WINOGRAD_MIN_CHANNELS", 10**9)  # the im2col product, for its error
    direct = convolution(x, w, b, padding, (1, 1), (1, 1), 1, out_sizes)
    assert got.dtype == np.float32 and got.shape == exact.shape
    # float32 sums of 288 products of unit normals (the transforms add at most 4 terms at each of their
    # 3 steps, with exact weights 1 and 1/2): errors of a few ulps of the largest value, as the direct sum
    error, direct_error = np.abs(got - exact).max(), np.abs(direct - exact).max()
    assert error <= 1e-6 * np.abs(exact).max()
    assert error <= 2 * direct_error


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
