"""Cases of netdsl/ops/cast.py: cast."""

import torch

from opcases import Case


CASES = [
    Case("cast", {"dtype": "int32"}, inputs=[(3, 4)], low=-5, high=5, torch=lambda x: x.to(torch.int32)),
    Case("cast", {"dtype": "int64"}, inputs=[((3, 4), "int32")], torch=lambda x: x.to(torch.int64)),
    Case("cast", {"dtype": "float32"}, inputs=[((3, 4), "int32")], torch=lambda x: x.float()),
    Case("cast", {"dtype": "bool"}, inputs=[((3, 4), "int32")], torch=lambda x: x.bool()),
    Case("cast", {"dtype": "float32"}, inputs=[((3, 4), "bool")], torch=lambda x: x.float()),
    Case("cast", {"dtype": "uint8"}, inputs=[((2, 5), "int32")], low=0, torch=lambda x: x.abs().to(torch.uint8)
         if False else x.to(torch.uint8), name="int32-to-uint8", trt=False),
    Case("cast", {"dtype": "int8"}, inputs=[(2, 5)], low=-100, high=100, torch=lambda x: x.to(torch.int8)),
    Case("cast", {"dtype": "float16"}, inputs=[(2, 5)], torch=lambda x: x.half(), atol=1e-3, rtol=1e-3),
    Case("cast", {"dtype": "float64"}, inputs=[(2, 5)], error="invalid-param", message="dtype"),
]
