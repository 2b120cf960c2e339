"""Cases of netdsl/ops/lrn.py: lrn, with alpha's scaling by the window size."""

import torch.nn.functional as F

from opcases import Case


CASES = [
    # LRN: TensorRT divides alpha by the window (the operator reference's example), as PyTorch does
    Case("lrn", {"size": 5, "alpha": 0.5, "beta": 0.75, "k": 2.0}, inputs=[(2, 7, 3, 3)],
         torch=lambda x: F.local_response_norm(x, 5, 0.5, 0.75, 2.0)),
    Case("lrn", {"size": 3, "alpha": 1.0, "beta": 1.0, "k": 0.1}, inputs=[(1, 5, 2, 2)],
         torch=lambda x: F.local_response_norm(x, 3, 1.0, 1.0, 0.1)),
    # TensorRT's LRN fails on rank 3 and normalizes another axis on rank 5: refused, not built wrong
    Case("lrn", {"size": 3}, inputs=[(2, 5, 7)], error="shape-mismatch", message="needs an input [N, C, H, W]"),
    Case("lrn", {"size": 3}, inputs=[(1, 5, 2, 3, 3)], error="shape-mismatch", message="found [1, 5, 2, 3, 3]"),
]

# Also built with a dynamic batch
CASES += [
    Case("lrn", {"size": 5, "alpha": 0.001, "beta": 0.75, "k": 2}, inputs=[(2, 6, 5, 5)],
         torch=lambda x: F.local_response_norm(x, 5, 0.001, 0.75, 2)),
    Case("lrn", {"size": 3}, inputs=[(2, 6, 5, 5)], torch=lambda x: F.local_response_norm(x, 3)),
    Case("lrn", {"size": 5}, inputs=[(2, 8, 4, 4)], torch=lambda x: F.local_response_norm(x, 5),
         batch_builds=("float32",)),
]
CASES += [Case("lrn", {"size": 5}, inputs=[(2, 3, 7, 5)], torch=lambda x: F.local_response_norm(x, 5))]
