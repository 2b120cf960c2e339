"""Calibration samples: the files of `netdsl calibrate --data` read as batches of network inputs.

The data is a folder (file-name order) or one file, of one kind:

- `.npy`/`.npz` arrays. A `.npy` holds one sample (the input's shape without the batch) or several
  (with a leading batch axis); an `.npz` holds arrays named after the spec's inputs (a one-input spec
  also takes an `.npz` whose only array of the input's sample shape is the data, as
  `weights/lenet_heldout.npz`'s `images`).
- images (.jpg, .jpeg, .png, .bmp) for a one-input spec, fitted and laid out by :mod:`netdsl.images`.

Inputs with named dynamic dimensions (height, width) take each sample at its own size; samples of one
size are batched together, and a size that fits none of the spec's optimization profiles is refused
with the file's name.
"""

from __future__ import annotations

import os

import numpy as np

from ..diagnostics import NetdslError, UsageError
from ..images import SUFFIXES, is_image


def data_files(path: str) -> tuple[list[str], str]:
    """(the files to read, "arrays" or "images")."""
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
        arrays = [n for n in names if n.endswith((".npy", ".npz"))]
        images = [n for n in names if is_image(n)]
        if arrays and images:
            raise UsageError(f"{path} holds both arrays ({len(arrays)} .npy/.npz, e.g. {arrays[0]}) and images "
                             f"({len(images)}, e.g. {images[0]}); calibration reads one kind: put them in separate "
                             "folders")
        if not arrays and not images:
            raise UsageError(f"no .npy, .npz or image ({', '.join(SUFFIXES)}) files in {path}")
        return [os.path.join(path, n) for n in arrays or images], "arrays" if arrays else "images"
    if os.path.isfile(path) and path.endswith((".npy", ".npz")):
        return [path], "arrays"
    if os.path.isfile(path) and is_image(path):
        return [path], "images"
    raise UsageError(f"--data {path}: not a folder, an .npy/.npz file or an image ({', '.join(SUFFIXES)})")


class Samples:
    """The calibration files of ``data`` for ``checked``'s inputs; :meth:`read` gives one file's
    samples, :func:`batches` groups them."""

    def __init__(self, checked, data: str, imgsz=None, resize: str = "letterbox"):
        from .. import images
        from ..reference import declared

        self.data = data
        self.files, self.kind = data_files(data)
        self.inputs = checked.graph.inputs
        self.declared = declared(checked)
        # what one file's sizes are checked against: any batch (files are regrouped into runs)
        self.per_file = [d._replace(shape=(None,) + d.shape[1:]) if d.shape else d for d in self.declared]
        self.resize = resize
        self.target = None
        if resize not in images.RESIZE_MODES:
            raise UsageError(f"unknown --resize `{resize}`; modes: {', '.join(images.RESIZE_MODES)}")
        if self.kind == "images":
            if len(self.inputs) != 1:
                raise UsageError(f"images feed a spec with one input; {checked.path} has {len(self.inputs)}: give .npz "
                                 "files holding arrays named after the inputs")
            self.target = images.image_input(self.inputs[0], checked.graph.profiles, imgsz)
        elif imgsz is not None or resize != "letterbox":
            raise UsageError(f"--imgsz and --resize apply to images; {data} holds arrays")

    def count(self) -> int | None:
        """The number of samples when known without reading the files (one per image)."""
        return len(self.files) if self.kind == "images" else None

    def read(self, path: str) -> dict:
        """Input name -> array with a batch axis, from one file."""
        from ..arrays import check_sizes

        if self.target is not None:
            from ..images import prepare

            arrays = {self.target.name: prepare(path, self.target, self.resize)[None]}
        else:
            arrays = samples_of(path, self.inputs)
        try:
            check_sizes(self.per_file, arrays)  # here, to name the file whose size fits no profile
        except UsageError as error:
            raise UsageError(f"{path}: {error}") from None
        for name, array in arrays.items():
            check_finite(array, name, path)
        return arrays


def check_finite(array, name: str, path: str) -> None:
    """Refuse NaN or infinite values in a float sample, naming the file and the first bad element (its
    sample is the first index), here where the file is known: the reference run would not name it."""
    if array.dtype.kind != "f":
        return
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NetdslError(f"{path}: sample {index[0]} of input `{name}` holds {float(array[index])} at index "
                          f"{list(index[1:])} ({int(bad.sum())} non-finite value(s) in the file); calibration samples "
                          "must be finite")


