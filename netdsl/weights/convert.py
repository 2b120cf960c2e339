"""`netdsl weights ls` and `netdsl weights convert`: listing a weight file, and moving it between formats.

Conversions never lose a value silently: float32 goes through every format unchanged; float16 and
bfloat16 widen to float32 exactly where the target has no such type; anything that would round (float64
or large integers into a `.wts`, which holds float32 only) is refused with the tensor's name.
"""

from __future__ import annotations

from ..diagnostics import NetdslError
from . import Tensor, read_weights, weight_format, write_weights

from .safetensors import CODES

KEEPS = {"safetensors": set(CODES), "npz": {"float64", "float32", "float16", "int64", "int32", "bool"},
         "wts": {"float32"}}  # what each format stores (and netdsl reads back) as it is


def listing(tensors: dict[str, Tensor]) -> list[dict]:
    return [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape) if t.shape is not None else None,
             "values": t.count, "bytes": int(t.data.nbytes)} for t in tensors.values()]


def format_listing(rows: list[dict]) -> str:
    """A table, then a total line."""
    shown = [(r["name"], r["dtype"], str(r["shape"]) if r["shape"] is not None else f"[{r['values']}] (flat)",
              f"{r['bytes']:,}") for r in rows]
    header = ("name", "dtype", "shape", "bytes")
    widths = [max([len(h)] + [len(row[i]) for row in shown]) for i, h in enumerate(header)]
    lines = ["  ".join(cell.rjust(w) if i == 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             .rstrip() for row in [header, *shown]]
    total_values = sum(r["values"] for r in rows)
    total_bytes = sum(r["bytes"] for r in rows)
    lines.append(f"{len(rows)} tensor{'s' if len(rows) != 1 else ''}, {total_values:,} values, {total_bytes:,} bytes")
    return "\n".join(lines)


def read_tensors(path: str) -> tuple[dict[str, Tensor], list[str]]:
    """(tensors, notes) of a weight file or a PyTorch checkpoint holding tensors."""
    from .torch_checkpoint import is_torch_checkpoint, read_torch_checkpoint

    if is_torch_checkpoint(path):
        return read_torch_checkpoint(path)
    return read_weights(path), []


def convert(source: str, target: str, spec: str | None = None, params: dict | None = None) -> list[str]:
    """Write the tensors of ``source`` to ``target`` (format from the extension), atomically; returns
    notes on what changed form (widened dtypes, shapes a `.wts` cannot keep). ``source`` may also be a
    PyTorch checkpoint holding tensors (see :mod:`.torch_checkpoint`). With ``spec``, the weights are
    bound to it first (every problem reported, nothing written) and each flat tensor of a `.wts` takes the
    shape of the layer that binds it."""
    import os

    import numpy as np

    kind = weight_format(target)
    if os.path.abspath(source) == os.path.abspath(target):
        raise NetdslError(f"{target}: converting a file onto itself would destroy it; write to a new path")
    tensors, notes = read_tensors(source)
    if spec is not None:
        tensors, shaped = shaped_by_spec(tensors, source, spec, params)
        notes += shaped
    elif kind != "wts" and any(t.shape is None and t.count > 1 for t in tensors.values()):
        notes.append(f"{source} stores its tensors flat, and so does {target}: such a file binds to no spec; give "
                     "--spec SPEC to restore each tensor's shape from the spec that binds it")
    arrays, dtypes, widened = {}, {}, []
    for name, tensor in tensors.items():
        if not name or (kind == "wts" and any(c.isspace() for c in name)):
            raise NetdslError(f"{source}: tensor name {name!r} cannot be stored in a .{kind} file")
        data = tensor.data
        if tensor.dtype not in KEEPS[kind]:
            data = tensor.as_float32() if tensor.dtype in ("float16", "bfloat16") else data
            if data.dtype != np.float32:
                narrowed = data.astype(np.float32)
                if not np.array_equal(narrowed.astype(data.dtype), data, equal_nan=data.dtype.kind == "f"):
                    raise NetdslError(f"{source}: tensor `{name}` is {tensor.dtype} with values float32 cannot hold "
                                      f"exactly, and .{kind} files store float32 only; nothing was written")
                data = narrowed
            widened.append(f"{name} ({tensor.dtype})")
        elif tensor.dtype == "bfloat16":
            dtypes[name] = "bfloat16"  # kept as raw bits
        arrays[name] = data
    if widened:
        notes.append(f"stored as float32, exactly: {len(widened)} tensor(s): " + ", ".join(widened[:5])
                     + (", ..." if len(widened) > 5 else ""))
    if kind == "wts" and any(t.shape is not None and len(t.shape) != 1 for t in tensors.values()):
        notes.append(".wts files are flat: shapes are not kept (netdsl binds flat weights by value count)")
    write_weights(target, arrays, dtypes=dtypes)
    return notes


def shaped_by_spec(tensors: dict[str, Tensor], source: str, spec: str, params: dict | None = None):
    """(tensors, notes): ``tensors`` bound to ``spec`` as `netdsl build` binds them (a SpecError lists
    every problem), each flat one reshaped as the layer reading it needs; those no layer reads stay as
    they are."""
    from ..diagnostics import Diagnostics, SpecError
    from ..spec import load
    from .bind import bind

    checked = load(spec, params=params)
    diagnostics = Diagnostics()
    bound = bind(checked, tensors, source, diagnostics=diagnostics)
    if diagnostics.has_errors:
        raise SpecError(diagnostics)
    shapes = {weight.key: tuple(weight.array.shape) for weight in bound.values()}
    shaped, left = dict(tensors), []
    for name, tensor in tensors.items():
        if tensor.shape is not None:
            continue
        if name in shapes:
            shaped[name] = Tensor(name, tensor.dtype, shapes[name], tensor.data.reshape(shapes[name]), tensor.line)
        else:
            left.append(name)
    notes = [f"shapes from {spec}: {sum(name in shapes for name in tensors)} tensor(s) bound to its layers"]
    if left:
        notes.append(f"{len(left)} tensor(s) that no layer of {spec} reads stay flat: " + ", ".join(left[:5])
                     + (", ..." if len(left) > 5 else ""))
    return shaped, notes
