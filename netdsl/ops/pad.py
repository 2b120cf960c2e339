"""Padding any dimensions (torch.nn.functional.pad), as one TensorRT slice layer that reads outside the
input: FILL for constant, REFLECT, CLAMP for replicate, WRAP for circular (TensorRT's padding layer only
pads the two innermost dimensions, with zeros)."""

from ..params import Choice, Float, Param
from . import ShapeError, TensorType, register
from ._layout import Ints, slice_layer, static_dim
from .primitive import Primitive

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)

SAMPLE_MODES = {"constant": "FILL", "reflect": "REFLECT", "replicate": "CLAMP", "circular": "WRAP"}
NUMPY_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@register
class Pad(Primitive):
    kind = "pad"
    example = {"params": {"pad": [1, 1, 2, 0], "mode": "reflect"}, "inputs": [[1, 3, 8, 8]]}
    torch = "torch.nn.functional.pad"
    doc = ("Pads the last dimensions (torch.nn.functional.pad): `pad` lists (before, after) pairs from the "
           "last dimension backwards, e.g. [left, right, top, bottom]. Modes: constant (with `value`; "
           "negative pads crop), reflect (the edge not repeated; pad below the size), replicate (the edge "
           "repeated), circular (wrapping around). Any rank, any number of padded dimensions.")
    params = {"pad": Param(Ints(empty=False, max_items=16), doc="(before, after) pairs, last dimension first"),
              "mode": Param(Choice(tuple(SAMPLE_MODES)), "constant"),
              "value": Param(Float(), 0.0, doc="the fill value of constant mode")}
    dtypes = None

    def amounts(self, p, shape) -> dict[int, tuple[int, int]]:
        """dimension -> (before, after)."""
        pad, mode = p["pad"], p["mode"]
        if len(pad) % 2 or len(pad) > 2 * len(shape):
            raise ShapeError(f"`pad` needs pairs for at most the {len(shape)} dimensions of the input, found "
                             f"{len(pad)} numbers", "pad", code="invalid-value")
        result = {}
        for pair in range(len(pad) // 2):
            dim = len(shape) - 1 - pair
            before, after = pad[2 * pair], pad[2 * pair + 1]
            if before == after == 0:
                continue
            size = static_dim(shape, dim, "pad", "pad")
            if mode != "constant" and min(before, after) < 0:
                raise ShapeError(f"{mode} padding cannot be negative (only constant padding crops)", "pad",
                                 code="invalid-value")
            if size + before + after <= 0:
                raise ShapeError(f"padding ({before}, {after}) leaves nothing of dimension {dim} (size {size})",
                                 "pad", code="invalid-value")
            limit = {"reflect": size - 1, "circular": size}.get(mode)
            if limit is not None and max(before, after) > limit:
                raise ShapeError(f"{mode} padding of dimension {dim} (size {size}) can be at most {limit}, found "
                                 f"{max(before, after)}", "pad", code="invalid-value")
            result[dim] = (before, after)
        return result

    def infer(self, p, x):
        amounts = self.amounts(p, x.shape)
        return TensorType(tuple(d + sum(amounts[i]) if i in amounts else d for i, d in enumerate(x.shape)),
                          x.dtype)

    def compute(self, p, out, x):
        import numpy as np

        amounts = self.amounts(p, x.shape)
        crop, widths = [], []  # negative pads crop, the others pad
        for i in range(x.ndim):
            before, after = amounts.get(i, (0, 0))
            crop.append(slice(max(-before, 0), x.shape[i] - max(-after, 0)))
            widths.append((max(before, 0), max(after, 0)))
        extra = {"constant_values": p["value"]} if p["mode"] == "constant" else {}
        return np.pad(x[tuple(crop)], widths, mode=NUMPY_MODES[p["mode"]], **extra)

    def emit(self, ctx, p, out, x):
        amounts = self.amounts(p, x.type.shape)
        start = [-amounts.get(i, (0, 0))[0] for i in range(x.type.rank)]
        fill = p["value"] if p["mode"] == "constant" else None
        return slice_layer(ctx, x, start, out.shape, [1] * x.type.rank, SAMPLE_MODES[p["mode"]], fill)
