"""Running sum along an axis (TensorRT's cumulative layer, whose axis is a constant 0-D tensor)."""

from ..params import Int, Param
from ..tensors import FLOAT_DTYPES
from . import register
from ._axes import normalize_axes
from .primitive import Primitive

GROUP = "reductions"  # its row in the README's kind table (tools/regenerate.py)


@register
class Cumsum(Primitive):
    kind = "cumsum"
    torch = "torch.cumsum"
    doc = "y[i] = x[0] + ... + x[i] along `dim`. Integer inputs keep their dtype (torch promotes them to int64)."
    params = {"dim": Param(Int(), doc="the axis to sum along")}
    dtypes = FLOAT_DTYPES + ("int32", "int64")

    def infer(self, p, x):
        normalize_axes(p["dim"], x.rank)
        return x

    def compute(self, p, out, x):
        import numpy as np

        return np.cumsum(x, axis=normalize_axes(p["dim"], x.ndim)[0], dtype=x.dtype) if x.ndim else x

    def emit(self, ctx, p, out, x):
        import numpy as np

        if x.type.rank == 0:  # TensorRT refuses a scalar; its running sum is itself
            return x.data
        axis = ctx.literal(np.array(normalize_axes(p["dim"], x.type.rank)[0], np.int32), "int32", "axis")
        layer = ctx.network.add_cumulative(x.data, axis, ctx.trt.CumulativeOperation.SUM, False, False)
        return ctx.label(layer).get_output(0)
