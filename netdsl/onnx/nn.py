"""Convolution, pooling, normalization and matrix products. Weights of ONNX nodes are inputs; constant
ones become the layer's weights."""

from . import Layer, NotExpressible, NotExportable, constant, onnx_op, present, to_onnx, weight

WINDOW = ("auto_pad", "kernel_shape", "pads", "strides", "dilations")


def explicit_pads(attrs, in_shape, kernel, strides, dilations) -> tuple[list[int], list[int]]:
    """(begins, ends) of the padding of a sliding window, with auto_pad resolved for these sizes."""
    n = len(kernel)
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, s, d in zip(in_shape, kernel, strides, dilations):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else large)
            ends.append(large if auto_pad == "SAME_UPPER" else small)
        return begins, ends
    pads = [0] * (2 * n) if auto_pad == "VALID" else list(attrs.get("pads", [0] * (2 * n)))
    return pads[:n], pads[n:]


def padding(begins: list[int], ends: list[int]):
    """netdsl's padding parameter: one size per axis when symmetric, else {top, bottom, left, right}."""
    if begins == ends:
        return list(begins)
    if len(begins) == 2:
        return {"top": begins[0], "bottom": ends[0], "left": begins[1], "right": ends[1]}
    raise NotExpressible(f"asymmetric padding in {len(begins)}-D")


def window(attrs, x_shape, kernel) -> dict:
    n = len(kernel)
    strides = list(attrs.get("strides", [1] * n))
    dilations = list(attrs.get("dilations", [1] * n))
    begins, ends = explicit_pads(attrs, x_shape[2:], kernel, strides, dilations)
    params = {"kernel": list(kernel), "stride": strides, "padding": padding(begins, ends)}
    if any(d != 1 for d in dilations):
        params["dilation"] = dilations
    return params


@onnx_op("Conv", "convolution", WINDOW + ("group",))
def Conv(node, attrs, inputs):
    w = weight(constant(inputs, 1, "W"), "W")
    kernel = attrs.get("kernel_shape", w.shape[2:])
    weights = {"weight": w}
    if present(inputs, 2):
        weights["bias"] = weight(constant(inputs, 2, "B"), "B")
    params = {"out_channels": w.shape[0], **window(attrs, inputs[0].type.shape, kernel),
              "groups": attrs.get("group", 1), "bias": "bias" in weights}
    return Layer("convolution", params, weights=weights)


def window_attributes(g, node, x) -> dict:
    """kernel_shape, strides, dilations and pads (begins then ends, as ONNX) of a window layer, ``same``
    resolved for this input."""
    from ..ops import REGISTRY

    win = REGISTRY[g.kind].window(node, x.type)
    return {"kernel_shape": list(win.kernel), "strides": list(win.stride), "dilations": list(win.dilation),
            "pads": list(win.padding)}


@to_onnx("convolution")
def convolution(g, node, x):
    dtype = x.type.dtype
    bias = [g.weight("bias", dtype)] if node.params["bias"] else []
    return g.op("Conv", x, g.weight("weight", dtype), *bias, group=node.params["groups"],
                **window_attributes(g, node, x))


@onnx_op("ConvTranspose", "deconvolution", WINDOW + ("group", "output_padding", "output_shape"))
def ConvTranspose(node, attrs, inputs):
    w = weight(constant(inputs, 1, "W"), "W")
    kernel = list(attrs.get("kernel_shape", w.shape[2:]))
    n, group = len(kernel), attrs.get("group", 1)
    strides = list(attrs.get("strides", [1] * n))
    dilations = list(attrs.get("dilations", [1] * n))
    extra = list(attrs.get("output_padding", [0] * n))
    auto_pad = attrs.get("auto_pad", "NOTSET")
    in_shape = inputs[0].type.shape[2:]
    if "output_shape" in attrs or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        # ONNX's rule: the padding (and the output padding for what padding cannot remove) that gives
        # output_shape, or input * stride for SAME
        wanted = attrs.get("output_shape") or [size * s for size, s in zip(in_shape, strides)]
        begins, ends = [], []
        for i, (size, k, s, d) in enumerate(zip(in_shape, kernel, strides, dilations)):
            total = s * (size - 1) + extra[i] + (k - 1) * d + 1 - wanted[-n + i]
            if total < 0:
                extra[i], total = extra[i] - total, 0
            small, large = total // 2, total - total // 2
            begins.append(small if auto_pad == "SAME_UPPER" else large)
            ends.append(large if auto_pad == "SAME_UPPER" else small)
    else:
        begins, ends = explicit_pads(attrs, in_shape, kernel, strides, dilations)
    weights = {"weight": w}
    if present(inputs, 2):
        weights["bias"] = weight(constant(inputs, 2, "B"), "B")
    params = {"out_channels": w.shape[1] * group, "kernel": kernel, "stride": strides,
              "padding": padding(begins, ends), "groups": group, "bias": "bias" in weights}
    if any(d != 1 for d in dilations):
        params["dilation"] = dilations
    if any(extra):
        params["output_padding"] = extra
    return Layer("deconvolution", params, weights=weights)


