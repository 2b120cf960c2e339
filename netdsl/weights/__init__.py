"""Weight files: `.safetensors` (memory-mapped), tensorrtx/NVIDIA `.wts` (every variant in the wild) and
`.npz`. Every reader checks what it reads against the file's real size and reports a malformed file
as a :class:`WeightFileError` with a location, never a traceback; none trusts a count or size the file
states before checking it against the bytes that are there.

    >>> import numpy as np, tempfile, os
    >>> from netdsl.weights import read_weights, write_weights
    >>> path = os.path.join(tempfile.mkdtemp(), "w.wts")
    >>> write_weights(path, {"fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3)})
    >>> tensors = read_weights(path)
    >>> tensors["fc.weight"].data.tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
"""

from __future__ import annotations

import os

from ..diagnostics import UsageError
from .stored import FLOAT_DTYPES, Tensor, WeightFileError, fail  # noqa: F401 (re-exported)

FORMATS = {".wts": "wts", ".safetensors": "safetensors", ".npz": "npz"}


def weight_format(path: str) -> str:
    """The format a weight file's extension names; a UsageError naming the file otherwise."""
    problem = format_problem(path)
    if problem:
        raise UsageError(problem)
    return FORMATS[os.path.splitext(path)[1].lower()]


def format_problem(path: str) -> str | None:
    """Why netdsl cannot tell the format of the weight file ``path`` (the message names it), else None."""
    extension = os.path.splitext(path)[1].lower()
    if extension in FORMATS:
        return None
    found = f"its extension is `{extension}`" if extension else "it has no extension"
    return (f"cannot tell the format of the weight file {path}: {found}; netdsl reads .safetensors, .wts and "
            ".npz, by extension")


def read_weights(path: str) -> dict[str, Tensor]:
    """All tensors of a weight file, by name."""
    kind = weight_format(path)
    from ..files import input_problem

    problem = input_problem(path)
    if problem:
        fail(path, f"cannot read the weight file {path}: {problem}", line=0, col=0, code="file-unreadable")
    if not os.path.isfile(path):
        from ..yamlnodes import resolved_note

        fail(path, f"no such weight file: {path}" + resolved_note(path), line=0, col=0, code="file-not-found")
    try:
        return _read(kind, path)
    except OSError as error:  # unreadable (permissions), or replaced by a FIFO since the check above
        fail(path, f"cannot read the weight file {path}: {error.strerror or error}", line=0, col=0,
             code="file-unreadable")


def _read(kind: str, path: str) -> dict[str, Tensor]:
    if kind == "wts":
        from .wts import read_wts

        return read_wts(path)
    if kind == "safetensors":
        from .safetensors import read_safetensors

        return read_safetensors(path)
    from .npz import read_npz

    return read_npz(path)


def write_weights(path: str, arrays: dict, metadata: dict | None = None, dtypes: dict | None = None) -> None:
    """Write name -> numpy array atomically, in the format the extension names. For `.safetensors`,
    ``metadata`` (strings) goes into the header and ``dtypes`` names uint16 arrays that hold bfloat16
    bits; other formats have neither."""
    kind = weight_format(path)
    if kind == "safetensors":
        from .safetensors import safetensors_chunks

        data = safetensors_chunks(arrays, metadata, dtypes)  # streamed: the file is never whole in memory
    else:
        if dtypes:
            raise ValueError(f".{kind} files cannot hold bfloat16; widen those tensors to float32 first")
        if kind == "wts":
            from .wts import wts_chunks

            data = wts_chunks(arrays)
        else:
            from .npz import encode_npz

            data = encode_npz(arrays)
    from ..files import write_atomic

    write_atomic(path, data)
