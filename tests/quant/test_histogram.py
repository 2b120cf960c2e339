"""Calibration methods on histograms whose answers were worked out by hand.

Entropy: TensorRT's documented algorithm (GTC 2017, "8-bit Inference with TensorRT", the entropy
calibration pseudocode), with the example the same slides work through, and a full search on an
8-bin histogram merged into 2 levels (the 2048-bin, 128-level search made small enough to check on
paper). The P and Q of every candidate below are written out by hand; the divergences are their KL
divergences (natural log), computed from those hand-made fractions, not from netdsl's code.
"""

import math

import numpy as np
import pytest

from netdsl.quant.histogram import (TIE, candidate, divergence_array, divergences, entropy_amax, kl_divergence,
                                   magnitude_counts, mse_amax,
                                   percentile_amax)

SLIDES = [1, 0, 2, 3, 5, 3, 1, 7]


def test_candidate_is_the_slides_example():
    # "merge into 2 bins: [1+0+2+3, 5+3+1+7] = [6, 16]; expand back preserving empty bins:
    #  Q = [6/3, 0, 6/3, 6/3, 16/4, 16/4, 16/4, 16/4] = [2, 0, 2, 2, 4, 4, 4, 4]"
    assert candidate(SLIDES, 2).tolist() == [2, 0, 2, 2, 4, 4, 4, 4]


def kl(p, q):
    """KL divergence of hand-made distributions (lists of fractions that each sum to 1)."""
    assert math.isclose(sum(p), 1) and math.isclose(sum(q), 1)
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


# For i bins: P = the first i bins, the 22 - sum(first i) outliers added to the last; Q = the first i bins
# merged into 2 levels of i // 2 bins (the last level takes the rest), spread over the non-empty bins.
HAND = {
    # i=2: P = [1, 0+21]; Q = [1, 0]: Q is empty where P is not
    2: math.inf,
    # i=3: P = [1, 0, 2+19] / 22; levels [1] and [0, 2] -> Q = [1, 0, 2] / 3
    3: kl([1 / 22, 0, 21 / 22], [1 / 3, 0, 2 / 3]),
    # i=4: P = [1, 0, 2, 3+16] / 22; levels [1, 0] and [2, 3] -> Q = [1, 0, 2.5, 2.5] / 6
    4: kl([1 / 22, 0, 2 / 22, 19 / 22], [1 / 6, 0, 2.5 / 6, 2.5 / 6]),
    # i=5: P = [1, 0, 2, 3, 5+11] / 22; levels [1, 0] and [2, 3, 5] -> Q = [1, 0, 10/3, 10/3, 10/3] / 11
    5: kl([1 / 22, 0, 2 / 22, 3 / 22, 16 / 22], [1 / 11, 0, 10 / 33, 10 / 33, 10 / 33]),
    # i=6: P = [1, 0, 2, 3, 5, 3+8] / 22; levels [1, 0, 2] and [3, 5, 3] -> Q = [1.5, 0, 1.5, 11/3 x3] / 14
    6: kl([1 / 22, 0, 2 / 22, 3 / 22, 5 / 22, 11 / 22], [3 / 28, 0, 3 / 28, 11 / 42, 11 / 42, 11 / 42]),
    # i=7: P = [1, 0, 2, 3, 5, 3, 1+7] / 22; levels [1, 0, 2] and [3, 5, 3, 1] -> Q = [1.5, 0, 1.5, 3, 3, 3, 3] / 15
    7: kl([1 / 22, 0, 2 / 22, 3 / 22, 5 / 22, 3 / 22, 8 / 22], [0.1, 0, 0.1, 0.2, 0.2, 0.2, 0.2]),
}
# the same values worked to four decimals with log tables' precision, as a check on the fractions above
BY_HAND_DECIMALS = {3: 0.2521, 4: 0.4320, 5: 0.3869, 6: 0.1482, 7: 0.0975}