@to_onnx("deconvolution")
def deconvolution(g, node, x):
    from ..ops import REGISTRY

    dtype = x.type.dtype
    bias = [g.weight("bias", dtype)] if node.params["bias"] else []
    attributes = window_attributes(g, node, x)
    extra = REGISTRY["deconvolution"].output_padding(node, REGISTRY["deconvolution"].window(node, x.type))
    return g.op("ConvTranspose", x, g.weight("weight", dtype), *bias, group=node.params["groups"],
                output_padding=list(extra) if any(extra) else None, **attributes)


@onnx_op("MaxPool", "max_pool", WINDOW + ("ceil_mode", "storage_order"))
def MaxPool(node, attrs, inputs):
    params = {**window(attrs, inputs[0].type.shape, attrs["kernel_shape"]),
              "ceil_mode": bool(attrs.get("ceil_mode", 0))}
    indices = len(node.outputs) > 1 and node.outputs[1]
    return Layer("max_pool", params, outputs=["", None] if indices else None)


def pool_attributes(g, node, x) -> tuple[dict, list[int] | None]:
    """window_attributes and ceil_mode of a pooling layer, such that ONNX gives PyTorch's output size,
    and the pads (ONNX's Pad order) of a Pad node to write first, or None.

    In ceil mode PyTorch drops a last window that would start in the end padding; ONNX's ceil_mode keeps
    it. Where the two differ: ceil_mode 0 with the end padding that makes the floor rule count PyTorch's
    windows (the last one may reach past the input, as PyTorch's partial windows do), where the extension
    counts for nothing, as in PyTorch. ONNX Runtime takes pads smaller than the kernel only: a dilated max
    pool's extension goes to a Pad node of -inf instead; an average counting the padding pads with zeros
    first (cells it counts) and pools with count_include_pad 0 over the extension (cells it does not)."""
    attributes = window_attributes(g, node, x)
    attributes["ceil_mode"] = int(node.params["ceil_mode"])
    sizes, out = x.type.shape[2:], g.out.shape[2:]
    if not node.params["ceil_mode"] or not all(isinstance(d, int) for d in (*sizes, *out)):
        return attributes, None  # a named size: ONNX's shape inference has no length to disagree with
    n, pads, kernel = len(sizes), attributes["pads"], attributes["kernel_shape"]
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, attributes["dilations"])]
    onnx_ceil = [-(-(size + pads[i] + pads[n + i] - span) // s) + 1
                 for i, (size, span, s) in enumerate(zip(sizes, spans, attributes["strides"]))]
    if onnx_ceil == list(out):
        return attributes, None
    extra = [max(0, (o - 1) * s + span - size - pads[i] - pads[n + i])
             for i, (size, o, s, span) in enumerate(zip(sizes, out, attributes["strides"], spans))]
    attributes["ceil_mode"] = 0
    if node.params.get("count_include_pad") and any(extra):
        attributes.update(pads=[0] * n + extra, count_include_pad=0)
        return attributes, [0, 0, *pads[:n], 0, 0, *pads[n:]]
    ends = [e + more for e, more in zip(pads[n:], extra)]
    if all(e < k for e, k in zip(ends, kernel)):
        attributes["pads"] = pads[:n] + ends
        return attributes, None
    return attributes, [0] * (n + 2) + [0, 0, *extra]


def pool(g, op_type: str, x, attributes: dict, prepad, fill: float):
    if prepad is not None:
        x = g.op("Pad", x, g.ints(prepad), g.scalar(fill, x.type.dtype))
    return g.op(op_type, x, **attributes)


@to_onnx("max_pool")
def max_pool(g, node, x):
    return pool(g, "MaxPool", x, *pool_attributes(g, node, x), fill=float("-inf"))


@onnx_op("AveragePool", "avg_pool", WINDOW + ("ceil_mode", "count_include_pad"))
def AveragePool(node, attrs, inputs):
    params = window(attrs, inputs[0].type.shape, attrs["kernel_shape"])
    if "dilation" in params:
        raise NotExpressible("AveragePool with dilations (PyTorch's avg_pool has none)")
    return Layer("avg_pool", {**params, "ceil_mode": bool(attrs.get("ceil_mode", 0)),
                              "count_include_pad": bool(attrs.get("count_include_pad", 0))})


@to_onnx("avg_pool")
def avg_pool(g, node, x):
    attributes, prepad = pool_attributes(g, node, x)
    del attributes["dilations"]
    attributes.setdefault("count_include_pad", int(node.params["count_include_pad"]))
    return pool(g, "AveragePool", x, attributes, prepad, fill=0.0)


onnx_op("GlobalAveragePool", "global_avg_pool")(lambda node, attrs, inputs: Layer("global_avg_pool"))
onnx_op("GlobalMaxPool", "global_max_pool")(lambda node, attrs, inputs: Layer("global_max_pool"))
to_onnx("global_avg_pool")(lambda g, node, x: g.op("GlobalAveragePool", x))
to_onnx("global_max_pool")(lambda g, node, x: g.op("GlobalMaxPool", x))


@to_onnx("adaptive_avg_pool", "adaptive_max_pool")
def adaptive_pool(g, node, x):
    # ONNX has no adaptive pooling: global pooling for an output of 1, plain pooling where every window
    # has one size (the output divides the input), else its windows one by one
    sizes, out = x.type.shape[2:], g.out.shape[2:]
    maximum = g.kind == "adaptive_max_pool"
    if all(o == 1 for o in out):
        return g.op("GlobalMaxPool" if maximum else "GlobalAveragePool", x)
    if all(size % o == 0 for size, o in zip(sizes, out)):
        kernel = [size // o for size, o in zip(sizes, out)]
        return g.op("MaxPool" if maximum else "AveragePool", x, kernel_shape=kernel, strides=kernel)
    return adaptive_windows_pool(g, x, out, "ReduceMax" if maximum else "ReduceMean")


def adaptive_windows_pool(g, x, out_sizes, reduce: str):
    """PyTorch's adaptive windows ([floor(i * size / out), ceil((i + 1) * size / out)) per axis) as
    slices and reductions, one axis after the other: a mean or a maximum over a box is one over its rows
    of one over its columns."""
    from ..ops.pooling import adaptive_windows

    sizes = x.type.shape[2:]
    for axis, (size, out) in enumerate(zip(sizes, out_sizes), start=2):
        if size == out:
            continue
        pieces = [g.op(reduce, g.op("Slice", x, g.ints([begin]), g.ints([end]), g.ints([axis])), g.ints([axis]),
                       keepdims=1) for begin, end in adaptive_windows(size, out)]
        x = g.op("Concat", *pieces, axis=axis) if len(pieces) > 1 else pieces[0]
    return x


def only_first_output(node):
    """outputs for a layer that gives the node's first output only (the others are training statistics)."""
    return ["", *[None] * (len(node.outputs) - 1)] if any(node.outputs[1:]) else None


@onnx_op("BatchNormalization", "batch_norm", ("epsilon", "momentum", "training_mode", "spatial"))
def BatchNormalization(node, attrs, inputs):
    if attrs.get("training_mode", 0):
        raise NotExpressible("BatchNormalization in training mode (batch statistics)")
    slots = ("weight", "bias", "running_mean", "running_var")
    weights = {slot: weight(constant(inputs, i + 1, slot), slot) for i, slot in enumerate(slots)}
    return Layer("batch_norm", {"eps": attrs.get("epsilon", 1e-5)}, weights=weights,
                 outputs=only_first_output(node))


@to_onnx("batch_norm")
def batch_norm(g, node, x):
    slots = ("weight", "bias", "running_mean", "running_var")
    return g.op("BatchNormalization", x, *(g.weight(slot, x.type.dtype) for slot in slots),
                epsilon=float(node.params["eps"]))


def affine_or(g, slot: str, value: float, x, shape):
    """The layer's weight ``slot`` (of ``shape``), or a constant of ``value`` when it has none."""
    import numpy as np

    if g.has_weight(slot):
        return g.weight(slot, x.type.dtype, shape)
    return g.initializer(np.full(shape, value, np.float16 if x.type.dtype == "float16" else np.float32))


@onnx_op("InstanceNormalization", "instance_norm", ("epsilon",))
def InstanceNormalization(node, attrs, inputs):
    weights = {"weight": weight(constant(inputs, 1, "scale"), "scale"),
               "bias": weight(constant(inputs, 2, "B"), "B")}
    return Layer("instance_norm", {"eps": attrs.get("epsilon", 1e-5), "affine": True}, weights=weights)


@to_onnx("instance_norm")
def instance_norm(g, node, x):
    channels = [x.type.shape[1]]
    return g.op("InstanceNormalization", x, affine_or(g, "weight", 1.0, x, channels),
                affine_or(g, "bias", 0.0, x, channels), epsilon=float(node.params["eps"]))


def normalized_shape(attrs, inputs) -> list[int]:
    shape = inputs[0].type.shape
    return list(shape[attrs.get("axis", -1) % len(shape):])


def affine(inputs, index: int, what: str, shape: list[int]):
    """A scale or bias operand as a weight of the normalized shape (ONNX broadcasts it there)."""
    import numpy as np

    return np.ascontiguousarray(np.broadcast_to(weight(constant(inputs, index, what), what), shape))


@onnx_op("LayerNormalization", "layer_norm", ("axis", "epsilon", "stash_type"))
def LayerNormalization(node, attrs, inputs):
    if attrs.get("stash_type", 1) != 1:
        raise NotExpressible("LayerNormalization with statistics in a type other than float32")
    shape = normalized_shape(attrs, inputs)
    weights = {"weight": affine(inputs, 1, "Scale", shape)}
    if present(inputs, 2):
        weights["bias"] = affine(inputs, 2, "B", shape)
    return Layer("layer_norm", {"normalized_shape": shape, "eps": attrs.get("epsilon", 1e-5),
                                "bias": "bias" in weights}, weights=weights,
                 outputs=only_first_output(node))


@to_onnx("layer_norm")
def layer_norm(g, node, x):
    shape = list(node.params["normalized_shape"])
    bias = [g.weight("bias", x.type.dtype)] if g.has_weight("bias") else []
    return g.op("LayerNormalization", x, affine_or(g, "weight", 1.0, x, shape), *bias, axis=-len(shape),
                epsilon=float(node.params["eps"]))


@to_onnx("rms_norm")
def rms_norm(g, node, x):
    # RMSNormalization is opset 23, newer than what ONNX Runtime and TensorRT commonly read: its
    # definition, x / sqrt(mean(x^2) + eps) * weight, in opset-21 operators
    from ..ops import REGISTRY

    shape = list(node.params["normalized_shape"])
    eps = REGISTRY["rms_norm"].epsilon(node.params, x.type.dtype)
    axes = g.ints(range(-len(shape), 0))
    mean_square = g.op("ReduceMean", g.op("Mul", x, x), axes, keepdims=1)
    y = g.op("Div", x, g.op("Sqrt", g.op("Add", mean_square, g.scalar(eps, x.type.dtype))))
    return g.op("Mul", y, g.weight("weight", x.type.dtype)) if g.has_weight("weight") else y


@onnx_op("RMSNormalization", "rms_norm", ("axis", "epsilon", "stash_type"))
def RMSNormalization(node, attrs, inputs):
    if attrs.get("stash_type", 1) != 1:
        raise NotExpressible("RMSNormalization with statistics in a type other than float32")
    shape = normalized_shape(attrs, inputs)
    return Layer("rms_norm", {"normalized_shape": shape, "eps": attrs.get("epsilon", 1e-5)},
                 weights={"weight": affine(inputs, 1, "scale", shape)})


@onnx_op("GroupNormalization", "group_norm", ("epsilon", "num_groups", "stash_type"))
def GroupNormalization(node, attrs, inputs):
    channels, groups = inputs[0].type.shape[1], attrs["num_groups"]
    if node.opset < 21 and groups != channels:
        raise NotExpressible("GroupNormalization before opset 21 scales per group (PyTorch's per channel)")
    if attrs.get("stash_type", 1) != 1:
        raise NotExpressible("GroupNormalization with statistics in a type other than float32")
    weights = {"weight": affine(inputs, 1, "scale", [channels]), "bias": affine(inputs, 2, "bias", [channels])}
    return Layer("group_norm", {"num_groups": groups, "eps": attrs.get("epsilon", 1e-5)}, weights=weights)


@to_onnx("group_norm")
def group_norm(g, node, x):
    channels = [x.type.shape[1]]
    return g.op("GroupNormalization", x, affine_or(g, "weight", 1.0, x, channels),
                affine_or(g, "bias", 0.0, x, channels), num_groups=node.params["num_groups"],
                epsilon=float(node.params["eps"]))


@onnx_op("LRN", "lrn", ("size", "alpha", "beta", "bias"))
def LRN(node, attrs, inputs):
    return Layer("lrn", {"size": attrs["size"], "alpha": attrs.get("alpha", 1e-4), "beta": attrs.get("beta", 0.75),
                         "k": attrs.get("bias", 1.0)})


@to_onnx("lrn")
def lrn(g, node, x):
    p = node.params
    return g.op("LRN", x, size=p["size"], alpha=float(p["alpha"]), beta=float(p["beta"]), bias=float(p["k"]))


@onnx_op("Gemm", "fully_connected", ("alpha", "beta", "transA", "transB"))
def Gemm(node, attrs, inputs):
    import numpy as np

    # alpha * A @ B + beta * C with B and C constant: a fully connected layer, alpha and beta folded
    # into its weights (torch.nn.Linear keeps weight as [out, in], B transposed)
    if attrs.get("transA", 0):
        raise NotExpressible("Gemm with transA (the input would need a transpose first)")
    b = weight(constant(inputs, 1, "B"), "B")
    w = (b if attrs.get("transB", 0) else b.T) * np.float32(attrs.get("alpha", 1.0))
    out_features = w.shape[0]
    weights = {"weight": np.ascontiguousarray(w)}
    if present(inputs, 2):
        c = weight(constant(inputs, 2, "C"), "C")
        if c.ndim == 2 and c.shape[0] != 1:
            raise NotExpressible(f"Gemm bias C of shape {list(c.shape)} varies per row (a layer's bias per column)")
        weights["bias"] = np.ascontiguousarray(np.broadcast_to(c.reshape(-1), (out_features,))
                                               * np.float32(attrs.get("beta", 1.0)))
    return Layer("fully_connected", {"out_features": out_features, "bias": "bias" in weights}, weights=weights)


@to_onnx("fully_connected")
def fully_connected(g, node, x):
    # torch.flatten(x, 1) then torch.nn.Linear, as PyTorch exports them; the importer joins the two again
    dtype = x.type.dtype
    flat = g.op("Flatten", x, axis=1) if x.type.rank != 2 else x
    bias = [g.weight("bias", dtype)] if node.params["bias"] else []
    return g.op("Gemm", flat, g.weight("weight", dtype), *bias, transB=1)


onnx_op("MatMul", "matmul")(lambda node, attrs, inputs: Layer("matmul", inputs=[0, 1]))


@to_onnx("matmul")
def matmul(g, node, a, b):
    def transposed(x):
        rank = x.type.rank
        if rank < 2:
            raise NotExportable("transposing a 1-D operand")
        return g.op("Transpose", x, perm=list(range(rank - 2)) + [rank - 1, rank - 2])

    a = transposed(a) if node.params["transpose_a"] else a
    b = transposed(b) if node.params["transpose_b"] else b
    return g.op("MatMul", a, b)


@onnx_op("Einsum", "einsum", ("equation",))
def Einsum(node, attrs, inputs):
    return Layer("einsum", {"equation": attrs["equation"].replace(" ", "")}, inputs=list(range(len(inputs))))


to_onnx("einsum")(lambda g, node, *xs: g.op("Einsum", *xs, equation=node.params["equation"]))
