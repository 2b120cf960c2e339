import torch
import torch.nn.functional as F

from opcases import Case

CASES = [
    Case("matmul", inputs=[(3, 4), (4, 5)], torch=torch.matmul),
    Case("matmul", inputs=[(2, 1, 3, 4), (5, 4, 6)], torch=torch.matmul),  # batch dims broadcast, ranks 4 and 3
    Case("matmul", inputs=[(4,), (4, 5)], torch=torch.matmul),  # vector @ matrix
    Case("matmul", inputs=[(2, 3, 4), (4,)], torch=torch.matmul),  # batched matrix @ vector
    Case("matmul", inputs=[(4,), (3, 2, 4, 5)], torch=torch.matmul),
    Case("matmul", inputs=[(7,), (7,)], torch=torch.matmul),  # dot product: a scalar
    Case("matmul", {"transpose_a": True}, inputs=[(3, 4, 2), (4, 5)], torch=lambda a, b: a.transpose(-1, -2) @ b),
    Case("matmul", {"transpose_b": True}, inputs=[(2, 3, 4), (1, 5, 4)], torch=lambda a, b: a @ b.transpose(-1, -2)),
    Case("matmul", {"transpose_a": True, "transpose_b": True}, inputs=[(4, 3), (5, 4)],
         torch=lambda a, b: a.T @ b.T),
    Case("matmul", {"transpose_b": True}, inputs=[(4,), (5, 4)], torch=lambda a, b: a @ b.T),
    Case("matmul", inputs=[(1, 1, 1, 1, 1, 2, 1, 3), (2, 1, 3, 1)], torch=torch.matmul),  # rank 8
    Case("matmul", inputs=[(1, 1), (1, 1)], torch=torch.matmul),
    # errors
    Case("matmul", inputs=[(3, 4), (5, 6)], error="shape-mismatch", message="inner dimensions differ"),
    Case("matmul", inputs=[(2, 3, 4), (3, 4, 5)], error="shape-mismatch", message="batch dimensions do not broadcast"),
    Case("matmul", inputs=[(), (3,)], error="shape-mismatch", message="is a scalar"),
    Case("matmul", {"transpose_a": True}, inputs=[(3,), (3, 2)], error="invalid-value", message="needs a matrix"),
    Case("matmul", inputs=[((2, 2), "int32"), ((2, 2), "int32")], error="wrong-dtype"),
    Case("matmul", inputs=[(2, 2)], error="input-count"),

    Case("linear", {"out_features": 5}, inputs=[(3, 4)], torch=lambda x, w: F.linear(x, w["weight"], w["bias"])),
    Case("linear", {"out_features": 3, "in_features": 4}, inputs=[(2, 7, 4)],
         torch=lambda x, w: F.linear(x, w["weight"], w["bias"])),  # rank 3: the last axis only
    Case("linear", {"out_features": 1, "bias": False}, inputs=[(6,)], torch=lambda x, w: F.linear(x, w["weight"])),
    Case("linear", {"out_features": 2}, inputs=[(2, 1, 3, 5, 9)], torch=lambda x, w: F.linear(x, w["weight"], w["bias"])),
    Case("linear", {"out_features": 2, "in_features": 5}, inputs=[(3, 4)], error="shape-mismatch",
         message="in_features is 5"),
    Case("linear", {"out_features": 2}, inputs=[()], error="shape-mismatch", message="rank 1 or more"),
    Case("linear", {"out_features": 0}, inputs=[(3, 4)], error="invalid-param"),
]
