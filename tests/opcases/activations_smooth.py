import math

import torch.nn.functional as F

from opcases import Case

X = (2, 3, 4, 5)
CASES = [
    Case("selu", inputs=[X], low=-5, high=5, torch=F.selu),
    Case("selu", inputs=[()], torch=F.selu),
    Case("softsign", inputs=[(3, 7)], low=-10, high=10, torch=F.softsign),
    Case("softplus", inputs=[X], low=-30, high=30, torch=F.softplus),  # past the threshold both ways
    Case("softplus", {"beta": 2, "threshold": 5}, inputs=[(4, 9)], low=-6, high=6,
         torch=lambda x: F.softplus(x, 2, 5)),
    Case("softplus", {"beta": 0.5, "threshold": -1}, inputs=[(31,)], low=-6, high=6,
         torch=lambda x: F.softplus(x, 0.5, -1)),
    Case("softplus", {"beta": -1.5}, inputs=[(2, 8)], low=-6, high=6, torch=lambda x: F.softplus(x, -1.5)),
    Case("softplus", inputs=[(5,)], low=80, high=100000, torch=F.softplus,
         name="no-overflow"),  # exp(x) is inf in float32 here; the result is x
    Case("mish", inputs=[(3, 2, 9)], low=-25, high=25, torch=F.mish),
    Case("mish", inputs=[((2, 6), "float16")], low=-8, high=8, torch=lambda x: F.mish(x.half()),
         atol=2e-3, rtol=2e-3),  # PyTorch rounds to float16 (step 2^-10 relative), the reference does not
    Case("logsigmoid", inputs=[X], low=-40, high=40, torch=F.logsigmoid),
    Case("celu", inputs=[(3, 8)], low=-5, high=5, torch=F.celu),
    Case("celu", {"alpha": 0.25}, inputs=[(1, 11)], low=-5, high=5, torch=lambda x: F.celu(x, 0.25)),
    Case("celu", {"alpha": -2}, inputs=[(2, 5)], low=-5, high=5, torch=lambda x: F.celu(x, -2)),
    Case("tanhshrink", inputs=[(4, 1, 3)], low=-4, high=4, torch=F.tanhshrink),
    # errors
    Case("celu", {"alpha": 0}, inputs=[(3,)], error="invalid-value", message="alpha must not be 0"),
    Case("softplus", {"beta": 0}, inputs=[(3,)], error="invalid-value", message="beta must not be 0"),
    Case("softplus", {"threshold": math.inf}, inputs=[(3,)], error="invalid-param", message="threshold"),
    Case("selu", inputs=[((3,), "int32")], error="wrong-dtype"),
    Case("mish", inputs=[((3,), "int8")], error="wrong-dtype"),
]
