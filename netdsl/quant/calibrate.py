"""`netdsl calibrate`: activation ranges from the reference executor on the CPU, no GPU and no
TensorRT. The float network runs over the calibration samples; every tensor a quantized layer reads
is observed; a method turns the observations into an amax per tensor.

Two passes for the histogram methods, as TensorRT's calibrators make them: the first finds each
tensor's absolute maximum, the second counts |x| in 2048 bins from 0 to it. ``max`` needs only the
first. Samples are read in file-name order and batched the same way every time, so the same data
gives the same scales file (with another --batch, numpy sums products in another order and a range may
move in its last float32 bit).

Calibration data: a folder of `.npy`/`.npz` files, or one such file. A `.npy` holds one sample (the
input's shape without the batch) or several (with a leading batch axis); an `.npz` holds arrays named
after the spec's inputs (a one-input spec also takes an `.npz` whose only array of the input's sample
shape is the data, as `weights/lenet_heldout.npz`'s `images`). Images are not read: specs have no
preprocessing yet; convert them to arrays first.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from ..diagnostics import UsageError
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


def data_files(path: str) -> list[str]:
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith((".npy", ".npz")))
        images = [n for n in os.listdir(path) if n.lower().endswith((".png", ".jpg", ".jpeg", ".bmp"))]
        if not names:
            detail = (f"; it has {len(images)} image(s), which netdsl does not read (specs have no preprocessing "
                      "yet): convert them to .npy arrays as the network takes them") if images else ""
            raise UsageError(f"no .npy or .npz files in {path}{detail}")
        return [os.path.join(path, n) for n in names]
    if os.path.isfile(path) and path.endswith((".npy", ".npz")):
        return [path]
    raise UsageError(f"--data {path}: not a folder or an .npy/.npz file")


def samples_of(path: str, inputs) -> dict:
    """Input name -> array with a batch axis, from one file."""
    if path.endswith(".npy"):
        if len(inputs) != 1:
            raise UsageError(f"{path}: a spec with several inputs takes .npz files (arrays named after the inputs)")
        return {inputs[0].name: with_batch(np.load(path, allow_pickle=False, mmap_mode="r"), inputs[0], path)}
    with np.load(path, allow_pickle=False) as archive:
        if all(i.name in archive.files for i in inputs):
            return {i.name: with_batch(archive[i.name], i, path) for i in inputs}
        if len(inputs) == 1:
            sample = tuple(inputs[0].shape[1:])
            fitting = [n for n in archive.files if archive[n].shape[1:] == sample or archive[n].shape == sample]
            if len(fitting) == 1:
                return {inputs[0].name: with_batch(archive[fitting[0]], inputs[0], path)}
        missing = [i.name for i in inputs if i.name not in archive.files]
        raise UsageError(f"{path} has no array named {', '.join(missing)} (it has {', '.join(archive.files)})")


def with_batch(array, graph_input, path: str):
    sample = tuple(graph_input.shape[1:])
    if array.shape == sample:
        return np.asarray(array)[None]
    if array.shape[1:] != sample:
        raise UsageError(f"{path}: array of shape {list(array.shape)} does not fit input `{graph_input.name}` (a "
                         f"sample is {list(sample)})")
    return array


def batches(files: list[str], inputs, size: int, limit: int | None, partial: bool = True):
    """Dicts of input arrays of ``size`` samples, at most ``limit`` samples; the last one smaller when
    ``partial`` (a dynamic batch), else left out."""
    pending: dict[str, list] = {i.name: [] for i in inputs}
    count = taken = 0
    for path in files:
        arrays = samples_of(path, inputs)
        total = len(next(iter(arrays.values())))
        for start in range(total):
            if limit is not None and taken >= limit:
                break
            for name, array in arrays.items():
                pending[name].append(np.asarray(array[start], np.float32))
            taken += 1
            count += 1
            if count == size:
                yield {name: np.stack(items) for name, items in pending.items()}
                pending = {name: [] for name in pending}
                count = 0
    if count and partial:
        yield {name: np.stack(items) for name, items in pending.items()}


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
              limit: int | None = None, tensors=None, progress: bool = True) -> Scales:
    """Scales for ``tensors`` (default: those the spec's quantized layers read) from the samples in
    ``data``."""
    from .. import reference
    from . import placement

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
    inputs = checked.graph.inputs
    size = batch_size(checked, batch)
    dynamic = any(i.batch for i in inputs)
    dtype = checked.graph.quantization.dtype if checked.graph.quantization else "int8"
    files = data_files(data)
    observed = {name: Observed() for name in tensors}
    passes = 1 if method == "max" else 2
    meter = Progress(limit) if progress else None
    seen = 0
    for number in range(1, passes + 1):
        seen = 0
        for arrays in batches(files, inputs, size, limit, partial=dynamic):
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
    amax = {name: canonical(amax_of(found, method, percentile, dtype)) for name, found in observed.items()}
    description = DESCRIPTIONS[method].format(percentile=percentile, bins=BINS)
    return Scales(amax, meta={"method": description, "data": f"{seen} samples from {data}"})


def batch_size(checked, wanted: int | None) -> int:
    dynamic = [i.batch for i in checked.graph.inputs if i.batch]
    if not dynamic:
        static = checked.graph.inputs[0].shape[0] if checked.graph.inputs[0].shape else 1
        if wanted not in (None, static):
            raise UsageError(f"the spec's batch is fixed at {static}; --batch cannot change it")
        return static
    high = min(b[2] for b in dynamic)
    if wanted is not None and not 1 <= wanted <= high:
        raise UsageError(f"--batch {wanted} is outside the spec's batch range (up to {high})")
    return wanted or min(high, 32)


def observe(found: Observed, magnitude: np.ndarray, number: int) -> None:
    if number == 1:
        found.amax = max(found.amax, float(magnitude.max(initial=0.0)))
    elif found.amax > 0:
        hist, _ = np.histogram(magnitude, bins=BINS, range=(0.0, found.amax))
        found.hist = hist if found.hist is None else found.hist + hist


def amax_of(found: Observed, method: str, percentile: float, dtype: str) -> float:
    if method == "max" or found.amax == 0:
        return found.amax
    width = found.amax / BINS
    if method == "entropy":
        return entropy_amax(found.hist, width)
    if method == "percentile":
        return percentile_amax(found.hist, width, percentile)
    return mse_amax(found.hist, width, dtype)
