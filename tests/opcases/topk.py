import numpy as np
import torch

from opcases import Case


def distinct(shape, dtype):
    """Integers without ties (the order of equal values is unspecified, in torch as in TensorRT)."""
    size = int(np.prod(shape))
    return (np.random.default_rng(size).permutation(size) - size // 2).reshape(shape).astype(dtype)


def topk(k, dim=-1, largest=True):
    return lambda x: tuple(torch.topk(x, k, dim, largest))


CASES = [
    Case("topk", {"k": 3}, inputs=[(2, 7)], torch=topk(3)),
    Case("topk", {"k": 2, "dim": 1, "largest": False}, inputs=[(3, 5, 4)], torch=topk(2, 1, False)),
    Case("topk", {"k": 4, "dim": 0}, inputs=[(9,)], torch=topk(4, 0)),  # rank 1: TensorRT needs 2
    Case("topk", {"k": 1}, inputs=[()], torch=topk(1)),
    Case("topk", {"k": 5, "dim": -3}, inputs=[(2, 5, 3, 1)], torch=topk(5, -3)),  # k = the whole axis
    Case("topk", {"k": 2, "dim": 0}, inputs=[distinct((6, 3), "int32")], torch=topk(2, 0)),
    Case("topk", {"k": 3, "largest": False}, inputs=[distinct((2, 11), "int64")], torch=topk(3, -1, False)),
    Case("topk", {"k": 2, "dim": 4}, inputs=[(1, 2, 1, 2, 3, 1, 1, 2)], torch=topk(2, 4)),  # rank 8
    # sorted: false lets torch choose any order; netdsl (TensorRT) sorts, one of the orders allowed
    Case("topk", {"k": 3, "sorted": False}, inputs=[(4, 6)], torch=topk(3)),
    Case("topk", {"k": 3840}, inputs=[(1, 4000)], torch=topk(3840)),  # TensorRT's largest k
    Case("argmax", {"dim": 1}, inputs=[(3, 7)], torch=lambda x: torch.argmax(x, 1)),
    Case("argmax", {"dim": -1, "keepdim": True}, inputs=[(2, 3, 5)], torch=lambda x: torch.argmax(x, -1, True)),
    Case("argmax", inputs=[(2, 3, 4)], torch=torch.argmax),  # dim null: index into the flattened input
    Case("argmax", {"keepdim": True}, inputs=[(3, 5)], torch=lambda x: torch.argmax(x, None, True)),
    Case("argmax", {"dim": 0}, inputs=[(8,)], torch=lambda x: torch.argmax(x, 0)),
    Case("argmax", {"dim": 0}, inputs=[()], torch=lambda x: torch.argmax(x, 0)),
    Case("argmax", {"dim": 0}, inputs=[distinct((5, 2), "int8")], torch=lambda x: torch.argmax(x, 0)),
    Case("argmin", {"dim": 2}, inputs=[(2, 3, 4, 5)], torch=lambda x: torch.argmin(x, 2)),
    Case("argmin", inputs=[distinct((4, 5), "int32")], torch=torch.argmin),
    Case("argmin", {"dim": -2, "keepdim": True}, inputs=[(1, 6, 1)], torch=lambda x: torch.argmin(x, -2, True)),
    # errors
    Case("topk", {"k": 8}, inputs=[(2, 7)], error="invalid-value", message="larger than axis 1's size 7"),
    Case("topk", {"k": 3841}, inputs=[(1, 4000)], error="invalid-value", message="above 3840"),
    Case("topk", {"k": 1, "dim": 2}, inputs=[(2, 7)], error="shape-mismatch", message="out of range"),
    Case("topk", {"k": 0}, inputs=[(2, 7)], error="invalid-param"),
    Case("topk", {"k": 1}, inputs=[((2, 7), "bool")], error="wrong-dtype"),
    Case("argmax", {"dim": [0, 1]}, inputs=[(2, 7)], error="invalid-param", message="an axis, or null"),
    Case("argmin", {"dim": -3}, inputs=[(2, 7)], error="shape-mismatch", message="out of range"),
]
