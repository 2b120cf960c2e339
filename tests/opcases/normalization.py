"""Cases of netdsl/ops/normalization.py: group_norm, instance_norm, layer_norm."""

import torch.nn.functional as F

from opcases import Case


def layer_norm(shape, eps=1e-5):
    return lambda x, w: F.layer_norm(x, shape, w.get("weight"), w.get("bias"), eps)


def group_norm(groups, eps=1e-5):
    return lambda x, w: F.group_norm(x, groups, w.get("weight"), w.get("bias"), eps)


def instance_norm(eps=1e-5):
    return lambda x, w: F.instance_norm(x, weight=w.get("weight"), bias=w.get("bias"), eps=eps)


def half(oracle):
    """The oracle on float16 tensors (inputs and weights), as a float16 PyTorch model computes."""
    return lambda x, w: oracle(x.half(), {k: v.half() for k, v in w.items()})


# float16 inputs: PyTorch rounds its result to float16 (relative step 2^-10), netdsl's reference keeps float32
HALF = {"atol": 2e-3, "rtol": 2e-3}


CASES = [
    Case("layer_norm", {"normalized_shape": 5}, inputs=[(2, 3, 4, 5)], torch=layer_norm((5,))),
    Case("layer_norm", {"normalized_shape": [4, 5]}, inputs=[(2, 3, 4, 5)], torch=layer_norm((4, 5))),
    Case("layer_norm", {"normalized_shape": [3, 4, 5], "eps": 1e-3}, inputs=[(3, 4, 5)], torch=layer_norm((3, 4, 5), 1e-3)),
    Case("layer_norm", {"normalized_shape": [7]}, inputs=[(7,)], torch=layer_norm((7,))),
    Case("layer_norm", {"normalized_shape": 6, "elementwise_affine": False}, inputs=[(3, 6)], torch=layer_norm((6,))),
    Case("layer_norm", {"normalized_shape": 9, "bias": False}, inputs=[(2, 9)], torch=layer_norm((9,))),
    Case("layer_norm", {"normalized_shape": 1}, inputs=[(4, 1)], torch=layer_norm((1,))),  # var 0: the bias
    Case("layer_norm", {"normalized_shape": [3, 5]}, inputs=[(1, 2, 1, 2, 1, 2, 3, 5)], torch=layer_norm((3, 5))),
    Case("layer_norm", {"normalized_shape": 8}, inputs=[((3, 2, 8), "float16")], torch=half(layer_norm((8,))), **HALF),
    Case("layer_norm", {"normalized_shape": 4}, inputs=[(2, 4)], low=1000, high=1010, torch=layer_norm((4,)),
         name="offset"),  # a large mean: the statistics must not cancel
    Case("group_norm", {"num_groups": 2}, inputs=[(2, 6, 4, 5)], torch=group_norm(2)),
    Case("group_norm", {"num_groups": 3, "affine": False}, inputs=[(3, 6, 7)], torch=group_norm(3)),
    Case("group_norm", {"num_groups": 1}, inputs=[(2, 4, 3, 5)], torch=group_norm(1)),
    Case("group_norm", {"num_groups": 6}, inputs=[(2, 6, 2, 3, 3)], torch=group_norm(6)),
    Case("group_norm", {"num_groups": 2, "eps": 1e-3}, inputs=[(4, 6)], torch=group_norm(2, 1e-3)),
    Case("group_norm", {"num_groups": 2}, inputs=[(2, 4, 1, 2, 1, 2, 1, 3)], torch=group_norm(2)),
    Case("group_norm", {"num_groups": 4}, inputs=[((2, 8, 3, 3), "float16")], torch=half(group_norm(4)), **HALF),
    Case("instance_norm", {}, inputs=[(2, 3, 7)], torch=instance_norm()),
    Case("instance_norm", {"affine": True}, inputs=[(3, 3, 4, 5)], torch=instance_norm()),
    Case("instance_norm", {"eps": 1e-3, "affine": True}, inputs=[(1, 2, 2, 3, 4)], torch=instance_norm(1e-3)),
    # errors
    Case("layer_norm", {"normalized_shape": [4, 4]}, inputs=[(2, 3, 4, 5)], error="shape-mismatch",
         message="must be the last dimensions"),
    Case("layer_norm", {"normalized_shape": [2, 3, 4]}, inputs=[(3, 4)], error="shape-mismatch",
         message="must be the last dimensions"),
    Case("layer_norm", {"normalized_shape": 0}, inputs=[(3, 4)], error="invalid-param", message="normalized_shape"),
    Case("layer_norm", {"normalized_shape": 4, "eps": 0}, inputs=[(3, 4)], error="invalid-param", message="eps"),
    Case("layer_norm", {}, inputs=[(3, 4)], error="missing-param", message="normalized_shape"),
    Case("layer_norm", {"normalized_shape": 4}, inputs=[((3, 4), "int32")], error="wrong-dtype"),
    Case("group_norm", {"num_groups": 4}, inputs=[(2, 6, 3)], error="shape-mismatch", message="does not divide"),
    Case("group_norm", {"num_groups": 1}, inputs=[(6,)], error="shape-mismatch", message="[N, C, ...]"),
    Case("instance_norm", {}, inputs=[(2, 6)], error="shape-mismatch", message="at least one dimension after"),
]
