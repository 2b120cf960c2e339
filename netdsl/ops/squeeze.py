"""Removing and inserting dimensions of size 1 (torch.squeeze, torch.unsqueeze), as reshapes."""

from ..params import Int, Param
from . import Dim, ShapeError, register
from ._layout import Ints, as_list, axis
from .primitive import Composite

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class Squeeze(Composite):
    kind = "squeeze"
    torch = "torch.squeeze"
    doc = ("Removes dimensions of size 1 (torch.squeeze): those named in `dim` (one or a list; a named "
           "dimension of another size stays, as in PyTorch), or every one when `dim` is null. The dynamic "
           "batch is never removed by `dim: null`.")
    params = {"dim": Param(Ints(scalar=True, nulls=True), None, doc="a dimension or a list; null: all of size 1")}
    dtypes = None

    def expand(self, node, g, x):
        shape = x.type.shape
        dims = node.params["dim"]
        if dims is None:
            removed = {i for i, d in enumerate(shape) if d == 1}
        else:
            if None in as_list(dims):
                raise ShapeError("`dim` lists dimensions, not null", "dim", code="invalid-value")
            removed = set()
            for value in as_list(dims):
                index = axis(value, max(len(shape), 1), "dim")
                if index < len(shape) and isinstance(shape[index], Dim):
                    raise ShapeError(f"cannot squeeze the dynamic dimension {shape[index]}: whether it is 1 is "
                                     "known only when the network runs", "dim", code="dynamic-shape")
                if index < len(shape) and shape[index] == 1:
                    removed.add(index)
        return g.reshape(x, shape=tuple(d for i, d in enumerate(shape) if i not in removed))


@register
class Unsqueeze(Composite):
    kind = "unsqueeze"
    torch = "torch.unsqueeze"
    doc = "Inserts a dimension of size 1 at position `dim` (torch.unsqueeze); -1 appends one at the end."
    params = {"dim": Param(Int(), doc="where the new dimension goes, from -(rank + 1) to rank")}
    dtypes = None

    def expand(self, node, g, x):
        shape = x.type.shape
        index = axis(node.params["dim"], len(shape) + 1, "dim")
        return g.reshape(x, shape=shape[:index] + (1,) + shape[index:])
