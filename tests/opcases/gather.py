"""Cases of netdsl/ops/gather.py: gather."""

import numpy as np
import torch

from opcases import Case


CASES = [
    # gather
    Case("gather", {"dim": 1, "index": [3, 0, -1, 3]}, inputs=[(2, 5, 3)],
         torch=lambda x: x.index_select(1, torch.tensor([3, 0, 4, 3]))),
    Case("gather", {"dim": 1, "index": 3}, inputs=[(2, 5, 3)], torch=lambda x: x[:, 3]),
    Case("gather", {"dim": 0, "index": -1}, inputs=[((4,), "int32")], torch=lambda x: x[-1]),
    Case("gather", {"dim": -1, "index": [1]}, inputs=[((3, 2), "bool")],
         torch=lambda x: x.index_select(-1, torch.tensor([1]))),
    Case("gather", {"dim": 1, "index": [5]}, inputs=[(2, 5)], error="invalid-value", message="index 5"),
    Case("gather", {"dim": 1, "index": []}, inputs=[(2, 5)], error="invalid-param"),
    # an index tensor as input 2: its shape replaces dimension `dim` (Swin: table[index], table [169, heads])
    Case("gather", {"dim": 0}, inputs=[(13, 3), np.random.default_rng(0).integers(0, 13, (4, 5))],
         torch=lambda x, i: x[i], name="tensor-index"),
    Case("gather", {"dim": -2}, inputs=[(2, 5, 3), np.array([4, 0, 4], np.int32)],
         torch=lambda x, i: x[:, i.long()], name="int32-index"),
    Case("gather", {"dim": 1}, inputs=[((2, 5), "int32"), np.array(3)], torch=lambda x, i: x[:, i],
         name="scalar-index"),
    Case("gather", {"dim": 2}, inputs=[((1, 2, 3, 2), "float16"), np.array([[2, 1], [0, 0]])],
         torch=lambda x, i: x.half()[:, :, i], atol=1e-3, rtol=1e-3, name="float16-tensor-index"),
    Case("gather", {"dim": 0}, inputs=[(4, 2), (3,)], error="wrong-dtype", message="int32 or int64"),
    Case("gather", {"dim": 0, "index": [1]}, inputs=[(4, 2), ((3,), "int32")], error="invalid-value",
         message="one of them"),
    Case("gather", {"dim": 0}, inputs=[(4, 2)], error="missing-param", message="index tensor"),
    Case("gather", {"dim": 0, "index": [2, 0]}, inputs=[((3, 2), "bfloat16")],
         torch=lambda x: x.bfloat16().index_select(0, torch.tensor([2, 0])), atol=8e-3, rtol=8e-3),
]
