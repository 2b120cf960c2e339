"""Shapes and layout: the ONNX inputs that hold shapes, axes, indices or pads become parameters."""

from . import Layer, NotExpressible, constant, ints, one_or_list, onnx_op, plain, present, scalar

PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def rank(inputs, index: int = 0) -> int:
    return len(inputs[index].type.shape)


def axes_of(node, attrs, inputs, index: int, opset: int) -> list[int] | None:
    """Axes given as an input (from ``opset`` on) or as an attribute (before); None when absent."""
    if node.opset >= opset:
        return ints(constant(inputs, index, "axes")) if present(inputs, index) else None
    return list(attrs["axes"]) if "axes" in attrs else None


@onnx_op("Concat", "concat", ("axis",))
def Concat(node, attrs, inputs):
    return Layer("concat", {"axis": attrs["axis"]}, inputs=list(range(len(inputs))))


@onnx_op("Flatten", "flatten", ("axis",))
def Flatten(node, attrs, inputs):
    shape = inputs[0].type.shape
    axis = attrs.get("axis", 1)
    axis = axis + len(shape) if axis < 0 else axis
    if axis == 1 and len(shape) >= 2:
        return Layer("flatten", {"start_dim": 1})
    outer = inner = 1  # ONNX's flatten is always 2-D: [prod(shape[:axis]), prod(shape[axis:])]
    for d in shape[:axis]:
        outer *= d
    for d in shape[axis:]:
        inner *= d
    return Layer("reshape", {"shape": [outer, inner]})


@onnx_op("Reshape", "reshape", ("allowzero",))
def Reshape(node, attrs, inputs):
    shape = ints(constant(inputs, 1, "shape"))
    if attrs.get("allowzero", 0) and 0 in shape:
        raise NotExpressible("Reshape to a zero-size dimension (allowzero)")
    return Layer("reshape", {"shape": shape})


@onnx_op("Squeeze", "squeeze", ("axes",))
def Squeeze(node, attrs, inputs):
    axes = axes_of(node, attrs, inputs, 1, 13)
    if axes is None:
        axes = [i for i, d in enumerate(inputs[0].type.shape) if d == 1]
    return Layer("squeeze", {"dim": one_or_list(axes)})


@onnx_op("Unsqueeze", "unsqueeze", ("axes",))
def Unsqueeze(node, attrs, inputs):
    # ONNX's axes count in the output; inserting them in ascending order gives the same result
    out_rank = rank(inputs) + len(axes_of(node, attrs, inputs, 1, 13))
    axes = sorted(a % out_rank for a in axes_of(node, attrs, inputs, 1, 13))
    return Layer("unsqueeze", {"dim": one_or_list(axes)})


@onnx_op("Transpose", "permute", ("perm",))
def Transpose(node, attrs, inputs):
    return Layer("permute", {"dims": list(attrs.get("perm", reversed(range(rank(inputs)))))})


def slice_axis(size: int, start: int, end: int, step: int) -> dict:
    """One axis of an ONNX slice as Python slice bounds in range (ONNX clamps out-of-range bounds). A
    negative step through the first element ends at -(size + 1), as in Python."""
    start = start + size if start < 0 else start
    end = end + size if end < 0 else end
    if step > 0:
        return {"start": min(max(start, 0), size), "end": min(max(end, 0), size), "step": step}
    start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
    return {"start": start, "end": -(size + 1) if end < 0 else end, "step": step}


@onnx_op("Slice", "slice", ("starts", "ends", "axes"))
def Slice(node, attrs, inputs):
    shape = inputs[0].type.shape
    if node.opset >= 10:
        starts, ends = ints(constant(inputs, 1, "starts")), ints(constant(inputs, 2, "ends"))
        axes = ints(constant(inputs, 3, "axes")) if present(inputs, 3) else list(range(len(starts)))
        steps = ints(constant(inputs, 4, "steps")) if present(inputs, 4) else [1] * len(starts)
    else:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes, steps = list(attrs.get("axes", range(len(starts)))), [1] * len(starts)
    parts = [slice_axis(shape[a], s, e, t) for a, s, e, t in zip(axes, starts, ends, steps)]
    if any(p["end"] <= p["start"] if p["step"] > 0 else p["end"] >= p["start"] for p in parts):
        raise NotExpressible("Slice with an empty result (netdsl has no zero-size dimensions)")
    axes = [a % len(shape) for a in axes]
    params = {key: one_or_list([p[key] for p in parts]) for key in ("start", "end", "step")}
    return Layer("slice", {"dim": one_or_list(axes), **params})


