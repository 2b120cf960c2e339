"""Resize and Upsample as PyTorch's interpolate. ONNX describes resizing by a coordinate transformation
and a rounding rule; PyTorch by a mode. Since shapes are static, a nearest-neighbour resize maps when
the source index of every output position is the same under both, which is checked here, position by
position."""

import math

from ..symbolic import Size
from . import Layer, NotExportable, NotExpressible, constant, onnx_op, present, to_onnx

LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
RESIZE = ("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
          "extrapolation_value", "antialias", "axes", "keep_aspect_ratio_policy")


def onnx_source(d: int, size: int, out: int, scale: float, coordinate: str) -> float:
    if coordinate == "asymmetric":
        return d / scale
    if coordinate == "align_corners":  # ONNX divides by the resized length before rounding it
        return 0.0 if size * scale == 1 else d * (size - 1) / (size * scale - 1)
    if coordinate == "pytorch_half_pixel" and out == 1:
        return 0.0
    if coordinate in ("half_pixel", "pytorch_half_pixel"):
        return (d + 0.5) / scale - 0.5
    raise NotExpressible(f"nearest resize with coordinate_transformation_mode {coordinate}")


def onnx_nearest(size: int, out: int, scale: float, coordinate: str, rounding: str) -> list[int]:
    round_one = {"round_prefer_floor": lambda x: math.ceil(x - 0.5), "round_prefer_ceil": lambda x: math.floor(x + 0.5),
                 "floor": math.floor, "ceil": math.ceil}[rounding]
    return [min(max(round_one(onnx_source(d, size, out, scale, coordinate)), 0), size - 1) for d in range(out)]


def torch_nearest(size: int, out: int, scale: float | None, exact: bool) -> list[int]:
    """PyTorch's source indices (aten's nearest_idx; the scale is 1/scale_factor when one is given)."""
    step = 1 / scale if scale else size / out
    return [min(math.floor((d + 0.5 if exact else d) * step), size - 1) for d in range(out)]


def nearest_mode(attrs, shape, out, scales, given_scales: bool) -> str:
    coordinate = attrs.get("coordinate_transformation_mode", "half_pixel")
    rounding = attrs.get("nearest_mode", "round_prefer_floor")
    for mode, exact in (("nearest", False), ("nearest-exact", True)):
        if all(onnx_nearest(size, o, s, coordinate, rounding)
               == torch_nearest(size, o, s if given_scales else None, exact)
               for size, o, s in zip(shape[2:], out[2:], scales[2:])):
            return mode
    raise NotExpressible(f"nearest resize ({coordinate}, {rounding}) picks other pixels than PyTorch's nearest and "
                         "nearest-exact for these sizes")


def align_corners(attrs, shape, out, scales) -> bool:
    coordinate = attrs.get("coordinate_transformation_mode", "half_pixel")
    if coordinate == "align_corners":
        # ONNX aligns the corners of the resized length before rounding (input * scale), PyTorch of
        # the output size: the same only when input * scale is whole
        if any(abs(size * scale - o) > 1e-6 for size, o, scale in zip(shape[2:], out[2:], scales[2:])):
            raise NotExpressible("align_corners resize to a fractional length (ONNX aligns to input * scale, "
                                 "PyTorch to the rounded output size)")
        return True
    if coordinate == "half_pixel" or coordinate == "pytorch_half_pixel" and min(out[2:]) > 1:
        return False
    raise NotExpressible(f"linear or cubic resize with coordinate_transformation_mode {coordinate}")


# sizes a named (dynamic) dimension is tried at: the rules below hold for all of them or are refused
PROBES = (1, 2, 3, 5, 7, 8, 13, 16, 31, 64)


