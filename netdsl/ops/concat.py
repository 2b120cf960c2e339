"""Concatenation along one axis (torch.cat)."""

from ..params import Int, Param
from . import BATCH, Op, ShapeError, TensorType, register, show_shape
from .softmax import normalize_axis


@register
class Concat(Op):
    kind = "concat"
    doc = "Joins the inputs along `axis` (torch.cat(dim=axis)); every other dimension must match."
    min_inputs = 2
    max_inputs = None
    params = {"axis": Param(Int(), 1, doc="default 1 (channels)")}

    def infer_shape(self, node, *inputs):
        first = inputs[0].shape
        axis = normalize_axis(node.params["axis"], len(first))
        if axis == 0:
            raise ShapeError("concat along the batch axis is not supported", "axis",
                             hint="concatenate channels (axis 1) or spatial axes")
        total = 0
        for index, x in enumerate(inputs):
            if len(x.shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(x.shape, first)) if i != axis):
                raise ShapeError(
                    f"input {index + 1} {show_shape(x.shape)} does not match input 1 {show_shape(first)} "
                    f"outside axis {axis}", expected=f"{show_shape(first)} except on axis {axis}",
                    found=show_shape(x.shape))
            if x.dtype != inputs[0].dtype:
                raise ShapeError(f"input {index + 1} is {x.dtype} but input 1 is {inputs[0].dtype}")
            total += x.shape[axis]
        assert first[axis] is not BATCH
        return TensorType(first[:axis] + (total,) + first[axis + 1:], inputs[0].dtype)

    def lower(self, node, ctx, *inputs):
        layer = ctx.network.add_concatenation(list(inputs))
        layer.axis = normalize_axis(node.params["axis"], len(ctx.types[node.inputs[0]].shape))
        return ctx.label(layer).get_output(0)

    def reference(self, node, ctx, *inputs):
        import numpy as np

        return np.concatenate(inputs, axis=normalize_axis(node.params["axis"], inputs[0].ndim))
