"""Resizing the spatial axes of [N, C, L], [N, C, H, W] or [N, C, D, H, W], as
torch.nn.functional.interpolate, and `upsample` (torch.nn.Upsample), the same with `scale` for
`scale_factor`."""

import math

from ..params import Bool, Choice, Pair, Param, Scale
from . import REGISTRY, Op, ShapeError, TensorType, register, show_shape, spatial
from ..symbolic import disagreement
from ..tensors import is_static
from ._windows import RANKS, per_axis, too_small

GROUP = "resize"  # its row in the README's kind table (tools/regenerate.py)

MODES = ("nearest", "bilinear", "linear", "bicubic", "trilinear", "nearest-exact", "area")
RANK_OF_MODE = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}  # spatial input rank a mode needs
CUBIC_COEFFICIENT = -0.75  # PyTorch's bicubic A (TensorRT's cubic_coeff)


@register
class Interpolate(Op):
    kind = "interpolate"
    doc = ("Resizes the spatial axes (torch.nn.functional.interpolate): give either `scale_factor` (output = "
           "floor(input * factor)) or `size`. Modes: nearest (PyTorch's floor of dst * in / out), nearest-exact, "
           "linear (3-D input), bilinear and bicubic (4-D), trilinear (5-D), area (adaptive average pooling). "
           "align_corners applies to the linear modes and bicubic. On a named dynamic size, a factor is an "
           "integer or 1/2, 1/4, ... of a size every allowed value of which it divides; `size` takes any input.")
    torch = "torch.nn.functional.interpolate (antialias=False, recompute_scale_factor=None)"
    scale = "scale_factor"
    params = {
        "mode": Param(Choice(MODES), "nearest"),
        "scale_factor": Param(Scale(), None, doc="one factor or one per spatial axis"),
        "size": Param(Pair(1), None, doc="output size: one integer or one per spatial axis"),
        "align_corners": Param(Bool(), False),
    }

    def infer_shape(self, node, x):
        shape = spatial(x.shape, self.kind, RANKS, dynamic=True)
        p, rank = node.params, len(x.shape) - 2
        factors, size = p[self.scale], p["size"]
        if (factors is None) == (size is None):
            raise ShapeError(f"give exactly one of `{self.scale}` and `size`", self.scale if factors else None,
                             code="invalid-value")
        mode = p["mode"]
        if mode in RANK_OF_MODE and len(shape) != RANK_OF_MODE[mode]:
            raise ShapeError(f"mode {mode} needs a rank-{RANK_OF_MODE[mode]} input, found {len(shape)}", "mode",
                             code="invalid-value", hint="linear: [N, C, L]; bilinear, bicubic: [N, C, H, W]; "
                                                        "trilinear: [N, C, D, H, W]")
        if mode == "area" and not is_static(shape[1:]):
            raise ShapeError(f"mode area (adaptive average pooling) needs static spatial sizes, found "
                             f"{show_shape(shape)}", "mode", hint="a pooling layer with a fixed kernel works on "
                             "dynamic sizes", code="dynamic-shape")
        if p["align_corners"] and mode not in ("linear", "bilinear", "bicubic", "trilinear"):
            raise ShapeError("align_corners applies to the linear, bilinear, bicubic and trilinear modes only",
                             "align_corners", code="invalid-value")
        if size is not None:  # (on a dynamic input too: TensorRT's resize then takes the output shape)
            out = per_axis(size, rank, "size")
        else:
            out = tuple(scaled(s, f, self.scale) for s, f in zip(shape[2:], per_axis(factors, rank, self.scale)))
            if too_small(out) is not None:
                raise ShapeError(f"{self.scale} {list(factors)} turns {'x'.join(map(str, shape[2:]))} into "
                                 f"{'x'.join(map(str, out))}", self.scale)
        return TensorType(shape[:2] + out, x.dtype)

    def factors(self, node, rank: int) -> tuple:
        """The given scale factor per axis, or None per axis when a size was given."""
        factors = node.params[self.scale]
        return (None,) * rank if factors is None else per_axis(factors, rank, self.scale)

    def reference(self, node, ctx, x):
        import numpy as np

        p = node.params
        if p["mode"] == "area":
            return REGISTRY["adaptive_avg_pool"].reference(node, ctx, x)
        out_sizes = ctx.output_shape()[2:]
        for axis, (out, factor) in enumerate(zip(out_sizes, self.factors(node, len(out_sizes))), start=2):
            index, weight = taps(p["mode"], x.shape[axis], out, factor, p["align_corners"], len(out_sizes))
            shape = [1] * x.ndim
            shape[axis] = out
            x = sum(np.take(x, index[:, t], axis=axis) * weight[:, t].reshape(shape) for t in range(index.shape[1]))
        return x

    def lower(self, node, ctx, x):
        trt, p = ctx.trt, node.params
        if p["mode"] == "area":
            return REGISTRY["adaptive_avg_pool"].lower(node, ctx, x)
        sizes, outs = ctx.types[node.inputs[0]].shape[2:], ctx.types[node.name].shape[2:]
        if p["size"] is not None and not is_static(sizes):  # in / out changes with the input: give out itself
            return self.resize(node, ctx, x, None)
        scales = [trt_scale(p["mode"], size, out, factor, p["align_corners"], len(sizes))
                  for size, out, factor in zip(sizes, outs, self.factors(node, len(sizes)))]
        if any(scale is None for scale in scales):  # axes TensorRT's resize cannot map as PyTorch does
            return self.by_matrices(node, ctx, x, [s or 1.0 for s in scales], [s is None for s in scales])
        return self.resize(node, ctx, x, scales)

    def by_matrices(self, node, ctx, x, scales, by_matrix):
        """The axes ``by_matrix`` as products with PyTorch's interpolation matrices [out, in] (its taps
        and weights), the others by TensorRT's resize."""
        import numpy as np

        from .primitive import Builder, Value

        p, t, out = node.params, ctx.types[node.inputs[0]], ctx.types[node.name]
        if any(scale != 1.0 for scale in scales):
            x = self.resize(node, ctx, x, scales)
            t = TensorType(tuple(out.shape[a] if not by_matrix[a - 2] else t.shape[a] for a in range(t.rank)), t.dtype)
        g, value = Builder("trt", node, ctx), Value(x, t)
        factors = self.factors(node, t.rank - 2)
        for axis in [a for a in range(2, t.rank) if by_matrix[a - 2]]:
            size, length = t.shape[axis], out.shape[axis]
            index, weight = taps(p["mode"], size, length, factors[axis - 2], p["align_corners"], t.rank - 2)
            matrix = np.zeros((length, size), np.float32)
            np.add.at(matrix, (np.arange(length)[:, None], index), weight)
            value = along(g, value, g.constant(matrix, t.dtype), axis)
        return value.data

    def resize(self, node, ctx, x, scales):
        """TensorRT's resize with ``scales`` for the spatial axes, or (None) to netdsl's output shape."""
        trt, p = ctx.trt, node.params
        layer = ctx.network.add_resize(x)
        if scales is not None:
            layer.scales = [1.0, 1.0] + list(scales)
        else:
            layer.set_input(1, ctx.shape_tensor(ctx.types[node.name].shape))
        transform = trt.ResizeCoordinateTransformation
        if p["mode"] == "nearest":  # PyTorch: source index floor(dst * in / out)
            layer.resize_mode = trt.InterpolationMode.NEAREST
            layer.coordinate_transformation = transform.ASYMMETRIC
            layer.nearest_rounding = trt.ResizeRoundMode.FLOOR
        elif p["mode"] == "nearest-exact":  # floor((dst + 0.5) * in / out) = round half up of the half-pixel source
            layer.resize_mode = trt.InterpolationMode.NEAREST
            layer.coordinate_transformation = transform.HALF_PIXEL
            layer.nearest_rounding = trt.ResizeRoundMode.HALF_UP
        else:
            layer.resize_mode = trt.InterpolationMode.CUBIC if p["mode"] == "bicubic" else trt.InterpolationMode.LINEAR
            layer.coordinate_transformation = transform.ALIGN_CORNERS if p["align_corners"] else transform.HALF_PIXEL
            layer.cubic_coeff = CUBIC_COEFFICIENT
            layer.exclude_outside = False  # PyTorch reads the edge value for taps outside the input
        # one output pixel: PyTorch takes the first input pixel with align_corners, else the formula's centre
        layer.selector_for_single_pixel = trt.ResizeSelector.UPPER if p["align_corners"] else trt.ResizeSelector.FORMULA
        return ctx.label(layer).get_output(0)


