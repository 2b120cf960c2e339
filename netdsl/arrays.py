"""Input and output arrays of `netdsl reference`, `run` and `verify`: `.npy` files (one array) and
`.npz` files (arrays by name), never pickles. `--input x.npy` feeds a one-input network;
`--input name=x.npy` names the input; a `.npz` gives every input by its own name."""

from __future__ import annotations

import os
from typing import NamedTuple

from .diagnostics import UsageError


class Declared(NamedTuple):
    """An input as a spec or an engine's manifest declares it."""

    name: str
    shape: tuple  # None for the dynamic batch, a name (str) for a named dynamic dimension
    batch: tuple | None  # (min, max) of a dynamic batch
    dtype: str  # what the arrays are converted to (float32, float16, an integer dtype or bool)
    profiles: tuple = ()  # the optimization profiles (netdsl.symbolic.Profile) of the named dimensions


def show(shape) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def check_arrays(declared: list[Declared], inputs: dict) -> tuple[dict, int | None]:
    """(name -> array converted to the declared dtype, the dynamic batch size or None); see
    :func:`check_arrays_sized`."""
    arrays, sizes = check_arrays_sized(declared, inputs)
    return arrays, sizes.get(None)


def fitting_profile(profiles, sizes: dict) -> int | None:
    """The index of the first profile (netdsl.symbolic.Profile) that allows all these named sizes, or None."""
    return next((p.index for p in profiles if p.allows(sizes)), None)


def check_sizes(declared: list[Declared], arrays: dict) -> dict:
    """Name -> size of every named dimension, read from the arrays: the same in every input that has it,
    and all together within one profile (the error names every profile's limits)."""
    sizes, seen = {}, {}
    for entry in declared:
        for axis, dim in enumerate(entry.shape):
            array = arrays.get(entry.name)
            if isinstance(dim, str) and "+" not in dim and array is not None \
                    and axis < len(getattr(array, "shape", ())):
                size = array.shape[axis]
                if sizes.setdefault(dim, size) != size:
                    raise UsageError(f"dimension `{dim}` is {sizes[dim]} in input `{seen[dim]}` but {size} in input "
                                     f"`{entry.name}`; inputs that share a dimension need the same size there")
                seen.setdefault(dim, entry.name)
    for entry in declared:  # sums of named dimensions (`past+sequence`), once the names have sizes
        for axis, dim in enumerate(entry.shape):
            array = arrays.get(entry.name)
            names = summed_names(dim)
            if names and array is not None and axis < len(getattr(array, "shape", ())) and set(names) <= set(sizes) \
                    and dim_size(dim, sizes) != array.shape[axis]:
                given = ", ".join(f"{n}={sizes[n]}" for n in sorted(names))
                raise UsageError(f"input `{entry.name}` has size {array.shape[axis]} in dimension {axis}, which is "
                                 f"{dim} = {dim_size(dim, sizes)} for the other inputs' {given}")
    profiles = next((e.profiles for e in declared if e.profiles), ())
    if sizes and profiles and fitting_profile(profiles, sizes) is None:
        given = ", ".join(f"{n}={v}" for n, v in sizes.items())
        limits = "; ".join(p.describe(sizes) for p in profiles)
        raise UsageError(f"the inputs' sizes {given} fit no optimization profile ({limits})")
    return sizes


def summed_names(dim) -> list[str]:
    """The names a sum of named dimensions adds up (a netdsl.symbolic size, or its text in a manifest:
    `past+sequence`); [] for anything else."""
    if hasattr(dim, "names") and not hasattr(dim, "name"):
        return sorted(dim.names())
    return [name.strip() for name in dim.split("+")] if isinstance(dim, str) and "+" in dim else []


def dim_size(dim, sizes: dict) -> int:
    """The size of a named dimension (its name) or of a sum of them, from the names' sizes."""
    names = summed_names(dim)
    return sum(sizes[name] for name in names) if names else sizes[getattr(dim, "name", dim)]


