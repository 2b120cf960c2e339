"""The anchor grid of one level of a YOLO detector (ultralytics' ``make_anchors``): the centre of every
cell of a feature map, in grid units, and the level's stride. Only the feature map's shape is used.

With a static height and width the grid is two constants (up to a size). With a named dynamic size (``height//8``) it
is computed when the network runs, from the feature map's shape: TensorRT's fill layer (LINSPACE, which
TensorRT-RTX builds in float32 only) counts the cells along each axis."""

from ..params import Float, Param
from ..tensors import show_shape
from . import ShapeError, TensorType, register
from ._axes import reshape
from .primitive import Primitive

GROUP = "detection"  # its row in the README's kind table (tools/regenerate.py)

MAX_CONSTANT_CELLS = 1 << 20  # larger static grids are filled at run time too, not stored in the plan (12 MiB)


@register
class AnchorPoints(Primitive):
    kind = "anchor_points"
    torch = "ultralytics.utils.tal.make_anchors (one level, transposed)"
    doc = ("The anchor points of one detection level, from the shape [..., H, W] of its feature map (its "
           "values are not read), as ultralytics' make_anchors gives them transposed: output `<layer>.points` "
           "[2, H*W] holds x = w + offset in row 0 and y = h + offset in row 1, cell h*W + w in column h*W + w; "
           "`<layer>.strides` [1, H*W] holds `stride`. Both float32. H and W may be named dynamic sizes: the "
           "grid is then computed when the network runs.")
    params = {
        "stride": Param(Float(0.0, low_open=True), doc="the level's stride in input pixels (8, 16, 32)"),
        "offset": Param(Float(), 0.5, doc="added to each cell index: 0.5 for cell centres (ultralytics' "
                                          "grid_cell_offset)"),
    }
    dtypes = None  # only the shape is read
    example = {"params": {"stride": 8}, "inputs": [[1, 64, 80, 80]]}

    def output_names(self, node):
        return ("points", "strides")

    def infer(self, p, x):
        if x.rank < 3:
            raise ShapeError(f"anchor_points needs a feature map [N, C, H, W] (rank 3 or more), found "
                             f"{show_shape(x.shape)}", expected="rank 3 or more", found=show_shape(x.shape))
        cells = x.shape[-2] * x.shape[-1]
        return TensorType((2, cells), "float32"), TensorType((1, cells), "float32")

    def compute(self, p, out, x):
        return grid(*x.shape[-2:], p["offset"], p["stride"])

    def emit(self, ctx, p, out, x):
        height, width = x.type.shape[-2:]
        if isinstance(height, int) and isinstance(width, int) and height * width <= MAX_CONSTANT_CELLS:
            points, strides = grid(height, width, p["offset"], p["stride"])
            return ctx.literal(points, "float32", "points"), ctx.literal(strides, "float32", "strides")
        with ctx.float32():  # TensorRT's LINSPACE fill makes float32 (or integers) only
            points, strides = self.run_time_grid(ctx, p, x)
        return ctx.to_build_dtype(points, "points"), ctx.to_build_dtype(strides, "strides")

    def run_time_grid(self, ctx, p, x):
        """The grid for the feature map's size when the network runs: LINSPACE fills of shape [1, H, W]
        (x counts along W, y along H, the strides along neither), joined and reshaped to [2, H*W] and
        [1, H*W]. A fill of rank > 1 takes its start and per-axis steps as tensors."""
        import numpy as np

        from ._layout import shape_tensor

        network = ctx.network
        size = shape_tensor(ctx, x, (1,) + tuple(x.type.shape[-2:]))

        def fill(start, steps, name):
            layer = network.add_fill((1, 1, 1), ctx.trt.FillOperation.LINSPACE, ctx.trt.float32)
            layer.set_input(0, size)
            layer.set_input(1, ctx.literal(np.array(start, np.float32), "float32", f"{name}_start"))
            layer.set_input(2, ctx.literal(np.array(steps, np.float32), "float32", f"{name}_steps"))
            return ctx.label(layer, name).get_output(0)

        joined = network.add_concatenation([fill(p["offset"], [0, 0, 1], "x"), fill(p["offset"], [0, 1, 0], "y")])
        joined.axis = 0
        points = reshape(ctx, ctx.label(joined, "xy").get_output(0), (2, -1), "cells")
        return points, reshape(ctx, fill(p["stride"], [0, 0, 0], "stride"), (1, -1), "stride_cells")


def grid(height: int, width: int, offset: float, stride: float):
    """([2, H*W] points, [1, H*W] strides) as float32 numpy arrays."""
    import numpy as np

    y, x = np.meshgrid(np.arange(height, dtype=np.float32) + np.float32(offset),
                       np.arange(width, dtype=np.float32) + np.float32(offset), indexing="ij")
    return np.stack([x.reshape(-1), y.reshape(-1)]), np.full((1, height * width), stride, np.float32)

