"""Transposed convolution over 1, 2 or 3 spatial axes, as torch.nn.ConvTranspose1d/2d/3d."""

from ..params import Bool, Int, Padding, Pair, Param, Uniform
from . import Op, ShapeError, TensorType, WeightSlot, register, set_window
from ._windows import Slicer, fill_value, per_axis, through_2d, too_small, window
from .convolution import product

GROUP = "convolution, pooling"  # its row in the README's kind table (tools/regenerate.py)


@register
class Deconvolution(Op):
    kind = "deconvolution"
    doc = ("Transposed convolution over the spatial axes of [N, C, L], [N, C, H, W] or [N, C, D, H, W] "
           "(torch.nn.ConvTranspose1d/2d/3d). Weights: weight [in, out/groups, *kernel], bias [out].")
    torch = "torch.nn.ConvTranspose1d / ConvTranspose2d / ConvTranspose3d"
    params = {
        "out_channels": Param(Int(1), doc="number of output channels"),
        "kernel": Param(Pair(1), doc="kernel size: one integer or one per spatial axis ([height, width]...)"),
        "stride": Param(Pair(1), Uniform((1, 1))),
        "padding": Param(Padding(allow_same=False), Uniform((0, 0, 0, 0)),
                         doc="cropped from the output: an integer, one per axis ([h, w]...) or {top, bottom, left, "
                             "right}"),
        "output_padding": Param(Pair(0), Uniform((0, 0)),
                                doc="added to the end of each spatial axis of the output; smaller than the stride "
                                    "or the dilation"),
        "dilation": Param(Pair(1), Uniform((1, 1))),
        "groups": Param(Int(1), 1),
        "bias": Param(Bool(), True),
    }

    def window(self, node, x: TensorType):
        p = node.params
        return window(x.shape, self.kind, p["kernel"], p["stride"], p["dilation"], p["padding"])

    def output_padding(self, node, win) -> tuple:
        extra = per_axis(node.params["output_padding"], win.rank, "output_padding")
        for o, s, d in zip(extra, win.stride, win.dilation):
            if o >= s and o >= d:
                raise ShapeError(f"output_padding {o} must be smaller than the stride ({s}) or the dilation ({d})",
                                 "output_padding", code="invalid-value")
        return extra

    def infer_shape(self, node, x):
        win = self.window(node, x)
        p = node.params
        channels, groups = x.shape[1], p["groups"]
        if channels % groups or p["out_channels"] % groups:
            raise ShapeError(f"input channels {channels} and out_channels {p['out_channels']} must both be "
                             f"divisible by groups {groups}", "groups")
        extra = self.output_padding(node, win)
        cropped = [win.padding[axis] + win.padding[win.rank + axis] for axis in range(win.rank)]
        full = [(size - 1) * s + d * (k - 1) + 1
                for size, k, s, d in zip(x.shape[2:], win.kernel, win.stride, win.dilation)]
        out = [f - c + o for f, c, o in zip(full, cropped, extra)]
        short = too_small(out)
        if short is not None:
            raise ShapeError(f"padding {'x'.join(map(str, cropped))} crops the whole output "
                             f"({'x'.join(str(f + o) for f, o in zip(full, extra))}){' ' + short if short else ''}",
                             "padding")
        return TensorType((x.shape[0], p["out_channels"], *out), x.dtype)

    def weight_slots(self, node, x):
        p = node.params
        slots = [WeightSlot("weight", (x.shape[1], p["out_channels"] // p["groups"], *self.window(node, x).kernel))]
        if p["bias"]:
            slots.append(WeightSlot("bias", (p["out_channels"],)))
        return slots

    def macs(self, node, out, x):
        kernel = self.window(node, x).kernel
        return product(x.shape[1:]) * (out.shape[1] // node.params["groups"]) * product(kernel)

    def trt_window(self, node, x: TensorType):
        """The window TensorRT's deconvolution gets, the zeros to append after it per axis, and the
        dilation its kernel must be spread by (None: none). TensorRT has no output_padding: it crops less
        at the end instead, and where the output reaches past every kernel (output_padding > end padding)
        zeros are appended (the bias is added after them). TensorRT-RTX 1.7 cannot build a deconvolution
        both strided and dilated: the kernel is dilated instead, zeros between its taps."""
        win = self.window(node, x)
        ends = [end - extra for end, extra in zip(win.padding[win.rank:], self.output_padding(node, win))]
        win = win._replace(padding=win.padding[:win.rank] + tuple(max(0, end) for end in ends))
        spread_by = None
        if max(win.stride) > 1 and max(win.dilation) > 1:
            spread_by = win.dilation
            win = win._replace(kernel=tuple((k - 1) * d + 1 for k, d in zip(win.kernel, spread_by)),
                               dilation=(1,) * win.rank)
        return win, tuple(max(0, -end) for end in ends), spread_by

    def lower(self, node, ctx, x):
        p = node.params
        x_type, out = ctx.types[node.inputs[0]], ctx.types[node.name]
        win, appended, spread_by = self.trt_window(node, x_type)
        bias_after = p["bias"] and any(appended)

        def deconvolution(x, win):
            bias = ctx.weights("bias") if p["bias"] and not bias_after else ctx.empty()
            shape = (x_type.shape[1], p["out_channels"] // p["groups"], *win.kernel)
            weights, kernel = (ctx.kernel("weight", shape, spread(ctx.array("weight"), spread_by), "weight_dilated")
                               if spread_by else ctx.kernel("weight", shape))
            layer = ctx.network.add_deconvolution_nd(x, p["out_channels"], win.kernel, weights, bias)
            if kernel is not None:  # quantized: the weight through Q/DQ, as the layer's second input
                layer.set_input(1, kernel)
            set_window(layer, win.padding, win.stride, win.dilation)
            layer.num_groups = p["groups"]
            return ctx.label(layer).get_output(0)

        def lowered(x):
            reached = out.shape[:2] + tuple(size - a for size, a in zip(out.shape[2:], appended))
            y = through_2d(ctx, x, x_type, reached, win, deconvolution)
            if not any(appended):
                return y
            rank = len(out.shape)
            y = Slicer(ctx, y, out.shape[0])(y, (0,) * rank, out.shape, (1,) * rank, fill_value(ctx, out, 0.0, "zero"))
            if not bias_after:
                return y
            bias = ctx.constant((1, p["out_channels"]) + (1,) * win.rank, ctx.array("bias"), f"{node.name}.bias")
            return ctx.label(ctx.network.add_elementwise(y, bias, ctx.trt.ElementWiseOperation.SUM),
                             "add_bias").get_output(0)

        if ctx.is_rtx and ctx.precision == "bfloat16":
            return ctx.in_float32(x, lowered, "TensorRT-RTX 1.7 cannot build a bfloat16 deconvolution")
        return lowered(x)

    def reference(self, node, ctx, x):
        from ._numpy import deconvolution

        p = node.params
        win = self.window(node, ctx.input_type())
        return deconvolution(x, ctx.array("weight"), ctx.array("bias") if p["bias"] else None, win.padding,
                             win.stride, win.dilation, p["groups"], ctx.output_shape()[2:])


def spread(weight, dilation):
    """A kernel with dilation - 1 zeros between its taps: a dilated kernel as an undilated one."""
    import numpy as np

    spans = [(k - 1) * d + 1 for k, d in zip(weight.shape[2:], dilation)]
    result = np.zeros(weight.shape[:2] + tuple(spans), np.float32)
    result[(slice(None), slice(None), *(slice(None, None, d) for d in dilation))] = weight
    return result