def resize(attrs, inputs, scales, sizes) -> Layer:
    shape = list(inputs[0].type.shape)
    rank = len(shape)
    if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise NotExpressible("Resize keeping the aspect ratio")
    axes = [a % rank for a in attrs.get("axes", range(rank))]
    full = [1.0] * rank
    out = list(shape)
    if scales is not None:
        for axis, scale in zip(axes, scales):
            if float(scale) != 1:  # (an axis kept as it is may be the dynamic batch)
                full[axis], out[axis] = float(scale), scaled(shape[axis], float(scale))
    else:
        for axis, size in zip(axes, sizes):
            if not isinstance(shape[axis], int) and not (isinstance(size, Size) and size == shape[axis]):
                raise NotExpressible("Resize of a dynamic dimension to a given size")
            if size is not shape[axis] and size != shape[axis]:
                out[axis], full[axis] = int(size), int(size) / shape[axis]
    if rank < 3 or out[:2] != shape[:2]:
        raise NotExpressible("Resize of the batch or channel dimension (interpolate resizes dims 2 and on)")
    params = {"scale_factor": full[2:]} if scales is not None else {"size": out[2:]}
    dynamic = [axis for axis in range(2, rank) if not isinstance(shape[axis], int)]
    probes = [(shape, out)]  # a dynamic size is tried at several lengths (scaled by a whole factor)
    if dynamic:
        probes = [([size if axis in dynamic else shape[axis] for axis in range(rank)], None) for size in PROBES]
        probes = [(probe, [scaled(d, f) for d, f in zip(probe, full)]) for probe, _ in probes]
    modes = {frozen(resize_mode(attrs, probe, resized, full, scales)) for probe, resized in probes}
    if len(modes) > 1:
        raise NotExpressible("a resize of a dynamic dimension that PyTorch's modes match at some sizes only")
    params.update(dict(modes.pop()))
    return Layer("interpolate", params)


def scaled(size, scale: float):
    """The resized length: floor(size * scale); a dynamic size by a whole factor only."""
    if isinstance(size, int):
        return math.floor(size * scale)
    if not float(scale).is_integer():
        raise NotExpressible(f"Resize of the dynamic dimension {size} by {scale} (netdsl resizes a named "
                             "dimension by whole factors)")
    return size * int(scale)