def test_divergences_of_every_candidate():
    got = divergences(SLIDES, levels=2)
    assert sorted(got) == [2, 3, 4, 5, 6, 7]  # "for i in range(levels, bins)"
    for i, expected in HAND.items():
        assert got[i] == pytest.approx(expected, rel=1e-12), i
        if i in BY_HAND_DECIMALS:
            assert round(got[i], 4) == BY_HAND_DECIMALS[i]


def test_threshold_is_m_plus_a_half_bins():
    # least divergence at i = 7: "threshold = (m + 0.5) * (width of a bin)" = 7.5 bins of width 0.25
    assert entropy_amax(SLIDES, 0.25, levels=2, flatten_zero_bin=False) == 7.5 * 0.25


def test_full_size_search_keeps_a_histogram_that_128_levels_hold_exactly():
    # 2048 bins, data only in the first 128 (none empty): at i = 128 the merge is the identity, so
    # P == Q and the divergence is 0, its least possible value; it stays 0 up to i = 255 (the last level
    # takes the empty bins), and the first minimum is kept: 128.5 bins.
    hist = np.zeros(2048)
    hist[:128] = np.arange(1, 129) % 7 + 1
    got = divergences(hist)
    assert got[128] == 0 and got[255] == 0 and got[256] > 0
    assert entropy_amax(hist, 1.0, flatten_zero_bin=False) == 128.5


def test_outliers_push_the_threshold_out():
    hist = np.zeros(2048)
    hist[:128] = 100
    hist[1000] = 1e6  # a heavy far mode cannot be clipped without a large divergence
    assert entropy_amax(hist, 1.0, flatten_zero_bin=False) > 1000


def test_zero_bin_flattened_as_nvidia_toolkit_does():
    hist = np.zeros(2048)
    hist[0] = 1e9  # the exact zeros after a ReLU
    hist[1:1500] = 10
    flattened = entropy_amax(hist, 1.0)
    raw = entropy_amax(hist, 1.0, flatten_zero_bin=False)
    assert flattened > raw  # the spike no longer decides the threshold
    assert flattened == entropy_amax(np.concatenate([[10], hist[1:]]), 1.0, flatten_zero_bin=False)


def test_kl_divergence():
    assert kl_divergence([1, 1], [1, 1]) == 0
    assert kl_divergence([1, 0], [1, 1]) == pytest.approx(math.log(2))
    assert kl_divergence([1, 1], [1, 0]) == math.inf


def test_percentile():
    hist = np.array([50, 30, 15, 4, 1], float)  # cumulative 50, 80, 95, 99, 100 of 100
    assert percentile_amax(hist, 2.0, 95) == 6.0  # reached in bin 2, whose upper edge is 3 bins of width 2
    assert percentile_amax(hist, 2.0, 99.5) == 10.0
    assert percentile_amax(hist, 2.0, 10) == 2.0


def test_mse_clips_a_lone_outlier_but_not_the_data():
    # 64M values spread evenly over bins 0..63, and one value at bin 2047. Squared error for an amax A
    # (step A / 127): rounding about (A / 127)**2 / 12 per value, plus (2047.5 - A)**2 for the clipped
    # outlier, plus the clipped data when A < 64. A = 64: 1.35M + 3.93M = 5.3M; A = 65: 1.40M + 3.93M;
    # A = 100: 3.3M + 3.8M; A = 63: 1.31M + 3.94M + 1e6 * 0.5**2 for bin 63; keeping the outlier
    # (A = 2048, step 16): 1.4G. The range ends at the data, not at the outlier.
    hist = np.zeros(2048)
    hist[:64] = 1e6
    hist[2047] = 1
    assert 63 <= mse_amax(hist, 1.0, "int8") <= 66


