"""Element-wise binary operations with numpy broadcasting between inputs of any rank (TensorRT needs
equal ranks: the lowering prepends the 1s). add, mul, max and min take two or more inputs; the others
exactly two. Comparisons give bool; and/or/xor take and give bool."""

from ..tensors import BroadcastError, TensorType, broadcast, show_type
from . import ShapeError, register
from .primitive import Primitive

GROUP = "element-wise"  # its row in the README's kind table (tools/regenerate.py)

NUMERIC = ("float32", "float16", "bfloat16", "int8", "uint8", "int32", "int64")


class Binary(Primitive):
    min_inputs = 2
    max_inputs = 2
    dtypes = NUMERIC
    trt_operation = ""  # the TensorRT ElementWiseOperation member
    numpy = ""  # the numpy function
    result_dtype: str | None = None  # bool for comparisons; None: the inputs' dtype

    def infer(self, p, *inputs):
        if len({x.dtype for x in inputs}) > 1:
            raise ShapeError("inputs have different dtypes: " + ", ".join(show_type(x) for x in inputs),
                             hint="networks are strongly typed; convert one input first (kind: cast)",
                             code="wrong-dtype")
        try:
            shape = broadcast([x.shape for x in inputs])
        except BroadcastError as error:
            raise ShapeError(f"inputs do not broadcast: {error}", hint="sizes must be equal or 1 on every axis, "
                             "counting from the last", expected="equal sizes or 1",
                             found=" vs ".join(str(s) for s in error.sizes)) from None
        return TensorType(shape, self.result_dtype or inputs[0].dtype)

    def compute(self, p, out, *inputs):
        import numpy as np

        function = getattr(np, self.numpy)
        result = inputs[0]
        for other in inputs[1:]:
            result = function(result, other)
        return result

    def reference(self, node, ctx, *arrays):
        # A float32 input of the output's shape that dies here takes the result (same values, one
        # allocation and one pass over memory fewer); later inputs then accumulate into it.
        import numpy as np

        out = ctx.concrete_outputs()
        donor = next((i for i in range(min(2, len(arrays))) if ctx.reusable(i)
                      and arrays[i].shape == out.shape), None)
        if donor is None or self.result_dtype is not None or out.dtype != "float32":
            return self.compute(node.params, out, *arrays)
        function = getattr(np, self.numpy)
        result = function(arrays[0], arrays[1], out=arrays[donor])
        for other in arrays[2:]:
            function(result, other, out=result)
        return result

    def emit(self, ctx, p, out, *inputs):
        operation = getattr(ctx.trt.ElementWiseOperation, self.trt_operation)
        rank = len(out.shape)
        tensors = [ctx.expand_rank(x.data, x.type, rank) for x in inputs]
        result = tensors[0]
        for index, other in enumerate(tensors[1:], start=1):
            layer = ctx.network.add_elementwise(result, other, operation)
            ctx.label(layer, None if index == len(tensors) - 1 else str(index))
            result = layer.get_output(0)
        return result


class Variadic(Binary):
    max_inputs = None


def binary(kind: str, base, trt_operation: str, numpy: str, doc: str, torch: str, **extra):
    register(type(kind.title().replace("_", ""), (base,), {
        "kind": kind, "trt_operation": trt_operation, "numpy": numpy, "doc": doc, "torch": torch, **extra}))


binary("add", Variadic, "SUM", "add", "Sum of the inputs (residual connections).", "torch.add")
binary("mul", Variadic, "PROD", "multiply", "Product of the inputs.", "torch.mul")
binary("max", Variadic, "MAX", "maximum", "Element-wise maximum of the inputs.", "torch.maximum")
binary("min", Variadic, "MIN", "minimum", "Element-wise minimum of the inputs.", "torch.minimum")
binary("sub", Binary, "SUB", "subtract", "First input minus the second.", "torch.sub")


class Div(Binary):
    """Integers divide truncating toward zero, as C, ONNX's Div and TensorRT's DIV on integers do (onnx-tensorrt
    maps one to the other); floor division is the kind floor_div."""

    def compute(self, p, out, a, b):
        import numpy as np

        if a.dtype.kind == "f":
            return np.divide(a, b)
        with np.errstate(divide="ignore"):  # x / 0 is undefined in ONNX and TensorRT; numpy gives 0
            quotient = np.floor_divide(a, b)
            inexact = (np.multiply(quotient, b) != a) & ((a < 0) != (b < 0))
        return (quotient + inexact).astype(a.dtype)


binary("div", Div, "DIV", "divide", "First input divided by the second: floats, true division; int32 and int64, "
       "truncated toward zero (torch.div(rounding_mode='trunc'), ONNX's Div on integers).", "torch.div",
       dtypes=("float32", "float16", "bfloat16", "int32", "int64"))
binary("pow", Binary, "POW", "power", "First input to the power of the second.", "torch.pow",
       dtypes=("float32", "float16", "bfloat16"))
binary("equal", Binary, "EQUAL", "equal", "a == b, as bool.", "torch.eq", result_dtype="bool")
binary("less", Binary, "LESS", "less", "a < b, as bool.", "torch.lt", result_dtype="bool")
binary("greater", Binary, "GREATER", "greater", "a > b, as bool.", "torch.gt", result_dtype="bool")
binary("logical_and", Variadic, "AND", "logical_and", "a and b (bool inputs).", "torch.logical_and",
       dtypes=("bool",))
binary("logical_or", Variadic, "OR", "logical_or", "a or b (bool inputs).", "torch.logical_or", dtypes=("bool",))
binary("logical_xor", Binary, "XOR", "logical_xor", "a xor b (bool inputs).", "torch.logical_xor",
       dtypes=("bool",))
