"""Sliding windows over 1, 2 or 3 spatial axes, shared by convolution, deconvolution and pooling: a
layer's per-axis values resolved for its input's rank, and the TensorRT steps that these kinds need
beyond one layer (1-D windows run as 2-D; slices of a tensor whose batch is dynamic)."""

from __future__ import annotations

from collections import namedtuple

from ..params import Sides, Uniform
from ..symbolic import below, has_named_dims
from . import BATCH, ShapeError, explicit_padding, reshape_dims, spatial

AXES = {1: "[length]", 2: "[height, width]", 3: "[depth, height, width]"}
RANKS = (3, 4, 5)  # inputs [N, C, L], [N, C, H, W], [N, C, D, H, W]


def per_axis(value, rank: int, param: str) -> tuple:
    """A per-axis parameter (one value or a list) for ``rank`` spatial axes."""
    if isinstance(value, Uniform):
        return (value[0],) * rank
    if len(value) != rank:
        raise ShapeError(f"`{param}` gives {len(value)} values but the input has {rank} spatial "
                         f"{'axis' if rank == 1 else 'axes'} {AXES[rank]}", param,
                         expected=f"one value or {rank}", found=str(len(value)))
    return tuple(value)


def padding_per_axis(value, rank: int):
    """A padding parameter as (begins..., ends...) for ``rank`` spatial axes (``same`` kept)."""
    if value == "same":
        return value
    if isinstance(value, Uniform):
        return (value[0],) * (2 * rank)
    if isinstance(value, Sides) and len(value) == 4 and rank != 2:  # {top, bottom, left, right}
        top, left, bottom, right = value
        if rank == 3:
            return (0, top, left, 0, bottom, right)
        if top or bottom:
            raise ShapeError("a 1-D input has no `top` or `bottom` padding, only `left` and `right`", "padding")
        return (left, right)
    if isinstance(value, Sides) and len(value) == 6 and rank != 3:
        raise ShapeError("`front` and `back` padding need a 3-D input [N, C, D, H, W]", "padding")
    if len(value) != 2 * rank:
        per_axis(value[:len(value) // 2], rank, "padding")
    return tuple(value)


class Window(namedtuple("Window", ("kernel", "stride", "dilation", "padding"))):
    # each a tuple, one value per spatial axis; padding: begins then ends, outer axis first
    __slots__ = ()

    @property
    def rank(self) -> int:
        return len(self.kernel)

    def as_2d(self) -> "Window":
        """This 1-D window as a 2-D one over [N, C, 1, L]."""
        (begin, end), one = self.padding, (1,)
        return Window(one + self.kernel, one + self.stride, one + self.dilation, (0, begin, 0, end))


def window(shape, op_name: str, kernel, stride=None, dilation=None, padding=Uniform((0, 0, 0, 0))) -> Window:
    """The window of a layer on an input of this shape: its per-axis values for the input's rank,
    ``same`` padding resolved. A stride of None is the kernel (pooling's default)."""
    rank = len(spatial(shape, op_name, RANKS, dynamic=True)) - 2
    kernel = per_axis(kernel, rank, "kernel")
    stride = kernel if stride is None else per_axis(stride, rank, "stride")
    dilation = (1,) * rank if dilation is None else per_axis(dilation, rank, "dilation")
    padding = explicit_padding(padding_per_axis(padding, rank), shape[2:], kernel, stride, dilation)
    return Window(kernel, stride, dilation, padding)


# -- TensorRT ------------------------------------------------------------------------------------------


def too_small(sizes) -> str | None:
    """None when every size is at least 1 for every allowed value; else '' (a static size is below 1) or
    where a symbolic one is ('at height=3 (profile 0: height 2..64): height//4 = 0')."""
    for size in sizes:
        where = below(size, 1)
        if where is not None:
            return "" if isinstance(size, int) else where
    return None


def reshape(ctx, x, shape, part: str, source=None):
    """``x`` reshaped to the netdsl ``shape``; a dynamic size is copied (0) from ``source``'s shape at
    the same position, or inferred (-1, at most one)."""
    layer = ctx.network.add_shuffle(x)
    if all(isinstance(d, int) or d is BATCH for d in shape):
        layer.reshape_dims = reshape_dims(shape)
    else:
        source = source or ()
        layer.reshape_dims = tuple(d if isinstance(d, int) else 0 if i < len(source) and source[i] == d else -1
                                   for i, d in enumerate(shape))
    return ctx.label(layer, part).get_output(0)


def through_2d(ctx, x, x_type, out_shape, win: Window, build):
    """``build(x, window)``, TensorRT's window layers taking 2 or 3 spatial axes: a 1-D window runs as
    2-D over [N, C, 1, L] and its result is reshaped back to ``out_shape``."""
    if win.rank != 1:
        return build(x, win)
    n, c, length = x_type.shape
    y = build(reshape(ctx, x, (n, c, 1, length), "to_2d", x_type.shape), win.as_2d())
    return reshape(ctx, y, out_shape, "to_1d", (out_shape[0], out_shape[1], 1, out_shape[2]))


def fill_value(ctx, x_type, value: float, part: str):
    """A scalar of ``x``'s TensorRT dtype (float32 tensors are in the build's precision), for slices
    that read past the input; infinities allowed."""
    import numpy as np

    dtype = ctx.precision if x_type.dtype == "float32" else x_type.dtype
    return ctx.literal(np.asarray(value, np.float32), dtype, part)


class Slicer:
    """TensorRT slices (``start``, ``size``, ``stride`` over every axis) of tensors that share the
    leading dimension of ``batch_of``: a dynamic batch is read once as a shape tensor and joined with
    the static sizes; sizes over named dimensions are the network's shape tensors for them."""

    def __init__(self, ctx, batch_of, batch):
        self.ctx = ctx
        self.batch_of = batch_of
        self.dynamic = batch is BATCH
        self.batch = None
        self.count = 0

    def __call__(self, x, start, size, stride, fill=None):
        import numpy as np

        trt, network = self.ctx.trt, self.ctx.network
        self.count += 1
        layer = network.add_slice(x, tuple(start), tuple(d if isinstance(d, int) else 1 for d in size), tuple(stride))
        if has_named_dims(size):  # sizes computed from the named dimensions (the batch among them)
            layer.set_input(2, self.ctx.shape_tensor(size))
        elif self.dynamic:
            if self.batch is None:
                shape = self.ctx.label(network.add_shape(self.batch_of), "shape").get_output(0)
                self.batch = self.ctx.label(network.add_slice(shape, (0,), (1,), (1,)), "batch").get_output(0)
            rest = self.ctx.literal(np.asarray(size[1:], np.int64), "int64", f"size{self.count}")
            joined = self.ctx.label(network.add_concatenation([self.batch, rest]), f"sizes{self.count}")
            layer.set_input(2, joined.get_output(0))
        if fill is not None:
            layer.mode = trt.SampleMode.FILL
            layer.set_input(4, fill)
        return self.ctx.label(layer, f"slice{self.count}").get_output(0)
