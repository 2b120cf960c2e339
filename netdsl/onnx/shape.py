"""Shapes and layout: the ONNX inputs that hold shapes, axes, indices or pads become parameters."""

from . import Layer, NotExportable, NotExpressible, constant, ints, one_or_list, onnx_op, plain, present, scalar, to_onnx

INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)

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
    if len(inputs) == 1:  # torch.stack or torch.cat of a one-item list (RT-DETR's decoder): x itself
        return Layer("identity")
    return Layer("concat", {"axis": attrs["axis"]}, inputs=list(range(len(inputs))))


to_onnx("concat")(lambda g, node, *xs: g.op("Concat", *xs, axis=node.params["axis"]))


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
    if not isinstance(outer, int) and isinstance(inner, int):
        # a product of sizes known only at run time (transformers' padding mask flattened, [batch * length,
        # 1]): the reshape infers it from the element count
        return Layer("reshape", {"shape": [-1, inner]})
    if not isinstance(inner, int) and isinstance(outer, int):
        return Layer("reshape", {"shape": [outer, -1]})
    return Layer("reshape", {"shape": [outer, inner]})


@to_onnx("flatten")
def flatten(g, node, x):
    # ONNX's Flatten always gives 2-D: torch.flatten(x, 1) of the whole rest only; others as reshapes
    p, rank = node.params, x.type.rank
    if rank >= 2 and p["start_dim"] % rank == 1 and p["end_dim"] % rank == rank - 1:
        return g.op("Flatten", x, axis=1)
    return None


@onnx_op("Reshape", "reshape", ("allowzero",))
def Reshape(node, attrs, inputs):
    shape = ints(constant(inputs, 1, "shape"))
    if attrs.get("allowzero", 0) and 0 in shape:
        raise NotExpressible("Reshape to a zero-size dimension (allowzero)")
    return Layer("reshape", {"shape": shape})


@to_onnx("reshape")
def reshape(g, node, x):
    # ONNX's Reshape reads 0 and -1 as netdsl does; a dynamic dimension kept in place is copied (0)
    shape = g.out.shape
    target = [d if isinstance(d, int) else 0 if i < x.type.rank and x.type.shape[i] == d else -1
              for i, d in enumerate(shape)]
    if target.count(-1) <= 1:  # a dynamic size kept in place is copied (0), one merged one inferred (-1)
        return g.op("Reshape", x, g.ints(target))
    wanted = node.params["shape"]
    if all(isinstance(d, int) for d in wanted):
        return g.op("Reshape", x, g.ints(wanted))
    raise NotExportable(f"a reshape to {list(map(str, shape))} needs several dynamic sizes computed at run time")


@onnx_op("Squeeze", "squeeze", ("axes",))
def Squeeze(node, attrs, inputs):
    axes = axes_of(node, attrs, inputs, 1, 13)
    if axes is None:
        axes = [i for i, d in enumerate(inputs[0].type.shape) if d == 1]
    return Layer("squeeze", {"dim": one_or_list(axes)})


@to_onnx("squeeze")
def squeeze(g, node, x):
    # the axes squeeze removes: those of size 1 among `dim` (PyTorch keeps the others)
    removed = [i for i, d in enumerate(x.type.shape) if d == 1 and not isinstance(g.out, tuple)]
    removed = removed if len(x.type.shape) - len(removed) == len(g.out.shape) else None
    if removed is None:
        return None
    return g.op("Squeeze", x, g.ints(removed)) if removed else g.op("Identity", x)


@onnx_op("Unsqueeze", "unsqueeze", ("axes",))
def Unsqueeze(node, attrs, inputs):
    # ONNX's axes count in the output; netdsl's unsqueeze inserts one, so several make one reshape
    given = axes_of(node, attrs, inputs, 1, 13)
    out_rank = rank(inputs) + len(given)
    axes = sorted(a % out_rank for a in given)
    if len(axes) == 1:
        return Layer("unsqueeze", {"dim": axes[0]})
    return Layer("reshape", {"shape": unsqueezed(inputs[0].type.shape, axes)})


def unsqueezed(shape, axes: list[int]) -> list[int]:
    """The reshape target that inserts 1 at ``axes`` (ascending, counted in the output): a static size as
    itself, a dynamic one as 0 (copied) where it keeps its position, else as the one -1 (inferred)."""
    sizes, target = iter(enumerate(shape)), []
    for position in range(len(shape) + len(axes)):
        if position in axes:
            target.append(1)
            continue
        index, size = next(sizes)
        target.append(size if isinstance(size, int) else 0 if index == position else -1)
    if target.count(-1) > 1:
        raise NotExpressible("Unsqueeze inserting axes before two or more dynamic dimensions (a reshape infers one)")
    return target


