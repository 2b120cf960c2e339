"""Moving channels into space and back (torch.nn.PixelShuffle, PixelUnshuffle), as reshape, permute,
reshape."""

from ..params import Int, Param
from . import ShapeError, register
from ._layout import static_dim
from .primitive import Composite

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


def split_input(x, kind: str):
    shape = x.type.shape
    if len(shape) < 3:
        raise ShapeError(f"{kind} needs an input of rank 3 or more [..., C, H, W], found rank {len(shape)}")
    return shape[:-3], [static_dim(shape, len(shape) + i, kind, None) for i in (-3, -2, -1)]


@register
class PixelShuffle(Composite):
    kind = "pixel_shuffle"
    torch = "torch.nn.PixelShuffle"
    doc = "[..., C * r * r, H, W] -> [..., C, H * r, W * r] with r = upscale_factor (torch.nn.PixelShuffle)."
    params = {"upscale_factor": Param(Int(1))}
    dtypes = None

    def expand(self, node, g, x):
        r = node.params["upscale_factor"]
        lead, (c, h, w) = split_input(x, self.kind)
        if c % (r * r):
            raise ShapeError(f"{c} channels are not divisible by upscale_factor² = {r * r}", "upscale_factor")
        n = len(lead)
        x = g.reshape(x, shape=lead + (c // (r * r), r, r, h, w))
        x = g.permute(x, dims=list(range(n)) + [n + i for i in (0, 3, 1, 4, 2)])  # C, H, r, W, r
        return g.reshape(x, shape=lead + (c // (r * r), h * r, w * r))


@register
class PixelUnshuffle(Composite):
    kind = "pixel_unshuffle"
    torch = "torch.nn.PixelUnshuffle"
    doc = "[..., C, H * r, W * r] -> [..., C * r * r, H, W] with r = downscale_factor (torch.nn.PixelUnshuffle)."
    params = {"downscale_factor": Param(Int(1))}
    dtypes = None

    def expand(self, node, g, x):
        r = node.params["downscale_factor"]
        lead, (c, h, w) = split_input(x, self.kind)
        if h % r or w % r:
            raise ShapeError(f"height {h} and width {w} must be divisible by downscale_factor {r}", "downscale_factor")
        n = len(lead)
        x = g.reshape(x, shape=lead + (c, h // r, r, w // r, r))
        x = g.permute(x, dims=list(range(n)) + [n + i for i in (0, 2, 4, 1, 3)])  # C, r, r, H, W
        return g.reshape(x, shape=lead + (c * r * r, h // r, w // r))
