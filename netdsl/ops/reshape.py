"""Reshape, with TensorRT's conventions: 0 copies the input's dimension at that position, one -1 is
inferred. The other shape kinds (flatten, squeeze, unsqueeze, pixel shuffle, ...) expand into it."""

from ..params import Param
from ..symbolic import disagreement, has_named_dims, quotient
from ..tensors import show_shape, volume
from . import Dim, ShapeError, TensorType, register
from ._layout import Ints
from .primitive import Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


def product(sizes):
    total = 1
    for size in sizes:
        total = total * size
    return total


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
        if has_named_dims(x.shape) or has_named_dims(target):
            return TensorType(self.symbolic_target(wanted, target, x.shape), x.dtype)
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

    def symbolic_target(self, wanted, target: list, shape) -> tuple:
        """The target shape for an input with named dynamic sizes: the element counts must agree (or -1 be
        a whole quotient) for every value the profiles allow."""
        total = product(shape)
        known = product(d for d in target if d != -1)
        if -1 in target:
            inferred = quotient(total, known)
            where = "cannot be divided" if inferred is None else disagreement(inferred * known, total)
            if where is not None:
                raise ShapeError(f"cannot reshape {show_shape(shape)} to {show_shape(wanted)}: its {total} elements "
                                 f"are not a multiple of {known}" + (f" {where}" if where.startswith("at ") else ""),
                                 "shape", hint="write 0 to copy a dynamic dimension")
            target[target.index(-1)] = inferred
        else:
            where = disagreement(total, known)
            if where is not None:
                raise ShapeError(f"cannot reshape {show_shape(shape)} to {show_shape(wanted)}: {total} elements "
                                 f"become {known}" + (f" {where}" if where.startswith("at ") else ""), "shape",
                                 hint="a size written as a number holds for one input size only: write 0 to copy "
                                      "a dimension, or -1 to infer one")
        if len(target) > 8:
            raise ShapeError(f"a shape of rank {len(target)} is over netdsl's limit of 8", "shape", code="invalid-value")
        return tuple(target)

    def compute(self, p, out, x):
        return x.reshape(out.shape)

    def emit(self, ctx, p, out, x):
        layer = ctx.network.add_shuffle(x.data)
        if has_named_dims(out.shape) or has_named_dims(x.type.shape):
            # 0 copies an input dimension kept in place, one -1 is inferred; more need a shape tensor
            dims = [d if isinstance(d, int) else 0 if i < x.type.rank and x.type.shape[i] == d else -1
                    for i, d in enumerate(out.shape)]
            if dims.count(-1) <= 1:
                layer.reshape_dims = tuple(dims)
            else:
                layer.set_input(1, ctx.shape_tensor(out.shape))
            return ctx.label(layer).get_output(0)
        if sum(isinstance(d, Dim) for d in out.shape) > 1:
            raise ShapeError("a reshape keeping two dynamic dimensions needs shape tensors, which netdsl does not "
                             "lower yet")
        # 0 copies the input's dimension at the same position; a dynamic one that moved is inferred (-1)
        layer.reshape_dims = tuple(d if isinstance(d, int) else 0 if i < x.type.rank and x.type.shape[i] == d else -1
                                   for i, d in enumerate(out.shape))
        return ctx.label(layer).get_output(0)


@register
class ReshapeAs(Primitive):
    kind = "reshape_as"
    example = {"inputs": [[1, 64, 400], [1, 64, 20, 20]]}
    torch = "torch.Tensor.reshape_as, torch.Tensor.view_as"
    doc = ("Gives the first input the shape of the second (x.reshape_as(like), x.view_as(like)); only the "
           "second's shape is read. The element counts must agree, for named dynamic sizes at every size the "
           "profiles allow (ultralytics' attention: `.view(B, C, H, W)` of a [B, C, H*W] product, over any "
           "image size).")
    params = {}
    min_inputs = max_inputs = 2
    dtypes = None

    def infer(self, p, x, like):
        total, wanted = product(x.shape), product(like.shape)
        where = disagreement(total, wanted)
        if where is not None:
            raise ShapeError(f"cannot reshape {show_shape(x.shape)} as {show_shape(like.shape)}: {total} elements "
                             f"become {wanted}" + (f" {where}" if where.startswith("at ") else ""),
                             expected=f"{total} elements", found=str(wanted))
        return TensorType(like.shape, x.dtype)

    def compute(self, p, out, x, like):
        return x.reshape(out.shape)

    def emit(self, ctx, p, out, x, like):
        layer = ctx.network.add_shuffle(x.data)
        if all(isinstance(d, int) for d in like.type.shape):
            layer.reshape_dims = like.type.shape
        else:  # like's shape when the network runs
            layer.set_input(1, ctx.label(ctx.network.add_shape(like.data), "shape").get_output(0))
        return ctx.label(layer).get_output(0)
