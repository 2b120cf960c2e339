"""Activation ranges from a histogram of absolute values: ``hist`` counts |x| in ``len(hist)`` bins of
equal ``width`` from 0 (TensorRT's calibrators use 2048). Each method returns the amax, the absolute
value that maps to the quantized type's largest value (larger values saturate).

- :func:`entropy_amax`: TensorRT's entropy calibration, as NVIDIA documents it (GTC 2017, "8-bit
  Inference with TensorRT", the entropy calibration pseudocode): for every candidate number of bins
  ``i`` from 128 to 2047, the reference distribution P is the first ``i`` bins with the outliers
  (every count beyond) added to the last one; the candidate Q is those ``i`` bins merged into 128
  levels and expanded back, each level's count spread evenly over the bins that were not empty; the
  threshold is ``(m + 0.5) * width`` for the ``m`` of least KL divergence KL(P || Q).
- :func:`percentile_amax`: the upper edge of the bin where the cumulative count reaches the percentile.
- :func:`mse_amax`: the candidate (every bin edge) whose fake quantization of the bin centres has the
  least mean squared error, weighted by the counts.

When ``i`` does not divide into 128 levels evenly, each level takes ``i // 128`` bins and the last
level the rest (as MXNet's and TVM's re-implementations of TensorRT's calibrator do; NVIDIA does not
say). A Q that is empty where P is not (outliers piled on an empty last bin) has an infinite
divergence and is never chosen.
"""

from __future__ import annotations

import numpy as np

BINS = 2048
TIE = 1e-12  # divergences closer than this are equal (float64 rounding of the running sums, below)


_CHUNK = 1 << 16  # values per step of :func:`magnitude_counts`: its temporaries stay in the CPU's cache
_NEAR = 2.0 ** -8  # of a bin: estimates closer than this to a bin edge are settled by numpy's comparisons


def magnitude_counts(values: np.ndarray, amax: float, bins: int = BINS) -> np.ndarray:
    """``np.histogram(np.abs(values), bins, range=(0, amax))``'s counts (int64), identical, at a third of its
    cost on a float32 activation (other dtypes go to ``np.histogram`` itself).

    numpy estimates each value's bin as ``|x| / amax * bins`` and then compares the value with its bin's
    edges (float32 for a float32 tensor), moving it by one where the estimate was wrong. Here most values
    skip the comparisons: the estimate ``f = |x| * (bins / amax)`` is within 2^-11 of the exact position
    ``|x| * bins / amax`` (two float32 roundings, at most 2049 bins up) and every edge within 2^-12 bins of
    its exact place (checked below for this range), so a value whose ``f`` lies farther than ``_NEAR`` (2^-8)
    from a whole number is in bin ``floor(f)`` exactly. The values near an edge (under 1% of them) get
    numpy's own arithmetic (:func:`_numpy_bins`), as does a chunk holding NaN or values beyond ``amax``
    (left out, as numpy leaves them out). In chunks of ``_CHUNK`` values into reused buffers: no array of
    absolute values, no temporaries the size of the tensor."""
    flat = values.reshape(-1)
    if flat.dtype != np.float32:
        return np.histogram(np.abs(flat), bins=bins, range=(0.0, amax))[0]
    edges = np.histogram_bin_edges(flat[:0], bins, (0.0, amax))  # raises as np.histogram does on a bad range
    limit, near = edges.dtype.type(amax), np.float32(_NEAR)
    exact = bins / amax < float(np.finfo(np.float32).max) and bool(  # else numpy's way throughout
        np.all(np.abs(edges.astype(np.float64) * (bins / amax) - np.arange(bins + 1)) <= 2.0 ** -12))
    scale = np.float32(bins / amax if exact else 1.0)
    counts = np.zeros(bins + 1, np.int64)  # the last: values settled later
    settled = []  # |x| of the values near an edge, or of whole chunks numpy's way
    size = min(_CHUNK, flat.size)
    estimate, rounded, index, close = (np.empty(size, np.float32), np.empty(size, np.float32), np.empty(size, np.intp),
                                       np.empty(size, bool))
    for start in range(0, flat.size, _CHUNK):
        part = flat[start:start + _CHUNK]
        f, t, i, m = estimate[:part.size], rounded[:part.size], index[:part.size], close[:part.size]
        np.abs(part, out=f)
        np.multiply(f, scale, out=f)
        if not (exact and f.max() < bins + near):  # NaN, beyond the range (or an edge out of place): numpy's way
            settled.append(np.abs(part))
            continue
        np.subtract(f, near, out=t)
        np.trunc(t, out=t)  # the bin, where f is not near its upper edge or its lower one
        i[...] = t
        np.subtract(f, t, out=t)
        np.greater_equal(t, 1 - near, out=m)  # f within `near` of a whole number (0 excepted)
        if m.any():
            which = np.flatnonzero(m)
            settled.append(np.abs(part[which]))
            i[which] = bins
        counts += np.bincount(i, minlength=bins + 1)
    if settled:
        magnitude = np.concatenate(settled)
        counts[:bins] += np.bincount(_numpy_bins(magnitude[magnitude <= limit], edges), minlength=bins)
    return counts[:bins]


