"""Element-wise math, comparisons and logic, casts, constants and pass-throughs."""

from ..tensors import DTYPES, FLOAT_DTYPES
from . import Layer, NotExpressible, constant, onnx_op, plain, present, scalar, to_onnx

UNARY = {"Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Abs": "abs", "Neg": "neg",
         "Sin": "sin", "Cos": "cos", "Tan": "tan", "Asin": "asin", "Acos": "acos", "Atan": "atan",
         "Sinh": "sinh", "Cosh": "cosh", "Erf": "erf", "Floor": "floor", "Ceil": "ceil", "Round": "round",
         "Sign": "sign", "Not": "logical_not", "IsNaN": "isnan", "Identity": "identity"}
BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Equal": "equal",
          "Less": "less", "Greater": "greater", "LessOrEqual": "less_equal", "GreaterOrEqual": "greater_equal",
          "And": "logical_and", "Or": "logical_or", "Xor": "logical_xor"}
VARIADIC = {"Max": "max", "Min": "min", "Sum": "add"}

# a netdsl kind with several inputs that ONNX only has with two: a chain of two-input nodes
CHAINED = {"mul": "Mul", "logical_and": "And", "logical_or": "Or"}


def one_node(op_type):
    return lambda g, node, *xs: g.op(op_type, *xs)


for _op_type, _kind in UNARY.items():
    onnx_op(_op_type, _kind)(lambda node, attrs, inputs, kind=_kind: Layer(kind))
    to_onnx(_kind)(one_node(_op_type))
for _op_type, _kind in BINARY.items():
    onnx_op(_op_type, _kind)(lambda node, attrs, inputs, kind=_kind: Layer(kind, inputs=[0, 1]))
    if _kind not in CHAINED and _kind != "add":
        to_onnx(_kind)(one_node(_op_type))


def variadic(kind):
    def convert(node, attrs, inputs):
        if len(inputs) == 1:
            return Layer("identity")
        return Layer(kind, inputs=list(range(len(inputs))))
    return convert


for _op_type, _kind in VARIADIC.items():
    onnx_op(_op_type, _kind)(variadic(_kind))
to_onnx("max")(one_node("Max"))
to_onnx("min")(one_node("Min"))


@to_onnx("add", *CHAINED)
def chained(g, node, first, *rest):
    if g.kind == "add" and len(rest) > 1:
        return g.op("Sum", first, *rest)
    result = first
    for x in rest:
        result = g.op(CHAINED.get(g.kind, "Add"), result, x)
    return result


@onnx_op("Mod", "mod", ("fmod",))
def Mod(node, attrs, inputs):
    return Layer("mod", {"fmod": bool(attrs.get("fmod", 0))}, inputs=[0, 1])


@to_onnx("mod")
def mod(g, node, a, b):
    if node.params["fmod"] or g.out.dtype not in FLOAT_DTYPES:
        return g.op("Mod", a, b, fmod=int(node.params["fmod"]))
    # ONNX's Mod takes floats with fmod=1 only: a - b * floor(a / b)
    return g.op("Sub", a, g.op("Mul", b, g.op("Floor", g.op("Div", a, b))))


@to_onnx("floor_div")
def floor_div(g, node, a, b):
    if g.out.dtype in FLOAT_DTYPES:
        return g.op("Floor", g.op("Div", a, b))
    # ONNX's Div truncates integers: one less where the signs differ and the division is inexact
    quotient = g.op("Div", a, b)
    zero, one = g.scalar(0, g.out.dtype), g.scalar(1, g.out.dtype)
    inexact = g.op("Not", g.op("Equal", g.op("Mul", quotient, b), a))
    negative = g.op("Xor", g.op("Less", a, zero), g.op("Less", b, zero))
    return g.op("Where", g.op("And", inexact, negative), g.op("Sub", quotient, one), quotient)


@onnx_op("Where", "where")
def Where(node, attrs, inputs):
    return Layer("where", inputs=[0, 1, 2])


to_onnx("where")(one_node("Where"))


