"""Splitting a tensor into pieces along one dimension (torch.split, torch.chunk), as slices. Each piece is
an output named `<layer>.0`, `<layer>.1`, ...; later layers take them by those names."""

from ..params import Int, Param
from . import ShapeError, register
from ._layout import Ints, axis, static_dim
from .primitive import Composite

GROUP = "shape"  # its row in the README's kind table (tools/regenerate.py)


class Pieces(Composite):
    dtypes = None

    def sizes(self, p, size: int) -> list[int]:
        raise NotImplementedError

    def expand(self, node, g, x):
        dim = axis(node.params["dim"], x.type.rank, "dim")
        pieces, start = [], 0
        for size in self.sizes(node.params, static_dim(x.type.shape, dim, self.kind, "dim")):
            pieces.append(g.slice(x, dim=dim, start=start, end=start + size))
            start += size
        return tuple(pieces) if len(pieces) > 1 else pieces[0]  # one output is one value, not a tuple


@register
class Split(Pieces):
    kind = "split"
    example = {"params": {"split_size_or_sections": [3, 5], "dim": 1}, "inputs": [[1, 8, 16, 16]]}
    torch = "torch.split"
    doc = ("Splits along `dim` into pieces of the sizes listed in `split_size_or_sections` (torch.split), which "
           "must add up to the dimension; outputs `<layer>.0`, `<layer>.1`, ... One integer (equal pieces) is "
           "accepted only where it fills the list itself: netdsl must know the outputs before shapes.")
    params = {"split_size_or_sections": Param(Ints(1, scalar=True, empty=False, max_items=1024),
                                              doc="the size of each piece, as a list"),
              "dim": Param(Int(), 0)}

    def output_names(self, node):
        sections = node.params.get("split_size_or_sections")
        return tuple(str(i) for i in range(len(sections))) if isinstance(sections, tuple) else ()

    def sizes(self, p, size):
        sections = p["split_size_or_sections"]
        if isinstance(sections, int):
            pieces = [sections] * (size // sections) + ([size % sections] if size % sections else [])
            raise ShapeError(f"with one split size ({sections}) the number of outputs depends on the input; netdsl "
                             "needs the sizes as a list", "split_size_or_sections", code="invalid-value",
                             hint=f"for this input: `split_size_or_sections: {pieces}` (or use kind: chunk)")
        if sum(sections) != size:
            raise ShapeError(f"the sections {list(sections)} add up to {sum(sections)}, but the dimension has size "
                             f"{size}", "split_size_or_sections", expected=str(size), found=str(sum(sections)))
        return list(sections)


@register
class Chunk(Pieces):
    kind = "chunk"
    torch = "torch.chunk"
    doc = ("Splits along `dim` into `chunks` pieces of equal size, the last smaller when the size does not "
           "divide (torch.chunk); outputs `<layer>.0` ... `<layer>.<chunks - 1>`. Where PyTorch would give "
           "fewer pieces than `chunks`, netdsl refuses (its outputs are fixed before shapes are known).")
    params = {"chunks": Param(Int(1, 1024)), "dim": Param(Int(), 0)}

    def output_names(self, node):
        return tuple(str(i) for i in range(node.params["chunks"]))

    def sizes(self, p, size):
        chunks = p["chunks"]
        each = -(-size // chunks)
        count = -(-size // each)
        if count != chunks:
            pieces = [each] * (size // each) + ([size % each] if size % each else [])
            raise ShapeError(f"PyTorch splits a dimension of size {size} into {count} chunks of at most {each}, "
                             f"not {chunks}", "chunks", code="invalid-value",
                             hint=f"say what you mean with kind: split, split_size_or_sections: {pieces}")
        return [each] * (chunks - 1) + [size - each * (chunks - 1)]