def _histograms():
    """Histograms of the shapes calibration meets: normal, after a ReLU (zero spike flattened or not),
    heavy-tailed, uniform, a few hundred values (mostly empty bins), and a gap before the data."""
    rng = np.random.default_rng(7)
    samples = [rng.standard_normal(100_000), np.maximum(rng.standard_normal(100_000), 0),
               rng.standard_cauchy(20_000), rng.uniform(0, 1, 5_000), rng.exponential(1, 300),
               np.concatenate([np.zeros(5_000), 3 + rng.gamma(2, 1, 50_000)])]
    for values in samples:
        hist = np.histogram(np.abs(values), bins=2048)[0].astype(np.float64)
        yield hist
        flattened = hist.copy()
        flattened[0] = flattened[1]
        yield flattened


@pytest.mark.parametrize("index", range(12))
def test_running_sums_equal_the_pseudocode_loop(index):
    # divergence_array (running sums) against divergences (the documented loop, checked by hand above)
    hist = list(_histograms())[index]
    loop = divergences(hist)
    expected = np.array([loop[i] for i in range(128, 2048)])
    got = divergence_array(hist)
    finite = np.isfinite(expected)
    assert np.array_equal(np.isfinite(got), finite)
    assert finite.any()
    assert np.max(np.abs(got[finite] - expected[finite])) < TIE
    best = 128 + min(range(len(expected)), key=lambda k: (expected[k], k))
    assert entropy_amax(hist, 1.0, flatten_zero_bin=False) == best + 0.5


def test_running_sums_keep_small_histograms_and_infinities():
    assert divergence_array(SLIDES, levels=2).tolist() == pytest.approx(
        [divergences(SLIDES, levels=2)[i] for i in range(2, len(SLIDES))], abs=TIE)
    hist = np.zeros(2048)
    hist[:100] = 5
    hist[2000] = 1  # an empty bin under the outlier pile for every i past 100: infinite there
    got = divergence_array(hist)
    assert np.isinf(got[1999 - 128]) and np.isfinite(got[2001 - 128])


def _activations():
    """float32 tensors as calibration meets them, and values that sit on bin edges or outside the range."""
    rng = np.random.default_rng(3)
    silu = rng.standard_normal((2, 8, 40, 41)).astype(np.float32) * 3
    silu *= 1 / (1 + np.exp(-silu))  # SiLU: many values near 0, a long positive tail, chunks not a whole number
    relu = np.maximum(rng.standard_normal(70_001), 0).astype(np.float32)
    # every bin edge, both signs, and the floats on either side: with this range, numpy's estimate of the bin
    # is one too high for 122 of them and one too low for 136 (found by search), so both corrections count
    top = 27.051692962646484
    edges = np.histogram_bin_edges(np.zeros(0, np.float32), 2048, (0.0, top))
    on_edges = np.concatenate([edges, -edges, np.nextafter(edges, np.float32(0)), np.nextafter(edges, np.float32(99))])
    return [(silu, float(np.abs(silu).max())), (relu, float(relu.max())), (on_edges, top),
            (silu, float(np.abs(silu).max()) / 3),  # most values above the range: left out
            (np.array([np.nan, 1.0, -2.0, 7.0, np.inf], np.float32), 2.0), (np.zeros((0, 4), np.float32), 1.0),
            (rng.standard_normal(1000), 2.5),  # float64: numpy's own path
            (silu * np.float32(1e-37), float(np.abs(silu).max()) * 1e-37),  # bins / amax beyond float32
            (on_edges * np.float32(1e30), float(np.float32(top) * np.float32(1e30))),  # large values, the same edges
            (on_edges[np.abs(on_edges) < np.float32(top)], top)]  # the edges without the range's top


@pytest.mark.parametrize("index", range(10))
def test_magnitude_counts_are_numpys_histogram(index):
    values, amax = _activations()[index]
    expected = np.histogram(np.abs(values), bins=2048, range=(0.0, amax))[0]
    got = magnitude_counts(values, amax)
    assert got.dtype == np.int64 and np.array_equal(got, expected)
