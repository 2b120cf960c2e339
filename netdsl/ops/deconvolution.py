"""2-D transposed convolution, as torch.nn.ConvTranspose2d (without output_padding)."""

from ..params import Bool, Int, Padding, Pair, Param
from . import Op, ShapeError, TensorType, WeightSlot, register, set_window, spatial


@register
class Deconvolution(Op):
    kind = "deconvolution"
    doc = ("2-D transposed convolution (torch.nn.ConvTranspose2d). Weights: weight [in, out/groups, kH, kW], "
           "bias [out].")
    params = {
        "out_channels": Param(Int(1), doc="number of output channels"),
        "kernel": Param(Pair(1), doc="kernel size: one integer or [height, width]"),
        "stride": Param(Pair(1), (1, 1)),
        "padding": Param(Padding(allow_same=False), (0, 0, 0, 0),
                         doc="cropped from the output: an integer, [h, w] or {top, bottom, left, right}"),
        "dilation": Param(Pair(1), (1, 1)),
        "groups": Param(Int(1), 1),
        "bias": Param(Bool(), True),
    }

    def infer_shape(self, node, x):
        n, c, h, w = spatial(x.shape, "deconvolution")
        p = node.params
        groups = p["groups"]
        if c % groups or p["out_channels"] % groups:
            raise ShapeError(f"input channels {c} and out_channels {p['out_channels']} must both be divisible "
                             f"by groups {groups}", "groups")
        top, left, bottom, right = p["padding"]
        (kh, kw), (sh, sw), (dh, dw) = p["kernel"], p["stride"], p["dilation"]
        oh = (h - 1) * sh - top - bottom + dh * (kh - 1) + 1
        ow = (w - 1) * sw - left - right + dw * (kw - 1) + 1
        if oh < 1 or ow < 1:
            raise ShapeError(f"padding {top + bottom}x{left + right} crops the whole output "
                             f"({oh + top + bottom}x{ow + left + right})", "padding")
        return TensorType((n, p["out_channels"], oh, ow), x.dtype)

    def weight_slots(self, node, x):
        p = node.params
        kh, kw = p["kernel"]
        slots = [WeightSlot("weight", (x.shape[1], p["out_channels"] // p["groups"], kh, kw))]
        if p["bias"]:
            slots.append(WeightSlot("bias", (p["out_channels"],)))
        return slots

    def macs(self, node, out, x):
        kh, kw = node.params["kernel"]
        return x.shape[1] * x.shape[2] * x.shape[3] * (out.shape[1] // node.params["groups"]) * kh * kw

    def lower(self, node, ctx, x):
        def deconvolution(x):
            p = node.params
            bias = ctx.weights("bias") if p["bias"] else ctx.empty()
            layer = ctx.network.add_deconvolution_nd(x, p["out_channels"], tuple(p["kernel"]), ctx.weights("weight"),
                                                     bias)
            set_window(layer, p["padding"], p["stride"], p["dilation"])
            layer.num_groups = p["groups"]
            return ctx.label(layer).get_output(0)

        if ctx.is_rtx and ctx.precision == "bfloat16":
            return ctx.in_float32(x, deconvolution, "TensorRT-RTX 1.7 cannot build a bfloat16 deconvolution")
        return deconvolution(x)

    def reference(self, node, ctx, x):
        from ..reference import deconvolution

        p = node.params
        return deconvolution(x, ctx.array("weight"), ctx.array("bias") if p["bias"] else None, p["padding"],
                             p["stride"], p["dilation"], p["groups"], ctx.output_shape()[2:])
