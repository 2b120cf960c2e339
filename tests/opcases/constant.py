"""Cases of netdsl/ops/constant.py: constant."""

import numpy as np
import torch

from opcases import Case


CASES = [
    Case("constant", {"value": [[1.0, 2.0], [3.0, 4.5]]}, inputs=[], torch=lambda: torch.tensor([[1.0, 2.0], [3.0, 4.5]])),
    Case("constant", {"value": 3, "dtype": "int32"}, inputs=[], torch=lambda: torch.tensor(3, dtype=torch.int32)),
    Case("constant", {"value": 0.5, "shape": [2, 3]}, inputs=[], torch=lambda: torch.full((2, 3), 0.5)),
    Case("constant", {"value": [True, False], "dtype": "bool"}, inputs=[], torch=lambda: torch.tensor([True, False])),
    Case("constant", {"shape": [1, 4, 8]}, inputs=[], torch=lambda w: w["value"], name="from-weights"),
    # CLIP's logit_scale: a weight of no dimensions (numpy gives a scalar for shape (); the case an array)
    Case("constant", {"shape": []}, inputs=[], torch=lambda w: w["value"], name="scalar-from-weights",
         weights=lambda slot, shape, rng: np.asarray(rng.standard_normal(shape), np.float32)),
    Case("constant", {"shape": [2, 3], "buffer": True}, inputs=[], torch=lambda w: w["value"], name="buffer"),
    Case("constant", {}, inputs=[], error="missing-param", message="needs `value`"),
    Case("constant", {"value": [[1, 2], [3]]}, inputs=[], error="invalid-param", message="same shape"),
    Case("constant", {"value": [1, 2], "shape": [3]}, inputs=[], error="invalid-value", message="has shape [2]"),
    Case("constant", {"value": 1.5, "dtype": "int32"}, inputs=[], error="invalid-value", message="fraction"),
]
