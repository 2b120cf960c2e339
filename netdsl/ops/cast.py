"""Explicit dtype conversion (torch.Tensor.to(dtype)): networks are strongly typed, so a tensor changes
dtype only here."""

from ..params import Choice, Param
from ..tensors import DTYPES, TensorType
from . import register
from .primitive import Primitive

GROUP = "dtype, constants, no-ops"  # its row in the README's kind table (tools/regenerate.py)


@register
class Cast(Primitive):
    kind = "cast"
    torch = "torch.Tensor.to(dtype)"
    doc = ("Converts to `dtype`: floats to integers truncate toward zero (as torch does), anything to bool "
           "is x != 0. In a float16 or bfloat16 build, `float32` means the build's float type.")
    params = {"dtype": Param(Choice(DTYPES), doc="the dtype to convert to")}
    dtypes = None

    def infer(self, p, x):
        return TensorType(x.shape, p["dtype"])

    def compute(self, p, out, x):
        import numpy as np

        from ..tensors import numpy_dtype

        if p["dtype"] == "bool":
            return x != 0
        if p["dtype"] not in ("float32", "float16", "bfloat16") and x.dtype.kind == "f":
            x = np.trunc(x)
        return x.astype(numpy_dtype(p["dtype"]))

    def emit(self, ctx, p, out, x):
        return ctx.label(ctx.network.add_cast(x.data, ctx.trt_dtype(p["dtype"]))).get_output(0)
