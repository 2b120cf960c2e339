"""Element-wise unary math (TensorRT's unary layer), each keeping its input's shape and dtype; the
predicates isnan/isinf give bool."""

from ..tensors import FLOAT_DTYPES, TensorType
from . import register
from .primitive import Composite, Primitive

GROUP = "element-wise"  # its row in the README's kind table (tools/regenerate.py)

SIGNED = FLOAT_DTYPES + ("int8", "int32", "int64")


class Unary(Primitive):
    trt_operation = ""  # the TensorRT UnaryOperation member
    numpy = ""  # the numpy function (or a netdsl.ops._numpy kernel)
    result_dtype: str | None = None

    def infer(self, p, x):
        return TensorType(x.shape, self.result_dtype or x.dtype)

    def compute(self, p, out, x):
        import numpy as np

        if self.numpy == "erf":
            from ._numpy import erf

            return erf(x)
        return getattr(np, self.numpy)(x)

    def emit(self, ctx, p, out, x):
        layer = ctx.network.add_unary(x.data, getattr(ctx.trt.UnaryOperation, self.trt_operation))
        return ctx.label(layer).get_output(0)


def unary(kind: str, trt_operation: str, numpy: str, torch: str, doc: str, **extra):
    register(type(kind.title().replace("_", ""), (Unary,), {
        "kind": kind, "trt_operation": trt_operation, "numpy": numpy, "torch": torch, "doc": doc, **extra}))


unary("exp", "EXP", "exp", "torch.exp", "e to the power x.")
unary("log", "LOG", "log", "torch.log", "Natural logarithm.")
unary("sqrt", "SQRT", "sqrt", "torch.sqrt", "Square root.")
unary("reciprocal", "RECIP", "reciprocal", "torch.reciprocal", "1 / x.")
unary("abs", "ABS", "abs", "torch.abs", "|x|.", dtypes=SIGNED)
unary("neg", "NEG", "negative", "torch.neg", "-x.", dtypes=SIGNED)
unary("sin", "SIN", "sin", "torch.sin", "Sine.")
unary("cos", "COS", "cos", "torch.cos", "Cosine.")
unary("tan", "TAN", "tan", "torch.tan", "Tangent.")
unary("asin", "ASIN", "arcsin", "torch.asin", "Arc sine.")
unary("acos", "ACOS", "arccos", "torch.acos", "Arc cosine.")
unary("atan", "ATAN", "arctan", "torch.atan", "Arc tangent.")
unary("sinh", "SINH", "sinh", "torch.sinh", "Hyperbolic sine.")
unary("cosh", "COSH", "cosh", "torch.cosh", "Hyperbolic cosine.")
unary("erf", "ERF", "erf", "torch.erf", "The error function.")
unary("floor", "FLOOR", "floor", "torch.floor", "Largest integer not above x.")
unary("ceil", "CEIL", "ceil", "torch.ceil", "Smallest integer not below x.")
unary("round", "ROUND", "round", "torch.round", "Nearest integer, halves to even (as torch.round).")
unary("sign", "SIGN", "sign", "torch.sign", "-1, 0 or 1.", dtypes=SIGNED)
unary("logical_not", "NOT", "logical_not", "torch.logical_not", "not x (bool).", dtypes=("bool",))
unary("isnan", "ISNAN", "isnan", "torch.isnan", "x is NaN, as bool.", result_dtype="bool")
unary("isinf", "ISINF", "isinf", "torch.isinf", "x is infinite, as bool.", result_dtype="bool")


@register
class Rsqrt(Composite):
    kind = "rsqrt"
    torch = "torch.rsqrt"
    doc = "1 / sqrt(x)."

    def expand(self, node, g, x):
        return g.reciprocal(g.sqrt(x))


class Negated(Composite):
    """not (a <comparison> b): the comparisons TensorRT has no single operation for."""

    min_inputs = max_inputs = 2
    dtypes = None  # the comparison checks them
    negates = ""  # the kind whose result is negated

    def expand(self, node, g, a, b):
        return g.logical_not(g.apply(self.negates, a, b))


def negated(kind: str, negates: str, torch: str, doc: str):
    register(type(kind.title().replace("_", ""), (Negated,), {
        "kind": kind, "negates": negates, "torch": torch, "doc": doc}))


negated("not_equal", "equal", "torch.ne", "a != b, as bool.")
negated("less_equal", "greater", "torch.le", "a <= b, as bool.")
negated("greater_equal", "less", "torch.ge", "a >= b, as bool.")
