"""Cases of netdsl/ops/pixel_shuffle.py: pixel_shuffle, pixel_unshuffle."""

import torch

from opcases import Case


CASES = [
    # pixel shuffle
    Case("pixel_shuffle", {"upscale_factor": 2}, inputs=[(3, 8, 3, 5)], torch=torch.nn.PixelShuffle(2)),
    Case("pixel_shuffle", {"upscale_factor": 3}, inputs=[(9, 2, 1)], torch=torch.nn.PixelShuffle(3)),
    Case("pixel_shuffle", {"upscale_factor": 2}, inputs=[(2, 1, 4, 2, 2)], torch=torch.nn.PixelShuffle(2)),
    Case("pixel_shuffle", {"upscale_factor": 2}, inputs=[(1, 6, 2, 2)], error="shape-mismatch", message="divisible"),
    Case("pixel_unshuffle", {"downscale_factor": 2}, inputs=[(3, 2, 6, 4)], torch=torch.nn.PixelUnshuffle(2)),
    Case("pixel_unshuffle", {"downscale_factor": 3}, inputs=[((1, 3, 3), "int32")], torch=torch.nn.PixelUnshuffle(3)),
    Case("pixel_unshuffle", {"downscale_factor": 2}, inputs=[(1, 2, 5, 4)], error="shape-mismatch", message="divisible"),
    Case("pixel_unshuffle", {"downscale_factor": 2}, inputs=[(4, 4)], error="shape-mismatch", message="rank 3"),
]
