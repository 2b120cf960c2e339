"""`netdsl calibrate`: activation ranges from the reference executor on the CPU, no GPU and no
TensorRT. The float network runs over the calibration samples; every tensor a quantized layer reads
is observed; a method turns the observations into an amax per tensor.

Two passes for the histogram methods, as TensorRT's calibrators make them: the first finds each
tensor's absolute maximum, the second counts |x| in 2048 bins from 0 to it. ``max`` needs only the
first. Samples are read in file-name order and batched the same way every time, so the same data
gives the same scales file (with another --batch, numpy sums products in another order and a range may
move in its last float32 bit).

Calibration data: a folder of `.npy`/`.npz` arrays or of images, or one such file
(:mod:`netdsl.quant.samples`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from ..diagnostics import NetdslError, UsageError
from .histogram import BINS, entropy_amax, mse_amax, percentile_amax
from .scales import Scales, canonical

METHODS = ("entropy", "max", "percentile", "mse")
DESCRIPTIONS = {"entropy": f"entropy (TensorRT's KL-divergence calibration, {BINS} bins, 128 levels)",
                "max": "max (absolute maximum)", "percentile": "percentile {percentile} of |x| ({bins} bins)",
                "mse": f"mse (least squared quantization error over {BINS} bins)"}


@dataclass
class Observed:
    amax: float = 0.0
    hist: np.ndarray | None = None


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


def calibrate(checked, bound, data: str, method: str = "entropy", percentile: float = 99.99, batch: int | None = None,
              limit: int | None = None, tensors=None, progress: bool = True, imgsz=None,
              resize: str = "letterbox") -> Scales:
    """Scales for ``tensors`` (default: those the spec's quantized layers read) from the samples in
    ``data`` (images fitted to the input at ``imgsz`` (height, width) where its size is dynamic, by
    ``resize``: letterbox or stretch)."""
    from .. import reference
    from . import placement
    from .samples import Samples, batch_range, batches

    if method not in METHODS:
        raise UsageError(f"unknown calibration method `{method}`; methods: {', '.join(METHODS)}")
    if tensors is None:
        where = placement(checked)
        if where is None:
            raise UsageError(f"{checked.path} has no `quantization:` section: nothing to calibrate")
        if not where.tensors:
            raise UsageError(f"nothing to calibrate: {checked.path} quantizes no activations ({where.dtype} quantizes "
                             "weights only, from their own ranges)")
        tensors = where.tensors
    size, low = batch_range(checked, batch)
    dtype = checked.graph.quantization.dtype if checked.graph.quantization else "int8"
    samples = Samples(checked, data, imgsz, resize)
    observed = {name: Observed() for name in tensors}
    passes = 1 if method == "max" else 2
    known = samples.count()
    meter = Progress(min(known, limit) if known and limit else known or limit) if progress else None
    seen = 0
    for number in range(1, passes + 1):
        seen = 0
        for arrays in batches(samples, size, low, limit):
            values = reference.run(checked, bound, arrays, keep=set(tensors))
            for name in tensors:
                observe(observed[name], np.abs(values[name]), number)
            seen += len(next(iter(arrays.values())))
            if meter:
                meter.update(f"calibrating (pass {number}/{passes})", seen)
    if meter:
        meter.close()
    if seen == 0:
        raise UsageError(f"no calibration samples in {data}")
    zero = [name for name, found in observed.items() if found.amax == 0]
    if zero:
        shown = ", ".join(f"`{name}`" for name in zero[:8]) + (f" and {len(zero) - 8} more" if len(zero) > 8 else "")
        raise NetdslError(f"{shown} {'is' if len(zero) == 1 else 'are'} 0 for every one of the {seen} samples of "
                          f"{data}: a range of 0 has no scale, nothing written; calibrate with samples that reach "
                          "it, or leave the layers that read it in float (`exclude:` in `quantization:`)")
    amax = {name: canonical(amax_of(found, method, percentile, dtype)) for name, found in observed.items()}
    description = DESCRIPTIONS[method].format(percentile=percentile, bins=BINS)
    source = f"{seen} samples from {data}"
    if samples.target is not None:
        source += f" ({samples.resize} to {samples.target.height}x{samples.target.width})"
    return Scales(amax, meta={"method": description, "data": source})


def observe(found: Observed, magnitude: np.ndarray, number: int) -> None:
    if number == 1:
        found.amax = max(found.amax, float(magnitude.max(initial=0.0)))
    elif found.amax > 0:
        hist, _ = np.histogram(magnitude, bins=BINS, range=(0.0, found.amax))
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
