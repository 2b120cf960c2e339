import torch

from opcases import Case

CASES = [
    Case("cumsum", {"dim": 1}, inputs=[(2, 5)], torch=lambda x: torch.cumsum(x, 1)),
    Case("cumsum", {"dim": 0}, inputs=[(7,)], torch=lambda x: torch.cumsum(x, 0)),
    Case("cumsum", {"dim": -1}, inputs=[()], torch=lambda x: torch.cumsum(x, -1)),
    Case("cumsum", {"dim": -3}, inputs=[(3, 4, 1, 2)], torch=lambda x: torch.cumsum(x, -3)),
    Case("cumsum", {"dim": 0}, inputs=[(9, 3)], torch=lambda x: torch.cumsum(x, 0)),
    Case("cumsum", {"dim": 2}, inputs=[((2, 3, 6), "int32")], torch=lambda x: torch.cumsum(x, 2)),
    Case("cumsum", {"dim": 6}, inputs=[(1, 2, 1, 2, 1, 2, 5, 1)], torch=lambda x: torch.cumsum(x, 6)),  # rank 8
    Case("cumsum", {"dim": 2}, inputs=[(2, 3)], error="shape-mismatch", message="out of range"),
    Case("cumsum", {"dim": 0}, inputs=[((4,), "bool")], error="wrong-dtype"),
    Case("cumsum", inputs=[(4,)], error="missing-param"),
]
