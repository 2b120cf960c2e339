"""Max and average pooling (torch.nn.MaxPool2d, AvgPool2d) and their global forms
(AdaptiveMaxPool2d(1), AdaptiveAvgPool2d(1))."""

from ..params import Bool, Padding, Pair, Param
from . import Op, ShapeError, TensorType, explicit_padding, register, set_window, spatial, window_output


class Pooling(Op):
    params = {
        "kernel": Param(Pair(1), doc="window size: one integer or [height, width]"),
        "stride": Param(Pair(1), None, doc="defaults to the kernel size, as in PyTorch"),
        "padding": Param(Padding(), (0, 0, 0, 0)),
        "ceil_mode": Param(Bool(), False, doc="round the output size up instead of down"),
    }

    def stride(self, node):
        stride = node.params["stride"]
        return node.params["kernel"] if stride is None else stride

    def padding(self, node, x: TensorType):
        p = node.params
        return explicit_padding(p["padding"], x.shape[2:], p["kernel"], self.stride(node))

    def infer_shape(self, node, x):
        n, c, h, w = spatial(x.shape, self.kind)
        (kh, kw), (sh, sw) = node.params["kernel"], self.stride(node)
        top, left, bottom, right = self.padding(node, x)
        ceil = node.params["ceil_mode"]
        oh = window_output(h, kh, sh, top, bottom, ceil=ceil)
        ow = window_output(w, kw, sw, left, right, ceil=ceil)
        if oh < 1 or ow < 1:
            raise ShapeError(f"pooling window {kh}x{kw} is larger than its padded input "
                             f"{h + top + bottom}x{w + left + right}", "kernel",
                             expected=f"at most {h + top + bottom}x{w + left + right}", found=f"{kh}x{kw}",
                             hint=None if ceil else "ceil_mode: true keeps a partial window")
        return TensorType((n, c, oh, ow), x.dtype)

    def lower(self, node, ctx, x):
        trt = ctx.trt
        kind = trt.PoolingType.MAX if self.kind == "max_pool" else trt.PoolingType.AVERAGE
        layer = ctx.network.add_pooling_nd(x, kind, tuple(node.params["kernel"]))
        x_type = ctx.types[node.inputs[0]]
        padding = self.padding(node, x_type)
        set_window(layer, padding, self.stride(node))
        if node.params["ceil_mode"] and self.round_up(node, x_type, padding):
            layer.padding_mode = trt.PaddingMode.EXPLICIT_ROUND_UP
        if "count_include_pad" in node.params:
            layer.average_count_excludes_padding = not node.params["count_include_pad"]
        return ctx.label(layer).get_output(0)



    def reference(self, node, ctx, x):
        # PyTorch's semantics: padding never wins a max; an average divides by the window's cells inside
        # the padded input (count_include_pad) or inside the input; a ceil-mode overhang counts for neither.
        import numpy as np

        from ..reference import pad_to_cover, windows

        kernel, stride = node.params["kernel"], self.stride(node)
        padding = self.padding(node, ctx.input_type())
        out_hw = ctx.output_shape()[2:]
        if self.kind == "max_pool":
            padded = pad_to_cover(x, padding, kernel, stride, out_hw, value=-np.inf)
            return windows(padded, kernel, stride, (1, 1), out_hw).max(axis=(4, 5))
        padded = pad_to_cover(x, padding, kernel, stride, out_hw)
        total = windows(padded, kernel, stride, (1, 1), out_hw).sum(axis=(4, 5), dtype=np.float32)
        top, left, bottom, right = padding
        counted = np.zeros((1, 1) + padded.shape[2:], np.float32)
        if node.params["count_include_pad"]:
            counted[:, :, :x.shape[2] + top + bottom, :x.shape[3] + left + right] = 1
        else:
            counted[:, :, top:top + x.shape[2], left:left + x.shape[3]] = 1
        cells = windows(counted, kernel, stride, (1, 1), out_hw).sum(axis=(4, 5))
        return total / np.maximum(cells, 1)

    def round_up(self, node, x, padding) -> bool:
        """Whether TensorRT's EXPLICIT_ROUND_UP gives PyTorch's ceil-mode size. PyTorch drops a last
        window that would start past the input; TensorRT does not, so there rounding down is what matches.
        TensorRT rounds both axes one way: when they need different ways, refuse."""
        from ..diagnostics import NetdslError

        top, left, bottom, right = padding
        wanted = []
        for size, kernel, stride, begin, end in zip(x.shape[2:], node.params["kernel"], self.stride(node),
                                                    (top, left), (bottom, right)):
            room = size + begin + end - kernel
            trt_ceil = -(-room // stride) + 1
            wanted.append(window_output(size, kernel, stride, begin, end, ceil=True) == trt_ceil)
        if wanted[0] != wanted[1]:
            raise NetdslError(f"{self.kind} layer `{node.name}`: with ceil_mode, PyTorch rounds this input's height "
                              "and width differently (a last window starting past the input is dropped on one axis "
                              "only), which TensorRT cannot express; use explicit padding instead of ceil_mode")
        return wanted[0]


@register
class MaxPool(Pooling):
    kind = "max_pool"
    doc = "2-D max pooling (torch.nn.MaxPool2d)."


@register
class AvgPool(Pooling):
    kind = "avg_pool"
    doc = "2-D average pooling (torch.nn.AvgPool2d)."
    params = {
        **Pooling.params,
        "count_include_pad": Param(Bool(), True, doc="whether padded zeros count in the average, as in PyTorch"),
    }


class GlobalPooling(Op):
    def infer_shape(self, node, x):
        n, c, h, w = spatial(x.shape, self.kind)
        return TensorType((n, c, 1, 1), x.dtype)

    def reference(self, node, ctx, x):
        reduce = x.mean if self.kind == "global_avg_pool" else x.max
        return reduce(axis=(2, 3), keepdims=True)

    def lower(self, node, ctx, x):
        operation = ctx.trt.ReduceOperation.AVG if self.kind == "global_avg_pool" else ctx.trt.ReduceOperation.MAX
        return ctx.label(ctx.network.add_reduce(x, operation, (1 << 2) | (1 << 3), True)).get_output(0)



@register
class GlobalAvgPool(GlobalPooling):
    kind = "global_avg_pool"
    doc = "Average over all of H and W, keeping them as 1x1 (torch.nn.AdaptiveAvgPool2d(1))."


@register
class GlobalMaxPool(GlobalPooling):
    kind = "global_max_pool"
    doc = "Maximum over all of H and W, keeping them as 1x1 (torch.nn.AdaptiveMaxPool2d(1))."