def frozen(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def resize_mode(attrs, shape, out, full, scales) -> dict:
    """The interpolate mode (and align_corners) that picks the pixels ONNX's attributes pick."""
    params = {}
    rank = len(shape)
    mode = attrs.get("mode", "nearest")
    if mode == "nearest":
        params["mode"] = nearest_mode(attrs, shape, out, full, scales is not None)
    elif mode == "linear":
        params.update(mode=LINEAR[rank - 2], align_corners=align_corners(attrs, shape, out, full))
    elif rank == 4 and attrs.get("cubic_coeff_a", -0.75) == -0.75 and not attrs.get("exclude_outside", 0):
        params.update(mode="bicubic", align_corners=align_corners(attrs, shape, out, full))
    else:
        raise NotExpressible("cubic resize other than PyTorch's bicubic (2-D, a = -0.75, outside pixels included)")
    if attrs.get("antialias", 0) and any(o < size for size, o in zip(shape[2:], out[2:])):
        # checked against torch.nn.functional.interpolate(antialias=True): its filter differs from ONNX's
        raise NotExpressible("antialiased downsampling (PyTorch's antialiasing filter differs from ONNX's)")
    return params


@onnx_op("Resize", "interpolate", RESIZE)
def Resize(node, attrs, inputs):
    if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        raise NotExpressible("Resize with tf_crop_and_resize (a region of interest)")
    if present(inputs, 2) and inputs[2].type.shape != (0,):
        return resize(attrs, inputs, constant(inputs, 2, "scales"), None)
    return resize(attrs, inputs, None, constant(inputs, 3, "sizes"))


@onnx_op("Upsample", "interpolate", ("mode", "scales"))
def Upsample(node, attrs, inputs):
    scales = attrs["scales"] if node.opset < 9 else constant(inputs, 1, "scales")
    attrs = {"mode": attrs.get("mode", "nearest"), "coordinate_transformation_mode": "asymmetric",
             "nearest_mode": "floor"}
    return resize(attrs, inputs, scales, None)


# PyTorch's modes as ONNX's Resize attributes (what torch.onnx writes for them)
TORCH_MODES = {
    "nearest": {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
    "nearest-exact": {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                      "nearest_mode": "round_prefer_ceil"},
    "linear": {"mode": "linear"}, "bilinear": {"mode": "linear"}, "trilinear": {"mode": "linear"},
    "bicubic": {"mode": "cubic", "cubic_coeff_a": -0.75, "exclude_outside": 0},
}


@to_onnx("interpolate", "upsample")
def interpolate(g, node, x):
    import numpy as np

    from ..ops import REGISTRY
    from ..ops.interpolate import shortcut_step

    p = node.params
    if p["mode"] == "area":  # adaptive average pooling, as PyTorch computes it
        return adaptive_area(g, node, x)
    attributes = dict(TORCH_MODES[p["mode"]])
    if attributes["mode"] != "nearest":  # half_pixel: PyTorch has no one-pixel special case (pytorch_half_pixel)
        attributes["coordinate_transformation_mode"] = "align_corners" if p["align_corners"] else "half_pixel"
    sizes, outs = x.type.shape[2:], g.out.shape[2:]
    factors = REGISTRY[g.kind].factors(node, len(sizes))
    if factors[0] is None:  # a size: ONNX maps coordinates by out / in, as PyTorch does then
        return g.op("Resize", x, "", "", g.ints(outs), axes=list(range(2, x.type.rank)), **attributes)
    # ONNX maps coordinates with 1 / scale when scales are given, as PyTorch does with a factor; where
    # PyTorch's kernel takes a shortcut (an unchanged axis is copied; nearest doubling takes dst // 2)
    # the scale is the ratio of lengths
    spatial = len(sizes)
    if list(outs) == list(sizes):
        return unchanged_size(g, node, x, factors)
    steps = [shortcut_step(p["mode"], size, out, spatial) for size, out in zip(sizes, outs)]
    scales = [onnx_scale(size, out, float(factor if step is None else step))
              for size, out, factor, step in zip(sizes, outs, factors, steps)]
    return g.op("Resize", x, "", g.initializer(np.asarray([1.0, 1.0, *scales], np.float32)), **attributes)


def unchanged_size(g, node, x, factors):
    """A resize by factors that leave every length as it is. ONNX maps coordinates with 1 / scale then
    too (onnx.reference does), but ONNX Runtime (1.32) copies the input whenever the output shape equals
    the input's, whatever the attributes; PyTorch's nearest modes still move pixels (1-D and 3-D nearest
    and nearest-exact map with 1 / scale_factor; only the 2-D nearest kernel copies). Nearest is written
    as a Gather of PyTorch's source indices along each axis it moves; the linear modes copy in PyTorch
    too, and so does bicubic with align_corners; bicubic without has no such form here."""
    import numpy as np

    from ..ops.interpolate import taps

    p, sizes = node.params, x.type.shape[2:]
    if p["mode"] not in ("nearest", "nearest-exact"):
        if p["mode"] == "bicubic" and not p["align_corners"] and any(float(f) != 1 for f in factors):
            raise NotExportable("bicubic by a scale_factor that leaves every length unchanged: PyTorch "
                                "interpolates with 1 / scale_factor, ONNX Runtime copies the input")
        return g.op("Identity", x)
    for axis, (size, factor) in enumerate(zip(sizes, factors)):
        index = taps(p["mode"], size, size, factor, False, len(sizes))[0][:, 0]
        if not np.array_equal(index, np.arange(size)):
            x = g.op("Gather", x, g.initializer(index.astype(np.int64)), axis=2 + axis)
    return x if isinstance(x, str) else g.op("Identity", x)


def onnx_scale(size: int, out: int, scale: float) -> float:
    """``scale`` as the float32 ONNX stores, nudged up where size * it (ONNX's shape inference computes
    in double) would fall short of ``out``."""
    import numpy as np

    value = np.float32(scale)
    while isinstance(size, int) and math.floor(size * float(value)) < out:
        value = np.nextafter(value, np.float32(np.inf))
    return float(value)


def adaptive_area(g, node, x):
    from .nn import adaptive_windows_pool

    return adaptive_windows_pool(g, x, g.out.shape[2:], "ReduceMean")


# GridSample: opsets 16 to 19 call bilinear "bilinear", 20 and later "linear"
GRID_MODES = {"bilinear": "bilinear", "linear": "bilinear", "nearest": "nearest"}


@onnx_op("GridSample", "grid_sample", ("mode", "padding_mode", "align_corners"))
def GridSample(node, attrs, inputs):
    mode, padding = attrs.get("mode", "linear" if node.opset >= 20 else "bilinear"), attrs.get("padding_mode", "zeros")
    if mode not in GRID_MODES or padding not in ("zeros", "border"):
        raise NotExpressible(f"GridSample with mode {mode} and padding_mode {padding} (netdsl samples bilinear or "
                             "nearest, with zeros or border padding)")
    if len(inputs[0].type.shape) != 4:
        raise NotExpressible(f"GridSample of a rank-{len(inputs[0].type.shape)} input (netdsl samples 4-D inputs)")
    return Layer("grid_sample", {"mode": GRID_MODES[mode], "padding_mode": padding,
                                 "align_corners": bool(attrs.get("align_corners", 0))}, inputs=[0, 1])


@to_onnx("grid_sample")
def grid_sample(g, node, x, grid):
    p = node.params
    return g.op("GridSample", x, grid, mode="linear" if p["mode"] == "bilinear" else "nearest",
                padding_mode=p["padding_mode"], align_corners=int(p["align_corners"]))
