import torch
import torch.nn.functional as F

from opcases import Case

X = (2, 3, 4, 5)
CASES = [
    Case("relu", inputs=[X], torch=F.relu),
    Case("relu", inputs=[(7,)], torch=F.relu),
    Case("relu6", inputs=[X], low=-8, high=8, torch=F.relu6),
    Case("clip", {"min": -1, "max": 2}, inputs=[(3, 5)], low=-3, high=3, torch=lambda x: torch.clamp(x, -1, 2)),
    Case("leaky_relu", {"negative_slope": 0.2}, inputs=[(4, 2, 3)], torch=lambda x: F.leaky_relu(x, 0.2)),
    Case("sigmoid", inputs=[X], torch=torch.sigmoid),
    Case("tanh", inputs=[()], torch=torch.tanh),
    Case("silu", inputs=[(2, 9)], low=-6, high=6, torch=F.silu),
    Case("hardsigmoid", inputs=[(2, 9)], low=-6, high=6, torch=F.hardsigmoid),
    Case("hardswish", inputs=[(3, 2, 9)], low=-6, high=6, torch=F.hardswish),
    Case("gelu", inputs=[X], torch=F.gelu),
    Case("gelu", {"approximate": "tanh"}, inputs=[(5, 6)], torch=lambda x: F.gelu(x, approximate="tanh")),
    Case("elu", {"alpha": 0.5}, inputs=[(3, 8)], torch=lambda x: F.elu(x, 0.5)),
    Case("clip", {"min": 2, "max": 1}, inputs=[(3,)], error="invalid-value", message="above max"),
    Case("relu", inputs=[((3,), "int32")], error="wrong-dtype"),
]
CASES += [
    Case("hardsigmoid", {"alpha": 0.2, "beta": 0.6}, inputs=[(3, 7)], low=-6, high=6,
         torch=lambda x: torch.clamp(0.2 * x + 0.6, 0, 1)),
]

# On a [2, C, H, W] feature map, also built with a dynamic batch; inputs in [-9, 9] reach every saturation
CASES += [
    Case("relu", inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=F.relu),
    Case("relu", inputs=[(2, 8, 4, 4)], torch=F.relu, batch_builds=("float32",)),
    Case("relu6", inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=F.relu6),
    Case("relu6", inputs=[(2, 8, 4, 4)], torch=F.relu6, batch_builds=("float32",)),
    Case("clip", {"min": -0.5, "max": 1.5}, inputs=[(2, 6, 5, 5)], low=-9, high=9,
         torch=lambda x: torch.clamp(x, -0.5, 1.5)),
    Case("clip", {"min": -1, "max": 2}, inputs=[(2, 8, 4, 4)], torch=lambda x: torch.clamp(x, -1, 2),
         batch_builds=("float32",)),
    Case("leaky_relu", {"negative_slope": 0.2}, inputs=[(2, 6, 5, 5)], low=-9, high=9,
         torch=lambda x: F.leaky_relu(x, 0.2)),
    Case("leaky_relu", {"negative_slope": 0.2}, inputs=[(2, 8, 4, 4)], torch=lambda x: F.leaky_relu(x, 0.2),
         batch_builds=("float32",)),
    Case("sigmoid", inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=torch.sigmoid),
    Case("sigmoid", inputs=[(2, 8, 4, 4)], torch=torch.sigmoid, batch_builds=("float32",)),
    Case("tanh", inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=torch.tanh),
    Case("tanh", inputs=[(2, 8, 4, 4)], torch=torch.tanh, batch_builds=("float32",)),
    Case("silu", inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=F.silu),
    Case("silu", inputs=[(2, 8, 4, 4)], torch=F.silu, batch_builds=("float32",)),
    Case("hardswish", inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=F.hardswish),
    Case("hardswish", inputs=[(2, 8, 4, 4)], torch=F.hardswish, batch_builds=("float32",)),
    Case("gelu", inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=F.gelu),
    Case("gelu", inputs=[(2, 8, 4, 4)], torch=F.gelu, batch_builds=("float32",)),
    Case("gelu", {"approximate": "tanh"}, inputs=[(2, 6, 5, 5)], low=-9, high=9,
         torch=lambda x: F.gelu(x, approximate="tanh")),
    Case("gelu", {"approximate": "tanh"}, inputs=[(2, 8, 4, 4)], torch=lambda x: F.gelu(x, approximate="tanh"),
         batch_builds=("float32",)),
    Case("elu", {"alpha": 0.7}, inputs=[(2, 6, 5, 5)], low=-9, high=9, torch=lambda x: F.elu(x, 0.7)),
    Case("elu", {"alpha": 0.5}, inputs=[(2, 8, 4, 4)], torch=lambda x: F.elu(x, 0.5), batch_builds=("float32",)),
]

# [2, 3, 7, 5]: height and width that differ and are odd
CASES += [
    Case("relu", inputs=[(2, 3, 7, 5)], torch=F.relu),
    Case("relu6", inputs=[(2, 3, 7, 5)], low=-9, high=9, torch=F.relu6),
    Case("sigmoid", inputs=[(2, 3, 7, 5)], torch=torch.sigmoid),
    Case("tanh", inputs=[(2, 3, 7, 5)], torch=torch.tanh),
    Case("silu", inputs=[(2, 3, 7, 5)], torch=F.silu),
    Case("hardswish", inputs=[(2, 3, 7, 5)], low=-5, high=5, torch=F.hardswish),
    Case("gelu", {"approximate": "tanh"}, inputs=[(2, 3, 7, 5)], torch=lambda x: F.gelu(x, approximate="tanh")),
    Case("elu", {"alpha": 0.5}, inputs=[(2, 3, 7, 5)], torch=lambda x: F.elu(x, 0.5)),
    Case("leaky_relu", {"negative_slope": 0.2}, inputs=[(2, 3, 7, 5)], torch=lambda x: F.leaky_relu(x, 0.2)),
    Case("clip", {"min": -1, "max": 1}, inputs=[(2, 3, 7, 5)], torch=lambda x: F.hardtanh(x, -1, 1)),
]
