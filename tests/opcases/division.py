"""Cases of netdsl/ops/division.py (floor_div, mod) and of div on integers. Divisors are never 0 (undefined in
TensorRT and ONNX; PyTorch raises on integers). Float quotients a / b are k + f with f in [0.2, 0.8], far from
an integer, so that rounding (float16's too) never moves a floor: mod and floor_div jump there."""

import numpy as np
import torch

from opcases import Case

rng = np.random.default_rng(29)


def integers(shape, dtype, low=-20, high=21):
    return rng.integers(low, high, shape).astype(dtype)


def divisors(shape, dtype):
    values = rng.integers(1, 8, shape) * rng.choice([-1, 1], shape)
    return values.astype(dtype)


def float_pair(shape, divisor_shape=None):
    """(a, b): b of magnitude 0.5 to 3, either sign; a / b = k + f, k in [-5, 5], f in [0.2, 0.8]."""
    divisor_shape = shape if divisor_shape is None else divisor_shape
    b = rng.uniform(0.5, 3, divisor_shape) * rng.choice([-1, 1], divisor_shape)
    a = b * (rng.integers(-5, 6, shape) + rng.uniform(0.2, 0.8, shape))
    return a.astype(np.float32), b.astype(np.float32)


a32, b32 = float_pair((3, 8))
wide, narrow = float_pair((2, 3, 8), (8,))
TRUNC = lambda a, b: torch.div(a, b, rounding_mode="trunc")  # noqa: E731
FLOOR = lambda a, b: torch.div(a, b, rounding_mode="floor")  # noqa: E731

CASES = [
    Case("div", inputs=[integers((4, 6), "int32"), divisors((6,), "int32")], torch=TRUNC, name="int32"),
    Case("div", inputs=[integers((2, 3, 5), "int64"), divisors((2, 3, 5), "int64")], torch=TRUNC, name="int64"),
    Case("floor_div", inputs=[integers((4, 6), "int32"), divisors((6,), "int32")], torch=FLOOR, name="int32"),
    Case("floor_div", inputs=[integers((2, 3, 5), "int64"), divisors((3, 1), "int64")], torch=FLOOR, name="int64"),
    Case("floor_div", inputs=[a32, b32], torch=FLOOR, name="float32"),
    Case("mod", inputs=[integers((4, 6), "int32"), divisors((6,), "int32")], torch=torch.remainder, name="int32"),
    Case("mod", inputs=[integers((2, 3, 5), "int64"), divisors((5,), "int64")], torch=torch.remainder,
         name="int64"),
    Case("mod", {"fmod": True}, inputs=[integers((4, 6), "int32"), divisors((4, 1), "int32")], torch=torch.fmod,
         name="fmod-int32"),
    Case("mod", {"fmod": True}, inputs=[integers((2, 3, 5), "int64"), divisors((2, 3, 5), "int64")],
         torch=torch.fmod, name="fmod-int64"),
    Case("mod", inputs=[a32, b32], torch=torch.remainder, name="float32"),
    Case("mod", {"fmod": True}, inputs=[a32, b32], torch=torch.fmod, name="fmod-float32"),
    Case("mod", inputs=[wide, narrow], torch=torch.remainder, name="float32-broadcast"),
    # errors
    Case("mod", inputs=[((2, 3), "int32"), ((3,), "int64")], error="wrong-dtype", message="different dtypes"),
    Case("floor_div", inputs=[((2, 3), "bool"), ((3,), "bool")], error="wrong-dtype", message="floor_div takes"),
    Case("mod", inputs=[(2, 3), (4,)], error="shape-mismatch", message="do not broadcast"),
]
