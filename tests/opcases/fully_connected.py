"""Cases of netdsl/ops/fully_connected.py: fully_connected, with weights and batch > 1."""

import torch.nn.functional as F

from opcases import Case


CASES = [
    Case("fully_connected", {"out_features": 7}, inputs=[(3, 4, 2, 3)],
         torch=lambda x, w: F.linear(x.flatten(1), w["weight"], w["bias"]), atol=1e-4),
    Case("fully_connected", {"out_features": 5, "bias": False}, inputs=[(3, 6)],
         torch=lambda x, w: F.linear(x, w["weight"])),
]

# Also built with a dynamic batch
CASES += [
    Case("fully_connected", {"out_features": 7}, inputs=[(2, 6, 5, 5)],
         torch=lambda x, w: F.linear(x.flatten(1), w["weight"], w["bias"])),
    Case("fully_connected", {"out_features": 7, "bias": False}, inputs=[(2, 6, 5, 5)],
         torch=lambda x, w: F.linear(x.flatten(1), w["weight"])),
    Case("fully_connected", {"out_features": 10}, inputs=[(2, 8, 4, 4)],
         torch=lambda x, w: F.linear(x.flatten(1), w["weight"], w["bias"]), batch_builds=("float32",)),
    Case("fully_connected", {"out_features": 10, "bias": False}, inputs=[(2, 32)],
         torch=lambda x, w: F.linear(x, w["weight"]), batch_builds=("float32", "float16", "bfloat16")),
]
