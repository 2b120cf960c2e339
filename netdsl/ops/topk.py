"""The k largest (or smallest) values along an axis and their indices, and argmax/argmin, all through
TensorRT's top-k layer (k at most 3840, rank 2 or more: lower ranks are reshaped). Indices are int32,
TensorRT's index type, where torch gives int64. Which of several equal values comes first is not
specified (torch does not specify it either for topk)."""

from ..params import Bool, Int, Param
from ..symbolic import below
from ..tensors import FLOAT_DTYPES, TensorType, show_shape
from . import ShapeError, register
from ._axes import Axes, at_least_2d, normalize_axes, reshape
from .primitive import Primitive

GROUP = "reductions"  # its row in the README's kind table (tools/regenerate.py)

MAX_K = 3840  # TensorRT's top-k layer refuses a larger k (checked on TensorRT-RTX 1.7; documented for TensorRT 10)
ORDERED = FLOAT_DTYPES + ("int8", "int32", "int64")


def order(x, axis: int, largest: bool):
    """Indices along ``axis`` that sort ``x`` (largest first when asked); equal values keep their order."""
    import numpy as np

    keys = (-x if x.dtype.kind == "f" else ~x) if largest else x  # ~x reverses integers without overflow
    return np.argsort(keys, axis=axis, kind="stable")


def top(ctx, x, axis: int, k: int, largest: bool):
    """TensorRT's top-k of a Value along ``axis``: (values, indices) at rank 2 or more, and that shape's
    axis offset (see :func:`netdsl.ops._axes.at_least_2d`)."""
    tensor, padded, offset = at_least_2d(ctx, x.data, x.type.shape)
    operation = ctx.trt.TopKOperation.MAX if largest else ctx.trt.TopKOperation.MIN
    layer = ctx.label(ctx.network.add_topk(tensor, operation, k, 1 << (axis + offset)), "topk")
    return layer.get_output(0), layer.get_output(1), len(padded) != x.type.rank


@register
class TopK(Primitive):
    kind = "topk"
    torch = "torch.topk"
    doc = ("The k largest (largest: false: smallest) values along `dim` and their int32 indices, outputs "
           "`<layer>.values` and `<layer>.indices`. The values always come sorted, which sorted: false allows.")
    params = {
        "k": Param(Int(1), doc=f"how many values; at most the axis size and {MAX_K} (TensorRT's limit)"),
        "dim": Param(Int(), -1),
        "largest": Param(Bool(), True),
        "sorted": Param(Bool(), True, doc="torch's flag; the result is sorted either way"),
    }
    dtypes = ORDERED

    def output_names(self, node):
        return ("values", "indices")

    def infer(self, p, x):
        axis, k = normalize_axes(p["dim"], x.rank)[:1], p["k"]
        size = x.shape[axis[0]] if axis else 1
        smaller = below(size, k) if not isinstance(size, int) else None
        if smaller is not None:  # k against every size the profiles allow
            raise ShapeError(f"k {k} is larger than the dynamic axis {axis[0]} of {show_shape(x.shape)} {smaller}",
                             "k", code="invalid-value", hint="raise the dimension's min, or lower k")
        if isinstance(size, int) and k > size:
            raise ShapeError(f"k {k} is larger than axis {axis[0] if axis else 0}'s size {size}", "k",
                             code="invalid-value", expected=f"at most {size}", found=str(k))
        if k > MAX_K:
            raise ShapeError(f"k {k} is above {MAX_K}, the largest TensorRT's top-k layer takes", "k",
                             code="invalid-value", hint="sort the axis in pieces, or reduce it first")
        shape = tuple(k if (i,) == axis else d for i, d in enumerate(x.shape))
        return TensorType(shape, x.dtype), TensorType(shape, "int32")

    def compute(self, p, out, x):
        import numpy as np

        if x.ndim == 0:
            return x, np.zeros((), np.int32)
        axis = normalize_axes(p["dim"], x.ndim)[0]
        indices = np.take(order(x, axis, p["largest"]), range(p["k"]), axis=axis)
        return np.take_along_axis(x, indices, axis), indices.astype(np.int32)

    def emit(self, ctx, p, out, x):
        axis = normalize_axes(p["dim"], x.type.rank)
        values, indices, reshaped = top(ctx, x, axis[0] if axis else 0, p["k"], p["largest"])
        if reshaped:
            return (reshape(ctx, values, out[0].shape, "values"), reshape(ctx, indices, out[1].shape, "indices"))
        return values, indices


class ArgExtreme(Primitive):
    params = {"dim": Param(Axes(single=True), None, doc="the axis; null: the index into the flattened input"),
              "keepdim": Param(Bool(), False)}
    dtypes = ORDERED
    largest = True

    def infer(self, p, x):
        axes = normalize_axes(p["dim"], x.rank)
        if p["dim"] is None:
            return TensorType((1,) * x.rank if p["keepdim"] else (), "int32")
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if p["keepdim"] or i not in axes)
        return TensorType(shape, "int32")

    def compute(self, p, out, x):
        import numpy as np

        if p["dim"] is None or x.ndim == 0:
            x = x.reshape(-1)
        axis = 0 if x.ndim == 1 else normalize_axes(p["dim"], x.ndim)[0]
        return np.take(order(x, axis, self.largest), 0, axis=axis).astype(np.int32).reshape(out.shape)

    def emit(self, ctx, p, out, x):
        if p["dim"] is None:  # the flattened input as one row
            row = reshape(ctx, x.data, (1, -1), "flatten")
            layer = ctx.network.add_topk(row, getattr(ctx.trt.TopKOperation, "MAX" if self.largest else "MIN"), 1, 2)
            indices = ctx.label(layer, "topk").get_output(1)
        else:
            axis = normalize_axes(p["dim"], x.type.rank)
            indices = top(ctx, x, axis[0] if axis else 0, 1, self.largest)[1]
        if tuple(indices.shape) == tuple(d if isinstance(d, int) else -1 for d in out.shape):
            return indices
        return reshape(ctx, indices, out.shape, "indices")


@register
class Argmax(ArgExtreme):
    kind = "argmax"
    torch = "torch.argmax"
    doc = "Index (int32) of the largest value along `dim`, or in the flattened input when `dim` is null."


@register
class Argmin(ArgExtreme):
    kind = "argmin"
    torch = "torch.argmin"
    doc = "Index (int32) of the smallest value along `dim`, or in the flattened input when `dim` is null."
    largest = False
