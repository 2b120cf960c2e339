"""Softmax and log-softmax over one axis (torch.nn.Softmax(dim=axis), torch.nn.LogSoftmax). As a layer
in a spec, axis 0 of an input of rank 2 or more is refused: that is the batch axis, and normalising over
it mixes samples. Inside a composite's expansion any axis is allowed."""

from ..params import Int, Param
from ..tensors import TensorType
from . import ShapeError, register, show_shape
from ._axes import at_least_2d, reshape
from .primitive import Composite, Primitive

GROUP = "reductions"  # its row in the README's kind table (tools/regenerate.py)


def normalize_axis(axis: int, rank: int, param: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{param} {axis} is out of range for a rank-{rank} input", param,
                         expected=f"an axis from {-rank} to {rank - 1}", found=str(axis))
    return axis % rank


def checked_axis(p, rank: int) -> int:
    """The axis, where a scalar counts as rank 1 (torch accepts axis 0 and -1 there)."""
    return normalize_axis(p["axis"], max(rank, 1))


def refuse_batch_axis(kind: str, node, x: TensorType) -> None:
    if x.rank >= 2 and checked_axis(node.params, x.rank) == 0:
        raise ShapeError(f"{kind} over the batch axis of {show_shape(x.shape)} mixes samples", "axis",
                         hint="use axis 1 for the classes of an [N, classes] tensor")


AXIS = {"axis": Param(Int(), 1, doc="the axis to normalize over; default 1 (channels/classes)")}


@register
class Softmax(Primitive):
    kind = "softmax"
    torch = "torch.nn.Softmax(dim=axis)"
    doc = "exp(x) / sum(exp(x)) over `axis`; negative axes count from the end."
    params = AXIS

    def infer(self, p, x):
        checked_axis(p, x.rank)
        return x

    def infer_shape(self, node, x):
        refuse_batch_axis(self.kind, node, x)
        return super().infer_shape(node, x)

    def compute(self, p, out, x):
        import numpy as np

        axis = checked_axis(p, x.ndim) if x.ndim else ()
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def emit(self, ctx, p, out, x):
        tensor, padded, offset = at_least_2d(ctx, x.data, x.type.shape)
        layer = ctx.network.add_softmax(tensor)
        layer.axes = 1 << (checked_axis(p, x.type.rank) + offset)
        result = ctx.label(layer).get_output(0)
        return reshape(ctx, result, x.type.shape, f"rank{x.type.rank}") if padded != x.type.shape else result


@register
class LogSoftmax(Composite):
    kind = "log_softmax"
    torch = "torch.nn.LogSoftmax(dim=axis)"
    doc = "log(softmax(x)) over `axis`, computed as (x - max) - log(sum(exp(x - max))) so that it stays finite."
    params = AXIS

    def infer_shape(self, node, x):
        refuse_batch_axis(self.kind, node, x)
        return super().infer_shape(node, x)

    def expand(self, node, g, x):
        axis = checked_axis(node.params, x.type.rank)
        shifted = g.sub(x, g.reduce_max(x, dim=axis, keepdim=True))
        return g.sub(shifted, g.log(g.reduce_sum(g.exp(shifted), dim=axis, keepdim=True)))