@onnx_op("IsInf", "isinf", ("detect_negative", "detect_positive"))
def IsInf(node, attrs, inputs):
    if not (attrs.get("detect_negative", 1) and attrs.get("detect_positive", 1)):
        raise NotExpressible("IsInf detecting one sign only (torch.isinf detects both)")
    return Layer("isinf")


to_onnx("isinf")(one_node("IsInf"))


def netdsl_dtype(name: str) -> str:
    if name not in DTYPES:
        raise NotExpressible(f"dtype {name} (netdsl has {', '.join(DTYPES)})")
    return name


def dtype_name(onnx_type: int) -> str:
    from onnx import helper

    try:
        return helper.tensor_dtype_to_np_dtype(onnx_type).name
    except (KeyError, TypeError, ValueError):
        return f"ONNX type {onnx_type}"


@onnx_op("Cast", "cast", ("to", "saturate", "round_mode"))
def Cast(node, attrs, inputs):
    # saturate and round_mode only concern float8 and smaller types, which netdsl lacks
    return Layer("cast", {"dtype": netdsl_dtype(dtype_name(attrs["to"]))})


@to_onnx("cast")
def cast(g, node, x):
    from .export import ONNX_DTYPES

    return g.op("Cast", x, to=ONNX_DTYPES[node.params["dtype"]])


@onnx_op("CastLike", "cast", ("saturate", "round_mode"))
def CastLike(node, attrs, inputs):
    return Layer("cast", {"dtype": netdsl_dtype(inputs[1].type.dtype)})


@onnx_op("Dropout", "dropout", ("ratio", "seed"))
def Dropout(node, attrs, inputs):
    ratio = scalar(constant(inputs, 1, "ratio")) if present(inputs, 1) else attrs.get("ratio", 0.5)
    if present(inputs, 2) and bool(scalar(constant(inputs, 2, "training_mode"))) and ratio != 0:
        raise NotExpressible("Dropout in training mode (netdsl's dropout is the inference no-op)")
    mask = [None] if len(node.outputs) > 1 and node.outputs[1] else []
    return Layer("dropout", {"p": float(ratio)}, outputs=["", *mask] if mask else None)


@to_onnx("dropout")
def dropout(g, node, x):
    # an inference Dropout (no training_mode input) passes x through; it keeps the layer and its p in the file
    return g.op("Dropout", x, g.scalar(node.params["p"]))


@onnx_op("Constant", "constant", ("value", "value_float", "value_floats", "value_int", "value_ints"))
def Constant(node, attrs, inputs):
    import numpy as np

    if "value" in attrs:
        value = attrs["value"]
    elif "value_float" in attrs or "value_floats" in attrs:
        value = np.asarray(attrs.get("value_float", attrs.get("value_floats")), np.float32)
    else:
        value = np.asarray(attrs.get("value_int", attrs.get("value_ints")), np.int64)
    return Layer("constant", {"value": plain(value), "shape": list(value.shape),
                              "dtype": netdsl_dtype(value.dtype.name)}, inputs=[])


@to_onnx("constant")
def constant_layer(g, node):
    import numpy as np

    from .export import storage_dtype

    p, out = node.params, g.out
    if p["value"] is None:  # a weight of the file: an initializer under its own name
        return g.op("Identity", g.weight("value", out.dtype))
    array = np.broadcast_to(np.asarray(p["value"], storage_dtype(out.dtype)), out.shape)
    return g.op("Constant", value=g.tensor(np.array(array)))  # (ascontiguousarray makes a scalar 1-D)


@onnx_op("ConstantOfShape", "constant", ("value",))
def ConstantOfShape(node, attrs, inputs):
    import numpy as np

    value = attrs.get("value", np.zeros(1, np.float32))
    shape = [int(d) for d in constant(inputs, 0, "shape")]
    return Layer("constant", {"value": plain(value.reshape(-1)[0]), "shape": shape,
                              "dtype": netdsl_dtype(value.dtype.name)}, inputs=[])