@register
class Upsample(Interpolate):
    kind = "upsample"
    doc = "interpolate under torch.nn.Upsample's name, with `scale` for `scale_factor`."
    torch = "torch.nn.Upsample"
    scale = "scale"
    params = {**{k: v for k, v in Interpolate.params.items() if k != "scale_factor"},
              "scale": Param(Scale(), None, doc="one factor or one per spatial axis")}


def scaled(size, factor: float, param: str):
    """PyTorch's output size floor(size * factor); for a dynamic size, the factor must be an integer or
    one over a power of two (exact in floating point, so floor(height * 0.5) is height//2 for every height)
    that leaves no remainder for any size the profiles allow."""
    if isinstance(size, int):
        return int(size * factor)
    if factor == int(factor):
        return size * int(factor)
    inverse = 1 / factor
    if inverse == int(inverse) and int(inverse) & (int(inverse) - 1) == 0:
        step = int(inverse)
        # PyTorch maps output pixels back by 1 / factor, TensorRT by the lengths' ratio: equal when whole
        where = disagreement(size, size // step * step)
        if where is not None:
            raise ShapeError(f"{param} {factor} on the dynamic size {size}: PyTorch maps pixels by {step}, TensorRT "
                             f"by the ratio of the lengths, which differ where {size} is not a multiple of {step}: "
                             f"{where}", param, code="dynamic-shape",
                             hint=f"allow multiples of {step} only (`multiple_of: {step}` under `dims:`)")
        return size // step
    raise ShapeError(f"{param} {factor} on the dynamic size {size}: only integer factors and 1/2, 1/4, ... give "
                     "sizes netdsl can state for every input size", param, code="dynamic-shape")


def shortcut(mode: str, size: int, out: int, spatial: int):
    """PyTorch's index along an axis where its kernel does not map coordinates (checked against torch
    2.13's CPU kernels): the linear modes copy an unchanged axis; nearest over 2 spatial axes (only)
    copies an unchanged axis and takes dst // 2 when doubling. None elsewhere."""
    import numpy as np

    step = shortcut_step(mode, size, out, spatial)
    return None if step is None else np.arange(out) // step


def shortcut_step(mode: str, size, out, spatial: int) -> int | None:
    """out / size where :func:`shortcut` applies (1 copies, 2 doubles), else None; sizes may be named."""
    if out == size and (mode in ("linear", "bilinear", "trilinear") or mode == "nearest" and spatial == 2):
        return 1
    if out == 2 * size and mode == "nearest" and spatial == 2:
        return 2
    return None


def taps(mode: str, size: int, out: int, factor, align_corners: bool, spatial: int):
    """PyTorch's source pixels and weights along one axis of ``spatial``: index and weight arrays
    [out, taps] (float32 arithmetic, as PyTorch's CPU kernels for float32)."""
    import numpy as np

    f32 = np.float32
    dst = np.arange(out, dtype=f32)
    if align_corners:
        scale = f32(size - 1) / f32(out - 1) if out > 1 else f32(0)
    else:
        scale = f32(1.0 / factor) if factor else f32(size) / f32(out)
    copied = shortcut(mode, size, out, spatial)
    if copied is not None:
        return copied[:, None], np.ones((out, 1), f32)
    if mode in ("nearest", "nearest-exact"):
        index = np.floor((dst + f32(0.5 if mode == "nearest-exact" else 0)) * scale).astype(int)
        return np.minimum(index, size - 1)[:, None], np.ones((out, 1), f32)
    if mode == "bicubic":
        src = dst * scale if align_corners else scale * (dst + f32(0.5)) - f32(0.5)
        low = np.minimum(np.floor(src).astype(int), size - 1)
        t = np.clip(src - low, 0, 1).astype(f32)
        a = f32(CUBIC_COEFFICIENT)

        def near(d):  # |d| <= 1
            return ((a + 2) * d - (a + 3)) * d * d + 1

        def far(d):  # 1 < |d| < 2
            return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

        weight = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1).astype(f32)
        index = np.clip(low[:, None] + np.arange(-1, 3), 0, size - 1)
        return index, weight
    src = dst * scale if align_corners else np.maximum(scale * (dst + f32(0.5)) - f32(0.5), 0)
    low = np.minimum(np.floor(src).astype(int), size - 1)
    fraction = np.clip(src - low, 0, 1).astype(f32)
    index = np.stack([low, np.minimum(low + 1, size - 1)], axis=1)
    return index, np.stack([1 - fraction, fraction], axis=1).astype(f32)


