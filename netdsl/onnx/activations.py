"""Activations and softmax."""

from . import FLOAT32_MAX, Layer, NotExpressible, close, constant, onnx_op, present, scalar, to_onnx, weight

SELU_ALPHA = 1.6732632423543772  # ONNX's defaults, which are torch.nn.SELU's constants
SELU_GAMMA = 1.0507009873554805

for _op_type, _kind in {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softsign": "softsign",
                        "Mish": "mish", "HardSwish": "hardswish", "Softplus": "softplus"}.items():
    # softplus: PyTorch's threshold (x above 20 gives x) differs from log(1 + exp(x)) by under 3e-9
    onnx_op(_op_type, _kind)(lambda node, attrs, inputs, kind=_kind: Layer(kind))
    to_onnx(_kind)(lambda g, node, x, op_type=_op_type: plain_softplus(g, node, x, op_type))


def plain_softplus(g, node, x, op_type):
    # ONNX's Softplus has no beta and no threshold: other values go as softplus's expansion
    if op_type == "Softplus" and (node.params["beta"] != 1 or node.params["threshold"] != 20):
        return None
    return g.op(op_type, x)


@onnx_op("LeakyRelu", "leaky_relu", ("alpha",))
def LeakyRelu(node, attrs, inputs):
    return Layer("leaky_relu", {"negative_slope": attrs.get("alpha", 0.01)})


@to_onnx("leaky_relu")
def leaky_relu(g, node, x):
    return g.op("LeakyRelu", x, alpha=float(node.params["negative_slope"]))


@onnx_op("Elu", "elu", ("alpha",))
def Elu(node, attrs, inputs):
    return Layer("elu", {"alpha": attrs.get("alpha", 1.0)})


@onnx_op("Celu", "celu", ("alpha",))
def Celu(node, attrs, inputs):
    return Layer("celu", {"alpha": attrs.get("alpha", 1.0)})


to_onnx("elu")(lambda g, node, x: g.op("Elu", x, alpha=float(node.params["alpha"])))
to_onnx("celu")(lambda g, node, x: g.op("Celu", x, alpha=float(node.params["alpha"])))


@onnx_op("Selu", "selu", ("alpha", "gamma"))
def Selu(node, attrs, inputs):
    if not (close(attrs.get("alpha", SELU_ALPHA), SELU_ALPHA) and close(attrs.get("gamma", SELU_GAMMA), SELU_GAMMA)):
        raise NotExpressible("Selu with alpha/gamma other than the defaults (torch.nn.SELU has fixed constants)")
    return Layer("selu")


to_onnx("selu")(lambda g, node, x: g.op("Selu", x))


@onnx_op("Gelu", "gelu", ("approximate",))
def Gelu(node, attrs, inputs):
    return Layer("gelu", {"approximate": attrs.get("approximate", "none")})


to_onnx("gelu")(lambda g, node, x: g.op("Gelu", x, approximate=node.params["approximate"]))


@onnx_op("HardSigmoid", "hardsigmoid", ("alpha", "beta"))
def HardSigmoid(node, attrs, inputs):
    return Layer("hardsigmoid", {"alpha": attrs.get("alpha", 0.2), "beta": attrs.get("beta", 0.5)})


@to_onnx("hardsigmoid")
def hardsigmoid(g, node, x):
    return g.op("HardSigmoid", x, alpha=float(node.params["alpha"]), beta=float(node.params["beta"]))


@onnx_op("ThresholdedRelu", "thresholded_relu", ("alpha",))
def ThresholdedRelu(node, attrs, inputs):
    return Layer("thresholded_relu", {"alpha": attrs.get("alpha", 1.0)})


to_onnx("thresholded_relu")(lambda g, node, x: g.op("ThresholdedRelu", x, alpha=float(node.params["alpha"])))


@onnx_op("Swish", "silu", ("alpha",))
def Swish(node, attrs, inputs):
    if not close(attrs.get("alpha", 1.0), 1.0):
        raise NotExpressible("Swish with alpha other than 1 (torch.nn.SiLU)")
    return Layer("silu")  # silu is exported as its expansion x * sigmoid(x), which the importer recognises


@onnx_op("Clip", "clip", ("min", "max"))
def Clip(node, attrs, inputs):
    # opset 11 made the bounds inputs; a missing bound is the float32 extreme (clip needs both), which
    # differs from no bound only for an infinite input
    low = scalar(constant(inputs, 1, "min")) if present(inputs, 1) else attrs.get("min", -FLOAT32_MAX)
    high = scalar(constant(inputs, 2, "max")) if present(inputs, 2) else attrs.get("max", FLOAT32_MAX)
    if (low, high) == (0, 6):  # how PyTorch exports torch.nn.ReLU6
        return Layer("relu6")
    return Layer("clip", {"min": float(low), "max": float(high)})


@to_onnx("clip", "relu6", "hardtanh")
def clip(g, node, x):
    low, high = {"clip": ("min", "max"), "hardtanh": ("min_val", "max_val")}.get(g.kind, (None, None))
    bounds = (node.params[low], node.params[high]) if low else (0.0, 6.0)
    return g.op("Clip", x, *(g.scalar(b, x.type.dtype) for b in bounds))


@onnx_op("PRelu", "prelu")
def PRelu(node, attrs, inputs):
    # torch.nn.PReLU: one slope, or one per channel (dim 1); ONNX broadcasts any slope shape
    slope = weight(constant(inputs, 1, "slope"), "slope")
    rank = len(inputs[0].type.shape)
    if slope.size == 1:
        return Layer("prelu", {"num_parameters": 1}, weights={"weight": slope.reshape(1)})
    channels = inputs[0].type.shape[1] if rank >= 2 else None
    if slope.ndim == rank - 1 and slope.shape == (channels,) + (1,) * (rank - 2):
        return Layer("prelu", {"num_parameters": channels}, weights={"weight": slope.reshape(-1)})
    raise NotExpressible(f"PRelu slope of shape {list(slope.shape)}: PyTorch's prelu has one slope or one per "
                         "channel (dim 1)")


@to_onnx("prelu")
def prelu(g, node, x):
    count = node.params["num_parameters"]
    shape = [] if count == 1 else [count] + [1] * (x.type.rank - 2)  # ONNX broadcasts from the last axis
    return g.op("PRelu", x, g.weight("weight", x.type.dtype, shape))


def softmax(kind):
    def convert(node, attrs, inputs):
        rank = len(inputs[0].type.shape)
        axis = attrs.get("axis", -1 if node.opset >= 13 else 1)
        if node.opset < 13 and axis % max(rank, 1) != rank - 1:
            raise NotExpressible("softmax before opset 13 flattens from `axis` to 2-D; only the last axis maps")
        return Layer(kind, {"axis": axis})
    return convert


onnx_op("Softmax", "softmax", ("axis",))(softmax("softmax"))
onnx_op("LogSoftmax", "log_softmax", ("axis",))(softmax("log_softmax"))
to_onnx("softmax")(lambda g, node, x: g.op("Softmax", x, axis=node.params["axis"]))
to_onnx("log_softmax")(lambda g, node, x: g.op("LogSoftmax", x, axis=node.params["axis"]))
