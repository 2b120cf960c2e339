"""`netdsl calibrate`: activation ranges from the reference executor on the CPU, no GPU and no
TensorRT. The float network runs over the calibration samples; every tensor a quantized layer reads
is observed; a method turns the observations into an amax per tensor.

Two passes for the histogram methods, as TensorRT's calibrators make them: the first finds each
tensor's absolute maximum, the second counts |x| in 2048 bins from 0 to it. ``max`` needs only the
first. (One pass that widens the bins as the range grows, as pytorch-quantization's histogram calibrator
does, would halve the reference runs but count into other bins and give other scales.) Each tensor is
looked at as the reference computes it, then let go: none is kept to the end of a run. Samples are
read in file-name order and batched the same way every time, so the same data gives the same scales
file (with another --batch, numpy sums products in another order and a range may move in its last
float32 bit).

Calibration data: a folder of `.npy`/`.npz` arrays or of images, or one such file
(:mod:`netdsl.quant.samples`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..diagnostics import NetdslError, UsageError
from .histogram import BINS, entropy_amax, magnitude_counts, mse_amax, percentile_amax
from .scales import Scales, canonical

METHODS = ("entropy", "max", "percentile", "mse")
DESCRIPTIONS = {"entropy": f"entropy (TensorRT's KL-divergence calibration, {BINS} bins, 128 levels)",
                "max": "max (absolute maximum)", "percentile": "percentile {percentile} of |x| ({bins} bins)",
                "mse": f"mse (least squared quantization error over {BINS} bins)"}


@dataclass
class Observed:
    amax: float = 0.0
    hist: np.ndarray | None = None
    batches: int = 0  # seen in this pass


class Progress:
    """`calibrating (pass 1/2): 320/500 samples` on a terminal, nothing otherwise."""

    def __init__(self, total: int | None, stream=None):
        self.stream = stream or sys.stderr
        self.shown = self.stream.isatty()
        self.total = total

    def update(self, label: str, done: int) -> None:
        if self.shown:
            total = f"/{self.total}" if self.total else ""
            self.stream.write(f"\r{label}: {done}{total} samples")
            self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


class Job:
    """What one calibration reads and observes: the tensors, the samples, how they are batched, the
    method. :func:`collect` runs one pass of it over one shard of its batches; :func:`merge` joins the
    shards' observations; :func:`scales_of` turns them into scales."""

    def __init__(self, checked, data: str, method: str = "entropy", percentile: float = 99.99,
                 batch: int | None = None, limit: int | None = None, tensors=None, imgsz=None,
                 resize: str = "letterbox"):
        from . import placement
        from .samples import Samples, batch_range

        if method not in METHODS:
            raise UsageError(f"unknown calibration method `{method}`; methods: {', '.join(METHODS)}")
        if tensors is None:
            where = placement(checked)
            if where is None:
                raise UsageError(f"{checked.path} has no `quantization:` section: nothing to calibrate")
            if not where.tensors:
                raise UsageError(f"nothing to calibrate: {checked.path} quantizes no activations ({where.dtype} "
                                 "quantizes weights only, from their own ranges)")
            tensors = where.tensors
        self.data, self.method, self.percentile, self.limit, self.tensors = data, method, percentile, limit, tensors
        self.size, self.low = batch_range(checked, batch)
        self.dtype = checked.graph.quantization.dtype if checked.graph.quantization else "int8"
        self.samples = Samples(checked, data, imgsz, resize)
        self.passes = 1 if method == "max" else 2


def calibrate(checked, bound, data: str, method: str = "entropy", percentile: float = 99.99, batch: int | None = None,
              limit: int | None = None, tensors=None, progress: bool = True, imgsz=None,
              resize: str = "letterbox") -> Scales:
    """Scales for ``tensors`` (default: those the spec's quantized layers read) from the samples in
    ``data`` (images fitted to the input at ``imgsz`` (height, width) where its size is dynamic, by
    ``resize``: letterbox or stretch)."""
    job = Job(checked, data, method, percentile, batch, limit, tensors, imgsz, resize)
    known = job.samples.count()
    meter = Progress(min(known, limit) if known and limit else known or limit) if progress else None
    observed, seen = None, 0
    for number in range(1, job.passes + 1):
        observed, seen = collect(checked, bound, job, number, observed, meter=meter)
    if meter:
        meter.close()
    return scales_of(job, observed, seen)


