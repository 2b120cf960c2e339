"""The tensor model every pass shares: a shape (dimensions that are integers, named dimensions
:class:`Dim` or expressions over them :class:`Expr`, see :mod:`netdsl.symbolic`), a dtype, and numpy
broadcasting between shapes of any rank from 0 to 8.

    >>> broadcast([(BATCH, 3, 1, 5), (4, 1)])
    (N, 3, 4, 5)
    >>> show_type(TensorType((BATCH, 10), "int32"))
    '[N, 10] int32'
"""

from __future__ import annotations

import os
from collections import namedtuple

from .symbolic import Dim, Expr, Size, disagreement, agree  # noqa: F401 (re-exported)

MAX_RANK = 8
DTYPES = ("float32", "float16", "bfloat16", "int8", "uint8", "int32", "int64", "bool")
FLOAT_DTYPES = ("float32", "float16", "bfloat16")
INTEGER_DTYPES = ("int8", "uint8", "int32", "int64")
ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1, "uint8": 1, "int32": 4, "int64": 8, "bool": 1}
# The most elements one tensor (a layer's output, a weight, an input) may have at the largest sizes its
# profiles allow: TensorRT indexes most tensors with 32-bit volumes, and a bound known before anything is
# allocated keeps `build`, `reference` and `export` from asking for tens of GiB. Its bytes follow from the
# dtype (8 GiB of float32). NETDSL_MAX_TENSOR_ELEMENTS (or --max-tensor-elements) raises or lowers it.
MAX_TENSOR_ELEMENTS = 2**31
MAX_TENSOR_ELEMENTS_VARIABLE = "NETDSL_MAX_TENSOR_ELEMENTS"


BATCH = Dim("N")


# collections.namedtuple rather than typing.NamedTuple: importing typing costs `netdsl validate` about 8 ms
# of a 25 ms interpreter start-up (issue 28).
class TensorType(namedtuple("TensorType", ("shape", "dtype", "quant"), defaults=(None,))):
    # shape: tuple; dtype: str; quant: quantization parameters, for the quantization layers (none yet)
    __slots__ = ()

    @property
    def rank(self) -> int:
        return len(self.shape)


def is_static(shape) -> bool:
    return all(isinstance(d, int) for d in shape)


def show_shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def show_type(t: TensorType) -> str:
    return f"{show_shape(t.shape)} {t.dtype}"


def volume(shape) -> int | None:
    """Number of elements, None when a dimension is dynamic."""
    total = 1
    for dim in shape:
        if not isinstance(dim, int):
            return None
        total *= dim
    return total


def max_tensor_elements() -> int:
    """The bound on every tensor's elements: NETDSL_MAX_TENSOR_ELEMENTS when set, else MAX_TENSOR_ELEMENTS."""
    text = os.environ.get(MAX_TENSOR_ELEMENTS_VARIABLE, "").strip().replace("_", "")
    if not text:
        return MAX_TENSOR_ELEMENTS
    if not (text.isdigit() and text.isascii() and len(text) <= 20 and int(text) > 0):
        from .diagnostics import UsageError

        raise UsageError(f"{MAX_TENSOR_ELEMENTS_VARIABLE}={os.environ[MAX_TENSOR_ELEMENTS_VARIABLE]!r}: give a "
                         "positive whole number of elements")
    return int(text)


def show_bytes(count: int) -> str:
    """'8 GiB', '1.5 MiB', '12 bytes'."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift:
            return f"{count / (1 << shift):,.3g} {unit}"
    return f"{count} bytes"


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


def numpy_dtype(dtype: str):
    """The numpy dtype the reference executor computes a tensor of this dtype in: every float dtype in
    float32 (the reference states the exact result; precision is the engine's business), the others
    as themselves."""
    import numpy as np

    return np.float32 if dtype in FLOAT_DTYPES else np.dtype(dtype).type


class BroadcastError(ValueError):
    def __init__(self, message: str, axis: int, sizes: list):
        super().__init__(message)
        self.axis = axis
        self.sizes = sizes


def broadcast(shapes) -> tuple:
    """Numpy's broadcasting of shapes of any rank: aligned at the end, a size of 1 stretches. Symbolic
    sizes must agree for every value the profiles allow (:func:`netdsl.symbolic.disagreement`); the
    error then names a value where they do not."""
    rank = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(-rank, 0):
        sizes = [s[axis] for s in shapes if len(s) >= -axis]
        distinct = []
        for size in sizes:
            if size == 1 or size in distinct:
                continue
            if distinct:
                where = disagreement(distinct[0], size)
                if where is not None:
                    found = [distinct[0], size]
                    detail = f" ({where})" if isinstance(distinct[0], Size) or isinstance(size, Size) else ""
                    raise BroadcastError(f"sizes {' and '.join(str(d) for d in found)} on axis {rank + axis}"
                                         + detail, rank + axis, found)
                size = agree(distinct[0], size)
                distinct.clear()
            distinct.append(size)
        result.append(distinct[0] if distinct else 1)
    return tuple(result)


def output_dtype(input_dtypes, dtype: str) -> str:
    """The dtype a network output of this netdsl dtype has in the engine: float32 outputs come out in
    the dtype of the float inputs (float16 networks keep float16 I/O); others as they are."""
    floats = [d for d in input_dtypes if d in ("float32", "float16")]
    return floats[0] if dtype == "float32" and floats else dtype