def trt_scale(mode: str, size: int, out: int, factor, align_corners: bool, spatial: int) -> float | None:
    """TensorRT's scale for one axis, or None where its resize cannot map as PyTorch does.

    TensorRT's resize maps output cells back with the lengths, in / out (the operator reference's
    coordinate transformations, whether the scales or the shape are set; the scales only give the output
    size floor(in * scale)). PyTorch maps with 1 / scale_factor when a factor is given: the same only
    when in * factor is whole, or for align_corners (lengths in both), or where PyTorch's kernel takes a
    shortcut (:func:`shortcut`)."""
    step = shortcut_step(mode, size, out, spatial)
    if step is not None:  # (a named size's ratio is known only this way)
        return float(step)
    if not isinstance(size, int):  # a dynamic size takes integer factors or 1/2**k (see scaled): TensorRT's
        return float(factor)       # in/out is the factor wherever the size divides evenly
    if not factor:
        return exact_scale(size, out)
    return float(factor) if align_corners or size * float(factor) == out else None


def along(g, value, matrix, axis: int):
    """``matrix`` [out, in] applied along ``axis`` of ``value`` (the last: value @ matrix^T; else
    matrix @ value seen as [..., in, rest])."""
    shape = value.type.shape
    if axis == len(shape) - 1:
        return g.matmul(value, matrix, transpose_b=True)
    rest = math.prod(shape[axis + 1:])
    flat = g.reshape(value, shape=[0] * axis + [shape[axis], rest])
    product = g.matmul(matrix, flat)
    return g.reshape(product, shape=[0] * axis + [matrix.type.shape[0], *shape[axis + 1:]])


def exact_scale(size: int, out: int) -> float:
    """A float32 scale with floor(size * scale) == out, as TensorRT computes the output size."""
    import numpy as np

    scale = np.float32(out / size)
    while int(np.float32(size) * scale) < out:
        scale = np.nextafter(scale, np.float32(np.inf))
    return float(scale)
