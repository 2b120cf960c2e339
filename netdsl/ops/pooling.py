"""Max and average pooling over 1, 2 or 3 spatial axes (torch.nn.MaxPool1d/2d/3d, AvgPool1d/2d/3d),
their adaptive forms (AdaptiveMaxPool*d, AdaptiveAvgPool*d) and global forms (adaptive to size 1)."""

import itertools

from ..params import Bool, Padding, Pair, Param, Uniform
from . import Op, ShapeError, TensorType, register, set_window, spatial, window_output
from ._windows import RANKS, Slicer, fill_value, per_axis, through_2d, too_small, window

GROUP = "convolution, pooling"  # its row in the README's kind table (tools/regenerate.py)

AXIS_NAMES = {1: "length", 2: "height and width", 3: "depth, height and width"}


class Pooling(Op):
    params = {
        "kernel": Param(Pair(1), doc="window size: one integer or one per spatial axis ([height, width]...)"),
        "stride": Param(Pair(1), None, doc="defaults to the kernel size, as in PyTorch"),
        "padding": Param(Padding(), Uniform((0, 0, 0, 0))),
        "ceil_mode": Param(Bool(), False, doc="round the output size up instead of down"),
    }

    def window(self, node, x: TensorType):
        p = node.params
        return window(x.shape, self.kind, p["kernel"], p["stride"], p.get("dilation"), p["padding"])

    def infer_shape(self, node, x):
        win = self.window(node, x)
        sizes, ceil = x.shape[2:], node.params["ceil_mode"]
        out = [window_output(size, k, s, win.padding[axis], win.padding[win.rank + axis], d, ceil)
               for axis, (size, k, s, d) in enumerate(zip(sizes, win.kernel, win.stride, win.dilation))]
        short = too_small(out)
        if short is not None:
            padded = "x".join(str(size + win.padding[a] + win.padding[win.rank + a]) for a, size in enumerate(sizes))
            kernel = "x".join(map(str, win.kernel))
            raise ShapeError(f"pooling window {kernel} is larger than its padded input {padded}"
                             + (f" {short}" if short else ""), "kernel",
                             expected=f"at most {padded}", found=kernel,
                             hint=None if ceil else "ceil_mode: true keeps a partial window")
        return TensorType((x.shape[0], x.shape[1], *out), x.dtype)

    def lower(self, node, ctx, x):
        trt = ctx.trt
        x_type, out = ctx.types[node.inputs[0]], ctx.types[node.name]
        win = self.window(node, x_type)
        if max(win.dilation) > 1:
            return dilated_max_pool(ctx, x, x_type, out, win)
        round_up = node.params["ceil_mode"] and self.round_up(node, x_type, win)

        def pooling(x, win):
            kind = trt.PoolingType.MAX if self.kind == "max_pool" else trt.PoolingType.AVERAGE
            layer = ctx.network.add_pooling_nd(x, kind, win.kernel)
            set_window(layer, win.padding, win.stride)
            if round_up:
                layer.padding_mode = trt.PaddingMode.EXPLICIT_ROUND_UP
            if "count_include_pad" in node.params:
                layer.average_count_excludes_padding = not node.params["count_include_pad"]
            return ctx.label(layer).get_output(0)

        return through_2d(ctx, x, x_type, out.shape, win, pooling)

    def reference(self, node, ctx, x):
        # PyTorch's semantics: padding never wins a max; an average divides by the window's cells inside
        # the padded input (count_include_pad) or inside the input; a ceil-mode overhang counts for neither.
        import numpy as np

        from ._numpy import max_windows, pad_to_cover, windows

        win = self.window(node, ctx.input_type())
        rank, out_sizes = win.rank, ctx.output_shape()[2:]
        kernel_axes = tuple(range(2 + rank, 2 + 2 * rank))
        if self.kind == "max_pool":
            padded = pad_to_cover(x, win.padding, win.kernel, win.stride, out_sizes, win.dilation, value=-np.inf)
            return max_windows(padded, win.kernel, win.stride, win.dilation, out_sizes)
        padded = pad_to_cover(x, win.padding, win.kernel, win.stride, out_sizes)
        total = windows(padded, win.kernel, win.stride, win.dilation, out_sizes).sum(axis=kernel_axes,
                                                                                    dtype=np.float32)
        begins, ends = win.padding[:rank], win.padding[rank:]
        counted = np.zeros((1, 1) + padded.shape[2:], np.float32)
        if node.params["count_include_pad"]:
            counted[(0, 0, *(slice(0, s + b + e) for s, b, e in zip(x.shape[2:], begins, ends)))] = 1
        else:
            counted[(0, 0, *(slice(b, b + s) for s, b in zip(x.shape[2:], begins)))] = 1
        cells = windows(counted, win.kernel, win.stride, win.dilation, out_sizes).sum(axis=kernel_axes)
        return total / np.maximum(cells, 1)

    def round_up(self, node, x, win) -> bool:
        """Whether TensorRT's EXPLICIT_ROUND_UP gives PyTorch's ceil-mode size. PyTorch drops a last
        window that would start past the input; TensorRT does not, so there rounding down is what matches.
        TensorRT rounds every axis one way: when they need different ways, refuse."""
        from ..diagnostics import NetdslError

        wanted = set()
        for axis, (size, kernel, stride) in enumerate(zip(x.shape[2:], win.kernel, win.stride)):
            begin, end = win.padding[axis], win.padding[win.rank + axis]
            trt_ceil = -(-(size + begin + end - kernel) // stride) + 1
            wanted.add(window_output(size, kernel, stride, begin, end, ceil=True) == trt_ceil)
        if len(wanted) > 1:
            raise NetdslError(f"{self.kind} layer `{node.name}`: with ceil_mode, PyTorch rounds this input's "
                              f"{AXIS_NAMES[win.rank]} differently (a last window starting past the input is dropped "
                              "on some axes only), which TensorRT cannot express; use explicit padding instead of "
                              "ceil_mode")
        return wanted.pop()


def dilated_max_pool(ctx, x, x_type, out, win):
    """TensorRT pooling has no dilation: the maximum of one strided slice per kernel cell, reading -inf
    outside the input (padding, and a ceil-mode overhang)."""
    slicer = Slicer(ctx, x, x_type.shape[0])
    lowest = fill_value(ctx, x_type, float("-inf"), "lowest")
    result = None
    for start in cell_starts(win):
        cell = slicer(x, (0, 0) + start, out.shape, (1, 1) + win.stride, lowest)
        if result is not None:
            layer = ctx.network.add_elementwise(result, cell, ctx.trt.ElementWiseOperation.MAX)
            cell = ctx.label(layer, f"max{slicer.count}").get_output(0)
        result = cell
    return result


def cell_starts(win) -> list[tuple[int, ...]]:
    """Where the slice of each kernel cell starts on the spatial axes (strided by the window's stride, it
    reads that cell of every window); negative in the begin padding."""
    return [tuple(i * d - b for i, d, b in zip(offset, win.dilation, win.padding[:win.rank]))
            for offset in itertools.product(*(range(k) for k in win.kernel))]


@register
class MaxPool(Pooling):
    kind = "max_pool"
    doc = ("Max pooling over the spatial axes of [N, C, L], [N, C, H, W] or [N, C, D, H, W] "
           "(torch.nn.MaxPool1d/2d/3d). TensorRT pooling has no dilation: a dilated pool lowers to one strided "
           "slice per kernel cell and their maximum.")
    torch = "torch.nn.MaxPool1d / MaxPool2d / MaxPool3d"
    params = {**Pooling.params, "dilation": Param(Pair(1), Uniform((1, 1)), doc="spacing between window cells")}


@register
class AvgPool(Pooling):
    kind = "avg_pool"
    doc = ("Average pooling over the spatial axes of [N, C, L], [N, C, H, W] or [N, C, D, H, W] "
           "(torch.nn.AvgPool1d/2d/3d).")
    torch = "torch.nn.AvgPool1d / AvgPool2d / AvgPool3d"
    params = {
        **Pooling.params,
        "count_include_pad": Param(Bool(), True, doc="whether padded zeros count in the average, as in PyTorch"),
    }


def adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows along one axis: [floor(i * size / out), ceil((i + 1) * size / out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class AdaptivePooling(Op):
    params = {"output_size": Param(Pair(1), doc="output size: one integer or one per spatial axis")}
    maximum = False

    def infer_shape(self, node, x):
        rank = len(spatial(x.shape, self.kind, RANKS)) - 2
        return TensorType(x.shape[:2] + per_axis(node.params["output_size"], rank, "output_size"), x.dtype)

    def reference(self, node, ctx, x):
        import numpy as np

        reduce = np.max if self.maximum else np.mean
        for axis, out in enumerate(ctx.output_shape()[2:], start=2):
            parts = [reduce(x[(slice(None),) * axis + (slice(begin, end),)], axis=axis, keepdims=True)
                     for begin, end in adaptive_windows(x.shape[axis], out)]
            x = np.concatenate(parts, axis=axis).astype(np.float32)
        return x

    def lower(self, node, ctx, x):
        # Sizes that divide evenly are one pooling layer; otherwise, axis by axis (max and mean over a box
        # are both separable), one slice and reduction per output position, joined again.
        trt = ctx.trt
        x_type, out = ctx.types[node.inputs[0]], ctx.types[node.name]
        sizes, outs = x_type.shape[2:], out.shape[2:]
        if all(size % o == 0 for size, o in zip(sizes, outs)):
            kernel = tuple(size // o for size, o in zip(sizes, outs))
            win = window(x_type.shape, self.kind, kernel, kernel)

            def pooling(x, win):
                layer = ctx.network.add_pooling_nd(x, trt.PoolingType.MAX if self.maximum else trt.PoolingType.AVERAGE,
                                                   win.kernel)
                set_window(layer, win.padding, win.stride)
                return ctx.label(layer).get_output(0)

            return through_2d(ctx, x, x_type, out.shape, win, pooling)
        slicer = Slicer(ctx, x, x_type.shape[0])
        operation = trt.ReduceOperation.MAX if self.maximum else trt.ReduceOperation.AVG
        shape = list(x_type.shape)
        for axis, o in enumerate(outs, start=2):
            if shape[axis] == o:
                continue
            parts = []
            for begin, end in adaptive_windows(shape[axis], o):
                start = [0] * len(shape)
                start[axis] = begin
                part = slicer(x, start, shape[:axis] + [end - begin] + shape[axis + 1:], [1] * len(shape))
                parts.append(ctx.label(ctx.network.add_reduce(part, operation, 1 << axis, True),
                                       f"reduce{slicer.count}").get_output(0))
            joined = ctx.network.add_concatenation(parts)
            joined.axis = axis
            x = ctx.label(joined, f"axis{axis}").get_output(0)
            shape[axis] = o
        return x


@register
class AdaptiveAvgPool(AdaptivePooling):
    kind = "adaptive_avg_pool"
    doc = ("Average over PyTorch's adaptive windows [floor(i*in/out), ceil((i+1)*in/out)) of each spatial axis of "
           "[N, C, L], [N, C, H, W] or [N, C, D, H, W]. Sizes that divide evenly lower to one pooling layer, others "
           "to one slice and mean per output position of each axis.")
    torch = "torch.nn.AdaptiveAvgPool1d / AdaptiveAvgPool2d / AdaptiveAvgPool3d"


@register
class AdaptiveMaxPool(AdaptivePooling):
    kind = "adaptive_max_pool"
    doc = ("Maximum over PyTorch's adaptive windows [floor(i*in/out), ceil((i+1)*in/out)) of each spatial axis "
           "(values only, no indices). Sizes that divide evenly lower to one pooling layer, others to one slice "
           "and max per output position of each axis.")
    torch = "torch.nn.AdaptiveMaxPool1d / AdaptiveMaxPool2d / AdaptiveMaxPool3d (return_indices=False)"
    maximum = True


class GlobalPooling(Op):
    def infer_shape(self, node, x):
        shape = spatial(x.shape, self.kind, RANKS, dynamic=True)  # a reduction: any spatial size
        return TensorType(shape[:2] + (1,) * (len(shape) - 2), x.dtype)

    def reference(self, node, ctx, x):
        reduce = x.mean if self.kind == "global_avg_pool" else x.max
        return reduce(axis=tuple(range(2, x.ndim)), keepdims=True)

    def lower(self, node, ctx, x):
        operation = ctx.trt.ReduceOperation.AVG if self.kind == "global_avg_pool" else ctx.trt.ReduceOperation.MAX
        axes = sum(1 << axis for axis in range(2, len(ctx.types[node.inputs[0]].shape)))
        return ctx.label(ctx.network.add_reduce(x, operation, axes, True)).get_output(0)


@register
class GlobalAvgPool(GlobalPooling):
    kind = "global_avg_pool"
    doc = "Average over every spatial axis, keeping each as size 1 (torch.nn.AdaptiveAvgPool1d/2d/3d(1))."
    torch = "torch.nn.AdaptiveAvgPool2d(1) (1d, 3d alike)"


@register
class GlobalMaxPool(GlobalPooling):
    kind = "global_max_pool"
    doc = "Maximum over every spatial axis, keeping each as size 1 (torch.nn.AdaptiveMaxPool1d/2d/3d(1))."
    torch = "torch.nn.AdaptiveMaxPool2d(1) (1d, 3d alike)"