@to_onnx("unsqueeze")
def unsqueeze(g, node, x):
    return g.op("Unsqueeze", x, g.ints([node.params["dim"] % (x.type.rank + 1)]))


@onnx_op("Transpose", "permute", ("perm",))
def Transpose(node, attrs, inputs):
    return Layer("permute", {"dims": list(attrs.get("perm", reversed(range(rank(inputs)))))})


to_onnx("permute")(lambda g, node, x: g.op("Transpose", x, perm=[d % x.type.rank for d in node.params["dims"]])
                   if x.type.rank else g.op("Identity", x))


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


@to_onnx("slice")
def slice_(g, node, x):
    from ..ops import REGISTRY

    plan = REGISTRY["slice"].plan(node.params, x.type.shape)  # axis -> (first, count, step), bounds resolved
    axes = sorted(plan)
    ends = [plan[a][0] + plan[a][1] * plan[a][2] for a in axes]
    ends = [INT64_MIN if end < 0 else end for end in ends]  # past the first element going backwards
    return g.op("Slice", x, g.ints(plan[a][0] for a in axes), g.ints(ends), g.ints(axes),
                g.ints(plan[a][2] for a in axes))


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


@to_onnx("split")
def split(g, node, x):
    sizes = list(node.params["split_size_or_sections"])
    if len(sizes) == 1:
        return g.op("Identity", x)
    return g.op("Split", x, g.ints(sizes), outputs=len(sizes), axis=node.params["dim"])


@onnx_op("Gather", "gather", ("axis",))
def Gather(node, attrs, inputs):
    # ONNX's Gather selects whole slices along `axis` (torch.index_select, or x[:, idx] for any index shape)
    dim = attrs.get("axis", 0)
    if present(inputs, 1) and inputs[1].value is None:
        # computed indices: gather's index tensor (input 2); netdsl takes entries 0..size-1 there, so a
        # negative index computed at run time is out of range (the reference says so)
        return Layer("gather", {"dim": dim}, inputs=[0, 1])
    index = constant(inputs, 1, "indices")
    if index.ndim <= 1:
        return Layer("gather", {"dim": dim, "index": plain(index)})
    # constant indices of rank 2 and up replace the dimension by their shape: an index tensor input
    if index.min() < 0:
        raise NotExpressible("negative indices of rank 2 and up (a gather index tensor counts from 0)")
    return Layer("gather", {"dim": dim}, inputs=[0, 1])


@to_onnx("gather")
def gather(g, node, x, *index):
    import numpy as np

    if index:  # the index tensor's shape replaces `dim` (a 0-d one removes it), as in ONNX's Gather
        return g.op("Gather", x, index[0], axis=node.params["dim"])
    return g.op("Gather", x, g.initializer(np.asarray(node.params["index"], np.int64)), axis=node.params["dim"])


@onnx_op("GatherElements", "gather_elements", ("axis",))
def GatherElements(node, attrs, inputs):
    # negative indices (ONNX takes them) are refused: by the reference when they come at run time, as for gather
    if present(inputs, 1) and inputs[1].value is not None and inputs[1].value.size and inputs[1].value.min() < 0:
        raise NotExpressible("negative indices (a gather_elements index counts from 0, as torch.gather's)")
    return Layer("gather_elements", {"dim": attrs.get("axis", 0)}, inputs=[0, 1])


to_onnx("gather_elements")(lambda g, node, x, index: g.op("GatherElements", x, index, axis=node.params["dim"]))


@onnx_op("GatherND", "gather_nd", ("batch_dims",))
def GatherND(node, attrs, inputs):
    return Layer("gather_nd", {"batch_dims": attrs.get("batch_dims", 0)}, inputs=[0, 1])


@to_onnx("gather_nd")
def gather_nd(g, node, x, index):
    return g.op("GatherND", x, g.op("Cast", index, to=7), batch_dims=node.params["batch_dims"])  # int64 indices


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


