"""Picking one entry of a dimension per index element (torch.gather, ONNX's GatherElements, TensorRT's gather
layer in ELEMENT mode): out[i][j][k] = x[index[i][j][k]][j][k] for dim 0. The output has the index's shape."""

from ..diagnostics import NetdslError
from ..params import Int, Param
from . import ShapeError, TensorType, register
from ._layout import axis
from .gather import check_index_dtype
from .primitive import Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class GatherElements(Primitive):
    kind = "gather_elements"
    example = {"params": {"dim": 1}, "inputs": [[2, 4, 5], [2, 3, 5]], "dtypes": ["float32", "int64"]}
    torch = "torch.gather(x, dim, index)"
    doc = ("For every element of the int32/int64 index tensor (input 2, the rank of x), the entry of x at that "
           "index along `dim` and at the element's own position on the other axes; the output has the index's "
           "shape, whose sizes on the other axes are at most x's (entries from 0 to size - 1).")
    params = {"dim": Param(Int(), doc="the axis the indices pick along")}
    min_inputs = max_inputs = 2
    dtypes = None

    def infer(self, p, x, index):
        check_index_dtype(index)
        if index.rank != x.rank:
            raise ShapeError(f"the index tensor (input 2) has rank {index.rank}, x rank {x.rank}; they must be equal",
                             code="shape-mismatch", expected=f"rank {x.rank}", found=f"rank {index.rank}")
        dim = axis(p["dim"], x.rank, "dim")
        for d, (size, limit) in enumerate(zip(index.shape, x.shape)):
            if d != dim and isinstance(size, int) and isinstance(limit, int) and size > limit:
                raise ShapeError(f"the index tensor's axis {d} has {size} entries, x's only {limit}",
                                 code="shape-mismatch", expected=f"at most {limit}", found=str(size))
        return TensorType(index.shape, x.dtype)

    def compute(self, p, out, x, index):
        import numpy as np

        dim = p["dim"] % x.ndim
        size = x.shape[dim]
        if index.size and not (0 <= index.min() and index.max() < size):
            bad = index[(index < 0) | (index >= size)].flat[0]
            # a data error, as for gather: TensorRT takes 0 <= index < size, and so does netdsl
            raise NetdslError(f"gather_elements: index {bad} (input 2) is out of range for a dimension of size {size} "
                              f"(indices count from 0 to {size - 1}; negative ones are not taken)")
        window = tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(index.shape))
        return np.take_along_axis(x[window], index.astype(np.intp), axis=dim)

    def emit(self, ctx, p, out, x, index):
        dim = axis(p["dim"], x.type.rank, "dim")
        data = x.data
        window = tuple(size if d == dim else wanted for d, (size, wanted) in enumerate(zip(x.type.shape,
                                                                                           index.type.shape)))
        if window != tuple(x.type.shape):  # x cut to the index's sizes on the other axes: the gather's
            # ELEMENT mode is take_along_axis, which needs them equal
            static = all(isinstance(d, int) for d in window)
            rank = len(window)
            layer = ctx.network.add_slice(data, (0,) * rank, window if static else (1,) * rank, (1,) * rank)
            if not static:
                layer.set_input(2, ctx.shape_tensor(window))
            data = ctx.label(layer, "window").get_output(0)
        layer = ctx.network.add_gather_v2(data, index.data, ctx.trt.GatherMode.ELEMENT)
        layer.axis = dim
        return ctx.label(layer).get_output(0)
