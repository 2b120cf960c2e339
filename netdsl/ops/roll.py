"""torch.roll: elements shifted along dimensions, those pushed past the end coming back at the start.
A circular pad in front and a slice of the original size (TensorRT: two slice layers, WRAP then plain);
Swin's shifted windows roll by -3 along H and W, and back."""

from ..params import Param
from . import ShapeError, register
from ._layout import Ints, as_list, axis, static_dim
from .primitive import Composite

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


@register
class Roll(Composite):
    kind = "roll"
    example = {"params": {"shifts": [-3, -3], "dims": [1, 2]}, "inputs": [[1, 14, 14, 8]]}
    torch = "torch.roll"
    doc = ("Shifts the elements by `shifts[i]` along dimension `dims[i]`, circularly (torch.roll): "
           "y[j] = x[(j - shift) mod size]. One integer each, or lists of one length; with `dims` null, "
           "the flattened tensor is rolled and the shape restored.")
    params = {"shifts": Param(Ints(scalar=True, empty=False), doc="one shift per dimension in `dims`"),
              "dims": Param(Ints(scalar=True, empty=False), None, doc="null: roll the flattened tensor")}
    dtypes = None

    def expand(self, node, g, x):
        shifts, dims = as_list(node.params["shifts"]), node.params["dims"]
        if dims is None:
            if len(shifts) != 1:
                raise ShapeError(f"with `dims` null, `shifts` is one number, found {len(shifts)}", "shifts",
                                 code="invalid-value")
            if not all(isinstance(d, int) for d in x.type.shape):
                raise ShapeError("with `dims` null, roll flattens the whole tensor, dynamic sizes included; "
                                 "its size is known only when the network runs", "dims",
                                 hint="name the dimensions to roll in `dims`", code="dynamic-shape")
            flat = g.reshape(x, shape=(-1,))
            return g.reshape(self.roll(g, flat, {0: shifts[0]}), shape=tuple(x.type.shape))
        dims = as_list(dims)
        if len(shifts) != len(dims):
            raise ShapeError(f"{len(shifts)} shifts for {len(dims)} dims; give one shift per dimension", "shifts",
                             code="invalid-value")
        total = {}
        for shift, dim in zip(shifts, dims):  # a dimension named twice rolls twice, as in torch
            dim = axis(dim, x.type.rank, "dims")
            total[dim] = total.get(dim, 0) + shift
        return self.roll(g, x, total)

    def roll(self, g, x, shifts: dict[int, int]):
        shape = x.type.shape
        amounts = {d: s % static_dim(shape, d, "roll", "dims") for d, s in shifts.items()}
        amounts = {d: s for d, s in amounts.items() if s}
        if not amounts:
            return x
        first = min(amounts)
        pad = []
        for dim in range(x.type.rank - 1, first - 1, -1):  # (before, after) pairs, last dimension first
            pad += [amounts.get(dim, 0), 0]
        padded = g.pad(x, pad=tuple(pad), mode="circular")
        rolled = tuple(sorted(amounts))
        return g.slice(padded, dim=rolled, start=(0,) * len(rolled), end=tuple(shape[d] for d in rolled))
