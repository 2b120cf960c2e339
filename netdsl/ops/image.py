"""Camera and video frames into a network's input: uint8 (or float) pixels, channels last and BGR as
OpenCV reads them, become the float NCHW RGB tensor a PyTorch model was trained on. Everything TensorRT
does here is a cast, a transpose, a gather and element-wise arithmetic, so the frames can go to the
engine as they come (a quarter of the bytes of float32)."""

from ..params import Choice, Float, Floats, Param
from ..tensors import FLOAT_DTYPES, show_shape
from . import ShapeError, register
from .primitive import Composite

GROUP = "detection"  # its row in the README's kind table (tools/regenerate.py)

CHANNEL_AXIS = {"nhwc": 3, "nchw": 1}


@register
class ImageToTensor(Composite):
    kind = "image_to_tensor"
    torch = "x.permute(0, 3, 1, 2).flip(1).float() / 255 (NHWC BGR uint8 frames, as YOLO takes them)"
    doc = ("Frames to a network input: a rank-4 uint8 (or float) batch, channels last (`layout: nhwc`) or "
           "first (`nchw`), becomes float32 [N, C, H, W] with the channels in RGB order (`channels: bgr` reverses "
           "them), each value x * scale, then (x * scale - mean) / std per channel when `mean` and `std` are "
           "given. YOLO (ultralytics): layout nhwc, channels bgr, scale 1/255, no mean or std.")
    params = {
        "channels": Param(Choice(("bgr", "rgb")), doc="the input's channel order (OpenCV reads BGR, PIL RGB); "
                                                      "the output is RGB"),
        "layout": Param(Choice(("nhwc", "nchw")), "nhwc", doc="the input's layout; the output is NCHW"),
        "scale": Param(Float(0.0, low_open=True), 1 / 255, doc="multiplies every value first (1/255: 0..1)"),
        "mean": Param(Floats(), None, doc="subtracted after scaling, one per output (RGB) channel"),
        "std": Param(Floats(0.0, low_open=True), None, doc="divides after the mean, one per output (RGB) channel"),
    }
    dtypes = ("uint8",) + FLOAT_DTYPES
    example = {"params": {"channels": "bgr"}, "inputs": [[1, 640, 640, 3]], "dtypes": ["uint8"]}

    def expand(self, node, g, x):
        import numpy as np

        p = node.params
        channels = self.channel_count(p, x.type.shape)
        if x.type.dtype != "float32":
            x = g.cast(x, dtype="float32")
        if p["layout"] == "nhwc":
            x = g.permute(x, dims=[0, 3, 1, 2])
        if p["channels"] == "bgr":
            x = g.gather(x, dim=1, index=(2, 1, 0))
        if p["scale"] != 1:
            x = g.mul(x, g.constant(np.full((1, 1, 1, 1), p["scale"])))
        per_channel = (1, channels, 1, 1)
        if p["mean"] is not None:
            x = g.sub(x, g.constant(np.reshape(p["mean"], per_channel)))
        if p["std"] is not None:
            x = g.div(x, g.constant(np.reshape(p["std"], per_channel)))
        return x

    def channel_count(self, p, shape) -> int:
        layout = "[N, H, W, C]" if p["layout"] == "nhwc" else "[N, C, H, W]"
        if len(shape) != 4:
            raise ShapeError(f"image_to_tensor takes a batch of frames {layout} (layout {p['layout']}), found "
                             f"{show_shape(shape)}", expected="rank 4", found=show_shape(shape),
                             hint="a single frame needs a batch dimension first (kind: unsqueeze, dim: 0)")
        channels = shape[CHANNEL_AXIS[p["layout"]]]
        if not isinstance(channels, int):
            raise ShapeError(f"the channel dimension of {show_shape(shape)} (layout {p['layout']}) must have a fixed "
                             "size", "layout")
        if p["channels"] == "bgr" and channels != 3:
            raise ShapeError(f"`channels: bgr` needs 3 channels; {show_shape(shape)} (layout {p['layout']}) has "
                             f"{channels}", "channels", expected="3 channels", found=str(channels),
                             hint="is `layout` right?" if 3 in shape[1:] else None)
        for key in ("mean", "std"):
            if p[key] is not None and len(p[key]) != channels:
                raise ShapeError(f"`{key}` has {len(p[key])} values for {channels} channels", key,
                                 code="invalid-value", expected=f"{channels} values", found=str(len(p[key])))
        return channels
