"""Floor division and the remainder, for integers and floats. TensorRT has FLOOR_DIV (and DIV, which
truncates integers) but no remainder: `mod` lowers to ``a - b * q`` with q the floor (fmod false) or the
truncated (fmod true) quotient (torch2trt lowers torch's ``%`` the same way, with FLOOR_DIV)."""

from ..params import Bool, Param
from . import register
from .elementwise import Binary
from .primitive import Primitive

GROUP = "element-wise"  # its row in the README's kind table (tools/regenerate.py)

DTYPES = ("float32", "float16", "bfloat16", "int32", "int64")


@register
class FloorDiv(Binary):
    kind = "floor_div"
    torch = "torch.div(a, b, rounding_mode='floor')"
    doc = "floor(a / b): Python's //, torch.floor_divide (integers exact; floats the floor of the quotient)."
    dtypes = DTYPES
    trt_operation = "FLOOR_DIV"
    reference = Primitive.reference  # numpy's own, not Binary's in-place float32 path

    def compute(self, p, out, a, b):
        import numpy as np

        with np.errstate(divide="ignore", invalid="ignore"):  # x // 0: undefined in TensorRT; numpy gives 0
            return np.floor_divide(a, b)


@register
class Mod(Binary):
    kind = "mod"
    torch = "torch.remainder (fmod: torch.fmod)"
    doc = ("The remainder of a / b: with the divisor's sign (Python's %, torch.remainder, ONNX's Mod), or with "
           "fmod true the dividend's (C's fmod, torch.fmod, ONNX's Mod with fmod=1).")
    params = {"fmod": Param(Bool(), False, doc="the sign of the dividend (C's fmod) instead of the divisor's")}
    dtypes = DTYPES
    reference = Primitive.reference

    def compute(self, p, out, a, b):
        import numpy as np

        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.fmod if p["fmod"] else np.mod)(a, b)

    def emit(self, ctx, p, out, a, b):
        operation = ctx.trt.ElementWiseOperation
        a, b = (ctx.expand_rank(x.data, x.type, out.rank) for x in (a, b))
        network = ctx.network
        if not p["fmod"]:
            quotient = ctx.label(network.add_elementwise(a, b, operation.FLOOR_DIV), "floor_div").get_output(0)
        elif out.dtype.startswith("int"):
            quotient = ctx.label(network.add_elementwise(a, b, operation.DIV), "div").get_output(0)
        else:  # truncate: sign(q) * floor(|q|)
            unary = ctx.trt.UnaryOperation
            ratio = ctx.label(network.add_elementwise(a, b, operation.DIV), "div").get_output(0)
            magnitude = ctx.label(network.add_unary(ratio, unary.ABS), "abs").get_output(0)
            floor = ctx.label(network.add_unary(magnitude, unary.FLOOR), "floor").get_output(0)
            sign = ctx.label(network.add_unary(ratio, unary.SIGN), "sign").get_output(0)
            quotient = ctx.label(network.add_elementwise(sign, floor, operation.PROD), "trunc").get_output(0)
        product = ctx.label(network.add_elementwise(b, quotient, operation.PROD), "times").get_output(0)
        return ctx.label(network.add_elementwise(a, product, operation.SUB)).get_output(0)
