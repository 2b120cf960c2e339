"""Joining tensors along one dimension (torch.cat), and stacking them along a new one (torch.stack)."""

from ..params import Int, Param
from ..symbolic import agree, disagreement
from . import BATCH, ShapeError, TensorType, register, show_shape
from ._layout import axis, static_dim
from .primitive import Composite, Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class Concat(Primitive):
    kind = "concat"
    torch = "torch.cat"
    doc = ("Joins the inputs along `axis` (torch.cat(dim=axis)), any axis of any rank from 1; every other "
           "dimension must match (named dynamic sizes for every value the profiles allow). Not along the dynamic "
           "batch of a -1 input.")
    min_inputs = 2
    max_inputs = None
    params = {"axis": Param(Int(), 1, doc="default 1 (channels)")}
    dtypes = None

    def infer(self, p, *inputs):
        first = inputs[0].shape
        if not first:
            raise ShapeError("scalars cannot be concatenated (PyTorch neither)", hint="unsqueeze them first, or "
                             "use kind: stack")
        index = axis(p["axis"], len(first), "axis")
        shape, total = list(first), 0
        for number, x in enumerate(inputs, start=1):
            where = "rank" if len(x.shape) != len(first) else None
            for i, size in enumerate(x.shape if where is None else ()):
                where = where or (None if i == index else disagreement(shape[i], size))
                shape[i] = shape[i] if i == index or where else agree(shape[i], size)
            if where is not None:
                detail = f": {where}" if where.startswith("at ") else ""
                raise ShapeError(f"input {number} {show_shape(x.shape)} does not match input 1 {show_shape(first)} "
                                 f"outside axis {index}{detail}", expected=f"{show_shape(first)} except on axis "
                                 f"{index}", found=show_shape(x.shape))
            if x.dtype != inputs[0].dtype:
                raise ShapeError(f"input {number} is {x.dtype} but input 1 is {inputs[0].dtype}", code="wrong-dtype",
                                 hint="networks are strongly typed; convert one input first (kind: cast)")
            total += x.shape[index] if x.shape[index] is not BATCH else static_dim(x.shape, index, "concat", "axis")
        return TensorType(tuple(shape[:index]) + (total,) + tuple(shape[index + 1:]), inputs[0].dtype)

    def compute(self, p, out, *inputs):
        import numpy as np

        return np.concatenate(inputs, axis=axis(p["axis"], inputs[0].ndim, "axis"))

    def emit(self, ctx, p, out, *inputs):
        layer = ctx.network.add_concatenation([x.data for x in inputs])
        layer.axis = axis(p["axis"], inputs[0].type.rank, "axis")
        return ctx.label(layer).get_output(0)


@register
class Stack(Composite):
    kind = "stack"
    torch = "torch.stack"
    doc = "Stacks inputs of one shape along a new dimension `dim` (torch.stack): unsqueeze, then concat."
    min_inputs = 1
    max_inputs = None
    params = {"dim": Param(Int(), 0)}
    dtypes = None

    def expand(self, node, g, *inputs):
        first = inputs[0].type
        for number, x in enumerate(inputs, start=1):
            if x.type.shape != first.shape:
                raise ShapeError(f"input {number} {show_shape(x.type.shape)} differs from input 1 "
                                 f"{show_shape(first.shape)}; stack needs equal shapes",
                                 expected=show_shape(first.shape), found=show_shape(x.type.shape))
        dim = axis(node.params["dim"], first.rank + 1, "dim")
        parts = [g.unsqueeze(x, dim=dim) for x in inputs]
        return parts[0] if len(parts) == 1 else g.concat(*parts, axis=dim)
