"""Cases of netdsl/ops/gather_elements.py: torch.gather along each axis, index sizes below x's on the other
axes, int32 and int64 indices, integer data (RT-DETR's boxes.gather(1, index) is the last case's shape)."""

import numpy as np
import torch

from opcases import Case

rng = np.random.default_rng(30)


def index(shape, size, dtype="int64"):
    return rng.integers(0, size, shape).astype(dtype)


def x(shape, dtype="float32"):
    values = rng.standard_normal(shape) if dtype == "float32" else rng.integers(-50, 50, shape)
    return values.astype(dtype)


def gather(dim):
    return lambda x, index: torch.gather(x, dim, index.long())


CASES = [
    Case("gather_elements", {"dim": 0}, inputs=[x((4, 3)), index((5, 3), 4)], torch=gather(0)),
    Case("gather_elements", {"dim": 1}, inputs=[x((2, 6, 5)), index((2, 3, 5), 6, "int32")], torch=gather(1)),
    Case("gather_elements", {"dim": -1}, inputs=[x((2, 3, 7)), index((1, 2, 4), 7)], torch=gather(-1)),
    Case("gather_elements", {"dim": 2}, inputs=[x((2, 3, 4), "int64"), index((2, 3, 2), 4)], torch=gather(2)),
    Case("gather_elements", {"dim": 1}, inputs=[x((2, 40, 4)), index((2, 10, 4), 40)], torch=gather(1)),
    # errors
    Case("gather_elements", {"dim": 0}, inputs=[(4, 3), ((2, 3), "float32")], error="wrong-dtype",
         message="must be int32 or int64"),
    Case("gather_elements", {"dim": 0}, inputs=[(4, 3), ((2,), "int64")], error="shape-mismatch",
         message="rank 1"),
    Case("gather_elements", {"dim": 0}, inputs=[(4, 3), ((2, 5), "int64")], error="shape-mismatch",
         message="axis 1 has 5 entries"),
    Case("gather_elements", {"dim": 2}, inputs=[(4, 3), ((2, 3), "int64")], error="invalid-value"),
]
