"""Element-wise activation functions. Each keeps its input's shape and dtype."""

import math

from ..params import Choice, Float, Param
from . import ShapeError, register
from .primitive import Composite, Primitive

GROUP = "activations"  # its row in the README's kind table (tools/regenerate.py)


class Activation(Primitive):
    trt_type = ""  # the TensorRT ActivationType member

    def infer(self, p, x):
        return x

    def alpha_beta(self, p) -> tuple[float, float] | None:
        return None

    def emit(self, ctx, p, out, x):
        return ctx.label(activation(ctx, x.data, self.trt_type, self.alpha_beta(p))).get_output(0)

    def compute(self, p, out, x):
        return REFERENCE[self.trt_type](x, *(self.alpha_beta(p) or (0.0, 0.0)))

    def reference(self, node, ctx, x):
        # relu and clip write into an input that dies here (the same values, no new buffer)
        if self.trt_type in IN_PLACE and ctx.reusable(0):
            return IN_PLACE[self.trt_type](x, *(self.alpha_beta(node.params) or (0.0, 0.0)))
        return super().reference(node, ctx, x)


def _reference_functions():
    import numpy as np

    from ._numpy import erf, sigmoid

    return {
        "RELU": lambda x, a, b: np.maximum(x, 0),
        "CLIP": lambda x, a, b: np.clip(x, a, b),
        "LEAKY_RELU": lambda x, a, b: np.where(x >= 0, x, a * x),
        "SIGMOID": lambda x, a, b: sigmoid(x),
        "TANH": lambda x, a, b: np.tanh(x),
        "ELU": lambda x, a, b: np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))),
        "HARD_SIGMOID": lambda x, a, b: np.clip(a * x + b, 0, 1),
        "GELU_ERF": lambda x, a, b: _gelu_erf(x, erf),
        "GELU_TANH": lambda x, a, b: 0.5 * x * (1 + np.tanh(np.float32(math.sqrt(2 / math.pi)) * (x + 0.044715 * x ** 3))),
    }


def _relu_in_place(x, a, b):
    import numpy as np

    return np.maximum(x, 0, out=x)


def _clip_in_place(x, a, b):
    import numpy as np

    return np.clip(x, a, b, out=x)


IN_PLACE = {"RELU": _relu_in_place, "CLIP": _clip_in_place}


def _gelu_erf(x, erf):
    """0.5 * x * (1 + erf(x / sqrt(2))), in erf's result buffer (halving is exact, so the order is free)."""
    import numpy as np

    result = erf(x / np.float32(math.sqrt(2)))
    result += 1
    result *= x
    result *= 0.5
    return result


class _Functions(dict):
    """TensorRT activation type -> numpy function, built on first use (numpy is imported lazily)."""

    def __missing__(self, key):
        self.update(_reference_functions())
        return dict.__getitem__(self, key)


REFERENCE = _Functions()


def activation(ctx, x, trt_type: str, alpha_beta=None):
    layer = ctx.network.add_activation(x, getattr(ctx.trt.ActivationType, trt_type))
    if alpha_beta is not None:
        layer.alpha, layer.beta = alpha_beta
    return layer


@register
class Relu(Activation):
    kind = "relu"
    trt_type = "RELU"
    doc = "max(x, 0) (torch.nn.ReLU)."


@register
class Relu6(Activation):
    kind = "relu6"
    trt_type = "CLIP"
    doc = "min(max(x, 0), 6) (torch.nn.ReLU6)."

    def alpha_beta(self, p):
        return 0.0, 6.0


@register
class Clip(Activation):
    kind = "clip"
    trt_type = "CLIP"
    doc = "min(max(x, min), max) (torch.nn.Hardtanh, torch.clamp)."
    params = {"min": Param(Float()), "max": Param(Float())}

    def alpha_beta(self, p):
        return p["min"], p["max"]

    def infer(self, p, x):
        if p["min"] > p["max"]:
            raise ShapeError(f"min {p['min']:g} is above max {p['max']:g}", "min", code="invalid-value")
        return x


@register
class LeakyRelu(Activation):
    kind = "leaky_relu"
    trt_type = "LEAKY_RELU"
    doc = "x if x >= 0 else negative_slope * x (torch.nn.LeakyReLU)."
    params = {"negative_slope": Param(Float(), 0.01)}

    def alpha_beta(self, p):
        return p["negative_slope"], 0.0


@register
class Sigmoid(Activation):
    kind = "sigmoid"
    trt_type = "SIGMOID"
    doc = "1 / (1 + exp(-x)) (torch.nn.Sigmoid)."


@register
class Tanh(Activation):
    kind = "tanh"
    trt_type = "TANH"
    doc = "tanh(x) (torch.nn.Tanh)."


@register
class Hardsigmoid(Activation):
    kind = "hardsigmoid"
    trt_type = "HARD_SIGMOID"  # clip(alpha * x + beta, 0, 1)
    torch = "torch.nn.Hardsigmoid"
    doc = ("clip(alpha * x + beta, 0, 1); the defaults are PyTorch's relu6(x + 3) / 6 (torch.nn.Hardsigmoid), "
           "other values ONNX's HardSigmoid.")
    params = {"alpha": Param(Float(), 1.0 / 6.0), "beta": Param(Float(), 0.5)}

    def alpha_beta(self, p):
        return p["alpha"], p["beta"]


@register
class Silu(Composite):
    kind = "silu"
    doc = "x * sigmoid(x), also called swish (torch.nn.SiLU)."

    def expand(self, node, g, x):
        return g.mul(x, g.sigmoid(x))

    def reference(self, node, ctx, x):
        # the expansion's values with one buffer: x * sigmoid(x) written into sigmoid's result
        import numpy as np

        from ._numpy import sigmoid, silu_in_place

        if x.dtype != np.float32:
            return super().reference(node, ctx, x)
        if ctx.reusable(0):  # x dies here: no new buffer
            return silu_in_place(x)
        result = sigmoid(x)
        return np.multiply(x, result, out=result)


@register
class Hardswish(Composite):
    kind = "hardswish"
    doc = "x * relu6(x + 3) / 6 (torch.nn.Hardswish)."

    def expand(self, node, g, x):
        return g.mul(x, g.hardsigmoid(x))


@register
class Gelu(Activation):
    kind = "gelu"
    doc = "Gaussian error linear unit (torch.nn.GELU); approximate: none (erf) or tanh."
    params = {"approximate": Param(Choice(("none", "tanh")), "none")}

    def trt_kind(self, p) -> str:
        return "GELU_TANH" if p["approximate"] == "tanh" else "GELU_ERF"

    def emit(self, ctx, p, out, x):
        return ctx.label(activation(ctx, x.data, self.trt_kind(p))).get_output(0)

    def compute(self, p, out, x):
        return REFERENCE[self.trt_kind(p)](x, 0.0, 0.0)


@register
class Elu(Activation):
    kind = "elu"
    trt_type = "ELU"
    doc = "x if x > 0 else alpha * (exp(x) - 1) (torch.nn.ELU)."
    params = {"alpha": Param(Float(), 1.0)}

    def alpha_beta(self, p):
        return p["alpha"], 0.0