def _numpy_bins(magnitude: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The bin of each value in [0, amax], as np.histogram computes it (``numpy/lib/_histograms_impl.py``,
    uniform bins): the estimate, the last edge into the last bin, then one step down or up by the edges."""
    bins = len(edges) - 1
    index = (magnitude / edges[-1] * edges.dtype.type(bins)).astype(np.intp)  # edges[-1]: amax in their type
    index[index == bins] -= 1
    index -= magnitude < edges[index]
    index += (magnitude >= edges[index + 1]) & (index != bins - 1)
    return index


def candidate(bins: np.ndarray, levels: int) -> np.ndarray:
    """Q before normalization: ``bins`` merged into ``levels`` groups and expanded back, each group's
    total spread evenly over its non-empty bins (empty bins stay empty)."""
    bins = np.asarray(bins, np.float64)
    size = len(bins) // levels
    starts = np.arange(levels) * size
    group = np.minimum(np.arange(len(bins)) // size, levels - 1)  # the last group takes the rest
    totals = np.add.reduceat(bins, starts)
    nonempty = np.add.reduceat((bins > 0).astype(np.float64), starts)
    spread = np.divide(totals, nonempty, out=np.zeros(levels), where=nonempty > 0)
    return np.where(bins > 0, spread[group], 0.0)


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(P || Q) of two unnormalized distributions (natural log); infinite where Q is empty and P not."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    present = p > 0
    if np.any(q[present] == 0):  # an empty Q included
        return float("inf")
    p, q = p / np.sum(p), q / np.sum(q)
    return float(np.sum(p[present] * np.log(p[present] / q[present])))


def divergences(hist: np.ndarray, levels: int = 128) -> dict[int, float]:
    """i -> KL(P_i || Q_i) for every i in range(levels, len(hist)), as in the pseudocode."""
    hist = np.asarray(hist, np.float64)
    result = {}
    for i in range(levels, len(hist)):
        reference = hist[:i].copy()
        reference[i - 1] += hist[i:].sum()
        result[i] = kl_divergence(reference, candidate(hist[:i], levels))
    return result


def _xlogx(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x * np.log(np.where(x > 0, x, 1.0))


def divergence_array(hist: np.ndarray, levels: int = 128) -> np.ndarray:
    """KL(P_i || Q_i) for i = levels, ..., len(hist) - 1 (at index ``i - levels``): what :func:`divergences`
    gives, from running sums instead of a loop over candidates (0.3 s a tensor on 2,048 bins; this takes
    about a millisecond).

    With p = P / sum(P) and q = Q / sum(Q), KL = (sum P log P - sum P log Q) / sum(P) + log(sum(Q) / sum(P)).
    sum(P) is the histogram's total for every i, sum(Q) the count of the first i bins. sum P log P is a
    running sum of h log h plus the last bin's (its count with the outliers). Q is one value per level over
    the level's non-empty bins (empty bins get 0, and have no P there but in the last bin), so sum P log Q is
    the sum over levels of the P in the level times the log of its spread: for the first ``levels - 1``
    levels a constant of ``i // levels``, for the last one a running sum. Q is empty where P is not only in
    the last bin (no counts of its own, outliers piled on it): those candidates are infinite. The terms are
    the loop's, summed in another order: the values agree to float64 rounding, checked against the loop in
    tests/quant/test_histogram.py."""
    hist = np.asarray(hist, np.float64)
    count = len(hist)
    if count <= levels:
        return np.full(0, np.inf)
    prefix = np.concatenate([[0.0], np.cumsum(hist)])  # prefix[i] = hist[:i].sum()
    suffix = np.concatenate([np.cumsum(hist[::-1])[::-1], [0.0]])  # suffix[i] = hist[i:].sum()
    plogp = np.concatenate([[0.0], np.cumsum(_xlogx(hist))])
    nonempty = np.concatenate([[0], np.cumsum(hist > 0)])
    i = np.arange(levels, count)
    size = i // levels
    start = (levels - 1) * size  # where the last level begins
    # the first levels - 1 levels, for each `size`
    heads = np.zeros(count // levels + 1)
    for s in range(1, count // levels + 1):
        edges = np.arange(levels) * s
        totals = prefix[edges[1:]] - prefix[edges[:-1]]
        filled = (nonempty[edges[1:]] - nonempty[edges[:-1]]).astype(np.float64)
        heads[s] = np.sum(np.where(filled > 0, totals * np.log(np.where(filled > 0, totals / np.maximum(filled, 1), 1.0)), 0.0))
    tail_total = prefix[i] - prefix[start]
    tail_filled = (nonempty[i] - nonempty[start]).astype(np.float64)
    last = suffix[i - 1]  # P's last bin: its own count and every count beyond
    tail_p = tail_total - hist[i - 1] + last  # the P in the last level
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(tail_filled > 0, tail_total / np.maximum(tail_filled, 1), 1.0)
        p_log_q = heads[size] + np.where(tail_filled > 0, tail_p * np.log(spread), 0.0)
        p_log_p = plogp[i - 1] + _xlogx(last)
        total = prefix[i - 1] + last
        result = (p_log_p - p_log_q) / total + np.log(prefix[i] / total)
    infinite = (last > 0) & (hist[i - 1] == 0)
    return np.where(infinite | ~np.isfinite(result), np.inf, result)


def entropy_amax(hist: np.ndarray, width: float, levels: int = 128, flatten_zero_bin: bool = True) -> float:
    """The documented algorithm on ``hist``; with ``flatten_zero_bin``, the first bin's count is first
    replaced by the second's, as NVIDIA's pytorch-quantization toolkit does before the same search
    (``calib/histogram.py``): after a ReLU most values are exact zeros, and that one spike would otherwise
    decide the divergence (on LeNet it clips the first pooling output at an eighth of its range, and
    costs 16 points of accuracy)."""
    if flatten_zero_bin and len(hist) > 1:
        hist = np.array(hist, np.float64)
        hist[0] = hist[1]
    values = divergence_array(hist, levels)
    if not np.any(np.isfinite(values)):
        # fewer bins than levels, or no candidate that keeps the range's top: every count in the last
        # bins (a constant tensor, or zeros and one other value): nothing to clip
        return len(hist) * width
    # the first minimum; running sums carry rounding of about 1e-14 where the loop's sums are exact zeros or
    # ties (a histogram that 128 levels hold exactly has KL 0 for a run of i), so values within TIE count as equal
    best = levels + int(np.argmax(values <= np.min(values) + TIE))
    return (best + 0.5) * width


def percentile_amax(hist: np.ndarray, width: float, percentile: float) -> float:
    cumulative = np.cumsum(np.asarray(hist, np.float64))
    index = int(np.searchsorted(cumulative, cumulative[-1] * percentile / 100.0))
    return (min(index, len(hist) - 1) + 1) * width


def mse_amax(hist: np.ndarray, width: float, dtype: str) -> float:
    from .fake import fake_quantize, scale_of

    hist = np.asarray(hist, np.float64)
    centers = ((np.arange(len(hist)) + 0.5) * width).astype(np.float32)
    amaxes = np.arange(1, len(hist) + 1) * width
    errors = np.empty(len(amaxes))
    for start in range(0, len(amaxes), 256):  # 256 candidates at a time: bounded memory
        chunk = amaxes[start:start + 256]
        grid = np.broadcast_to(centers, (len(chunk), len(centers)))
        quantized = fake_quantize(grid, scale_of(chunk, dtype), dtype, axis=0)
        errors[start:start + len(chunk)] = ((quantized - centers) ** 2 * hist).sum(axis=1)
    return float(amaxes[int(np.argmin(errors))])
