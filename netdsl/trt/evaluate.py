"""A second executor: the lowered ``INetworkDefinition`` evaluated with numpy, layer by layer, following
TensorRT's documented semantics of each layer type (the operator reference at
docs.nvidia.com/deeplearning/tensorrt/latest/_static/operators/ and the C++ API's class pages), reading
every parameter back from the TensorRT layer objects and every weight from the arrays TensorRT holds.

It answers "did the lowering ask TensorRT for what the spec means?" without a GPU: where the reference
executor (``netdsl.reference``, the spec's meaning) and this evaluator differ, a lowering set a wrong
padding mode, divisor, coordinate mode or weight layout. It shares no op code with the reference.

Precision is modelled: every layer computes in float32 and rounds its outputs to their TensorRT dtype
(float16 by numpy, bfloat16 by rounding to nearest even), so a float16 network's result carries the
rounding a float16 engine's does (not its kernels' accumulation order). A layer type without a handler
is an :class:`Unsupported` error naming it, never a guessed number.

    >>> import numpy as np
    >>> from netdsl.trt.inspect import lowered
    >>> checked, builder, network, ctx = lowered("specs/lenet.yaml")
    >>> out = Evaluator(network, ctx).run({"data": np.ones((2, 1, 32, 32), np.float32)})
    >>> out["prob"].shape
    (2, 10)
"""

from __future__ import annotations

import math

import numpy as np

from ..diagnostics import NetdslError
from .inspect import DTYPES, WeightNames, concrete

HANDLERS: dict = {}


class Unsupported(NetdslError):
    """A layer type (or a mode of one) this evaluator has no semantics for."""


def handles(*type_names):
    def register(function):
        for name in type_names:
            HANDLERS[name] = function
        return function
    return register


def round_to(array, dtype: str):
    """``array`` as a tensor of TensorRT dtype ``dtype`` holds it (float tensors stay float32 arrays
    holding float16/bfloat16-representable values)."""
    if dtype == "float32":
        return np.asarray(array, np.float32)
    if dtype == "float16":
        with np.errstate(over="ignore"):
            return np.asarray(array, np.float32).astype(np.float16).astype(np.float32)
    if dtype == "bfloat16":
        return bfloat16_round(array)
    if dtype == "bool":
        return np.asarray(array).astype(bool)
    if dtype in ("int8", "uint8", "int32", "int64"):
        return np.asarray(array).astype(dtype)
    raise Unsupported(f"tensors of dtype {dtype} cannot be evaluated")


