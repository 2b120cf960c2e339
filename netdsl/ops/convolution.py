"""Convolution over 1, 2 or 3 spatial axes, as torch.nn.Conv1d, Conv2d and Conv3d."""

from ..params import Bool, Int, Padding, Pair, Param, Uniform
from . import Op, ShapeError, TensorType, WeightSlot, register, set_window, window_output
from ._windows import through_2d, too_small, window

GROUP = "convolution, pooling"  # its row in the README's kind table (tools/regenerate.py)


def check_groups(channels: int, out_channels: int, groups: int) -> None:
    if channels % groups:
        raise ShapeError(f"input channels {channels} are not divisible by groups {groups}", "groups",
                         expected=f"a divisor of {channels}", found=str(groups))
    if out_channels % groups:
        raise ShapeError(f"out_channels {out_channels} is not divisible by groups {groups}", "groups")


def product(values) -> int:
    total = 1
    for value in values:
        total *= value
    return total


@register
class Convolution(Op):
    kind = "convolution"
    doc = ("Convolution over the spatial axes of [N, C, L], [N, C, H, W] or [N, C, D, H, W] (torch.nn.Conv1d, "
           "Conv2d, Conv3d). Weights: weight [out, in/groups, *kernel], bias [out].")
    torch = "torch.nn.Conv1d / Conv2d / Conv3d"
    params = {
        "out_channels": Param(Int(1), doc="number of output channels"),
        "kernel": Param(Pair(1), doc="kernel size: one integer or one per spatial axis ([height, width]...)"),
        "stride": Param(Pair(1), Uniform((1, 1))),
        "padding": Param(Padding(), Uniform((0, 0, 0, 0)),
                         doc="`same`, an integer, one per axis ([h, w]...) or {top, bottom, left, right}"),
        "dilation": Param(Pair(1), Uniform((1, 1))),
        "groups": Param(Int(1), 1),
        "bias": Param(Bool(), True, doc="whether the layer has a bias"),
    }

    def window(self, node, x: TensorType):
        p = node.params
        return window(x.shape, self.kind, p["kernel"], p["stride"], p["dilation"], p["padding"])

    def infer_shape(self, node, x):
        win = self.window(node, x)
        p = node.params
        check_groups(x.shape[1], p["out_channels"], p["groups"])
        half = win.rank
        sizes = x.shape[2:]
        out = [window_output(size, k, s, win.padding[axis], win.padding[half + axis], d)
               for axis, (size, k, s, d) in enumerate(zip(sizes, win.kernel, win.stride, win.dilation))]
        short = too_small(out)
        if short is not None:
            padded = [size + win.padding[axis] + win.padding[half + axis] for axis, size in enumerate(sizes)]
            spans = [(k - 1) * d + 1 for k, d in zip(win.kernel, win.dilation)]
            raise ShapeError(
                f"kernel {'x'.join(map(str, win.kernel))} (dilation {'x'.join(map(str, win.dilation))}) is larger "
                f"than the padded input {'x'.join(map(str, padded))}{' ' + short if short else ''}", "kernel",
                expected=f"a window that fits in {'x'.join(map(str, sizes))} plus padding",
                found="x".join(map(str, spans)))
        return TensorType((x.shape[0], p["out_channels"], *out), x.dtype)

    def weight_slots(self, node, x):
        p = node.params
        kernel = self.window(node, x).kernel
        slots = [WeightSlot("weight", (p["out_channels"], x.shape[1] // p["groups"], *kernel))]
        if p["bias"]:
            slots.append(WeightSlot("bias", (p["out_channels"],)))
        return slots

    def macs(self, node, out, x):
        kernel = self.window(node, x).kernel
        return product(out.shape[1:]) * (x.shape[1] // node.params["groups"]) * product(kernel)

    def lower(self, node, ctx, x):
        p = node.params
        x_type = ctx.types[node.inputs[0]]

        def convolution(x, win):
            batch_norm = ctx.folds.get(node.name)
            if batch_norm is not None:  # the following batch norm folded into the weights: one layer fewer
                from .batch_norm import folded_into

                (weights, bias), kernel = folded_into(ctx, node, batch_norm, p["bias"]), None
            else:
                bias = ctx.weights("bias") if p["bias"] else ctx.empty()
                weights, kernel = ctx.kernel("weight", (p["out_channels"], x_type.shape[1] // p["groups"],
                                                        *win.kernel))
            layer = ctx.network.add_convolution_nd(x, p["out_channels"], win.kernel, weights, bias)
            if kernel is not None:  # quantized: the weight through Q/DQ, as the layer's second input
                layer.set_input(1, kernel)
            set_window(layer, win.padding, win.stride, win.dilation)
            layer.num_groups = p["groups"]
            return ctx.label(layer).get_output(0)

        return through_2d(ctx, x, x_type, ctx.types[node.name].shape, self.window(node, x_type), convolution)

    def reference(self, node, ctx, x):
        from ._numpy import convolution

        p = node.params
        win = self.window(node, ctx.input_type())
        bias = ctx.array("bias") if p["bias"] or ctx.substituted("bias") else None  # (a batch norm folded in)
        return convolution(x, ctx.array("weight"), bias, win.padding, win.stride, win.dilation, p["groups"],
                           ctx.output_shape()[2:])
