"""Picking entries of one dimension by index: constants written in the spec (torch.index_select, or
x[:, 3]), or an integer tensor given as a second input (x[index] along `dim`: the index's shape replaces
that dimension, as numpy.take and ONNX Gather; Swin's relative position bias is table[index])."""

from ..diagnostics import NetdslError
from ..params import Int, Param
from ..symbolic import below
from ..tensors import show_type
from . import ShapeError, TensorType, register
from ._layout import Ints, as_list, axis, static_dim
from .primitive import Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)

INDEX_DTYPES = ("int32", "int64")


def check_index_dtype(index) -> None:
    """A ShapeError unless the index tensor (input 2 of the gather kinds) is int32 or int64."""
    if index.dtype not in INDEX_DTYPES:
        raise ShapeError(f"the index tensor (input 2) is {show_type(index)}; it must be int32 or int64",
                         code="wrong-dtype", hint="convert it first (kind: cast)")


@register
class Gather(Primitive):
    kind = "gather"
    example = {"params": {"dim": 1, "index": [2, 0]}, "inputs": [[2, 4, 5]]}
    torch = "torch.index_select (a list), x.select(dim, i) (one index), x[index] (an index tensor)"
    doc = ("Takes the entries of dimension `dim` at `index` (constants; negative ones count from the end): a "
           "list keeps the dimension with one entry per index, as torch.index_select; one integer removes "
           "it, as x[:, 3] does. Or, with no `index`, at the int32/int64 tensor given as a second input, "
           "whose shape replaces dimension `dim` (x[index] for dim 0; entries from 0 to size - 1).")
    params = {"dim": Param(Int()),
              "index": Param(Ints(scalar=True, empty=False, max_items=65536), None,
                             doc="an index, or a list of them; leave out to take them from input 2")}
    min_inputs, max_inputs = 1, 2
    dtypes = None

    def indices(self, p, shape) -> tuple[int, list[int]]:
        dim = axis(p["dim"], len(shape), "dim")
        if not isinstance(shape[dim], int) and min(as_list(p["index"])) >= 0:
            # x[:, 0] over a named size (BERT's first token): fine wherever every allowed size holds the index
            smaller = below(shape[dim], max(as_list(p["index"])) + 1)
            if smaller is not None:
                raise ShapeError(f"index {max(as_list(p['index']))} is past the dynamic dimension {shape[dim]} "
                                 f"{smaller}", "index", code="invalid-value", hint="raise the dimension's min")
            return dim, list(as_list(p["index"]))
        size = static_dim(shape, dim, "gather", "dim")
        for value in as_list(p["index"]):
            if not -size <= value < size:
                raise ShapeError(f"index {value} is out of range for dimension {dim} of size {size}", "index",
                                 code="invalid-value", expected=f"from {-size} to {size - 1}", found=str(value))
        return dim, [value % size for value in as_list(p["index"])]

    def infer(self, p, x, *index):
        if index:
            return self.infer_tensor_index(p, x, index[0])
        if p["index"] is None:
            raise ShapeError("gather needs `index`, or an index tensor as its second input", "index",
                             code="missing-param", hint="for example `index: [2, 0]`")
        dim, picked = self.indices(p, x.shape)
        kept = (len(picked),) if isinstance(p["index"], tuple) else ()
        return TensorType(x.shape[:dim] + kept + x.shape[dim + 1:], x.dtype)

    def infer_tensor_index(self, p, x, index):
        if p["index"] is not None:
            raise ShapeError("`index` is given and so is an index tensor (input 2); give one of them", "index",
                             code="invalid-value")
        check_index_dtype(index)
        dim = axis(p["dim"], x.rank, "dim")
        static_dim(x.shape, dim, "gather", "dim")
        shape = x.shape[:dim] + index.shape + x.shape[dim + 1:]
        if len(shape) > 8:
            raise ShapeError(f"the output would have rank {len(shape)}; at most 8")
        return TensorType(shape, x.dtype)

    def compute(self, p, out, x, *index):
        import numpy as np

        if index:
            size = x.shape[p["dim"] % x.ndim]
            if index[0].size and not (0 <= index[0].min() and index[0].max() < size):
                bad = index[0][(index[0] < 0) | (index[0] >= size)].flat[0]
                # a data error, not netdsl's: TensorRT's gather takes 0 <= index < size, and so does netdsl
                raise NetdslError(f"gather: index {bad} (input 2) is out of range for a dimension of size {size} "
                                  f"(an index tensor counts from 0 to {size - 1}; negative ones are not taken)")
            return np.take(x, index[0], axis=p["dim"] % x.ndim)
        dim, picked = self.indices(p, x.shape)
        return np.take(x, picked if isinstance(p["index"], tuple) else picked[0], axis=dim)

    def emit(self, ctx, p, out, x, *index):
        import numpy as np

        if index:
            dim = axis(p["dim"], x.type.rank, "dim")
            layer = ctx.network.add_gather(x.data, index[0].data, dim)
            return ctx.label(layer).get_output(0)
        dim, picked = self.indices(p, x.type.shape)
        index = np.array(picked if isinstance(p["index"], tuple) else picked[0], np.int32)
        layer = ctx.network.add_gather(x.data, ctx.literal(index, "int32", "index"), dim)
        return ctx.label(layer).get_output(0)
