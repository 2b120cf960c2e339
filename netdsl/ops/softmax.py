"""Softmax over one axis, as torch.nn.Softmax(dim=axis)."""

from ..params import Int, Param
from . import Op, ShapeError, register, show_shape


def normalize_axis(axis: int, rank: int, param: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{param} {axis} is out of range for a rank-{rank} input", param,
                         expected=f"an axis from {-rank} to {rank - 1}", found=str(axis))
    return axis % rank


@register
class Softmax(Op):
    kind = "softmax"
    doc = "exp(x) / sum(exp(x)) over `axis` (torch.nn.Softmax(dim=axis)); negative axes count from the end."
    params = {"axis": Param(Int(), 1, doc="the axis to normalize over; default 1 (channels/classes)")}

    def infer_shape(self, node, x):
        if normalize_axis(node.params["axis"], len(x.shape)) == 0:
            raise ShapeError(f"softmax over the batch axis of {show_shape(x.shape)} mixes samples", "axis",
                             hint="use axis 1 for the classes of an [N, classes] tensor")
        return x

    def lower(self, node, ctx, x):
        layer = ctx.network.add_softmax(x)
        layer.axes = 1 << normalize_axis(node.params["axis"], len(ctx.types[node.inputs[0]].shape))
        return ctx.label(layer).get_output(0)

    def reference(self, node, ctx, x):
        import numpy as np

        axis = normalize_axis(node.params["axis"], x.ndim)
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
