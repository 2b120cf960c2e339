"""Cases of netdsl/ops/gather_nd.py: gather_nd (ONNX's GatherND)."""

import numpy as np
import torch

from opcases import Case

RNG = np.random.default_rng(0)


def batched(x, index):
    """GatherND with batch_dims=1: per item of the shared leading axis, x[b][tuple of index[b]]."""
    return torch.stack([item[tuple(i.long().unbind(-1))] for item, i in zip(x, index)])


CASES = [
    Case("gather_nd", {}, inputs=[(4, 5, 3), np.stack([RNG.integers(0, 4, (6,)), RNG.integers(0, 5, (6,))], -1)],
         torch=lambda x, i: x[i[..., 0], i[..., 1]], name="pairs"),
    Case("gather_nd", {}, inputs=[(4, 5), np.stack([RNG.integers(0, 4, (2, 3)), RNG.integers(0, 5, (2, 3))],
                                                  -1).astype(np.int32)],
         torch=lambda x, i: x[i[..., 0].long(), i[..., 1].long()], name="int32-grid"),
    Case("gather_nd", {}, inputs=[((3, 4), "int32"), RNG.integers(0, 3, (5, 1))], torch=lambda x, i: x[i[..., 0]],
         name="rows"),
    Case("gather_nd", {"batch_dims": 1}, inputs=[(2, 4, 3), RNG.integers(0, 4, (2, 5, 1))], torch=batched,
         name="batch-dims"),
    Case("gather_nd", {}, inputs=[(4, 5), (3, 2)], error="wrong-dtype", message="int32 or int64"),
    Case("gather_nd", {}, inputs=[(4, 5), ((3, 3), "int64")], error="invalid-value", message="at most data's rank"),
    Case("gather_nd", {"batch_dims": 1}, inputs=[(2, 4), ((3, 1), "int64")], error="invalid-value",
         message="must be equal"),
]
