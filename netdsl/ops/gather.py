"""Picking entries of one dimension by constant indices (torch.index_select, or x[:, 3])."""

from ..params import Int, Param
from . import ShapeError, TensorType, register
from ._layout import Ints, as_list, axis, static_dim
from .primitive import Primitive


@register
class Gather(Primitive):
    kind = "gather"
    example = {"params": {"dim": 1, "index": [2, 0]}, "inputs": [[2, 4, 5]]}
    torch = "torch.index_select (a list), x.select(dim, i) (one index)"
    doc = ("Takes the entries of dimension `dim` at `index` (constants; negative ones count from the end): a "
           "list keeps the dimension with one entry per index, as torch.index_select; one integer removes "
           "it, as x[:, 3] does.")
    params = {"dim": Param(Int()),
              "index": Param(Ints(scalar=True, empty=False, max_items=65536), doc="an index, or a list of them")}
    dtypes = None

    def indices(self, p, shape) -> tuple[int, list[int]]:
        dim = axis(p["dim"], len(shape), "dim")
        size = static_dim(shape, dim, "gather", "dim")
        for value in as_list(p["index"]):
            if not -size <= value < size:
                raise ShapeError(f"index {value} is out of range for dimension {dim} of size {size}", "index",
                                 code="invalid-value", expected=f"from {-size} to {size - 1}", found=str(value))
        return dim, [value % size for value in as_list(p["index"])]

    def infer(self, p, x):
        dim, picked = self.indices(p, x.shape)
        kept = (len(picked),) if isinstance(p["index"], tuple) else ()
        return TensorType(x.shape[:dim] + kept + x.shape[dim + 1:], x.dtype)

    def compute(self, p, out, x):
        import numpy as np

        dim, picked = self.indices(p, x.shape)
        return np.take(x, picked if isinstance(p["index"], tuple) else picked[0], axis=dim)

    def emit(self, ctx, p, out, x):
        import numpy as np

        dim, picked = self.indices(p, x.type.shape)
        index = np.array(picked if isinstance(p["index"], tuple) else picked[0], np.int32)
        layer = ctx.network.add_gather(x.data, ctx.literal(index, "int32", "index"), dim)
        return ctx.label(layer).get_output(0)
