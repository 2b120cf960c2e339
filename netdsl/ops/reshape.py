"""Reshape, with TensorRT's conventions: 0 copies the input's dimension at that position, one -1 is
inferred. The other shape kinds (flatten, squeeze, unsqueeze, pixel shuffle, ...) expand into it."""

from ..params import Param
from ..tensors import show_shape, volume
from . import Dim, ShapeError, TensorType, register
from ._layout import Ints
from .primitive import Primitive


@register
class Reshape(Primitive):
    kind = "reshape"
    example = {"params": {"shape": [0, -1]}, "inputs": [[1, 8, 16, 16]]}
    torch = "torch.reshape"
    doc = ("Gives the tensor a new shape of the same size (torch.reshape). In `shape`, 0 copies the input "
           "dimension at that position (use it for the dynamic batch) and one -1 is inferred; [] makes a "
           "scalar of a one-element tensor.")
    params = {"shape": Param(Ints(-1), doc="the full target shape, batch dimension included")}
    dtypes = None

    def infer(self, p, x):
        wanted = p["shape"]
        target = list(wanted)
        if target.count(-1) > 1:
            raise ShapeError("at most one dimension of `shape` may be -1", "shape", code="invalid-value")
        for i, dim in enumerate(target):
            if isinstance(dim, int) and dim == 0:
                if i >= len(x.shape):
                    raise ShapeError(f"0 at position {i} copies a dimension the input {show_shape(x.shape)} "
                                     "does not have", "shape")
                target[i] = x.shape[i]
        dynamic = [d for d in x.shape if isinstance(d, Dim)]
        kept = [d for d in target if isinstance(d, Dim)]
        known = volume(d for d in target if d != -1 and not isinstance(d, Dim))
        total = volume(d for d in x.shape if not isinstance(d, Dim))
        if sorted(map(str, kept)) != sorted(map(str, dynamic)):
            lost = [d for d in dynamic if d not in kept]
            if -1 in target and len(lost) == 1 and len(kept) == len(dynamic) - 1:
                if known != total:
                    raise ShapeError(f"with a dynamic batch, -1 must stand for exactly the batch dimension (the "
                                     f"other dimensions multiply to {known}, one sample has {total})", "shape",
                                     hint="write 0 to keep the batch dimension")
                target[target.index(-1)] = lost[0]
                return TensorType(tuple(target), x.dtype)
            raise ShapeError(f"cannot reshape {show_shape(x.shape)} to {show_shape(wanted)}: the element counts "
                             "differ", "shape", expected=f"{total} elements per sample",
                             found=f"{known} and no batch dimension" if not kept else str(known),
                             hint="write 0 to keep the batch dimension where it is")
        if -1 in target:
            if total % known:
                raise ShapeError(f"cannot reshape {show_shape(x.shape)} to {show_shape(wanted)}: {total} elements "
                                 f"are not divisible by {known}", "shape")
            target[target.index(-1)] = total // known
        elif known != total:
            raise ShapeError(f"cannot reshape {show_shape(x.shape)} to {show_shape(wanted)}: the element counts "
                             "differ", "shape", expected=f"{total} elements" + (" per sample" if dynamic else ""),
                             found=str(known))
        if len(target) > 8:
            raise ShapeError(f"a shape of rank {len(target)} is over netdsl's limit of 8", "shape", code="invalid-value")
        return TensorType(tuple(target), x.dtype)

    def compute(self, p, out, x):
        return x.reshape(out.shape)

    def emit(self, ctx, p, out, x):
        if sum(isinstance(d, Dim) for d in out.shape) > 1:
            raise ShapeError("a reshape keeping two dynamic dimensions needs shape tensors, which netdsl does not "
                             "lower yet")
        layer = ctx.network.add_shuffle(x.data)
        # 0 copies the input's dimension at the same position; a dynamic one that moved is inferred (-1)
        layer.reshape_dims = tuple(d if isinstance(d, int) else 0 if i < x.type.rank and x.type.shape[i] == d else -1
                                   for i, d in enumerate(out.shape))
        return ctx.label(layer).get_output(0)
