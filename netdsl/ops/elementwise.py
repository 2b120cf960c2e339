"""Element-wise binary operations with broadcasting over dimensions of size 1 (inputs of equal rank,
as TensorRT requires). add, mul, max and min take two or more inputs; sub and div exactly two."""

from . import Op, ShapeError, TensorType, register, show_shape


def broadcast(shapes) -> tuple:
    rank = len(shapes[0])
    if any(len(shape) != rank for shape in shapes):
        raise ShapeError("inputs have different ranks: " + ", ".join(show_shape(s) for s in shapes),
                         expected="equal ranks", found=", ".join(show_shape(s) for s in shapes))
    result = []
    for axis in range(rank):
        dims = {shape[axis] for shape in shapes} - {1}
        if len(dims) > 1:
            raise ShapeError(f"inputs disagree on axis {axis}: " + ", ".join(show_shape(s) for s in shapes),
                             hint="sizes must be equal or 1 on every axis",
                             expected="equal sizes or 1", found=" vs ".join(str(s[axis]) for s in shapes))
        result.append(dims.pop() if dims else 1)
    return tuple(result)


class Elementwise(Op):
    min_inputs = 2
    max_inputs = None
    trt_operation = ""  # the TensorRT ElementWiseOperation member

    def lower(self, node, ctx, *inputs):
        operation = getattr(ctx.trt.ElementWiseOperation, self.trt_operation)
        result = inputs[0]
        for index, other in enumerate(inputs[1:], start=1):
            layer = ctx.network.add_elementwise(result, other, operation)
            ctx.label(layer, None if index == len(inputs) - 1 else str(index))
            result = layer.get_output(0)
        return result

    def reference(self, node, ctx, *inputs):
        import numpy as np

        function = {"SUM": np.add, "SUB": np.subtract, "PROD": np.multiply, "DIV": np.divide, "MAX": np.maximum,
                    "MIN": np.minimum}[self.trt_operation]
        result = inputs[0]
        for other in inputs[1:]:
            result = function(result, other)
        return result

    def infer_shape(self, node, *inputs):
        dtypes = {x.dtype for x in inputs}
        if len(dtypes) > 1:
            raise ShapeError("inputs have different dtypes: " + ", ".join(x.dtype for x in inputs),
                             hint="networks are strongly typed; convert one input first")
        return TensorType(broadcast([x.shape for x in inputs]), inputs[0].dtype)


@register
class Add(Elementwise):
    kind = "add"
    trt_operation = "SUM"
    doc = "Sum of the inputs (residual connections)."


@register
class Sub(Elementwise):
    kind = "sub"
    trt_operation = "SUB"
    doc = "First input minus the second."
    max_inputs = 2


@register
class Mul(Elementwise):
    kind = "mul"
    trt_operation = "PROD"
    doc = "Product of the inputs."


@register
class Div(Elementwise):
    kind = "div"
    trt_operation = "DIV"
    doc = "First input divided by the second."
    max_inputs = 2


@register
class Max(Elementwise):
    kind = "max"
    trt_operation = "MAX"
    doc = "Element-wise maximum of the inputs."


@register
class Min(Elementwise):
    kind = "min"
    trt_operation = "MIN"
    doc = "Element-wise minimum of the inputs."