def collect(checked, bound, job: Job, number: int, ranges: dict | None = None, shard: tuple[int, int] = (0, 1),
            meter: Progress | None = None) -> tuple[dict, int]:
    """Pass ``number`` over the batches of shard ``(index, count)`` (batch i belongs to shard i % count;
    every shard makes the same batches a single run makes, so each number is computed on the same
    arrays): (tensor name -> Observed, samples seen). Pass 2 counts into the bins of ``ranges``, pass 1's
    observations merged over every shard."""
    from .. import reference
    from .samples import batches

    index, count = shard
    observed = {name: Observed(ranges[name].amax if ranges else 0.0) for name in job.tensors}
    seen = runs = 0
    # each tensor is observed as the reference computes it, then freed: a batch of 32 YOLOv8n pictures at 640
    # would otherwise hold every tensor a quantized layer reads (some 7 GB) to the end of the run
    watch = {name: partial(observe, observed[name], number=number) for name in job.tensors}
    for position, arrays in enumerate(batches(job.samples, job.size, job.low, job.limit)):
        if position % count != index:
            continue
        runs += 1
        reference.run(checked, bound, arrays, observe=watch)
        missing = [name for name in job.tensors if observed[name].batches < runs]
        if missing:
            raise NetdslError(f"could not compute {', '.join(missing)}")
        seen += len(next(iter(arrays.values())))
        if meter:
            meter.update(f"calibrating (pass {number}/{job.passes})", seen)
    return observed, seen


def merge(parts: list[tuple[dict, int]]) -> tuple[dict, int]:
    """The observations of several shards of one pass as one: the largest |x| of each tensor, its
    histograms added (whole counts: the sum is exact in any order)."""
    merged = {name: Observed(max(part[name].amax for part, _ in parts)) for name in parts[0][0]}
    for name, found in merged.items():
        hists = [part[name].hist for part, _ in parts if part[name].hist is not None]
        found.hist = sum(hists[1:], hists[0].copy()) if hists else None
    return merged, sum(seen for _, seen in parts)


def scales_of(job: Job, observed: dict, seen: int) -> Scales:
    """The scales file's content from the last pass's observations (over every sample)."""
    data = job.data
    if seen == 0:
        raise UsageError(f"no calibration samples in {data}")
    zero = [name for name, found in observed.items() if found.amax == 0]
    if zero:
        shown = ", ".join(f"`{name}`" for name in zero[:8]) + (f" and {len(zero) - 8} more" if len(zero) > 8 else "")
        raise NetdslError(f"{shown} {'is' if len(zero) == 1 else 'are'} 0 for every one of the {seen} samples of "
                          f"{data}: a range of 0 has no scale, nothing written; calibrate with samples that reach "
                          "it, or leave the layers that read it in float (`exclude:` in `quantization:`)")
    amax = {name: canonical(amax_of(found, job.method, job.percentile, job.dtype)) for name, found in observed.items()}
    description = DESCRIPTIONS[job.method].format(percentile=job.percentile, bins=BINS)
    source = f"{seen} samples from {data}"
    samples = job.samples
    if samples.target is not None:
        source += f" ({samples.resize} to {samples.target.height}x{samples.target.width})"
    return Scales(amax, meta={"method": description, "data": source})


def observe(found: Observed, values: np.ndarray, number: int) -> None:
    """Pass ``number``'s statistic of one batch of a tensor: its largest |x| (as the larger of its maximum
    and its negated minimum: no array of absolute values), or its |x| counted in the bins of pass 1's range
    (:func:`netdsl.quant.histogram.magnitude_counts`: np.histogram's counts)."""
    found.batches += 1
    if number == 1:
        found.amax = max(found.amax, float(np.maximum(values.max(initial=0.0), -values.min(initial=0.0))))
    elif found.amax > 0:
        hist = magnitude_counts(values, found.amax)
        found.hist = hist if found.hist is None else found.hist + hist


def amax_of(found: Observed, method: str, percentile: float, dtype: str) -> float:
    """The range of one tensor (its largest |value| > 0) by ``method``; a constant tensor gets its
    largest |value| from every method."""
    if method == "max" or not found.hist[1:-1].any():
        return found.amax  # every |value| is 0 or the largest (a constant tensor): nothing to clip
    width = found.amax / BINS
    if method == "entropy":
        return entropy_amax(found.hist, width)
    if method == "percentile":
        return percentile_amax(found.hist, width, percentile)
    return mse_amax(found.hist, width, dtype)
