"""Cases of netdsl/ops/rms_norm.py: rms_norm."""

import torch.nn.functional as F

from opcases import Case


def rms_norm(shape, eps=None):
    return lambda x, w: F.rms_norm(x, shape, w.get("weight"), eps)


def half(oracle):
    """The oracle on float16 tensors (inputs and weights), as a float16 PyTorch model computes."""
    return lambda x, w: oracle(x.half(), {k: v.half() for k, v in w.items()})


# float16 inputs: PyTorch rounds its result to float16 (relative step 2^-10), netdsl's reference keeps float32
HALF = {"atol": 2e-3, "rtol": 2e-3}


CASES = [
    Case("rms_norm", {"normalized_shape": 5}, inputs=[(2, 3, 5)], torch=rms_norm((5,))),
    Case("rms_norm", {"normalized_shape": [4, 5], "eps": 1e-6}, inputs=[(2, 3, 4, 5)], torch=rms_norm((4, 5), 1e-6)),
    Case("rms_norm", {"normalized_shape": 6, "elementwise_affine": False}, inputs=[(3, 6)], torch=rms_norm((6,))),
    Case("rms_norm", {"normalized_shape": [7]}, inputs=[(7,)], torch=rms_norm((7,))),
    Case("rms_norm", {"normalized_shape": 3, "eps": 0}, inputs=[(1, 2, 1, 2, 1, 2, 1, 3)], torch=rms_norm((3,), 0.0)),
    Case("rms_norm", {"normalized_shape": 8}, inputs=[((3, 2, 8), "float16")], torch=half(rms_norm((8,))), **HALF),
    Case("rms_norm", {"normalized_shape": 8}, inputs=[(2, 8)], low=300, high=600, torch=rms_norm((8,)),
         name="large"),  # squares beyond float16's range (float16 builds keep the statistics in float32)
    Case("rms_norm", {"normalized_shape": [3]}, inputs=[(3, 4)], error="shape-mismatch", message="last dimensions"),
    Case("rms_norm", {"normalized_shape": 4, "eps": -1e-6}, inputs=[(3, 4)], error="invalid-param", message="eps"),
]
