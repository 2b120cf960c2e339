"""What the shape kinds (reshape, permute, slice, pad, gather, ...) share: parameters that take an
integer or a list of them, axis checks, and TensorRT slice layers whose sizes may include the
dynamic batch."""

from __future__ import annotations

from ..params import MAX_DIM, ParamType, _fail
from ..tensors import MAX_RANK, is_static
from ..yamlnodes import Scalar, Seq
from . import ShapeError


class Ints(ParamType):
    """A list of integers (``[]`` allowed when ``empty``); with ``scalar``, also one integer, kept as an
    int (split sizes, a gather index that drops its dimension); with ``nulls``, list items and the
    whole value may be null (slice bounds left open)."""

    __slots__ = ("low", "scalar", "empty", "nulls", "max_items")

    def __init__(self, low: int | None = None, scalar: bool = False, empty: bool = True, nulls: bool = False,
                 max_items: int = MAX_RANK):
        self.low = low
        self.scalar = scalar
        self.empty = empty
        self.nulls = nulls
        self.max_items = max_items

    def check(self, node):
        if self.nulls and isinstance(node, Scalar) and node.value is None:
            return None
        if isinstance(node, Seq) and (node.items or self.empty) and len(node.items) <= self.max_items:
            return tuple(self.item(child) for child in node.items)
        if self.scalar and isinstance(node, Scalar) and type(node.value) is int:
            return self.item(node)
        _fail(self.expected(), node)

    def item(self, node):
        if self.nulls and isinstance(node, Scalar) and node.value is None:
            return None
        if not (isinstance(node, Scalar) and type(node.value) is int) or not (
                (self.low is None or node.value >= self.low) and abs(node.value) <= MAX_DIM):
            _fail(self.expected(), node)
        return node.value

    def expected(self) -> str:
        items = ("integers" if self.low is None else "positive integers" if self.low == 1 else
                 f"integers >= {self.low}") + (" or nulls" if self.nulls else "")
        one = f"one of these {items} or " if self.scalar else ""
        return f"{one}a list of at most {self.max_items} {items}"

    def schema(self):
        item = {"type": ["integer", "null"] if self.nulls else "integer"}
        if self.low is not None:
            item["minimum"] = self.low
        listed = {"type": "array", "items": item, "maxItems": self.max_items, "minItems": 0 if self.empty else 1}
        options = [listed] + ([item] if self.scalar or self.nulls else [])
        return options[0] if len(options) == 1 else {"anyOf": options}

    def show(self, value):
        if isinstance(value, tuple):
            return "[" + ", ".join("null" if v is None else str(v) for v in value) + "]"
        return "null" if value is None else str(value)


def as_list(value) -> list:
    """A parameter that is one value or a list of them, as a list."""
    return list(value) if isinstance(value, (tuple, list)) else [value]


def axis(value: int, rank: int, param: str) -> int:
    """A dimension index counted from the end when negative, as PyTorch does."""
    if not -rank <= value < rank:
        raise ShapeError(f"{param} {value} is out of range for a rank-{rank} input", param, code="invalid-value",
                         expected=f"a dimension from {-rank} to {rank - 1}" if rank else "no dimension (rank 0)",
                         found=str(value))
    return value % rank


def distinct_axes(values, rank: int, param: str) -> list[int]:
    axes = [axis(v, rank, param) for v in values]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{param} names a dimension twice: {list(values)}", param, code="invalid-value")
    return axes


def static_dim(shape, index: int, kind: str, param: str) -> int:
    """The size of ``shape[index]``, refusing a dynamic one (whose size is known only at run time)."""
    size = shape[index]
    if not isinstance(size, int):
        raise ShapeError(f"{kind} cannot work on the dynamic dimension {size} (dimension {index}): its size is "
                         "known only when the network runs", param, code="dynamic-shape",
                         hint="give that dimension a fixed size, or work on another dimension")
    return size


# -- TensorRT --------------------------------------------------------------------------------------


def shape_tensor(ctx, source, shape):
    """An int64 shape tensor holding ``shape``, whose dynamic dimensions are read at run time from the
    Value ``source`` (where it has a dimension of the same name). Made once per source and shape in a
    network (a split's equal parts share it); neighbouring dynamic dimensions are one slice of the
    source's shape, static ones one constant."""
    import numpy as np

    key = (source.data.name, tuple(map(str, shape)))
    cached = ctx.shape_cache.get(key)
    if cached is not None:
        return cached
    runs = []  # [int, ...] static sizes, or [start, stop) of the source's shape
    for dim in shape:
        if isinstance(dim, int):
            if runs and isinstance(runs[-1], list):
                runs[-1].append(dim)
            else:
                runs.append([dim])
            continue
        index = source.type.shape.index(dim)
        if runs and isinstance(runs[-1], tuple) and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    sizes = ctx.label(ctx.network.add_shape(source.data), "shape").get_output(0)
    pieces = []
    for run in runs:
        if isinstance(run, list):
            pieces.append(ctx.literal(np.array(run, np.int64), "int64", f"dims{len(pieces)}"))
        else:
            start, stop = run
            layer = ctx.network.add_slice(sizes, (start,), (stop - start,), (1,))
            pieces.append(ctx.label(layer, f"dim{start}" if stop == start + 1 else f"dim{start}-{stop - 1}")
                          .get_output(0))
    tensor = pieces[0] if len(pieces) == 1 else \
        ctx.label(ctx.network.add_concatenation(pieces), "size").get_output(0)
    ctx.shape_cache[key] = tensor
    return tensor


def slice_layer(ctx, x, start, shape, stride, mode: str | None = None, fill=None):
    """TensorRT's slice layer over Value ``x``: output ``shape`` (dynamic dimensions are copied from
    ``x``), with a SampleMode (FILL, REFLECT, CLAMP, WRAP) for elements outside the input."""
    import numpy as np

    static = is_static(shape)
    size = tuple(d if isinstance(d, int) else 0 for d in shape)
    layer = ctx.network.add_slice(x.data, tuple(start), size, tuple(stride))
    if not static:
        layer.set_input(2, shape_tensor(ctx, x, shape))
    if mode is not None:
        layer.mode = getattr(ctx.trt.SampleMode, mode)
    if fill is not None:
        from ..tensors import numpy_dtype

        value = ctx.literal(np.asarray(fill, numpy_dtype(x.type.dtype)), x.type.dtype, "fill")
        layer.set_input(4, value)
    return ctx.label(layer).get_output(0)
