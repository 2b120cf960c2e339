"""Spatial upsampling (torch.nn.Upsample / F.interpolate) by a scale or to a size."""

from ..params import Bool, Choice, Pair, Param, Scale
from . import Op, ShapeError, TensorType, register, spatial


@register
class Upsample(Op):
    kind = "upsample"
    doc = ("Resizes H and W (torch.nn.Upsample): give either `scale` (output = floor(input * scale)) or `size`. "
           "mode nearest or bilinear; align_corners applies to bilinear only.")
    params = {
        "mode": Param(Choice(("nearest", "bilinear")), "nearest"),
        "scale": Param(Scale(), None, doc="one factor or [height, width]"),
        "size": Param(Pair(1), None, doc="output [height, width]"),
        "align_corners": Param(Bool(), False),
    }

    def infer_shape(self, node, x):
        n, c, h, w = spatial(x.shape, "upsample")
        p = node.params
        if (p["scale"] is None) == (p["size"] is None):
            raise ShapeError("give exactly one of `scale` and `size`", "scale" if p["scale"] else None,
                             code="invalid-value")
        if p["align_corners"] and p["mode"] != "bilinear":
            raise ShapeError("align_corners applies to bilinear mode only", "align_corners", code="invalid-value")
        if p["size"] is not None:
            oh, ow = p["size"]
        else:
            oh, ow = int(h * p["scale"][0]), int(w * p["scale"][1])
            if oh < 1 or ow < 1:
                raise ShapeError(f"scale {p['scale']} turns {h}x{w} into {oh}x{ow}", "scale")
        return TensorType((n, c, oh, ow), x.dtype)