def bfloat16_round(array):
    bits = np.asarray(array, np.float32).view(np.uint32).astype(np.uint64)
    rounded = (((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(array), np.float32(np.nan), rounded).astype(np.float32)


def bfloat16_from_bits(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


class Evaluator:
    """Evaluates ``network`` (from the lowering, whose context ``ctx`` supplies bfloat16 weights the
    bindings cannot hand back)."""

    def __init__(self, network, ctx=None):
        from . import backend

        self.trt = backend().trt
        self.network = network
        self.ctx = ctx
        self.names = WeightNames(ctx)
        self.created = [concrete(self.trt, network.get_layer(i)) for i in range(network.num_layers)]
        self.layers = topological(self.created)
        self._literals = None

    def run(self, inputs: dict, keep=None) -> dict:
        """Network output name -> array for inputs by name; ``keep``: also these tensors (``"all"``: every
        tensor, as a layer-wise comparison needs)."""
        env = {}
        for i in range(self.network.num_inputs):
            tensor = self.network.get_input(i)
            if tensor.name not in inputs:
                raise NetdslError(f"no value for network input `{tensor.name}`")
            env[tensor.name] = round_to(inputs[tensor.name], dtype_of(tensor))
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            for index, (type_name, layer) in enumerate(self.layers):
                handler = HANDLERS.get(type_name)
                if handler is None:
                    raise Unsupported(f"TensorRT layer `{layer.name}` has type {type_name}, which the "
                                      "TensorRT-semantics evaluator does not implement")
                args = [env[layer.get_input(i).name] if layer.get_input(i) is not None else None
                        for i in range(layer.num_inputs)]
                try:
                    result = handler(self, layer, *args)
                except Unsupported as error:
                    raise Unsupported(f"TensorRT layer `{layer.name}` ({type_name}): {error}") from None
                results = result if isinstance(result, tuple) else (result,)
                for i, array in enumerate(results):
                    tensor = layer.get_output(i)
                    env[tensor.name] = round_to(array, dtype_of(tensor))
        names = [self.network.get_output(i).name for i in range(self.network.num_outputs)]
        if keep == "all":
            return env
        return {name: env[name] for name in [*names, *(keep or ())]}

    # -- weights -----------------------------------------------------------------------------------

    def weights(self, layer, attribute: str, type_name: str):
        """A weight of ``layer`` as float32 (or its integer dtype); None when empty."""
        value = getattr(layer, attribute)
        if isinstance(value, np.ndarray):
            if not value.size:
                return None
            return value.astype(np.float32) if value.dtype == np.float16 else value
        if getattr(value, "size", 0) == 0:
            return None
        if value.dtype != self.trt.bfloat16 or self.ctx is None:
            raise Unsupported(f"cannot read {value.dtype} weights `{attribute}` back from TensorRT")
        held = getattr(self.ctx, "constant_layers", {}).get(layer.name) if type_name == "CONSTANT" else None
        if held is not None and held.size == value.size:  # the lowering recorded what it gave this layer
            return bfloat16_from_bits(held)
        name = self.names.by_convention(type_name, layer, attribute)
        if name:
            return bfloat16_from_bits(self.ctx.arrays[name])
        return bfloat16_from_bits(self.literal(layer, value.size))

    def literal(self, layer, size):
        """A bfloat16 spec literal (an unnamed constant): the lowering's literal arrays in creation
        order are its unnamed bfloat16 constant layers in network order."""
        if self._literals is None:
            arrays = [a for a in self.ctx.literals if a.dtype == np.uint16]
            unnamed = [l.name for t, l in self.created if t == "CONSTANT" and not isinstance(l.weights, np.ndarray)
                       and not self.names.by_convention(t, l, "weights")]
            if len(arrays) != len(unnamed):
                raise Unsupported("cannot match bfloat16 constants with the lowering's literals")
            self._literals = dict(zip(unnamed, arrays))
        array = self._literals[layer.name]
        if array.size != size:
            raise Unsupported("a bfloat16 constant does not match the lowering's literal")
        return array


def topological(layers: list) -> list:
    """Layers in an order where every input is computed first (layer order is that of creation, and
    ``set_input`` can give a layer a tensor made after it)."""
    producer = {}
    for index, (_, layer) in enumerate(layers):
        for i in range(layer.num_outputs):
            producer[layer.get_output(i).name] = index
    order, state = [], {}
    for start in range(len(layers)):
        stack = [(start, False)]
        while stack:
            index, done = stack.pop()
            if done:
                state[index] = "done"
                order.append(layers[index])
                continue
            if state.get(index):
                continue
            state[index] = "open"
            stack.append((index, True))
            layer = layers[index][1]
            for i in range(layer.num_inputs):
                tensor = layer.get_input(i)
                source = producer.get(tensor.name) if tensor is not None else None
                if source is not None and not state.get(source):
                    stack.append((source, False))
    return order


def dtype_of(tensor) -> str:
    return DTYPES.get(tensor.dtype.name, tensor.dtype.name)


def axes_of(bits: int, rank: int) -> tuple:
    return tuple(a for a in range(rank) if bits >> a & 1)


# -- windows: convolution, deconvolution, pooling ------------------------------------------------------


def window_geometry(layer, spatial, kernel, deconvolution=False):
    """(pre, post, out) per spatial axis from TensorRT's padding mode (IConvolutionLayer/IPoolingLayer:
    EXPLICIT_ROUND_DOWN/UP use the explicit pre/post padding and floor/ceil the output size; SAME_UPPER/
    LOWER pad so that out = ceil(in / stride), the odd cell after resp. before)."""
    mode = layer.padding_mode.name
    stride, pre, post = tuple(layer.stride_nd), tuple(layer.pre_padding), tuple(layer.post_padding)
    dilation = tuple(getattr(layer, "dilation_nd", ())) or (1,) * len(spatial)
    result = []
    for i, size in enumerate(spatial):
        span = dilation[i] * (kernel[i] - 1) + 1
        if deconvolution:
            full = (size - 1) * stride[i] + span
            if mode.startswith("SAME"):
                out = size * stride[i]
                total = full - out
                before = total // 2 if mode == "SAME_UPPER" else total - total // 2
                result.append((before, total - before, out))
            else:
                result.append((pre[i], post[i], full - pre[i] - post[i]))
            continue
        if mode in ("EXPLICIT_ROUND_DOWN", "EXPLICIT_ROUND_UP"):
            room = size + pre[i] + post[i] - span
            out = (room // stride[i] if mode == "EXPLICIT_ROUND_DOWN" else -(-room // stride[i])) + 1
            result.append((pre[i], post[i], out))
        elif mode in ("SAME_UPPER", "SAME_LOWER"):
            out = -(-size // stride[i])
            total = max((out - 1) * stride[i] + span - size, 0)
            before = total // 2 if mode == "SAME_UPPER" else total - total // 2
            result.append((before, total - before, out))
        else:
            raise Unsupported(f"padding mode {mode}")
    return result, stride, dilation


def padded_windows(x, geometry, kernel, stride, dilation, value=0.0):
    """[N, C, *out, *kernel] windows over x padded by ``geometry``, plus the extra cells a ceil-rounded
    last window reaches (filled with ``value`` too)."""
    pads = [(0, 0), (0, 0)]
    for (before, after, out), size, k, s, d in zip(geometry, x.shape[2:], kernel, stride, dilation):
        need = (out - 1) * s + d * (k - 1) + 1
        pads.append((before, max(after, need - size - before)))
    padded = np.pad(x, pads, constant_values=value)
    view = np.lib.stride_tricks.sliding_window_view(
        padded, [d * (k - 1) + 1 for k, d in zip(kernel, dilation)], axis=tuple(range(2, x.ndim)))
    index = (slice(None), slice(None)) + tuple(slice(0, (g[2] - 1) * s + 1, s) for g, s in zip(geometry, stride))
    index += tuple(slice(None, None, d) for d in dilation)
    return view[index]


@handles("CONVOLUTION")
def convolution(ev, layer, x, *extra):
    if extra and any(e is not None for e in extra):
        raise Unsupported("kernel or bias given as input tensors")
    kernel = tuple(layer.kernel_size_nd)
    groups, maps = layer.num_groups, layer.num_output_maps
    weight = ev.weights(layer, "kernel", "CONVOLUTION").reshape((maps, x.shape[1] // groups) + kernel)
    geometry, stride, dilation = window_geometry(layer, x.shape[2:], kernel)
    view = padded_windows(x, geometry, kernel, stride, dilation)  # [N, C, *out, *k]
    nd = len(kernel)
    out_letters, k_letters = "opq"[:nd], "uvw"[:nd]
    view = view.reshape((x.shape[0], groups, x.shape[1] // groups) + view.shape[2:])
    weight = weight.reshape((groups, maps // groups) + weight.shape[1:])
    y = np.einsum(f"ngc{out_letters}{k_letters},gmc{k_letters}->ngm{out_letters}", view, weight, optimize=True)
    y = y.reshape((x.shape[0], maps) + y.shape[3:])
    bias = ev.weights(layer, "bias", "CONVOLUTION")
    return y + bias.reshape((1, -1) + (1,) * nd) if bias is not None else y


@handles("DECONVOLUTION")
def deconvolution(ev, layer, x, *extra):
    # TensorRT's deconvolution: weights [C_in, maps/groups, *kernel]; each input cell scatters its
    # kernel to out[i * stride + k * dilation]; the padding crops the full result.
    if extra and any(e is not None for e in extra):
        raise Unsupported("kernel or bias given as input tensors")
    kernel = tuple(layer.kernel_size_nd)
    groups, maps, channels = layer.num_groups, layer.num_output_maps, x.shape[1]
    weight = ev.weights(layer, "kernel", "DECONVOLUTION").reshape((channels, maps // groups) + kernel)
    geometry, stride, dilation = window_geometry(layer, x.shape[2:], kernel, deconvolution=True)
    full = [(size - 1) * s + d * (k - 1) + 1 for size, s, d, k in zip(x.shape[2:], stride, dilation, kernel)]
    y = np.zeros((x.shape[0], maps, *full), np.float32)
    xg = x.reshape((x.shape[0], groups, channels // groups) + x.shape[2:])
    wg = weight.reshape((groups, channels // groups, maps // groups) + kernel)
    for offset in np.ndindex(*kernel):
        part = np.einsum("ngc...,gcm->ngm...", xg, wg[(slice(None),) * 3 + offset], optimize=True)
        index = tuple(slice(o * d, o * d + (size - 1) * s + 1, s)
                      for o, d, s, size in zip(offset, dilation, stride, x.shape[2:]))
        y[(slice(None), slice(None)) + index] += part.reshape((x.shape[0], maps) + x.shape[2:])
    y = y[(slice(None), slice(None)) + tuple(slice(b, b + out) for b, _, out in geometry)]
    bias = ev.weights(layer, "bias", "DECONVOLUTION")
    return y + bias.reshape((1, -1) + (1,) * len(kernel)) if bias is not None else y


@handles("POOLING")
def pooling(ev, layer, x):
    # IPoolingLayer: padding never wins a max; an average divides by the window's overlap with the
    # unpadded input (average_count_excludes_padding) or with the padded input; cells a ceil-rounded
    # last window reaches beyond the padding count for neither.
    kernel = tuple(layer.window_size_nd)
    geometry, stride, _ = window_geometry(layer, x.shape[2:], kernel)
    ones = (1,) * len(kernel)
    kind = layer.type.name
    result_max = result_avg = None
    if kind in ("MAX", "MAX_AVERAGE_BLEND"):
        view = padded_windows(x, geometry, kernel, stride, ones, value=-np.inf)
        result_max = view.max(axis=tuple(range(-len(kernel), 0)))
    if kind in ("AVERAGE", "MAX_AVERAGE_BLEND"):
        view = padded_windows(x, geometry, kernel, stride, ones)
        total = view.sum(axis=tuple(range(-len(kernel), 0)), dtype=np.float32)
        inside = np.ones((1, 1) + x.shape[2:], np.float32)
        if not layer.average_count_excludes_padding:
            inside = np.pad(inside, [(0, 0), (0, 0)] + [(b, a) for b, a, _ in geometry], constant_values=1)
            shifted = [(0, 0, out) for _, _, out in geometry]  # already padded: no more explicit padding
            counted = padded_windows(inside, shifted, kernel, stride, ones)
        else:
            counted = padded_windows(inside, geometry, kernel, stride, ones)
        cells = counted.sum(axis=tuple(range(-len(kernel), 0)))
        result_avg = total / np.maximum(cells, 1)
    if kind == "MAX":
        return result_max
    if kind == "AVERAGE":
        return result_avg
    blend = layer.blend_factor
    return (1 - blend) * result_max + blend * result_avg


# -- element-wise ------------------------------------------------------------------------------------


def erf(x):
    """erf (numpy has none): the reference's vectorised one (within 1 ulp of math.erf in float32)."""
    from ..ops._numpy import erf

    return erf(x)


def sigmoid(x):
    """1 / (1 + exp(-x)) in one buffer (the reference's), in x's float dtype."""
    from ..ops._numpy import sigmoid

    x = np.asarray(x)
    result = sigmoid(x)
    return result.astype(x.dtype, copy=False) if np.issubdtype(x.dtype, np.floating) else result


ACTIVATIONS = {
    "RELU": lambda x, a, b: np.maximum(x, 0),
    "SIGMOID": lambda x, a, b: sigmoid(x),
    "TANH": lambda x, a, b: np.tanh(x),
    "LEAKY_RELU": lambda x, a, b: np.where(x >= 0, x, a * x),
    "ELU": lambda x, a, b: np.where(x >= 0, x, a * (np.exp(np.minimum(x, 0)) - 1)),
    "SELU": lambda x, a, b: b * np.where(x > 0, x, a * (np.exp(np.minimum(x, 0)) - 1)),
    "SOFTSIGN": lambda x, a, b: x / (1 + np.abs(x)),
    "SOFTPLUS": lambda x, a, b: a * np.logaddexp(0, b * x),
    "CLIP": lambda x, a, b: np.maximum(a, np.minimum(b, x)),
    "HARD_SIGMOID": lambda x, a, b: np.maximum(0, np.minimum(1, a * x + b)),
    "SCALED_TANH": lambda x, a, b: a * np.tanh(b * x),
    "THRESHOLDED_RELU": lambda x, a, b: np.where(x > a, x, 0),
    "GELU_ERF": lambda x, a, b: 0.5 * x * (1 + erf(x / math.sqrt(2))),
    "GELU_TANH": lambda x, a, b: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
}


@handles("ACTIVATION")
def activation(ev, layer, x):
    function = ACTIVATIONS.get(layer.type.name)
    if function is None:
        raise Unsupported(f"activation {layer.type.name}")
    return function(x, np.float32(layer.alpha), np.float32(layer.beta)).astype(x.dtype)


def same_rank(layer, *arrays):
    if len({a.ndim for a in arrays}) > 1:
        raise Unsupported(f"inputs of ranks {[a.ndim for a in arrays]}: TensorRT broadcasts only equal ranks")


def _divide(a, b):
    if a.dtype.kind in "iu":  # integer division truncates toward zero
        q = np.abs(a) // np.where(b == 0, 1, np.abs(b))
        return (np.sign(a) * np.sign(b) * q).astype(a.dtype)
    return a / b


ELEMENTWISE = {
    "SUM": np.add, "PROD": np.multiply, "MAX": np.maximum, "MIN": np.minimum, "SUB": np.subtract,
    "DIV": _divide, "POW": np.power, "FLOOR_DIV": np.floor_divide, "AND": np.logical_and, "OR": np.logical_or,
    "XOR": np.logical_xor, "EQUAL": np.equal, "GREATER": np.greater, "LESS": np.less,
}


@handles("ELEMENTWISE")
def elementwise(ev, layer, a, b):
    same_rank(layer, a, b)
    return ELEMENTWISE[layer.op.name](a, b)


def _round_half_even(x):
    return np.round(x)


UNARY = {
    "EXP": np.exp, "LOG": np.log, "SQRT": np.sqrt, "RECIP": lambda x: 1 / x, "ABS": np.abs, "NEG": np.negative,
    "SIN": np.sin, "COS": np.cos, "TAN": np.tan, "SINH": np.sinh, "COSH": np.cosh, "ASIN": np.arcsin,
    "ACOS": np.arccos, "ATAN": np.arctan, "ASINH": np.arcsinh, "ACOSH": np.arccosh, "ATANH": np.arctanh,
    "CEIL": np.ceil, "FLOOR": np.floor, "ERF": erf, "NOT": np.logical_not, "SIGN": np.sign,
    "ROUND": _round_half_even, "ISINF": np.isinf, "ISNAN": np.isnan,
}


@handles("UNARY")
def unary(ev, layer, x):
    return UNARY[layer.op.name](x)


@handles("PARAMETRIC_RELU")
def parametric_relu(ev, layer, x, slope):
    same_rank(layer, x, slope)
    return np.where(x >= 0, x, slope * x)


@handles("SELECT")
def select(ev, layer, condition, a, b):
    same_rank(layer, condition, a, b)
    return np.where(condition, a, b)


@handles("CAST")
def cast(ev, layer, x):
    return converted(x, DTYPES.get(layer.to_type.name, layer.to_type.name))


@handles("IDENTITY")
def identity(ev, layer, x):
    return converted(x, dtype_of(layer.get_output(0)))  # an identity layer may change the dtype


def converted(x, target: str):
    if target == "bool":
        return x != 0
    if target in ("int8", "uint8", "int32", "int64") and x.dtype.kind == "f":
        return np.trunc(x).astype(target)  # the operator reference: 5.6 -> 5, 8.9 -> 8
    return x


@handles("SCALE")
def scale(ev, layer, x):
    # IScaleLayer: (x * scale + shift) ^ power, the coefficients uniform, per channel (channel_axis)
    # or per element of the dims from channel_axis on; empty weights mean 1, 0, 1.
    axis = layer.channel_axis
    mode = layer.mode.name
    shape = {"UNIFORM": (), "CHANNEL": (x.shape[axis],) + (1,) * (x.ndim - axis - 1),
             "ELEMENTWISE": x.shape[axis:]}[mode]
    y = x
    scale_, shift, power = (ev.weights(layer, a, "SCALE") for a in ("scale", "shift", "power"))
    if scale_ is not None:
        y = y * scale_.reshape(shape)
    if shift is not None:
        y = y + shift.reshape(shape)
    if power is not None:
        y = y ** power.reshape(shape)
    return y


@handles("SOFTMAX")
def softmax(ev, layer, x):
    axes = axes_of(layer.axes, x.ndim)
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


@handles("LRN")
def lrn(ev, layer, x):
    # ILRNLayer, settled by the operator reference's example (window 3, alpha 1, k 0.1 gives
    # 1 / (0.1 + 5/3) = 0.566 for a channel of 1s between 0s and 2s): alpha is divided by the window,
    # over window // 2 channels either side of axis rank-3 (C of [N, C, H, W]), cut at the edges.
    window, axis = layer.window_size, x.ndim - 3
    half = window // 2
    squared = np.moveaxis(x * x, axis, 0)
    padded = np.pad(squared, [(half, half)] + [(0, 0)] * (x.ndim - 1))
    total = sum(padded[i:i + squared.shape[0]] for i in range(window))
    return x / (layer.k + layer.alpha / window * np.moveaxis(total, 0, axis)) ** layer.beta


# -- shapes and data movement --------------------------------------------------------------------------


def dims(value):
    return [] if value is None else list(value)


@handles("SHUFFLE")
def shuffle(ev, layer, x, shape=None):
    # IShuffleLayer: first transpose, reshape (0 copies the input's dimension when zero_is_placeholder,
    # one -1 is inferred), second transpose.
    first = dims(layer.first_transpose)[:x.ndim]
    y = x.transpose(first)
    target = [int(d) for d in shape] if shape is not None else dims(layer.reshape_dims)
    if shape is not None or layer.reshape_dims is not None:
        if layer.zero_is_placeholder:
            target = [y.shape[i] if d == 0 else d for i, d in enumerate(target)]
        y = y.reshape(target)
    return y.transpose(dims(layer.second_transpose)[:y.ndim])


@handles("CONSTANT")
def constant(ev, layer):
    array = ev.weights(layer, "weights", "CONSTANT")
    # a copy: the array TensorRT hands back views memory the lowering owns, freed with it, and a constant
    # that is a network output outlives the network in the results
    return np.array(array).reshape(tuple(layer.shape))


@handles("CONCATENATION")
def concatenation(ev, layer, *inputs):
    return np.concatenate(inputs, axis=layer.axis)


@handles("SHAPE")
def shape(ev, layer, x):
    return np.array(x.shape, np.int64)


@handles("MATRIX_MULTIPLY")
def matrix_multiply(ev, layer, a, b):
    # IMatrixMultiplyLayer: NONE, TRANSPOSE (the last two axes) or VECTOR (the last axis is a vector);
    # the leading (batch) axes broadcast.
    def prepare(x, operation):
        if operation == "TRANSPOSE":
            return np.swapaxes(x, -1, -2)
        return x

    op0, op1 = layer.op0.name, layer.op1.name
    a2, b2 = prepare(a, op0), prepare(b, op1)
    if op0 == "VECTOR" and op1 == "VECTOR":
        return (a2 * b2).sum(-1)
    if op0 == "VECTOR":
        return np.matmul(a2[..., None, :], b2)[..., 0, :]
    if op1 == "VECTOR":
        return np.matmul(a2, b2[..., :, None])[..., 0]
    same_rank(layer, a2, b2)
    return np.matmul(a2, b2)


@handles("REDUCE")
def reduce(ev, layer, x):
    axes = axes_of(layer.axes, x.ndim)
    function = {"SUM": np.sum, "PROD": np.prod, "MAX": np.max, "MIN": np.min, "AVG": np.mean}[layer.op.name]
    return function(x, axis=axes, keepdims=layer.keep_dims)


@handles("PADDING")
def padding(ev, layer, x):
    # IPaddingLayer: zeros before/after the innermost axes; negative amounts crop.
    pre, post = dims(layer.pre_padding_nd), dims(layer.post_padding_nd)
    lead = x.ndim - len(pre)
    y = np.pad(x, [(0, 0)] * lead + [(max(b, 0), max(a, 0)) for b, a in zip(pre, post)])
    index = [slice(None)] * lead + [slice(max(-b, 0), y.shape[lead + i] - max(-a, 0))
                                    for i, (b, a) in enumerate(zip(pre, post))]
    return y[tuple(index)]


@handles("SLICE")
def slice_(ev, layer, x, start=None, size=None, stride=None, fill=None, axes=None):
    # ISliceLayer: out[i] = x[start + i * stride] per axis (start, size, stride static or from inputs
    # 1-3, over `axes` when given); out-of-bounds per mode: STRICT_BOUNDS refuses, WRAP wraps, CLAMP
    # clamps, FILL uses input 4 (or 0), REFLECT reflects.
    axis_list = [int(a) % x.ndim for a in axes] if axes is not None else list(range(x.ndim))
    start_ = [int(v) for v in (start if start is not None else layer.start)]
    size_ = [int(v) for v in (size if size is not None else layer.shape)]
    stride_ = [int(v) for v in (stride if stride is not None else layer.stride)]
    mode = layer.mode.name
    y = x
    for axis, s, n, step in zip(axis_list, start_, size_, stride_):
        index = s + step * np.arange(n)
        length = x.shape[axis]
        inside = (index >= 0) & (index < length)
        if mode in ("STRICT_BOUNDS", "DEFAULT") and not inside.all():
            raise Unsupported("a STRICT_BOUNDS slice reaches outside its input")
        if mode == "WRAP":
            index = index % length
        elif mode == "CLAMP":
            index = np.clip(index, 0, length - 1)
        elif mode == "REFLECT":
            period = 2 * (length - 1) if length > 1 else 1
            index = np.abs(index) % period
            index = np.where(index >= length, period - index, index)
        taken = np.take(y, np.clip(index, 0, length - 1), axis=axis)
        if mode == "FILL":
            value = fill.reshape(()) if fill is not None else 0
            mask = inside.reshape([-1 if a == axis else 1 for a in range(y.ndim)])
            taken = np.where(mask, taken, value)
        y = taken
    return y


@handles("GATHER")
def gather(ev, layer, data, indices):
    # IGatherLayer: DEFAULT takes whole slices along `axis` (indices may be negative), ELEMENT is
    # take_along_axis, ND gathers index tuples from the last axis of indices.
    mode = layer.mode.name
    axis = layer.axis
    if mode == "DEFAULT":
        indices = np.where(indices < 0, indices + data.shape[axis], indices)
        if layer.num_elementwise_dims == 1 and axis >= 1:  # per item of the leading axis, which both share
            return np.stack([np.take(d, i, axis=axis - 1) for d, i in zip(data, indices)])
        if layer.num_elementwise_dims:
            raise Unsupported(f"gather with {layer.num_elementwise_dims} elementwise dims along axis {axis}")
        return np.take(data, indices, axis=axis)
    if mode == "ELEMENT":
        return np.take_along_axis(data, np.where(indices < 0, indices + data.shape[axis], indices), axis=axis)
    batch = layer.num_elementwise_dims
    depth = indices.shape[-1]
    out = np.empty(indices.shape[:-1] + data.shape[batch + depth:], data.dtype)
    for position in np.ndindex(*indices.shape[:-1]):
        out[position] = data[position[:batch] + tuple(indices[position])]
    return out


@handles("SCATTER")
def scatter(ev, layer, data, indices, updates):
    # IScatterLayer: the data with updates written at the indices. ND: indices [..., d] address the
    # first d axes of data, updates [..., rest of data's shape]; ELEMENT: out[..., indices[i...], ...] =
    # updates[i...] along `axis` (ONNX ScatterElements). Repeated indices: unspecified, the last wins here.
    out = np.array(data, copy=True)
    if layer.mode.name == "ELEMENT":
        np.put_along_axis(out, indices.astype(np.int64), updates, axis=layer.axis)
        return out
    depth = indices.shape[-1]
    out[tuple(np.moveaxis(indices.reshape(-1, depth), 1, 0))] = updates.reshape((-1,) + data.shape[depth:])
    return out


@handles("NMS")
def nms(ev, layer, boxes, scores, max_per_class, iou_threshold=None, score_threshold=None):
    # INMSLayer: per batch item, the (box, class) pairs scoring above ScoreThreshold (default 0), sorted by
    # descending score whatever their class and cut to topk_box_limit, are selected in that order unless
    # their IoU with a box already selected for the same class is above IoUThreshold (default 0), at most
    # MaxOutputBoxesPerClass per class. Output: (batch, class, box) rows by batch, then by descending
    # score, and their count. Boxes [B, N, 4] (shared by the classes) or [B, N, C, 4]; CORNER_PAIRS are
    # any two opposite corners, CENTER_SIZES (cx, cy, w, h). Equal scores: unspecified; (box, class) order here.
    limit = int(np.asarray(max_per_class).reshape(()))
    thresholds = [np.float32(0 if t is None else np.asarray(t).reshape(())) for t in (iou_threshold, score_threshold)]
    corners = nms_corners(boxes.astype(np.float32), layer.bounding_box_format.name)
    if corners.ndim == 3:
        corners = np.broadcast_to(corners[:, :, None], corners.shape[:2] + (scores.shape[2], 4))
    rows = [row for b in range(scores.shape[0])
            for row in nms_one_image(b, corners[b], scores[b], limit, layer.topk_box_limit, *thresholds)]
    selected = np.array(rows, np.int64).reshape(-1, 3)
    return selected.astype(DTYPES.get(layer.get_output(0).dtype.name, "int32")), np.array(len(rows), np.int32)


def nms_corners(boxes, box_format: str):
    """(x1, y1, x2, y2) with x1 <= x2 and y1 <= y2, from TensorRT's NMS box formats."""
    if box_format == "CENTER_SIZES":
        half = boxes[..., 2:] / np.float32(2)
        boxes = np.concatenate([boxes[..., :2] - half, boxes[..., :2] + half], axis=-1)
    return np.concatenate([np.minimum(boxes[..., :2], boxes[..., 2:]), np.maximum(boxes[..., :2], boxes[..., 2:])], -1)


def nms_one_image(batch: int, corners, scores, limit: int, candidates: int, iou_threshold, score_threshold):
    box, klass = np.nonzero(scores > score_threshold)
    order = np.argsort(-scores[box, klass], kind="stable")[:candidates]
    kept: dict = {}  # class -> the corners selected for it
    rows = []
    for j, c in zip(box[order], klass[order]):
        previous = kept.setdefault(c, [])
        if len(previous) >= limit:
            continue
        if previous and (iou(corners[j, c], np.array(previous)) > iou_threshold).any():
            continue
        previous.append(corners[j, c])
        rows.append((batch, c, j))
    return rows


def iou(one, many):
    width = np.maximum(np.minimum(one[2], many[:, 2]) - np.maximum(one[0], many[:, 0]), np.float32(0))
    height = np.maximum(np.minimum(one[3], many[:, 3]) - np.maximum(one[1], many[:, 1]), np.float32(0))
    inter = width * height
    area = (one[2] - one[0]) * (one[3] - one[1])
    return inter / (area + (many[:, 2] - many[:, 0]) * (many[:, 3] - many[:, 1]) - inter)


@handles("TOPK")
def topk(ev, layer, x, k=None):
    # ITopKLayer over one axis: MAX gives the largest first, MIN the smallest; indices int32.
    [axis] = axes_of(layer.axes, x.ndim)
    count = int(k) if k is not None else layer.k
    order = np.argsort(-x if layer.op.name == "MAX" else x, axis=axis, kind="stable")
    index = np.take(order, np.arange(count), axis=axis)
    indices_dtype = DTYPES.get(layer.get_output(1).dtype.name, "int32")
    return np.take_along_axis(x, index, axis=axis), index.astype(indices_dtype)


@handles("EINSUM")
def einsum(ev, layer, *inputs):
    return np.einsum(layer.equation, *inputs)


@handles("NORMALIZATION")
def normalization(ev, layer, x, scale_, bias):
    # INormalizationLayer: (x - mean) / sqrt(var + epsilon) * scale + bias, the statistics over `axes`;
    # with num_groups > 1 (group norm; axes then leave out the channels, axis 1) over each group of
    # channels as well. scale and bias broadcast (per channel).
    axes = axes_of(layer.axes, x.ndim)
    groups = layer.num_groups
    if groups > 1:
        grouped = x.reshape((x.shape[0], groups, -1) + x.shape[2:])
        reduce_axes = (2,) + tuple(a + 1 for a in axes if a >= 2)
        mean = grouped.mean(axis=reduce_axes, keepdims=True)
        var = ((grouped - mean) ** 2).mean(axis=reduce_axes, keepdims=True)
        normed = ((grouped - mean) / np.sqrt(var + layer.epsilon)).reshape(x.shape)
    else:
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        normed = (x - mean) / np.sqrt(var + layer.epsilon)
    return normed * scale_ + bias


@handles("CUMULATIVE")
def cumulative(ev, layer, x, axis):
    # ICumulativeLayer: running SUM along the axis given as input 1; exclusive shifts by one, reverse
    # runs from the end.
    if layer.op.name != "SUM":
        raise Unsupported(f"cumulative {layer.op.name}")
    axis = int(np.asarray(axis).reshape(())) % x.ndim
    y = np.flip(x, axis) if layer.reverse else x
    total = np.cumsum(y, axis=axis, dtype=y.dtype)
    if layer.exclusive:
        total = np.concatenate([np.zeros_like(np.take(total, [0], axis=axis)),
                                np.take(total, np.arange(total.shape[axis] - 1), axis=axis)], axis=axis)
    return np.flip(total, axis) if layer.reverse else total


@handles("FILL")
def fill(ev, layer, *inputs):
    # IFillLayer LINSPACE: out[i0, i1...] = alpha + sum_k beta[k] * i_k, with alpha and the per-axis
    # deltas beta from inputs 1 and 2 (the static beta is one number: only a 1-D fill is unambiguous);
    # random fills cannot be reproduced.
    if layer.operation.name != "LINSPACE":
        raise Unsupported(f"fill {layer.operation.name} (random values cannot be reproduced)")
    shape_, alpha, beta = (list(inputs) + [None] * 3)[:3]
    shape_ = [int(d) for d in (shape_ if shape_ is not None else layer.shape)]
    alpha = np.asarray(alpha).reshape(()) if alpha is not None else layer.alpha
    if beta is None:
        if len(shape_) != 1:
            raise Unsupported("a static LINSPACE fill of rank > 1 (one delta for several axes)")
        beta = [layer.beta]
    grids = np.indices(shape_)
    return alpha + sum(b * g for b, g in zip(np.asarray(beta).reshape(-1), grids))


@handles("QUANTIZE")
def quantize(ev, layer, x, scale_, zero_point=None):
    # IQuantizeLayer: round(x / scale) (half to even) + zero point, saturated to int8; per tensor or
    # per `axis`.
    target = DTYPES.get(layer.to_type.name, "")
    if target not in ("int8", "uint8"):
        raise Unsupported(f"quantize to {layer.to_type.name}")
    shape_ = [-1 if a == layer.axis else 1 for a in range(x.ndim)] if scale_.size > 1 else ()
    q = np.round(x / scale_.reshape(shape_)) + (zero_point.reshape(shape_) if zero_point is not None else 0)
    low, high = (-128, 127) if target == "int8" else (0, 255)
    return np.clip(q, low, high).astype(target)


@handles("DEQUANTIZE")
def dequantize(ev, layer, x, scale_, zero_point=None):
    shape_ = [-1 if a == layer.axis else 1 for a in range(x.ndim)] if scale_.size > 1 else ()
    shifted = x.astype(np.float32) - (zero_point.reshape(shape_).astype(np.float32) if zero_point is not None else 0)
    return shifted * scale_.reshape(shape_)


@handles("SQUEEZE")
def squeeze(ev, layer, x, axes):
    return np.squeeze(x, tuple(int(a) % x.ndim for a in axes))


@handles("UNSQUEEZE")
def unsqueeze(ev, layer, x, axes):
    rank = x.ndim + len(axes)
    return np.expand_dims(x, tuple(int(a) % rank for a in axes))


@handles("ONE_HOT")
def one_hot(ev, layer, indices, values, depth):
    depth = int(np.asarray(depth).reshape(()))
    axis = layer.axis % (indices.ndim + 1)
    positions = np.where(indices < 0, indices + depth, indices)
    hot = np.expand_dims(positions, axis) == np.arange(depth).reshape([-1 if a == axis else 1
                                                                       for a in range(indices.ndim + 1)])
    return np.where(hot, values[1], values[0])


@handles("NON_ZERO")
def non_zero(ev, layer, x):
    return np.stack(np.nonzero(x)).astype(DTYPES.get(layer.get_output(0).dtype.name, "int64"))


# -- resize --------------------------------------------------------------------------------------------


def source_coordinates(layer, size: int, out: int):
    """TensorRT's IResizeLayer coordinate transformation, from the lengths (not the scale factor):
    ALIGN_CORNERS x * (in - 1) / (out - 1), ASYMMETRIC x * in / out, HALF_PIXEL (x + 0.5) * in / out - 0.5;
    selector UPPER maps a single output cell to 0."""
    x = np.arange(out, dtype=np.float64)
    transform = layer.coordinate_transformation.name
    if out == 1 and layer.selector_for_single_pixel.name == "UPPER":
        return np.zeros(1)
    if transform == "ALIGN_CORNERS":
        return x * ((size - 1) / (out - 1)) if out > 1 else np.zeros(1)
    if transform == "ASYMMETRIC":
        return x * (size / out)
    return (x + 0.5) * (size / out) - 0.5


def resize_axis(layer, x, axis: int, out: int):
    size = x.shape[axis]
    source = source_coordinates(layer, size, out)
    mode = layer.resize_mode.name
    if mode == "NEAREST":
        rounding = layer.nearest_rounding.name
        index = {"FLOOR": np.floor, "CEIL": np.ceil, "HALF_UP": lambda v: np.floor(v + 0.5),
                 "HALF_DOWN": lambda v: np.ceil(v - 0.5)}[rounding](source)
        return np.take(x, np.clip(index, 0, size - 1).astype(np.int64), axis=axis)
    if mode == "CUBIC":
        return cubic_axis(layer, x, axis, source)
    if mode != "LINEAR":
        raise Unsupported(f"resize mode {mode}")
    source = np.clip(source, 0, size - 1)
    low = np.floor(source).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    weight = (source - low).astype(np.float32).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    return np.take(x, low, axis=axis) * (1 - weight) + np.take(x, high, axis=axis) * weight


def cubic_axis(layer, x, axis: int, source):
    """CUBIC along one axis: the four taps floor(source) - 1 .. + 2 weighted by Keys' kernel with
    A = cubic_coeff (|d| <= 1: (A+2)|d|^3 - (A+3)|d|^2 + 1; 1 < |d| < 2: A|d|^3 - 5A|d|^2 + 8A|d| - 4A);
    taps outside the input read the edge value, or with exclude_outside weigh 0 and the others are
    renormalized to sum to 1."""
    size, a = x.shape[axis], layer.cubic_coeff
    low = np.floor(source)
    taps = low[:, None] + np.arange(-1, 3)
    d = np.abs(source[:, None] - taps)
    weight = np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a)
    if layer.exclude_outside:
        weight = np.where((taps >= 0) & (taps < size), weight, 0)
        weight = weight / weight.sum(axis=1, keepdims=True)
    index = np.clip(taps, 0, size - 1).astype(np.int64)
    shape = [-1 if a == axis else 1 for a in range(x.ndim)]
    return sum(np.take(x, index[:, t], axis=axis) * weight[:, t].astype(np.float32).reshape(shape) for t in range(4))


@handles("RESIZE")
def resize(ev, layer, x, shape_=None):
    scales = list(layer.scales or ())
    if shape_ is not None:
        target = [int(d) for d in shape_]
    elif scales:
        target = [int(math.floor(size * np.float32(s))) for size, s in zip(x.shape, scales)]
    else:
        target = [size if d == -1 else d for size, d in zip(x.shape, layer.shape)]
    y = x
    for axis, out in enumerate(target):
        if out != x.shape[axis]:  # every transformation maps an unresized axis onto itself
            y = resize_axis(layer, y, axis, out)
    return y


@handles("GRID_SAMPLE")
def grid_sample(ev, layer, x, grid):
    # IGridSampleLayer as documented: LINEAR or NEAREST interpolation at grid's (x, y) in [-1, 1], FILL
    # reads 0 outside the input and CLAMP the edge, which are PyTorch's zeros and border padding
    from ..ops.grid_sample import grid_sample as sample

    modes = {"LINEAR": "bilinear", "NEAREST": "nearest"}
    paddings = {"FILL": "zeros", "CLAMP": "border"}
    mode, padding = layer.interpolation_mode.name, layer.sample_mode.name
    if mode not in modes or padding not in paddings:
        raise Unsupported(f"grid sample with {mode} interpolation and sample mode {padding}")
    return sample(x, grid, modes[mode], paddings[padding], layer.align_corners)


# -- attention -----------------------------------------------------------------------------------------


@handles("ATTENTION_INPUT")
def attention_input(ev, layer, q, k, v, mask=None):
    # IAttention (the operator reference's Attention): normalize(q @ k^T + mask) @ v, no scale, over
    # q [b, heads, s_q, h] and k, v [b, kv heads, s_kv, h], each kv head serving heads / kv heads query
    # heads; SOFTMAX over s_kv. A bool mask (broadcast to [b, heads, s_q, s_kv]) marks the positions that
    # may be attended, a float mask is added; causal UPPER_LEFT lets query i attend keys j <= i, LOWER_RIGHT
    # j <= i + s_kv - s_q. The whole attention is computed here: its output layer passes the result on.
    attention = layer.attention
    if attention.query_form.name != "PADDED_BHND" or attention.key_value_form.name != "PADDED_BHND":
        raise Unsupported("packed (ragged) attention inputs")
    group = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scores = np.matmul(q, np.swapaxes(k, -1, -2))
    s_q, s_kv = scores.shape[-2:]
    causal = attention.causal_kind.name
    if causal != "NONE":
        shift = s_kv - s_q if causal == "LOWER_RIGHT" else 0
        mask = np.arange(s_kv)[None, :] <= np.arange(s_q)[:, None] + shift
    if mask is not None and mask.dtype == bool:
        scores = np.where(mask, scores, -np.inf)
    elif mask is not None:
        scores = scores + mask
    if attention.norm_op.name == "SOFTMAX":
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores = e / e.sum(axis=-1, keepdims=True)
    return np.matmul(scores.astype(np.float32), v)


@handles("ATTENTION_OUTPUT")
def attention_output(ev, layer, x):
    return x
