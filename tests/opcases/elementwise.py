"""Cases of netdsl/ops/elementwise.py: the binary kinds (arithmetic, comparisons, logical) with numpy broadcasting."""

import torch

from opcases import Case


CASES = [
    Case("add", inputs=[(2, 3, 4), (2, 3, 4), (2, 3, 4)], torch=lambda a, b, c: a + b + c),
    Case("add", inputs=[(3, 1, 5), (4, 1)], torch=lambda a, b: a + b),  # ranks 3 and 2
    Case("add", inputs=[(2, 3, 4), ()], torch=lambda a, b: a + b),  # a scalar
    Case("add", inputs=[(), ()], torch=lambda a, b: a + b),
    Case("add", inputs=[((2, 3), "int32"), ((3,), "int32")], torch=lambda a, b: a + b),
    Case("sub", inputs=[(5,), (2, 3, 1, 5)], torch=lambda a, b: a - b),
    Case("mul", inputs=[(1, 4, 1, 1, 1, 1, 1, 2), (4, 1, 1, 3, 1, 1, 2)], torch=lambda a, b: a * b),  # rank 8
    Case("div", inputs=[(2, 3), (3,)], low=0.5, high=2.0, torch=lambda a, b: a / b),
    Case("pow", inputs=[(2, 3), (3,)], low=0.5, high=2.0, torch=lambda a, b: a ** b),
    Case("max", inputs=[(2, 1, 4), (3, 1), (4,)], torch=lambda a, b, c: torch.maximum(torch.maximum(a, b), c)),
    Case("min", inputs=[((4, 3), "int64"), ((3,), "int64")], torch=torch.minimum),
    Case("equal", inputs=[((3, 4), "int32"), ((4,), "int32")], torch=torch.eq),
    Case("less", inputs=[(3, 4), (4,)], torch=torch.lt),
    Case("greater", inputs=[(3, 4), (3, 1)], torch=torch.gt),
    Case("logical_and", inputs=[((3, 4), "bool"), ((4,), "bool")], torch=torch.logical_and),
    Case("logical_or", inputs=[((3, 4), "bool"), ((3, 4), "bool")], torch=torch.logical_or),
    Case("logical_xor", inputs=[((2, 4), "bool"), ((1, 4), "bool")], torch=torch.logical_xor),
    # errors
    Case("add", inputs=[(2, 3), (4,)], error="shape-mismatch", message="do not broadcast"),
    Case("add", inputs=[(2, 3), ((3,), "int32")], error="wrong-dtype", message="different dtypes"),
    Case("div", inputs=[((2, 3), "uint8"), ((3,), "uint8")], error="wrong-dtype", message="div takes"),
    Case("logical_and", inputs=[(2, 3), (2, 3)], error="wrong-dtype", message="takes bool"),
    Case("sub", inputs=[(2, 3), (2, 3), (2, 3)], error="input-count"),
]

# Three or two inputs of one shape, also built with a dynamic batch
CASES += [
    Case("add", inputs=[(2, 4, 3, 5)] * 3, torch=lambda a, b, c: a + b + c),
    Case("sub", inputs=[(2, 4, 3, 5)] * 2, torch=lambda a, b: a - b),
    Case("mul", inputs=[(2, 4, 3, 5)] * 3, torch=lambda a, b, c: a * b * c),
    Case("div", inputs=[(2, 4, 3, 5)] * 2, torch=lambda a, b: a / b),
    Case("max", inputs=[(2, 4, 3, 5)] * 3, torch=lambda a, b, c: torch.maximum(torch.maximum(a, b), c)),
    Case("min", inputs=[(2, 4, 3, 5)] * 2, torch=lambda a, b: torch.minimum(a, b)),
    Case("add", inputs=[(2, 8, 4, 4)] * 2, torch=lambda a, b: a + b, batch_builds=("float32", "float16", "bfloat16")),
    Case("sub", inputs=[(2, 8, 4, 4)] * 2, torch=lambda a, b: a - b, batch_builds=("float32",)),
    Case("mul", inputs=[(2, 8, 4, 4)] * 2, torch=lambda a, b: a * b, batch_builds=("float32",)),
    Case("div", inputs=[(2, 8, 4, 4)] * 2, torch=lambda a, b: a / b, batch_builds=("float32",)),
    Case("max", inputs=[(2, 8, 4, 4)] * 2, torch=torch.maximum, batch_builds=("float32",)),
    Case("min", inputs=[(2, 8, 4, 4)] * 2, torch=torch.minimum, batch_builds=("float32",)),
    Case("mul", inputs=[(2, 4, 3, 5), (1, 4, 1, 5)], torch=lambda a, b: a * b, atol=0, rtol=0),  # exact: one rounding
]