def samples_of(path: str, inputs) -> dict:
    """Input name -> array with a batch axis, from one .npy or .npz file."""
    try:
        if path.endswith(".npy"):
            if len(inputs) != 1:
                raise UsageError(f"{path}: a spec with several inputs takes .npz files (arrays named after the inputs)")
            return {inputs[0].name: with_batch(np.load(path, allow_pickle=False, mmap_mode="r"), inputs[0], path)}
        with np.load(path, allow_pickle=False) as archive:
            return arrays_in(archive, inputs, path)
    except (ValueError, OSError, EOFError) as error:
        raise UsageError(f"{path}: not a readable .npy/.npz array file ({str(error)[:100]})") from None


def arrays_in(archive, inputs, path: str) -> dict:
    if all(i.name in archive.files for i in inputs):
        return {i.name: with_batch(archive[i.name], i, path) for i in inputs}
    if len(inputs) == 1:
        shape = inputs[0].shape
        fitting = [n for n in archive.files if fits(shape, archive[n].shape) or fits(shape[1:], archive[n].shape)]
        if len(fitting) == 1:
            return {inputs[0].name: with_batch(archive[fitting[0]], inputs[0], path)}
    missing = [i.name for i in inputs if i.name not in archive.files]
    raise UsageError(f"{path} has no array named {', '.join(missing)} (it has {', '.join(archive.files)})")


def fits(shape, array_shape) -> bool:
    """Whether an array's shape has ``shape``'s rank and its fixed sizes (dynamic sizes take any)."""
    return len(shape) == len(array_shape) and all(not isinstance(d, int) or d == s for d, s in zip(shape, array_shape))


def with_batch(array, graph_input, path: str):
    from ..tensors import show_shape

    if fits(graph_input.shape[1:], array.shape):
        return np.asarray(array)[None]
    if not fits(graph_input.shape, array.shape):
        raise UsageError(f"{path}: array of shape {list(array.shape)} does not fit input `{graph_input.name}` (a "
                         f"sample is {show_shape(graph_input.shape[1:])})")
    return array


def batch_range(checked, wanted: int | None) -> tuple[int, int]:
    """(samples per reference run, the fewest a run may take): ``wanted`` or up to 32, within the
    spec's batch range (a -1 batch, a named dimension's profiles, or a fixed size)."""
    from ..symbolic import Dim

    inputs = checked.graph.inputs
    first = inputs[0].shape[0] if inputs[0].shape else 1
    if isinstance(first, int):
        if wanted not in (None, first):
            raise UsageError(f"the spec's batch is fixed at {first}; --batch cannot change it")
        return first, first
    if any(i.batch for i in inputs):
        low, high = max(i.batch[0] for i in inputs if i.batch), min(i.batch[2] for i in inputs if i.batch)
    elif isinstance(first, Dim) and checked.graph.profiles:
        ranges = [p.ranges[first.name] for p in checked.graph.profiles if first.name in p.ranges]
        low, high = max(r[0] for r in ranges), min(r[2] for r in ranges)
    else:
        raise UsageError(f"the first dimension of input `{inputs[0].name}` ({first}) is not a batch netdsl can fill")
    if wanted is not None and not low <= wanted <= high:
        raise UsageError(f"--batch {wanted} is outside the spec's batch range ({low}..{high})")
    return (wanted or min(high, 32)), low


def batches(samples: Samples, size: int, low: int, limit: int | None):
    """Dicts of input arrays of up to ``size`` samples of one shape, at most ``limit`` samples in all;
    a shorter run (the last one, or one before a change of size) only when it has ``low`` samples."""
    float_inputs = {d.name for d in samples.declared if d.dtype.startswith("float")}
    pending, shapes, taken = [], None, 0
    for path in samples.files:
        arrays = samples.read(path)
        for start in range(len(next(iter(arrays.values())))):
            if limit is not None and taken >= limit:
                break
            sample = {name: np.asarray(array[start], np.float32 if name in float_inputs else None)
                      for name, array in arrays.items()}
            shape = tuple(a.shape for a in sample.values())
            if pending and (shape != shapes or len(pending) == size):
                if len(pending) >= low:
                    yield stack(pending)
                pending = []
            pending.append(sample)
            shapes = shape
            taken += 1
        if limit is not None and taken >= limit:
            break
    if len(pending) >= low:
        yield stack(pending)


def stack(samples: list[dict]) -> dict:
    return {name: np.stack([s[name] for s in samples]) for name in samples[0]}
