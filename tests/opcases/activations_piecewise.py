import numpy as np
import torch.nn.functional as F

from opcases import Case

X = (2, 3, 4, 5)
CASES = [
    Case("prelu", inputs=[X], torch=lambda x, w: F.prelu(x, w["weight"])),
    Case("prelu", {"num_parameters": 3}, inputs=[X], torch=lambda x, w: F.prelu(x, w["weight"])),
    Case("prelu", {"num_parameters": 5}, inputs=[(3, 5)], torch=lambda x, w: F.prelu(x, w["weight"])),
    Case("prelu", {"num_parameters": 2}, inputs=[(1, 2, 1, 3, 1, 2, 1, 2)], torch=lambda x, w: F.prelu(x, w["weight"])),
    Case("prelu", inputs=[(7,)], torch=lambda x, w: F.prelu(x, w["weight"])),
    Case("prelu", inputs=[()], torch=lambda x, w: F.prelu(x, w["weight"])),
    Case("prelu", {"num_parameters": 3}, inputs=[((2, 3, 4), "float16")],
         torch=lambda x, w: F.prelu(x.half(), w["weight"].half()), atol=1e-3, rtol=1e-3),  # float16 rounding
    Case("thresholded_relu", inputs=[X], low=-3, high=3, torch=lambda x: F.threshold(x, 1.0, 0.0)),
    Case("thresholded_relu", {"alpha": -0.5}, inputs=[(9,)], torch=lambda x: F.threshold(x, -0.5, 0.0)),
    Case("threshold", {"threshold": 0.5, "value": -2}, inputs=[X], torch=lambda x: F.threshold(x, 0.5, -2.0)),
    Case("threshold", {"threshold": -1, "value": 0}, inputs=[(3, 7)], torch=lambda x: F.threshold(x, -1.0, 0.0)),
    Case("threshold", {"threshold": 0, "value": 3},
         inputs=[np.array([-3e38, -1.0, 0.0, 2.0, 3e38], np.float32)],
         torch=lambda x: F.threshold(x, 0.0, 3.0), name="extremes"),
    Case("hardtanh", inputs=[X], low=-3, high=3, torch=F.hardtanh),
    Case("hardtanh", {"min_val": -2, "max_val": 0.5}, inputs=[(3, 6)], low=-3, high=3,
         torch=lambda x: F.hardtanh(x, -2.0, 0.5)),
    Case("softshrink", inputs=[X], torch=F.softshrink),
    Case("softshrink", {"lambd": 0}, inputs=[(5,)], torch=lambda x: F.softshrink(x, 0.0)),
    Case("softshrink", {"lambd": 1.5}, inputs=[((3, 4), "float16")], torch=lambda x: F.softshrink(x.half(), 1.5),
         atol=1e-3, rtol=1e-3),  # float16 rounding in PyTorch
    Case("hardshrink", inputs=[X], torch=F.hardshrink),
    Case("hardshrink", {"lambd": 1.2}, inputs=[(2, 1, 7)], torch=lambda x: F.hardshrink(x, 1.2)),
    Case("hardshrink", {"lambd": 0.5},
         inputs=[np.array([-3e38, -0.5, 0.25, 0.75, 3e38], np.float32)],
         torch=F.hardshrink, name="extremes"),
    Case("rrelu", inputs=[X], torch=lambda x: F.rrelu(x, training=False)),
    Case("rrelu", {"lower": 0.1, "upper": 0.3}, inputs=[(5, 3)], torch=lambda x: F.rrelu(x, 0.1, 0.3, training=False)),
    # errors
    Case("prelu", {"num_parameters": 4}, inputs=[X], error="shape-mismatch", message="has 3 channels"),
    Case("prelu", {"num_parameters": 4}, inputs=[(4,)], error="shape-mismatch", message="no channel dimension"),
    Case("prelu", {"num_parameters": 0}, inputs=[X], error="invalid-param", message="num_parameters"),
    Case("hardtanh", {"min_val": 2, "max_val": 1}, inputs=[(3,)], error="invalid-value", message="above max_val"),
    Case("softshrink", {"lambd": -0.5}, inputs=[(3,)], error="invalid-param", message="lambd"),
    Case("threshold", {"threshold": 1}, inputs=[(3,)], error="missing-param", message="value"),
    Case("rrelu", {"lower": 0.5, "upper": 0.1}, inputs=[(3,)], error="invalid-value", message="above upper"),
    Case("hardshrink", inputs=[((3,), "int32")], error="wrong-dtype"),
]
