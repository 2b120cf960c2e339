"""Reductions over some axes or all of them (TensorRT's reduce layer, axes as a bitmask): sum, mean, max,
min, product. Integer inputs keep their dtype (torch promotes sums and products to int64)."""

from ..params import Bool, Param
from ..tensors import FLOAT_DTYPES, TensorType
from . import register
from ._axes import Axes, mask, normalize_axes
from .primitive import Primitive

GROUP = "reductions"  # its row in the README's kind table (tools/regenerate.py)


class Reduction(Primitive):
    params = {"dim": Param(Axes(), None, doc="an axis, a list of axes, or null for every axis"),
              "keepdim": Param(Bool(), False, doc="keep the reduced axes with size 1")}
    trt_operation = ""  # the TensorRT ReduceOperation member
    numpy = ""

    def infer(self, p, x):
        axes = normalize_axes(p["dim"], x.rank)
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if p["keepdim"] or i not in axes)
        return TensorType(shape, x.dtype)

    def compute(self, p, out, x):
        import numpy as np

        axes = normalize_axes(p["dim"], x.ndim)
        dtype = {"dtype": x.dtype} if self.numpy in ("sum", "prod") else {}
        return getattr(np, self.numpy)(x, axis=axes, keepdims=p["keepdim"], **dtype).reshape(out.shape)

    def emit(self, ctx, p, out, x):
        if x.type.rank == 0:  # TensorRT reduces rank 1 and up; over nothing a reduction is the identity
            return x.data
        layer = ctx.network.add_reduce(x.data, getattr(ctx.trt.ReduceOperation, self.trt_operation),
                                       mask(normalize_axes(p["dim"], x.type.rank)), p["keepdim"])
        return ctx.label(layer).get_output(0)


def reduction(kind: str, trt_operation: str, numpy: str, torch: str, doc: str, dtypes):
    register(type(kind.title().replace("_", ""), (Reduction,), {
        "kind": kind, "trt_operation": trt_operation, "numpy": numpy, "torch": torch, "doc": doc, "dtypes": dtypes}))


WIDE = FLOAT_DTYPES + ("int32", "int64")
ORDERED = WIDE + ("int8",)  # TensorRT's reduce refuses uint8 and bool
reduction("reduce_sum", "SUM", "sum", "torch.sum", "Sum over `dim`.", WIDE)
reduction("reduce_mean", "AVG", "mean", "torch.mean", "Mean over `dim`.", FLOAT_DTYPES)
reduction("reduce_max", "MAX", "amax", "torch.amax", "Maximum over `dim`.", ORDERED)
reduction("reduce_min", "MIN", "amin", "torch.amin", "Minimum over `dim`.", ORDERED)
reduction("reduce_prod", "PROD", "prod", "torch.prod", "Product over `dim`.", WIDE)