@onnx_op("Split", "split", ("axis", "split", "num_outputs"))
def Split(node, attrs, inputs):
    axis = attrs.get("axis", 0)
    size = inputs[0].type.shape[axis]
    count = len(node.outputs)
    if node.opset >= 13 and present(inputs, 1):
        sizes = ints(constant(inputs, 1, "split"))
    elif "split" in attrs:
        sizes = list(attrs["split"])
    else:  # ONNX's num_outputs: pieces of ceil(size / n), the last one smaller
        piece = -(-size // count)
        sizes = [min(piece, size - i * piece) for i in range(count)]
    if 0 in sizes:
        raise NotExpressible("Split into zero-size pieces (netdsl has no zero-size dimensions)")
    return Layer("split", {"split_size_or_sections": sizes, "dim": axis},
                 outputs=[str(i) for i in range(count)])


@onnx_op("Gather", "gather", ("axis",))
def Gather(node, attrs, inputs):
    # ONNX's Gather selects whole slices along `axis` (torch.index_select, or x[:, idx] for any index shape)
    index = constant(inputs, 1, "indices")
    return Layer("gather", {"dim": attrs.get("axis", 0), "index": plain(index)})


@onnx_op("Pad", "pad", ("mode", "pads", "value"))
def Pad(node, attrs, inputs):
    n = rank(inputs)
    if node.opset >= 11:
        pads = ints(constant(inputs, 1, "pads"))
        value = scalar(constant(inputs, 2, "constant_value")) if present(inputs, 2) else 0
        axes = ints(constant(inputs, 3, "axes")) if present(inputs, 3) else list(range(n))
    else:
        pads, value, axes = list(attrs["pads"]), attrs.get("value", 0.0), list(range(n))
    mode = attrs.get("mode", "constant")
    begin, end = [0] * n, [0] * n
    for i, axis in enumerate(axes):
        begin[axis % n], end[axis % n] = pads[i], pads[i + len(axes)]
    # torch.nn.functional.pad: (begin, end) pairs from the last dimension backwards, as far as needed
    first = next((i for i in range(n) if begin[i] or end[i]), n - 1)
    pad = [p for axis in range(n - 1, first - 1, -1) for p in (begin[axis], end[axis])]
    params = {"pad": pad, "mode": PAD_MODES[mode]}
    if mode == "constant":
        params["value"] = value
    return Layer("pad", params)


@onnx_op("Expand", "expand")
def Expand(node, attrs, inputs):
    import numpy as np

    # ONNX's Expand broadcasts both ways (a 1 in `shape` keeps the input's size); PyTorch's expand
    # takes the output size
    size = np.broadcast_shapes(tuple(inputs[0].type.shape), tuple(ints(constant(inputs, 1, "shape"))))
    return Layer("expand", {"size": list(size)})


@onnx_op("Tile", "tile")
def Tile(node, attrs, inputs):
    return Layer("tile", {"dims": ints(constant(inputs, 1, "repeats"))})


@onnx_op("DepthToSpace", "pixel_shuffle", ("blocksize", "mode"))
def DepthToSpace(node, attrs, inputs):
    block = attrs["blocksize"]
    # torch.nn.PixelShuffle is CRD; DCR orders the channels the other way, the same only for one group
    if attrs.get("mode", "DCR") == "DCR" and inputs[0].type.shape[1] != block * block:
        raise NotExpressible("DepthToSpace in DCR mode (torch.nn.PixelShuffle is CRD)")
    return Layer("pixel_shuffle", {"upscale_factor": block})


@onnx_op("SpaceToDepth", "pixel_unshuffle", ("blocksize", "mode"))
def SpaceToDepth(node, attrs, inputs):
    if attrs.get("mode", "DCR") == "DCR" and inputs[0].type.shape[1] != 1:
        raise NotExpressible("SpaceToDepth in DCR mode (torch.nn.PixelUnshuffle is CRD)")
    return Layer("pixel_unshuffle", {"downscale_factor": attrs["blocksize"]})
