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


def entropy_amax(hist: np.ndarray, width: float, levels: int = 128, flatten_zero_bin: bool = True) -> float:
    """The documented algorithm on ``hist``; with ``flatten_zero_bin``, the first bin's count is first
    replaced by the second's, as NVIDIA's pytorch-quantization toolkit does before the same search
    (``calib/histogram.py``): after a ReLU most values are exact zeros, and that one spike would otherwise
    decide the divergence (on LeNet it clips the first pooling output at an eighth of its range, and
    costs 16 points of accuracy)."""
    if flatten_zero_bin and len(hist) > 1:
        hist = np.array(hist, np.float64)
        hist[0] = hist[1]
    values = divergences(hist, levels)
    if not any(np.isfinite(v) for v in values.values()):
        # fewer bins than levels, or no candidate that keeps the range's top: every count in the last
        # bins (a constant tensor, or zeros and one other value): nothing to clip
        return len(hist) * width
    best = min(values, key=lambda i: (values[i], i))  # the first minimum
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
