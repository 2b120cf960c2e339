"""Slicing with start, end and step per dimension, as Python and numpy slice (torch's x[a:b:c],
torch.narrow): negative indices count from the end, bounds beyond the dimension are clamped, and a
negative step walks backwards (numpy's x[::-1]; PyTorch's own slicing takes only positive steps, so
torch.flip is its equivalent)."""

from ..params import Param
from . import ShapeError, TensorType, register
from ._layout import Ints, as_list, distinct_axes, slice_layer, static_dim
from .primitive import Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class Slice(Primitive):
    kind = "slice"
    example = {"params": {"dim": [2, 3], "start": [0, 1], "end": [8, -1], "step": [2, 1]}, "inputs": [[1, 8, 16, 16]]}
    torch = "x[start:end:step] on dimension dim (torch.narrow, torch.flip for step -1)"
    doc = ("Keeps elements start, start + step, ... before end along each dimension in `dim`, as Python "
           "slicing: negative indices count from the end, bounds are clamped, null leaves a bound open, a "
           "negative step walks backwards. `start`, `end`, `step` are one value for every listed dimension, "
           "or lists as long as `dim`.")
    params = {
        "dim": Param(Ints(scalar=True, empty=False), doc="the dimension(s) to slice"),
        "start": Param(Ints(scalar=True, nulls=True), None, doc="first index (null: the beginning, or the end "
                                                                  "for a negative step)"),
        "end": Param(Ints(scalar=True, nulls=True), None, doc="index to stop before (null: past the last)"),
        "step": Param(Ints(scalar=True, empty=False), 1, doc="distance between kept elements, not 0"),
    }
    dtypes = None

    def plan(self, p, shape) -> dict[int, tuple[int, int, int]]:
        """dimension -> (first index, count, step)."""
        dims = as_list(p["dim"])
        axes = distinct_axes(dims, len(shape), "dim")
        columns = {}
        for key in ("start", "end", "step"):
            values = p[key]
            if isinstance(values, tuple):
                if len(values) != len(dims):
                    raise ShapeError(f"`{key}` has {len(values)} entries but `dim` names {len(dims)} dimensions",
                                     key, code="invalid-value")
                columns[key] = list(values)
            else:
                columns[key] = [values] * len(dims)
        result = {}
        for i, index in enumerate(axes):
            start, end, step = columns["start"][i], columns["end"][i], columns["step"][i]
            if step == 0:
                raise ShapeError("`step` cannot be 0", "step", code="invalid-value")
            size = static_dim(shape, index, "slice", "dim")
            first, stop, step = slice(start, end, step).indices(size)
            count = len(range(first, stop, step))
            if count == 0:
                raise ShapeError(f"start {start}, end {end}, step {step} select nothing from dimension {index} "
                                 f"of size {size}", "start", code="invalid-value",
                                 hint="netdsl has no empty tensors")
            result[index] = (first, count, step)
        return result

    def infer(self, p, x):
        plan = self.plan(p, x.shape)
        return TensorType(tuple(plan[i][1] if i in plan else d for i, d in enumerate(x.shape)), x.dtype)

    def compute(self, p, out, x):
        plan = self.plan(p, x.shape)
        index = [slice(None)] * x.ndim
        for i, (first, count, step) in plan.items():
            stop = first + count * step
            index[i] = slice(first, stop if stop >= 0 else None, step)  # a negative stop would count from the end
        return x[tuple(index)]

    def emit(self, ctx, p, out, x):
        plan = self.plan(p, x.type.shape)
        start = [plan[i][0] if i in plan else 0 for i in range(x.type.rank)]
        stride = [plan[i][2] if i in plan else 1 for i in range(x.type.rank)]
        return slice_layer(ctx, x, start, out.shape, stride)
