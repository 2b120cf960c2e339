"""Element-wise choice between two tensors by a bool condition, with numpy broadcasting of all three
(TensorRT's select layer; the lowering equalises ranks)."""

from ..tensors import BroadcastError, TensorType, broadcast, show_type
from . import ShapeError, register
from .primitive import Primitive

GROUP = "element-wise"  # its row in the README's kind table (tools/regenerate.py)


@register
class Where(Primitive):
    kind = "where"
    example = {"inputs": [[2, 3], [2, 3], [3]], "dtypes": ["bool", "float32", "float32"]}
    torch = "torch.where(condition, input, other)"
    doc = "a where the bool condition holds, else b; inputs [condition, a, b] broadcast together."
    min_inputs = max_inputs = 3
    dtypes = None

    def infer(self, p, condition, a, b):
        if condition.dtype != "bool":
            raise ShapeError(f"the condition (input 1) must be bool, found {show_type(condition)}",
                             hint="compare first (kind: greater, equal...) or convert (kind: cast, dtype: bool)",
                             code="wrong-dtype")
        if a.dtype != b.dtype:
            raise ShapeError(f"the two choices have different dtypes: {show_type(a)} and {show_type(b)}",
                             hint="networks are strongly typed; convert one first (kind: cast)", code="wrong-dtype")
        try:
            shape = broadcast([condition.shape, a.shape, b.shape])
        except BroadcastError as error:
            raise ShapeError(f"inputs do not broadcast: {error}", expected="equal sizes or 1",
                             found=" vs ".join(str(s) for s in error.sizes)) from None
        return TensorType(shape, a.dtype)

    def compute(self, p, out, condition, a, b):
        import numpy as np

        return np.where(condition, a, b)

    def emit(self, ctx, p, out, *inputs):
        condition, a, b = (ctx.expand_rank(x.data, x.type, out.rank) for x in inputs)
        return ctx.label(ctx.network.add_select(condition, a, b)).get_output(0)
