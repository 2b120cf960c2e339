"""Broadcasting a tensor to a larger shape (torch.Tensor.expand) and repeating it (torch.tile), as
TensorRT slice layers: stride 0 repeats a dimension of size 1, WRAP mode reads a dimension again and
again."""

from ..params import Param
from ..tensors import show_shape
from . import ShapeError, TensorType, register
from ._layout import Ints, slice_layer, static_dim
from .primitive import Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class Expand(Primitive):
    kind = "expand"
    example = {"params": {"size": [2, -1, 4]}, "inputs": [[1, 3, 1]]}
    torch = "torch.Tensor.expand"
    doc = ("Repeats dimensions of size 1 to the sizes in `size` (torch.Tensor.expand): -1 keeps a dimension, "
           "extra leading entries add dimensions.")
    params = {"size": Param(Ints(-1), doc="the output shape; -1 keeps the input's dimension")}
    dtypes = None

    def infer(self, p, x):
        size, shape = p["size"], x.shape
        new = len(size) - len(shape)
        if new < 0:
            raise ShapeError(f"`size` {list(size)} has fewer dimensions than the input {show_shape(shape)}", "size",
                             code="invalid-value")
        result = []
        for i, wanted in enumerate(size):
            have = shape[i - new] if i >= new else None
            if wanted == 0 or (wanted == -1 and have is None):
                raise ShapeError(f"`size` entry {i} is {wanted}: a new dimension needs a size of 1 or more", "size",
                                 code="invalid-value")
            if wanted == -1 or wanted == have:
                result.append(have)
            elif have is None or have == 1:
                result.append(wanted)
            else:
                raise ShapeError(f"cannot expand dimension {i - new} of {show_shape(shape)} from {have} to {wanted}: "
                                 "only dimensions of size 1 grow", "size", expected=f"{have}, 1 or -1",
                                 found=str(wanted))
        return TensorType(tuple(result), x.dtype)

    def compute(self, p, out, x):
        import numpy as np

        return np.broadcast_to(x, out.shape).copy()

    def emit(self, ctx, p, out, x):
        rank = len(out.shape)
        x = x._replace(data=ctx.expand_rank(x.data, x.type, rank),
                       type=x.type._replace(shape=(1,) * (rank - x.type.rank) + x.type.shape))
        stride = [0 if have == 1 and wanted != 1 else 1 for have, wanted in zip(x.type.shape, out.shape)]
        return slice_layer(ctx, x, [0] * rank, out.shape, stride)


@register
class Tile(Primitive):
    kind = "tile"
    example = {"params": {"dims": [2, 1]}, "inputs": [[3, 4]]}
    torch = "torch.tile"
    doc = ("Repeats the tensor `dims[i]` times along dimension i (torch.tile); a shorter `dims` is padded with "
           "1s in front, a longer one adds leading dimensions.")
    params = {"dims": Param(Ints(1), doc="repetitions per dimension")}
    dtypes = None

    def infer(self, p, x):
        rank = max(len(p["dims"]), x.rank)
        shape = (1,) * (rank - x.rank) + x.shape
        reps = (1,) * (rank - len(p["dims"])) + tuple(p["dims"])
        return TensorType(tuple(d if r == 1 else static_dim(shape, i, "tile", "dims") * r
                                for i, (d, r) in enumerate(zip(shape, reps))), x.dtype)

    def compute(self, p, out, x):
        import numpy as np

        return np.tile(x, p["dims"])

    def emit(self, ctx, p, out, x):
        rank = len(out.shape)
        x = x._replace(data=ctx.expand_rank(x.data, x.type, rank),
                       type=x.type._replace(shape=(1,) * (rank - x.type.rank) + x.type.shape))
        return slice_layer(ctx, x, [0] * rank, out.shape, [1] * rank, "WRAP")
