"""Flatten a range of dimensions into one (torch.flatten), as a reshape."""

from ..params import Int, Param
from ..tensors import is_static, show_shape, volume
from . import BATCH, ShapeError, register
from ._layout import axis
from .primitive import Composite
from .reshape import product

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class Flatten(Composite):
    kind = "flatten"
    torch = "torch.flatten"
    doc = ("Merges dimensions start_dim..end_dim into one (torch.flatten); by default all but the batch. "
           "A scalar becomes a one-element vector.")
    params = {"start_dim": Param(Int(), 1), "end_dim": Param(Int(), -1)}
    dtypes = None

    def expand(self, node, g, x):
        shape = x.type.shape
        rank = max(len(shape), 1)  # as PyTorch: a scalar flattens like a vector of one
        start = axis(node.params["start_dim"], rank, "start_dim")
        end = axis(node.params["end_dim"], rank, "end_dim")
        if start > end:
            raise ShapeError(f"start_dim {start} comes after end_dim {end}", "start_dim", code="invalid-value")
        merged = shape[start:end + 1]
        if any(d is BATCH for d in merged) and len(merged) > 1:
            raise ShapeError(f"cannot flatten the dynamic batch dimension of {show_shape(shape)} into others",
                             "start_dim", hint="keep start_dim at 1 or more")
        size = merged[0] if len(merged) == 1 else volume(merged) if is_static(merged) else product(merged)
        return g.reshape(x, shape=shape[:start] + (size,) + shape[end + 1:])