@to_onnx("pad")
def pad(g, node, x):
    p, n = node.params, x.type.rank
    begins, ends = [0] * n, [0] * n
    for pair in range(len(p["pad"]) // 2):
        begins[n - 1 - pair], ends[n - 1 - pair] = p["pad"][2 * pair], p["pad"][2 * pair + 1]
    mode = {value: key for key, value in PAD_MODES.items()}[p["mode"]]
    value = g.scalar(p["value"], x.type.dtype) if mode == "constant" else ""
    return g.op("Pad", x, g.ints(begins + ends), value, mode=mode)


@onnx_op("Expand", "expand")
def Expand(node, attrs, inputs):
    import numpy as np

    # ONNX's Expand broadcasts both ways (a 1 in `shape` keeps the input's size); PyTorch's expand
    # takes the output size
    size = np.broadcast_shapes(tuple(inputs[0].type.shape), tuple(ints(constant(inputs, 1, "shape"))))
    return Layer("expand", {"size": list(size)})


@to_onnx("expand")
def expand(g, node, x):
    # ONNX's Expand keeps a dimension where the shape says 1; PyTorch's -1
    return g.op("Expand", x, g.ints(1 if d == -1 else d for d in node.params["size"]))


@onnx_op("Tile", "tile")
def Tile(node, attrs, inputs):
    return Layer("tile", {"dims": ints(constant(inputs, 1, "repeats"))})


@to_onnx("tile")
def tile(g, node, x):
    # torch.tile pads the shorter of dims and the input's shape with leading 1s; ONNX's Tile needs one each
    dims, rank = list(node.params["dims"]), x.type.rank
    if len(dims) > rank:
        x = g.op("Unsqueeze", x, g.ints(range(len(dims) - rank)))
    return g.op("Tile", x, g.ints([1] * (rank - len(dims)) + dims))


@onnx_op("DepthToSpace", "pixel_shuffle", ("blocksize", "mode"))
def DepthToSpace(node, attrs, inputs):
    block = attrs["blocksize"]
    # torch.nn.PixelShuffle is CRD; DCR orders the channels the other way, the same only for one group
    if attrs.get("mode", "DCR") == "DCR" and inputs[0].type.shape[1] != block * block:
        raise NotExpressible("DepthToSpace in DCR mode (torch.nn.PixelShuffle is CRD)")
    return Layer("pixel_shuffle", {"upscale_factor": block})


to_onnx("pixel_shuffle")(lambda g, node, x: g.op("DepthToSpace", x, blocksize=node.params["upscale_factor"],
                                                 mode="CRD") if x.type.rank == 4 else None)


@onnx_op("SpaceToDepth", "pixel_unshuffle", ("blocksize", "mode"))
def SpaceToDepth(node, attrs, inputs):
    if attrs.get("mode", "DCR") == "DCR" and inputs[0].type.shape[1] != 1:
        raise NotExpressible("SpaceToDepth in DCR mode (torch.nn.PixelUnshuffle is CRD)")
    return Layer("pixel_unshuffle", {"downscale_factor": attrs["blocksize"]})


@to_onnx("pixel_unshuffle")
def pixel_unshuffle(g, node, x):
    if x.type.rank != 4 or x.type.shape[1] != 1:  # SpaceToDepth orders channels as DCR: the same for one only
        return None
    return g.op("SpaceToDepth", x, blocksize=node.params["downscale_factor"])


to_onnx("reshape_as")(lambda g, node, x, like: g.op("Reshape", x, g.op("Shape", like)))


@to_onnx("anchor_points")
def anchor_points(g, node, x):
    # from x's shape when the model runs, so that a model with dynamic sizes gets its grid: the cell
    # numbers along W and H (Range), each broadcast over the [H, W] grid (Expand), joined and flattened
    p = node.params
    size = g.op("Shape", x, start=-2)  # [H, W]

    def centres(index, axes):
        count = g.op("Gather", size, g.scalar(index, "int64"))
        cells = g.op("Cast", g.op("Range", g.scalar(0, "int64"), count, g.scalar(1, "int64")), to=1)
        along = g.op("Unsqueeze", g.op("Add", cells, g.scalar(p["offset"])), g.ints(axes))
        return g.op("Unsqueeze", g.op("Expand", along, size), g.ints([0]))  # [1, H, W]

    points = g.op("Concat", centres(1, [0]), centres(0, [1]), axis=0)
    strides = g.op("Expand", g.scalar(p["stride"]), size)
    return g.op("Reshape", points, g.ints([2, -1])), g.op("Reshape", strides, g.ints([1, -1]))
