"""2-D convolution, as torch.nn.Conv2d."""

from ..params import Bool, Int, Padding, Pair, Param
from . import Op, ShapeError, TensorType, WeightSlot, explicit_padding, register, set_window, spatial, window_output


@register
class Convolution(Op):
    kind = "convolution"
    doc = "2-D convolution (torch.nn.Conv2d). Weights: weight [out, in/groups, kH, kW], bias [out]."
    params = {
        "out_channels": Param(Int(1), doc="number of output channels"),
        "kernel": Param(Pair(1), doc="kernel size: one integer or [height, width]"),
        "stride": Param(Pair(1), (1, 1)),
        "padding": Param(Padding(), (0, 0, 0, 0), doc="`same`, an integer, [h, w] or {top, bottom, left, right}"),
        "dilation": Param(Pair(1), (1, 1)),
        "groups": Param(Int(1), 1),
        "bias": Param(Bool(), True, doc="whether the layer has a bias"),
    }

    def padding(self, node, x: TensorType):
        p = node.params
        return explicit_padding(p["padding"], x.shape[2:], p["kernel"], p["stride"], p["dilation"])

    def infer_shape(self, node, x):
        n, c, h, w = spatial(x.shape, "convolution")
        p = node.params
        groups = p["groups"]
        if c % groups:
            raise ShapeError(f"input channels {c} are not divisible by groups {groups}", "groups",
                             expected=f"a divisor of {c}", found=str(groups))
        if p["out_channels"] % groups:
            raise ShapeError(f"out_channels {p['out_channels']} is not divisible by groups {groups}", "groups")
        top, left, bottom, right = self.padding(node, x)
        (kh, kw), (sh, sw), (dh, dw) = p["kernel"], p["stride"], p["dilation"]
        oh = window_output(h, kh, sh, top, bottom, dh)
        ow = window_output(w, kw, sw, left, right, dw)
        if oh < 1 or ow < 1:
            raise ShapeError(
                f"kernel {kh}x{kw} (dilation {dh}x{dw}) is larger than the padded input {h + top + bottom}x"
                f"{w + left + right}", "kernel", expected=f"a window that fits in {h}x{w} plus padding",
                found=f"{(kh - 1) * dh + 1}x{(kw - 1) * dw + 1}")
        return TensorType((n, p["out_channels"], oh, ow), x.dtype)

    def weight_slots(self, node, x):
        p = node.params
        kh, kw = p["kernel"]
        slots = [WeightSlot("weight", (p["out_channels"], x.shape[1] // p["groups"], kh, kw))]
        if p["bias"]:
            slots.append(WeightSlot("bias", (p["out_channels"],)))
        return slots

    def macs(self, node, out, x):
        kh, kw = node.params["kernel"]
        return out.shape[1] * out.shape[2] * out.shape[3] * (x.shape[1] // node.params["groups"]) * kh * kw

    def lower(self, node, ctx, x):
        p = node.params
        bias = ctx.weights("bias") if p["bias"] else ctx.empty()
        layer = ctx.network.add_convolution_nd(x, p["out_channels"], tuple(p["kernel"]), ctx.weights("weight"), bias)
        set_window(layer, self.padding(node, ctx.types[node.inputs[0]]), p["stride"], p["dilation"])
        layer.num_groups = p["groups"]
        return ctx.label(layer).get_output(0)

    def reference(self, node, ctx, x):
        from ..reference import convolution

        p = node.params
        return convolution(x, ctx.array("weight"), ctx.array("bias") if p["bias"] else None,
                           self.padding(node, ctx.input_type()), p["stride"], p["dilation"], p["groups"],
                           ctx.output_shape()[2:])
