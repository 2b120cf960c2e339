"""Cases of netdsl/ops/unary.py: the one-input kinds (math functions, rounding, isnan/isinf, logical_not) and the
comparisons it composes."""

import torch

from opcases import Case


X = (3, 4, 5)


CASES = [
    Case("not_equal", inputs=[((3, 4), "int32"), ((4,), "int32")], torch=torch.ne),
    Case("less_equal", inputs=[((3, 4), "int32"), ((4,), "int32")], torch=torch.le),
    Case("greater_equal", inputs=[((3, 4), "int32"), ((3, 1), "int32")], torch=torch.ge),
    Case("exp", inputs=[X], torch=torch.exp),
    Case("log", inputs=[X], low=0.1, high=5, torch=torch.log),
    Case("sqrt", inputs=[X], low=0.0, high=5, torch=torch.sqrt),
    Case("rsqrt", inputs=[X], low=0.1, high=5, torch=torch.rsqrt),
    Case("reciprocal", inputs=[X], low=0.5, high=5, torch=torch.reciprocal),
    Case("abs", inputs=[X], torch=torch.abs),
    Case("abs", inputs=[(X, "int32")], torch=torch.abs),
    Case("neg", inputs=[()], torch=torch.neg),
    Case("neg", inputs=[((7,), "int64")], torch=torch.neg),
    Case("sin", inputs=[X], torch=torch.sin),
    Case("cos", inputs=[X], torch=torch.cos),
    Case("tan", inputs=[X], low=-1, high=1, torch=torch.tan),
    Case("asin", inputs=[X], low=-0.99, high=0.99, torch=torch.asin),
    Case("acos", inputs=[X], low=-0.99, high=0.99, torch=torch.acos),
    Case("atan", inputs=[X], torch=torch.atan),
    Case("sinh", inputs=[X], torch=torch.sinh),
    Case("cosh", inputs=[X], torch=torch.cosh),
    Case("erf", inputs=[X], torch=torch.erf),
    Case("floor", inputs=[X], low=-4, high=4, torch=torch.floor),
    Case("ceil", inputs=[X], low=-4, high=4, torch=torch.ceil),
    Case("round", inputs=[X], low=-4, high=4, torch=torch.round),
    Case("sign", inputs=[X], torch=torch.sign),
    Case("logical_not", inputs=[(X, "bool")], torch=torch.logical_not),
    Case("isnan", inputs=[X], torch=torch.isnan),
    Case("isinf", inputs=[X], torch=torch.isinf),
    Case("exp", inputs=[(X, "int32")], error="wrong-dtype", message="exp takes float32"),
    Case("logical_not", inputs=[X], error="wrong-dtype"),
]
