"""Reshape, with TensorRT's conventions: 0 copies the input's dimension at that position, one -1 is
inferred."""

from ..params import Dims, Param
from . import BATCH, Op, ShapeError, TensorType, per_sample, register, reshape_dims, show_shape


class Reshaping(Op):
    """Kinds that only give the tensor a new shape (the one shape inference computed)."""

    def lower(self, node, ctx, x):
        layer = ctx.network.add_shuffle(x)
        layer.reshape_dims = reshape_dims(ctx.types[node.name].shape)
        return ctx.label(layer).get_output(0)

    def reference(self, node, ctx, x):
        return x.reshape(ctx.output_shape())


@register
class Reshape(Reshaping):
    kind = "reshape"
    doc = ("Gives the tensor a new shape of the same size (torch.reshape). In `shape`, 0 copies the input "
           "dimension at that position (use it for the dynamic batch) and one -1 is inferred.")
    params = {"shape": Param(Dims(-1), doc="the full target shape, batch dimension included")}

    def infer_shape(self, node, x):
        target = list(node.params["shape"])
        if target.count(-1) > 1:
            raise ShapeError("at most one dimension of `shape` may be -1", "shape", code="invalid-value")
        for i, dim in enumerate(target):
            if dim == 0:
                if i >= len(x.shape):
                    raise ShapeError(f"0 at position {i} copies a dimension the input {show_shape(x.shape)} "
                                     "does not have", "shape")
                target[i] = x.shape[i]
        dynamic = x.shape[0] is BATCH
        known = 1
        for dim in target:
            if dim != -1 and dim is not BATCH:
                known *= dim
        total = per_sample(x.shape) if dynamic else per_sample(x.shape) * x.shape[0]
        kept_batch = BATCH in target
        if -1 in target:
            if dynamic and not kept_batch:
                if known != total:
                    raise ShapeError("with a dynamic batch, -1 must stand for exactly the batch dimension "
                                     f"(the other dimensions multiply to {known}, one sample has {total})",
                                     "shape", hint="write 0 to keep the batch dimension")
                target[target.index(-1)] = BATCH
            elif total % known:
                raise ShapeError(f"cannot reshape {show_shape(x.shape)} to {show_shape(node.params['shape'])}: "
                                 f"{total} elements are not divisible by {known}", "shape")
            else:
                target[target.index(-1)] = total // known
        elif (dynamic and not kept_batch) or known != total:
            raise ShapeError(f"cannot reshape {show_shape(x.shape)} to {show_shape(node.params['shape'])}: "
                             "the element counts differ", "shape",
                             expected=f"{total} elements per sample" if dynamic else f"{total} elements",
                             found=str(known) + (" and no batch dimension" if dynamic and not kept_batch else ""))
        return TensorType(tuple(target), x.dtype)
