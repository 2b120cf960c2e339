"""Reordering dimensions (torch.permute, torch.transpose): TensorRT's shuffle layer."""

from ..params import Int, Param
from . import ShapeError, TensorType, register
from ._layout import Ints, distinct_axes
from .primitive import Composite, Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class Permute(Primitive):
    kind = "permute"
    example = {"params": {"dims": [0, 2, 3, 1]}, "inputs": [[1, 8, 16, 16]]}
    torch = "torch.permute"
    doc = "Reorders the dimensions (torch.permute): output dimension i is input dimension dims[i]."
    params = {"dims": Param(Ints(), doc="a permutation of the input's dimensions (negative ones count from the end)")}
    dtypes = None

    def order(self, p, x) -> list[int]:
        dims = p["dims"]
        if len(dims) != len(x.shape):
            raise ShapeError(f"`dims` has {len(dims)} entries for a rank-{len(x.shape)} input", "dims",
                             code="invalid-value", expected=f"{len(x.shape)} entries", found=str(len(dims)))
        return distinct_axes(dims, len(x.shape), "dims")

    def infer(self, p, x):
        return TensorType(tuple(x.shape[i] for i in self.order(p, x)), x.dtype)

    def compute(self, p, out, x):
        return x.transpose(p["dims"])

    def emit(self, ctx, p, out, x):
        layer = ctx.network.add_shuffle(x.data)
        layer.first_transpose = tuple(self.order(p, x.type))
        return ctx.label(layer).get_output(0)


@register
class Transpose(Composite):
    kind = "transpose"
    torch = "torch.transpose"
    doc = "Swaps dimensions dim0 and dim1 (torch.transpose)."
    params = {"dim0": Param(Int()), "dim1": Param(Int())}
    dtypes = None

    def expand(self, node, g, x):
        rank = len(x.type.shape)
        order = list(range(rank))
        first, second = (distinct_axes([node.params[k]], rank, k)[0] for k in ("dim0", "dim1"))
        order[first], order[second] = order[second], order[first]
        return g.permute(x, dims=order)
