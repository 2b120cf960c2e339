"""Picking entries by index tuples (ONNX's GatherND, torch's x[i0, i1] with index tensors): the last axis of
the index tensor holds a tuple of positions in the data's leading axes. transformers' attention masks
index the padding mask by (batch, position) this way in their ONNX exports."""

from ..diagnostics import NetdslError
from ..params import Int, Param
from ..tensors import show_shape
from . import ShapeError, TensorType, register
from .gather import check_index_dtype
from .primitive import Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class GatherND(Primitive):
    kind = "gather_nd"
    example = {"params": {}, "inputs": [[4, 5, 3], [6, 2]], "dtypes": ["float32", "int32"]}
    torch = "x[index[..., 0], index[..., 1], ...] (advanced indexing by index tensors)"
    doc = ("Takes, for each index tuple in the last axis of the int32/int64 index tensor (input 2, [..., k]), the "
           "entry of the data at those positions of its axes batch_dims .. batch_dims + k - 1 (ONNX's GatherND): "
           "output index.shape[:-1] + data.shape[batch_dims + k:]. The first batch_dims axes of both are shared, "
           "as ONNX's batch_dims. Indices count from 0 to size - 1.")
    params = {"batch_dims": Param(Int(0, 7), 0, doc="leading axes that data and index share")}
    min_inputs = max_inputs = 2
    dtypes = None

    def infer(self, p, x, index):
        check_index_dtype(index)
        batch = p["batch_dims"]
        depth = index.shape[-1] if index.rank else None
        if not isinstance(depth, int) or depth < 1 or batch + depth > x.rank or index.rank <= batch:
            raise ShapeError(f"index {show_shape(index.shape)} must end in a fixed number k >= 1 of positions, with "
                             f"batch_dims + k at most data's rank {x.rank}", code="invalid-value")
        if index.shape[:batch] != x.shape[:batch]:
            raise ShapeError(f"the first {batch} axes (batch_dims) of data {show_shape(x.shape)} and index "
                             f"{show_shape(index.shape)} must be equal", "batch_dims", code="invalid-value")
        shape = index.shape[:-1] + x.shape[batch + depth:]
        if len(shape) > 8:
            raise ShapeError(f"the output would have rank {len(shape)}; at most 8")
        return TensorType(shape, x.dtype)

    def compute(self, p, out, x, index):
        import numpy as np

        batch, depth = p["batch_dims"], index.shape[-1]
        sizes = np.asarray(x.shape[batch:batch + depth]).reshape((1,) * (index.ndim - 1) + (depth,))
        if index.size and ((index < 0) | (index >= sizes)).any():
            raise NetdslError(f"gather_nd: an index (input 2) is out of range for the data's sizes "
                              f"{list(x.shape[batch:batch + depth])} (indices count from 0 to size - 1)")
        lead = int(np.prod(x.shape[:batch], dtype=np.int64))
        data = x.reshape((lead,) + x.shape[batch:])
        tuples = index.reshape((lead, -1, depth))
        picked = np.stack([d[tuple(t.T)] for d, t in zip(data, tuples)]) if lead else data[:0]
        return picked.reshape(out.shape)

    def emit(self, ctx, p, out, x, index):
        layer = ctx.network.add_gather_v2(x.data, index.data, ctx.trt.GatherMode.ND)
        layer.num_elementwise_dims = p["batch_dims"]
        return ctx.label(layer).get_output(0)
