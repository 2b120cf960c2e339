"""A tensor as a weight file stores it, and the error a malformed file raises: what every reader
(`.wts`, `.safetensors`, `.npz`) shares."""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostics, Pos, Source, SpecError

FLOAT_DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class Tensor:
    """One stored tensor. ``data`` is a numpy array; bfloat16 is kept as its raw uint16 bits (numpy has
    no bfloat16) and converted by :meth:`as_float32`. ``shape`` is the stored shape (a `.wts` stores
    none: its tensors are flat)."""

    name: str
    dtype: str
    shape: tuple | None
    data: object
    line: int | None = None  # where a .wts entry stands

    @property
    def count(self) -> int:
        return int(self.data.size)

    def as_float32(self):
        import numpy as np

        if self.dtype == "bfloat16":
            return (self.data.astype(np.uint32) << 16).view(np.float32)
        return self.data.astype(np.float32, copy=False)


class WeightFileError(SpecError):
    """A malformed weight file."""


def fail(path: str, message: str, line: int = 1, col: int = 1, code: str = "bad-weights", hint=None):
    diagnostics = Diagnostics()
    diagnostics.error(code, message, Pos(Source(path, ""), line, col), hint=hint)
    raise WeightFileError(diagnostics)
