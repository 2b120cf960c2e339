"""Sampling a feature map at given points (torch.nn.functional.grid_sample on [N, C, H, W]), through
TensorRT's grid-sample layer. RT-DETR's multi-scale deformable attention samples its values this way."""

from ..params import Bool, Choice, Param
from ..symbolic import disagreement
from ..tensors import FLOAT_DTYPES, TensorType, show_shape
from . import ShapeError, register
from .primitive import Primitive

GROUP = "resize"  # its row in the README's kind table (tools/regenerate.py)


@register
class GridSample(Primitive):
    kind = "grid_sample"
    torch = "torch.nn.functional.grid_sample (4-D input)"
    doc = ("Samples input [N, C, H, W] at the points of grid [N, Ho, Wo, 2] (x, y in [-1, 1]: -1 the left or top "
           "edge, 1 the right or bottom one) into [N, C, Ho, Wo]. bilinear blends the four pixels around each "
           "point, nearest takes the closest (halves to even, as PyTorch); with padding_mode zeros, pixels outside "
           "the input count as 0, with border the point is first clamped to the input. align_corners: -1 and 1 "
           "are the centres of the corner pixels rather than their outer edges.")
    params = {
        "mode": Param(Choice(("bilinear", "nearest")), "bilinear"),
        "padding_mode": Param(Choice(("zeros", "border")), "zeros"),
        "align_corners": Param(Bool(), False),
    }
    min_inputs = max_inputs = 2
    dtypes = FLOAT_DTYPES
    example = {"inputs": [[1, 8, 16, 16], [1, 4, 5, 2]]}

    def infer(self, p, x, grid):
        if x.rank != 4 or grid.rank != 4 or grid.shape[3] != 2:
            raise ShapeError(f"grid_sample takes input [N, C, H, W] and grid [N, Ho, Wo, 2], found "
                             f"{show_shape(x.shape)} and {show_shape(grid.shape)}",
                             expected="[N, C, H, W] and [N, Ho, Wo, 2]", found=f"{show_shape(x.shape)} and "
                                                                             f"{show_shape(grid.shape)}",
                             code="shape-mismatch")
        if grid.dtype != x.dtype:
            raise ShapeError(f"the grid is {grid.dtype} and the input {x.dtype}; they must agree", code="wrong-dtype",
                             hint="networks are strongly typed; convert one first (kind: cast)")
        where = disagreement(x.shape[0], grid.shape[0])
        if where is not None:
            raise ShapeError(f"input and grid have different batch sizes: {x.shape[0]} and {grid.shape[0]} {where}",
                             expected="the same N", found=f"{x.shape[0]} and {grid.shape[0]}", code="shape-mismatch")
        return TensorType((x.shape[0], x.shape[1], grid.shape[1], grid.shape[2]), x.dtype)

    def compute(self, p, out, x, grid):
        return grid_sample(x, grid, p["mode"], p["padding_mode"], p["align_corners"])

    def emit(self, ctx, p, out, x, grid):
        trt = ctx.trt
        layer = ctx.network.add_grid_sample(x.data, grid.data)
        layer.interpolation_mode = trt.InterpolationMode.LINEAR if p["mode"] == "bilinear" else trt.InterpolationMode.NEAREST
        layer.align_corners = p["align_corners"]
        layer.sample_mode = trt.SampleMode.FILL if p["padding_mode"] == "zeros" else trt.SampleMode.CLAMP
        return ctx.label(layer).get_output(0)


def source(coordinate, size: int, align_corners: bool):
    """PyTorch's pixel coordinate of a grid coordinate in [-1, 1] along an axis of ``size`` pixels."""
    import numpy as np

    one, half = np.float32(1), np.float32(0.5)
    if align_corners:
        return (coordinate + one) * np.float32((size - 1) / 2)
    return (coordinate + one) * np.float32(size / 2) - half


def grid_sample(x, grid, mode: str = "bilinear", padding_mode: str = "zeros", align_corners: bool = False):
    """numpy float32 grid_sample of x [N, C, H, W] at grid [N, Ho, Wo, 2] (PyTorch's semantics): [N, C, Ho, Wo]."""
    import numpy as np

    n, _, height, width = x.shape
    ix = source(grid[..., 0].astype(np.float32), width, align_corners)
    iy = source(grid[..., 1].astype(np.float32), height, align_corners)
    if padding_mode == "border":
        ix, iy = np.clip(ix, 0, width - 1), np.clip(iy, 0, height - 1)
    if mode == "nearest":
        taps = [(np.rint(ix), np.rint(iy), np.ones_like(ix))]  # rint: halves to even, as PyTorch's nearbyint
    else:
        left, top = np.floor(ix), np.floor(iy)
        right, bottom = left + 1, top + 1
        taps = [(left, top, (right - ix) * (bottom - iy)), (right, top, (ix - left) * (bottom - iy)),
                (left, bottom, (right - ix) * (iy - top)), (right, bottom, (ix - left) * (iy - top))]
    batch = np.arange(n).reshape(n, 1, 1)
    out = np.zeros(ix.shape + (x.shape[1],), np.float32)  # [N, Ho, Wo, C]
    with np.errstate(invalid="ignore"):  # NaN coordinates sample nothing
        for column, row, weight in taps:
            inside = (column >= 0) & (column <= width - 1) & (row >= 0) & (row <= height - 1)
            picked = x[batch, :, np.where(inside, row, 0).astype(np.int64), np.where(inside, column, 0).astype(np.int64)]
            out += picked * np.where(inside, weight, 0).astype(np.float32)[..., None]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)).astype(x.dtype)
