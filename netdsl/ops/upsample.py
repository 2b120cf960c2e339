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

    def reference(self, node, ctx, x):
        # PyTorch's source coordinates (float32): nearest floor(dst * scale); bilinear from pixel centres,
        # or corners with align_corners. scale is 1 / the given factor, or in / out for a size.
        import numpy as np

        (_, _, h, w), (oh, ow) = x.shape, ctx.output_shape()[2:]
        p = node.params
        factors = p["scale"] or (None, None)

        def scale(size, out, factor):
            return np.float32(1.0 / factor) if factor else np.float32(size) / np.float32(out)

        if p["mode"] == "nearest":
            rows = np.minimum(np.floor(np.arange(oh, dtype=np.float32) * scale(h, oh, factors[0])).astype(int), h - 1)
            cols = np.minimum(np.floor(np.arange(ow, dtype=np.float32) * scale(w, ow, factors[1])).astype(int), w - 1)
            return x[:, :, rows][:, :, :, cols]

        def source(size, out, factor):
            dst = np.arange(out, dtype=np.float32)
            if p["align_corners"]:
                src = dst * (np.float32(size - 1) / np.float32(out - 1)) if out > 1 else np.zeros(out, np.float32)
            else:
                src = np.maximum((dst + np.float32(0.5)) * scale(size, out, factor) - np.float32(0.5), 0)
            low = np.minimum(np.floor(src).astype(int), size - 1)
            return low, np.minimum(low + 1, size - 1), (src - low).astype(np.float32)

        r0, r1, fr = source(h, oh, factors[0])
        c0, c1, fc = source(w, ow, factors[1])
        rows = x[:, :, r0] * (1 - fr)[:, None] + x[:, :, r1] * fr[:, None]
        return rows[:, :, :, c0] * (1 - fc) + rows[:, :, :, c1] * fc

    def lower(self, node, ctx, x):
        trt = ctx.trt
        (_, _, h, w), (_, _, oh, ow) = ctx.types[node.inputs[0]].shape[:4], ctx.types[node.name].shape
        layer = ctx.network.add_resize(x)
        p = node.params
        if p["scale"] is not None:
            layer.scales = [1.0, 1.0, float(p["scale"][0]), float(p["scale"][1])]
        else:
            layer.scales = [1.0, 1.0, exact_scale(h, oh), exact_scale(w, ow)]
        if p["mode"] == "nearest":  # PyTorch: source index floor(dst * in / out)
            layer.resize_mode = trt.InterpolationMode.NEAREST
            layer.coordinate_transformation = trt.ResizeCoordinateTransformation.ASYMMETRIC
            layer.nearest_rounding = trt.ResizeRoundMode.FLOOR
        else:
            layer.resize_mode = trt.InterpolationMode.LINEAR
            layer.coordinate_transformation = (trt.ResizeCoordinateTransformation.ALIGN_CORNERS if p["align_corners"]
                                               else trt.ResizeCoordinateTransformation.HALF_PIXEL)
        return ctx.label(layer).get_output(0)


def exact_scale(size: int, out: int) -> float:
    """A float32 scale with floor(size * scale) == out, as TensorRT computes the output size."""
    import numpy as np

    scale = np.float32(out / size)
    while int(np.float32(size) * scale) < out:
        scale = np.nextafter(scale, np.float32(np.inf))
    return float(scale)