def check_arrays_sized(declared: list[Declared], inputs: dict) -> tuple[dict, dict]:
    """(name -> array converted to the declared dtype, dim name -> size, the dynamic batch under None). A
    UsageError says what is wrong: an unknown or missing input, a shape, dtype or batch that does not fit,
    inputs with different batch sizes, named sizes that differ between inputs or fit no profile. NaN and
    infinite values are data (an additive attention mask of -inf, what isnan/isinf look at, a float16
    cast of a large value) and pass. Nothing is read from a memory-mapped input before its shape is
    checked."""
    import numpy as np

    names = [d.name for d in declared]
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise UsageError(f"unknown input(s) {', '.join(unknown)}; the inputs are {', '.join(names)}")
    sizes = check_sizes(declared, inputs)  # from the shapes alone: nothing read yet
    arrays, batch = {}, None
    for entry in declared:
        if entry.name not in inputs:
            raise UsageError(f"input `{entry.name}` {show(entry.shape)} is not given")
        array = inputs[entry.name]
        wanted_kind = "f" if entry.dtype.startswith("float") else "b" if entry.dtype == "bool" else "iu"
        if not hasattr(array, "dtype") or array.dtype.kind not in wanted_kind:
            what = {"f": "floating point", "b": "bool"}.get(wanted_kind, "integer")
            raise UsageError(f"input `{entry.name}` is {getattr(array, 'dtype', type(array).__name__)}; it must be "
                             f"{what} ({entry.dtype})")
        if array.ndim != len(entry.shape) or any(isinstance(d, int) and d != s for d, s in zip(entry.shape, array.shape)):
            raise UsageError(f"input `{entry.name}` has shape {list(array.shape)}, expected {show(entry.shape)}")
        if entry.batch:
            low, high = entry.batch
            if not low <= array.shape[0] <= high:
                raise UsageError(f"input `{entry.name}` has batch {array.shape[0]}, outside the range {low}..{high}")
            if batch is not None and array.shape[0] != batch:
                raise UsageError(f"dynamic inputs have different batch sizes ({batch} and {array.shape[0]})")
            batch = array.shape[0]
        converted = np.asarray(array, dtype=entry.dtype, order="C")
        if wanted_kind == "iu" and not np.array_equal(converted, array):
            raise UsageError(f"input `{entry.name}` holds values that {entry.dtype} cannot represent")
        arrays[entry.name] = converted
    return arrays, {**sizes, **({None: batch} if batch is not None else {})}


def load_array(path: str):
    import numpy as np

    from .files import input_problem

    problem = input_problem(path)
    if problem:
        raise UsageError(f"cannot read {path}: {problem}")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)  # shapes are checked before data is read
    except (ValueError, OSError, EOFError) as error:
        raise UsageError(f"{path}: not a readable .npy/.npz array file ({str(error)[:100]})") from None


def read_inputs(specs: list[str], input_names: list[str]) -> dict:
    """Name -> array from --input arguments."""
    arrays = {}
    for spec in specs:
        name, _, path = spec.rpartition("=") if "=" in spec else ("", "", spec)
        loaded = load_array(path)
        if hasattr(loaded, "files"):  # .npz: arrays by input name
            with loaded:
                for key in loaded.files:
                    arrays[key] = loaded[key]
            continue
        if not name:
            if len(input_names) != 1:
                raise UsageError(f"the network has inputs {', '.join(input_names)}: name them, --input NAME=FILE.npy")
            name = input_names[0]
        if name in arrays:
            raise UsageError(f"input `{name}` is given twice")
        arrays[name] = loaded
    return arrays


def write_outputs(path: str, outputs: dict) -> None:
    """One output to .npy, or any number to .npz (by output name); atomically."""
    import io

    import numpy as np

    from .files import write_atomic

    buffer = io.BytesIO()
    if path.endswith(".npz"):
        np.savez(buffer, **outputs)
    elif path.endswith(".npy"):
        if len(outputs) != 1:
            raise UsageError(f"the network has {len(outputs)} outputs ({', '.join(outputs)}); write them to a .npz")
        np.save(buffer, next(iter(outputs.values())), allow_pickle=False)
    else:
        raise UsageError(f"{path}: outputs are written to .npy (one output) or .npz")
    write_atomic(path, buffer.getvalue())


def describe_outputs(outputs: dict) -> str:
    """One line per output; NaN and infinite values are counted, and the figures are of the finite ones."""
    import numpy as np

    lines = []
    for name, array in outputs.items():
        line = f"{name}: shape {list(array.shape)}, {array.dtype}"
        finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
        if finite.size:
            line += f", min {finite.min():.6g}, max {finite.max():.6g}, mean {finite.mean():.6g}"
        if finite.size != array.size:
            line += "".join(f", {count:,} {what}" for what, count in (
                ("NaN", np.isnan(array).sum()), ("+inf", np.isposinf(array).sum()),
                ("-inf", np.isneginf(array).sum())) if count)
        lines.append(line)
    return "\n".join(lines)
