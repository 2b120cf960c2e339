"""Cases of netdsl/ops/batch_norm.py: batch_norm of any rank from 2, in float32 and float16."""

import torch.nn.functional as F

from opcases import Case


def bn(eps=1e-5):
    return lambda x, w: F.batch_norm(x, w["running_mean"], w["running_var"], w["weight"], w["bias"], False, 0.0, eps)


def variances(slot, shape, rng):
    import numpy as np

    array = rng.standard_normal(shape) * 0.5
    return np.abs(array) + 0.5 if slot == "running_var" else array


X = (2, 4, 9, 9)


def batch_norm(eps=1e-5):
    return lambda x, w: F.batch_norm(x, w["running_mean"], w["running_var"], w["weight"], w["bias"], False, 0.0, eps)


def half(oracle):
    """The oracle on float16 tensors (inputs and weights), as a float16 PyTorch model computes."""
    return lambda x, w: oracle(x.half(), {k: v.half() for k, v in w.items()})


# float16 inputs: PyTorch rounds its result to float16 (relative step 2^-10), netdsl's reference keeps float32
HALF = {"atol": 2e-3, "rtol": 2e-3}


CASES = [
    Case("batch_norm", {"eps": 1e-3}, inputs=[X], torch=bn(1e-3), weights=variances),
    Case("batch_norm", inputs=[(3, 6)], torch=bn(), weights=variances),
    Case("batch_norm", {}, inputs=[(3, 5)], torch=batch_norm()),
    Case("batch_norm", {"eps": 1e-3}, inputs=[(2, 4, 7)], torch=batch_norm(1e-3)),
    Case("batch_norm", {}, inputs=[(2, 3, 4, 5)], torch=batch_norm()),
    Case("batch_norm", {}, inputs=[(2, 3, 2, 3, 4)], torch=batch_norm()),
    Case("batch_norm", {}, inputs=[(1, 2, 1, 2, 1, 2, 1, 3)], torch=batch_norm()),
    Case("batch_norm", {}, inputs=[((2, 3, 5), "float16")], torch=half(batch_norm()), **HALF),
    Case("batch_norm", {}, inputs=[(6,)], error="shape-mismatch", message="[N, C, ...]"),
]

# Also built with a dynamic batch
CASES += [
    Case("batch_norm", {"eps": 0.001}, inputs=[(2, 6, 5, 5)], torch=bn(0.001), weights=variances),
    Case("batch_norm", {}, inputs=[(2, 8, 4, 4)], torch=bn(), weights=variances,
         batch_builds=("float32", "float16", "bfloat16")),
    Case("batch_norm", {"eps": 0.001}, inputs=[(2, 8)], torch=bn(0.001), weights=variances, batch_builds=("float32",)),
]
CASES += [Case("batch_norm", {}, inputs=[(2, 3, 7, 5)], torch=bn(), weights=variances)]
