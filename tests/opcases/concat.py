"""Cases of netdsl/ops/concat.py: concat, stack."""

import torch

from opcases import Case


CASES = [
    Case("concat", {"axis": -1}, inputs=[(2, 3, 4), (2, 3, 1), (2, 3, 2)], torch=lambda a, b, c: torch.cat([a, b, c], -1)),
    # concat / stack
    Case("concat", {"axis": 0}, inputs=[(2, 3), (1, 3), (4, 3)], torch=lambda a, b, c: torch.cat([a, b, c], 0)),
    Case("concat", {"axis": -1}, inputs=[(3,), (5,)], torch=lambda a, b: torch.cat([a, b], -1)),
    Case("concat", {"axis": 3}, inputs=[((1, 2, 1, 2, 1), "int32"), ((1, 2, 1, 3, 1), "int32")],
         torch=lambda a, b: torch.cat([a, b], 3)),
    Case("concat", {"axis": 0}, inputs=[(), ()], error="shape-mismatch", message="scalars"),
    Case("concat", {"axis": 0}, inputs=[(2, 3), (2, 4)], error="shape-mismatch", message="outside axis 0"),
    Case("concat", {"axis": 0}, inputs=[(2, 3), ((2, 3), "int32")], error="wrong-dtype", message="int32"),
    Case("stack", {}, inputs=[(2, 3), (2, 3)], torch=lambda a, b: torch.stack([a, b])),
    Case("stack", {"dim": -1}, inputs=[((3,), "bool"), ((3,), "bool"), ((3,), "bool")],
         torch=lambda a, b, c: torch.stack([a, b, c], -1)),
    Case("stack", {"dim": 0}, inputs=[(), ()], torch=lambda a, b: torch.stack([a, b])),
    Case("stack", {"dim": 1}, inputs=[(2, 3)], torch=lambda a: torch.stack([a], 1)),
    Case("stack", {}, inputs=[(2, 3), (3, 2)], error="shape-mismatch", message="equal shapes"),
    Case("concat", {"axis": 1}, inputs=[((3, 1), "bfloat16"), ((3, 2), "bfloat16")],
         torch=lambda a, b: torch.cat([a.bfloat16(), b.bfloat16()], 1), atol=8e-3, rtol=8e-3),
]

# Also built with a dynamic batch
CASES += [
    Case("concat", inputs=[(2, 4, 3, 5)] * 2, torch=lambda a, b: torch.cat([a, b], 1)),
    Case("concat", {"axis": -1}, inputs=[(2, 4, 3, 5)] * 3, torch=lambda a, b, c: torch.cat([a, b, c], -1)),
    Case("concat", inputs=[(2, 8, 4, 4)] * 2, torch=lambda a, b: torch.cat([a, b], 1), batch_builds=("float32",)),
    Case("concat", {"axis": 3}, inputs=[(2, 8, 4, 4)] * 2, torch=lambda a, b: torch.cat([a, b], 3),
         batch_builds=("float32",)),
]
