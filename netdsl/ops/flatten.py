"""Flatten a range of dimensions into one (torch.flatten)."""

from ..params import Int, Param
from . import BATCH, ShapeError, TensorType, register, show_shape
from .reshape import Reshaping
from .softmax import normalize_axis


@register
class Flatten(Reshaping):
    kind = "flatten"
    doc = "Merges dimensions start_dim..end_dim into one (torch.flatten); by default all but the batch."
    params = {"start_dim": Param(Int(), 1), "end_dim": Param(Int(), -1)}

    def infer_shape(self, node, x):
        rank = len(x.shape)
        start = normalize_axis(node.params["start_dim"], rank, "start_dim")
        end = normalize_axis(node.params["end_dim"], rank, "end_dim")
        if start > end:
            raise ShapeError(f"start_dim {start} comes after end_dim {end}", "start_dim", code="invalid-value")
        merged = x.shape[start:end + 1]
        if BATCH in merged and len(merged) > 1:
            raise ShapeError(f"cannot flatten the dynamic batch dimension of {show_shape(x.shape)} into others",
                             "start_dim", hint="keep start_dim at 1 or more")
        size = merged[0]
        for dim in merged[1:]:
            size *= dim
        return TensorType(x.shape[:start] + (size,) + x.shape[end + 1:], x.dtype)
