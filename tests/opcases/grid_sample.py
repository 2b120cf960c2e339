"""Cases of netdsl/ops/grid_sample.py: grid_sample against torch.nn.functional.grid_sample, with grid
points inside and outside [-1, 1] (zeros padding reads 0 there, border the edge)."""

import numpy as np
import torch.nn.functional as F

from opcases import Case


def sample(**kwargs):
    kwargs.setdefault("align_corners", False)  # (torch warns when it is left out)
    return lambda x, grid: F.grid_sample(x, grid, **kwargs)


def on_pixels(height: int, width: int) -> np.ndarray:
    """A grid [1, height, width, 2] through the pixel centres of a height x width input (align_corners
    false) and 1.5 pixels beyond each edge: exactly on pixels, between them, and outside."""
    xs = (2 * np.arange(-1.5, width + 1.5) + 1) / width - 1
    ys = (2 * np.arange(-1.5, height + 1.5) + 1) / height - 1
    return np.stack(np.meshgrid(xs, ys), -1)[None].astype(np.float32)


CASES = [
    Case("grid_sample", inputs=[(2, 3, 5, 7), (2, 4, 6, 2)], low=-1.3, high=1.3, torch=sample(align_corners=False)),
    Case("grid_sample", {"align_corners": True}, inputs=[(2, 3, 5, 7), (2, 4, 6, 2)], low=-1.3, high=1.3,
         torch=sample(align_corners=True)),
    # RT-DETR's sampling: value [batch * heads, channels, H, W] at [batch * heads, queries, points, 2]
    Case("grid_sample", inputs=[(16, 32, 8, 10), (16, 30, 4, 2)], low=-1.1, high=1.1, batch_builds=("float32",),
         torch=sample(mode="bilinear", padding_mode="zeros", align_corners=False)),
    Case("grid_sample", {"padding_mode": "border"}, inputs=[(1, 2, 4, 4), (1, 5, 5, 2)], low=-1.5, high=1.5,
         torch=sample(padding_mode="border")),
    Case("grid_sample", {"padding_mode": "border", "align_corners": True}, inputs=[(1, 2, 4, 6), (1, 3, 5, 2)],
         low=-1.5, high=1.5, torch=sample(padding_mode="border", align_corners=True)),
    Case("grid_sample", {"mode": "nearest"}, inputs=[(1, 3, 6, 5), (1, 7, 4, 2)], low=-1.2, high=1.2,
         torch=sample(mode="nearest")),
    Case("grid_sample", {"mode": "nearest", "align_corners": True}, inputs=[(2, 2, 5, 6), (2, 3, 3, 2)],
         low=-1.2, high=1.2, torch=sample(mode="nearest", align_corners=True)),
    Case("grid_sample", name="pixel-centres", inputs=[(1, 2, 3, 4), on_pixels(3, 4)], torch=sample()),
    Case("grid_sample", inputs=[(1, 1, 1, 1), (1, 2, 2, 2)], low=-1.0, high=1.0, torch=sample()),  # one pixel
    # errors
    Case("grid_sample", inputs=[(1, 2, 4, 4), (1, 3, 3, 3)], error="shape-mismatch", message="grid [N, Ho, Wo, 2]"),
    Case("grid_sample", inputs=[(2, 2, 4, 4), (1, 3, 3, 2)], error="shape-mismatch", message="different batch sizes"),
    Case("grid_sample", inputs=[(2, 4, 4), (2, 3, 2)], error="shape-mismatch", message="[N, C, H, W]"),
    Case("grid_sample", inputs=[(1, 2, 4, 4), ((1, 3, 3, 2), "float16")], error="wrong-dtype", message="must agree"),
    Case("grid_sample", {"mode": "bicubic"}, inputs=[(1, 2, 4, 4), (1, 3, 3, 2)], error="invalid-param"),
]
