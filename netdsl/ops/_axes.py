"""Axis parameters and the one TensorRT reshape that the math kinds share. No kind lives here.

    >>> normalize_axes((-1, 0), 3)
    (0, 2)
"""

from __future__ import annotations

from ..params import Int, ParamError, ParamType
from ..tensors import MAX_RANK
from ..yamlnodes import Scalar, Seq
from . import ShapeError


class Axes(ParamType):
    """An axis, a list of distinct axes, or null (every axis), as torch's ``dim`` of reductions
    (``single``: an axis or null, as torch.argmax's). The value is None, an int, or a tuple of ints."""

    __slots__ = ("single",)

    def __init__(self, single: bool = False):
        self.single = single

    def check(self, node):
        if isinstance(node, Scalar) and node.value is None:
            return None
        if isinstance(node, Scalar) and type(node.value) is int:
            return node.value
        if isinstance(node, Seq) and 1 <= len(node.items) <= MAX_RANK and not self.single:
            return tuple(Int().check(item) for item in node.items)
        if self.single:
            raise ParamError("expected an axis, or null (the flattened input)", node, "an integer or null")
        raise ParamError(f"expected an axis, a list of 1 to {MAX_RANK} axes, or null (every axis)", node,
                         "an integer, a list of integers, or null")

    def schema(self):
        options = [{"type": "integer"}, {"type": "null"}]
        if not self.single:
            options.append({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": MAX_RANK})
        return {"anyOf": options}

    def show(self, value):
        return "all" if value is None else str(value) if isinstance(value, int) else \
            "[" + ", ".join(map(str, value)) + "]"


def normalize_axes(dim, rank: int, param: str = "dim") -> tuple[int, ...]:
    """Sorted axes in 0..rank-1 for ``dim`` (None: all). As torch, a scalar (rank 0) takes axis 0 or -1."""
    if dim is None:
        return tuple(range(rank))
    given = (dim,) if isinstance(dim, int) else tuple(dim)
    span = max(rank, 1)
    axes = []
    for axis in given:
        if not -span <= axis < span:
            raise ShapeError(f"{param} {axis} is out of range for a rank-{rank} input", param,
                             expected=f"an axis from {-span} to {span - 1}", found=str(axis))
        axes.append(axis % span)
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{param} {list(given)} names an axis twice", param, code="invalid-value")
    return tuple(sorted(axes)) if rank else ()


def at_least_2d(ctx, tensor, shape) -> tuple[object, tuple, int]:
    """For TensorRT layers that need rank 2 or more (softmax, top-k): ``tensor`` with leading 1s added,
    its new shape, and how many axes were added (a scalar becomes [1, 1], its axis 0 becomes 1)."""
    missing = max(2 - len(shape), 0)
    if not missing:
        return tensor, tuple(shape), 0
    padded = (1,) * missing + tuple(shape) if shape else (1, 1)
    return reshape(ctx, tensor, padded, "rank2"), padded, missing - (0 if shape else 1)


def reshape(ctx, tensor, shape, part: str):
    """``tensor`` reshaped to the netdsl ``shape``: one dynamic dimension is inferred, several are
    computed from the named dimensions (shape tensors)."""
    layer = ctx.network.add_shuffle(tensor)
    if sum(not isinstance(d, int) for d in shape) <= 1:
        layer.reshape_dims = tuple(d if isinstance(d, int) else -1 for d in shape)
    else:
        layer.set_input(1, ctx.shape_tensor(shape))
    return ctx.label(layer, part).get_output(0)


def mask(axes) -> int:
    """TensorRT's axes bitmask."""
    return sum(1 << axis for axis in axes)
