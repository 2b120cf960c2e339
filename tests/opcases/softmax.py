"""Cases of netdsl/ops/softmax.py: log_softmax, softmax."""

import torch
import torch.nn.functional as F

from opcases import Case


CASES = [
    Case("softmax", inputs=[(3, 10)], torch=lambda x: F.softmax(x, 1)),
    Case("softmax", {"axis": -1}, inputs=[(2, 3, 4, 5)], low=-20, high=20, torch=lambda x: F.softmax(x, -1), name="wide-range"),
    Case("softmax", inputs=[(2, 10)], torch=lambda x: torch.softmax(x, 1),
         batch_builds=("float32", "float16", "bfloat16")),
    Case("softmax", {"axis": -1}, inputs=[(2, 3, 4, 5)], torch=lambda x: torch.softmax(x, -1)),
    Case("softmax", {"axis": 2}, inputs=[(3, 1, 7, 2)], torch=lambda x: torch.softmax(x, 2)),
    Case("softmax", {"axis": 0}, inputs=[(9,)], torch=lambda x: torch.softmax(x, 0)),  # rank 1: TensorRT needs 2
    Case("softmax", {"axis": -1}, inputs=[()], torch=lambda x: torch.softmax(x, -1)),
    Case("softmax", {"axis": 1}, inputs=[(2, 1)], torch=lambda x: torch.softmax(x, 1)),
    Case("softmax", {"axis": 7}, inputs=[(1, 2, 1, 2, 1, 2, 1, 3)], torch=lambda x: torch.softmax(x, 7)),
    Case("softmax", {"axis": -1}, inputs=[(2, 5)], low=-60, high=60, torch=lambda x: torch.softmax(x, -1)),
    Case("log_softmax", inputs=[(2, 10)], torch=lambda x: torch.log_softmax(x, 1)),
    Case("log_softmax", {"axis": -2}, inputs=[(2, 3, 7, 2)], torch=lambda x: torch.log_softmax(x, -2)),
    Case("log_softmax", {"axis": 0}, inputs=[(5,)], torch=lambda x: torch.log_softmax(x, 0)),
    Case("log_softmax", {"axis": 0}, inputs=[()], torch=lambda x: torch.log_softmax(x, 0)),
    # large logits: log(softmax) would give -inf where log_softmax stays finite
    Case("log_softmax", {"axis": -1}, inputs=[(3, 6)], low=-200, high=200, torch=lambda x: torch.log_softmax(x, -1)),
    # errors
    Case("softmax", {"axis": 0}, inputs=[(2, 10)], error="shape-mismatch", message="mixes samples"),
    Case("log_softmax", {"axis": -3}, inputs=[(3, 2, 4)], error="shape-mismatch", message="mixes samples"),
    Case("softmax", {"axis": 3}, inputs=[(2, 3, 4)], error="shape-mismatch", message="out of range"),
    Case("softmax", {"axis": 1}, inputs=[()], error="shape-mismatch", message="out of range"),
    Case("log_softmax", inputs=[((2, 3), "int32")], error="wrong-dtype"),
]

# On a [2, C, H, W] feature map and a [2, 10] batch of logits, also built with a dynamic batch
CASES += [
    Case("softmax", inputs=[(2, 6, 5, 5)], torch=lambda x: F.softmax(x, 1)),
    Case("softmax", {"axis": -1}, inputs=[(2, 6, 5, 5)], torch=lambda x: F.softmax(x, -1)),
    Case("softmax", {"axis": -1}, inputs=[(2, 8, 4, 5)], torch=lambda x: F.softmax(x, -1), batch_builds=("float32",)),
]
