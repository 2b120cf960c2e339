import torch

from opcases import Case


def prod(x, dims, keepdim=False):
    """torch.prod takes one axis at a time: the highest first, so the others keep their numbers."""
    for dim in sorted((d % max(x.dim(), 1) for d in dims), reverse=True):
        x = torch.prod(x, dim, keepdim=keepdim)
    return x


CASES = [
    Case("reduce_sum", {"dim": 1}, inputs=[(2, 3, 4)], torch=lambda x: torch.sum(x, 1)),
    Case("reduce_sum", {"dim": [0, -1], "keepdim": True}, inputs=[(3, 5, 7)],
         torch=lambda x: torch.sum(x, (0, -1), keepdim=True)),
    Case("reduce_sum", inputs=[(2, 3, 4, 5)], torch=torch.sum),  # dim null: every axis, a scalar
    Case("reduce_sum", {"dim": None, "keepdim": True}, inputs=[(3, 1, 2)], torch=lambda x: torch.sum(x, (0, 1, 2), keepdim=True)),
    Case("reduce_sum", {"dim": 0}, inputs=[()], torch=lambda x: torch.sum(x, 0)),
    Case("reduce_sum", {"dim": -1}, inputs=[(7,)], torch=lambda x: torch.sum(x, -1)),
    Case("reduce_sum", {"dim": 2}, inputs=[((2, 3, 5), "int32")], torch=lambda x: torch.sum(x, 2)),
    Case("reduce_sum", {"dim": [1, 3, 5, 7]}, inputs=[(1, 2, 1, 3, 2, 1, 2, 3)],
         torch=lambda x: torch.sum(x, (1, 3, 5, 7))),  # rank 8
    Case("reduce_mean", {"dim": [-2, -1]}, inputs=[(3, 4, 5, 6)], torch=lambda x: torch.mean(x, (-2, -1))),
    Case("reduce_mean", {"dim": 0, "keepdim": True}, inputs=[(9, 2)], torch=lambda x: torch.mean(x, 0, keepdim=True)),
    Case("reduce_mean", inputs=[(1,)], torch=torch.mean),
    Case("reduce_max", {"dim": 1}, inputs=[(3, 5, 2)], torch=lambda x: torch.amax(x, 1)),
    Case("reduce_max", {"dim": [0, 2], "keepdim": True}, inputs=[((4, 3, 2), "int8")],
         torch=lambda x: torch.amax(x, (0, 2), keepdim=True)),
    Case("reduce_max", inputs=[((5, 3), "int64")], torch=torch.amax),
    Case("reduce_min", {"dim": -1}, inputs=[(2, 3, 7)], torch=lambda x: torch.amin(x, -1)),
    Case("reduce_min", {"dim": 0}, inputs=[((6, 2), "int8")], torch=lambda x: torch.amin(x, 0)),
    Case("reduce_prod", {"dim": 1}, inputs=[(2, 5, 3)], low=0.5, high=1.5, torch=lambda x: torch.prod(x, 1)),
    Case("reduce_prod", {"dim": [0, 2], "keepdim": True}, inputs=[(3, 2, 4)], low=0.5, high=1.5,
         torch=lambda x: prod(x, (0, 2), keepdim=True)),
    Case("reduce_prod", {"dim": 1}, inputs=[((2, 4), "int32")], torch=lambda x: torch.prod(x, 1)),
    # errors
    Case("reduce_sum", {"dim": 3}, inputs=[(2, 3, 4)], error="shape-mismatch", message="out of range"),
    Case("reduce_sum", {"dim": [1, -2]}, inputs=[(2, 3, 4)], error="invalid-value", message="names an axis twice"),
    Case("reduce_sum", {"dim": []}, inputs=[(2, 3)], error="invalid-param", message="list of 1 to 8 axes"),
    Case("reduce_sum", {"dim": 1.5}, inputs=[(2, 3)], error="invalid-param"),
    Case("reduce_mean", {"dim": 1}, inputs=[((2, 3), "int32")], error="wrong-dtype"),
    Case("reduce_sum", {"dim": 1}, inputs=[((2, 3), "bool")], error="wrong-dtype"),
    Case("reduce_max", {"dim": 1}, inputs=[((2, 3), "uint8")], error="wrong-dtype"),
]
