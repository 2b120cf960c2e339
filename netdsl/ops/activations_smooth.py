"""Smooth activations beyond activations.py: selu and softsign are TensorRT activations with PyTorch's
formulas; the others are composites, because TensorRT has no such activation (celu, mish, logsigmoid,
tanhshrink) or its activation differs from PyTorch's (TensorRT's SOFTPLUS is alpha * log(exp(beta * x)
+ 1), with no threshold and an exp that overflows float16 from x = 11)."""

from ..params import Float, Param
from . import ShapeError, register
from .activations import Activation
from .primitive import Composite

GROUP = "activations"  # its row in the README's kind table (tools/regenerate.py)

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@register
class Selu(Activation):
    kind = "selu"
    trt_type = "SELU"  # beta * x if x > 0 else beta * alpha * (exp(x) - 1)
    torch = "torch.nn.SELU"
    doc = "scale * (x if x > 0 else alpha * (exp(x) - 1)), alpha = 1.6733, scale = 1.0507 (torch.nn.SELU)."

    def alpha_beta(self, p):
        return SELU_ALPHA, SELU_SCALE

    def compute(self, p, out, x):
        import numpy as np

        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))


@register
class Softsign(Activation):
    kind = "softsign"
    trt_type = "SOFTSIGN"
    torch = "torch.nn.Softsign"
    doc = "x / (1 + |x|) (torch.nn.Softsign)."

    def compute(self, p, out, x):
        import numpy as np

        return x / (1 + np.abs(x))


def log1p_exp_neg_abs(g, x, one):
    """log(1 + exp(-|x|)): the part of softplus that cannot overflow."""
    return g.log(g.add(one, g.exp(g.neg(g.abs(x)))))


@register
class Softplus(Composite):
    kind = "softplus"
    torch = "torch.nn.Softplus"
    doc = ("log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (torch.nn.Softplus); "
           "computed as max(beta * x, 0) + log(1 + exp(-|beta * x|)), which never overflows.")
    params = {"beta": Param(Float(), 1.0), "threshold": Param(Float(), 20.0)}

    def expand(self, node, g, x):
        beta, threshold = node.params["beta"], node.params["threshold"]
        if beta == 0:
            raise ShapeError("beta must not be 0 (softplus divides by it)", "beta", code="invalid-value")
        dtype = x.type.dtype
        one, zero = g.constant(1.0, dtype), g.constant(0.0, dtype)
        scaled = x if beta == 1 else g.mul(x, g.constant(beta, dtype))
        # linear: 1 where PyTorch returns x; multiplied only with finite values (never 0 * inf)
        linear = g.cast(g.greater(scaled, g.constant(threshold, dtype)), dtype=dtype)
        y = g.add(g.max(scaled, zero), g.mul(g.sub(one, linear), log1p_exp_neg_abs(g, scaled, one)))
        if threshold < 0:  # x itself below 0 too: where threshold < beta * x < 0
            y = g.add(y, g.mul(linear, g.max(g.min(scaled, zero), g.constant(threshold, dtype))))
        return y if beta == 1 else g.div(y, g.constant(beta, dtype))


@register
class Mish(Composite):
    kind = "mish"
    torch = "torch.nn.Mish"
    doc = "x * tanh(softplus(x)) (torch.nn.Mish)."

    def expand(self, node, g, x):
        return g.mul(x, g.tanh(g.softplus(x)))


@register
class LogSigmoid(Composite):
    kind = "logsigmoid"
    torch = "torch.nn.LogSigmoid"
    doc = "log(sigmoid(x)), computed as min(x, 0) - log(1 + exp(-|x|)) (torch.nn.LogSigmoid)."

    def expand(self, node, g, x):
        dtype = x.type.dtype
        return g.sub(g.min(x, g.constant(0.0, dtype)), log1p_exp_neg_abs(g, x, g.constant(1.0, dtype)))


@register
class Celu(Composite):
    kind = "celu"
    torch = "torch.nn.CELU"
    doc = "max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) (torch.nn.CELU); alpha must not be 0."
    params = {"alpha": Param(Float(), 1.0)}

    def expand(self, node, g, x):
        alpha = node.params["alpha"]
        if alpha == 0:
            raise ShapeError("alpha must not be 0 (celu divides by it)", "alpha", code="invalid-value")
        dtype = x.type.dtype
        zero, a = g.constant(0.0, dtype), g.constant(alpha, dtype)
        negative = g.mul(a, g.sub(g.exp(g.div(x, a)), g.constant(1.0, dtype)))
        return g.add(g.max(x, zero), g.min(negative, zero))


@register
class Tanhshrink(Composite):
    kind = "tanhshrink"
    torch = "torch.nn.Tanhshrink"
    doc = "x - tanh(x) (torch.nn.Tanhshrink)."

    def expand(self, node, g, x):
        return g.sub(x, g.tanh(x))
