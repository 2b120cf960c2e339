"""Element-wise activation functions. Each keeps its input's shape and dtype."""

from ..params import Choice, Float, Param
from . import Op, ShapeError, register


class Activation(Op):
    def infer_shape(self, node, x):
        return x


@register
class Relu(Activation):
    kind = "relu"
    doc = "max(x, 0) (torch.nn.ReLU)."


@register
class Relu6(Activation):
    kind = "relu6"
    doc = "min(max(x, 0), 6) (torch.nn.ReLU6)."


@register
class Clip(Activation):
    kind = "clip"
    doc = "min(max(x, min), max) (torch.nn.Hardtanh, torch.clamp)."
    params = {"min": Param(Float()), "max": Param(Float())}

    def infer_shape(self, node, x):
        if node.params["min"] > node.params["max"]:
            raise ShapeError(f"min {node.params['min']:g} is above max {node.params['max']:g}", "min",
                             code="invalid-value")
        return x


@register
class LeakyRelu(Activation):
    kind = "leaky_relu"
    doc = "x if x >= 0 else negative_slope * x (torch.nn.LeakyReLU)."
    params = {"negative_slope": Param(Float(), 0.01)}


@register
class Sigmoid(Activation):
    kind = "sigmoid"
    doc = "1 / (1 + exp(-x)) (torch.nn.Sigmoid)."


@register
class Tanh(Activation):
    kind = "tanh"
    doc = "tanh(x) (torch.nn.Tanh)."


@register
class Silu(Activation):
    kind = "silu"
    doc = "x * sigmoid(x), also called swish (torch.nn.SiLU)."


@register
class Hardswish(Activation):
    kind = "hardswish"
    doc = "x * relu6(x + 3) / 6 (torch.nn.Hardswish)."


@register
class Gelu(Activation):
    kind = "gelu"
    doc = "Gaussian error linear unit (torch.nn.GELU); approximate: none (erf) or tanh."
    params = {"approximate": Param(Choice(("none", "tanh")), "none")}


@register
class Elu(Activation):
    kind = "elu"
    doc = "x if x > 0 else alpha * (exp(x) - 1) (torch.nn.ELU)."
    params = {"alpha": Param(Float(), 1.0)}
