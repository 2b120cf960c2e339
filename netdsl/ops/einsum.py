"""Einstein summation (torch.einsum) over one or two float tensors, within what TensorRT's einsum
layer documents for TensorRT 10, 11 and TensorRT-RTX: lowercase letters, at most two inputs, equal sizes
for a letter (no broadcasting). Ellipsis and a letter repeated in one input (diagonals) are refused too:
TensorRT-RTX 1.7 builds them, but TensorRT's documentation does not promise them.

    >>> parse("ij,jk", 2)
    (['ij', 'jk'], 'ik')
"""

from __future__ import annotations

import functools

from ..params import Param, ParamError, ParamType
from ..tensors import TensorType, show_shape, show_type
from ..yamlnodes import Scalar
from . import ShapeError, register
from .matmul import product_macs
from .primitive import Primitive

GROUP = "linear algebra, attention"  # its row in the README's kind table (tools/regenerate.py)

LETTERS = "abcdefghijklmnopqrstuvwxyz"


class Equation(ParamType):
    __slots__ = ()

    def check(self, node):
        if not (isinstance(node, Scalar) and isinstance(node.value, str) and 0 < len(node.value) <= 200):
            raise ParamError("expected an einsum equation such as `bij,bjk->bik`", node, "a string")
        return node.value

    def schema(self):
        return {"type": "string", "maxLength": 200}


def bad(message: str, hint: str | None = None):
    raise ShapeError(message, "equation", hint=hint, code="invalid-value")


def parse(equation: str, count: int) -> tuple[list[str], str]:
    """The input terms and the output term (implicit form: the letters used once, sorted)."""
    text = equation.replace(" ", "")
    if "." in text:
        bad("ellipsis (`...`) is not accepted: TensorRT's einsum takes letters only", "name every axis with a letter")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != count:
        bad(f"the equation has {len(terms)} input term(s) for {count} input(s)")
    for term in terms + [rhs]:
        for letter in term:
            if letter not in LETTERS:
                bad(f"`{letter}` in `{equation}`: TensorRT's einsum takes lowercase letters a-z only")
    for term in terms:
        repeated = sorted({letter for letter in term if term.count(letter) > 1})
        if repeated:
            bad(f"`{repeated[0]}` appears twice in the term `{term}` (a diagonal), which TensorRT's einsum does not "
                "document", "use distinct letters; take a diagonal another way")
    used = "".join(terms)
    if not arrow:
        return terms, "".join(sorted(letter for letter in set(used) if used.count(letter) == 1))
    for letter in rhs:
        if letter not in used:
            bad(f"the output letter `{letter}` appears in no input")
        if rhs.count(letter) > 1:
            bad(f"the output letter `{letter}` appears twice")
    return terms, rhs


def sizes(terms: list[str], inputs) -> dict:
    """Letter -> size; a letter has one size in every input (TensorRT does not broadcast here)."""
    found = {}
    for index, (term, t) in enumerate(zip(terms, inputs), start=1):
        if len(term) != t.rank:
            bad(f"the term `{term}` has {len(term)} letters but input {index} is {show_shape(t.shape)}")
        for letter, size in zip(term, t.shape):
            if found.setdefault(letter, size) != size:
                raise ShapeError(f"`{letter}` is {found[letter]} in one input and {size} in another "
                                 f"({', '.join(show_shape(t.shape) for t in inputs)})", "equation",
                                 expected=str(found[letter]), found=str(size),
                                 hint="TensorRT's einsum needs equal sizes; expand the input of size 1 first")
    return found


@functools.lru_cache(maxsize=256)
def contraction_path(equation: str, shapes: tuple):
    """numpy's contraction order for these shapes, planned once (np.einsum would plan on every call)."""
    import numpy as np

    dummies = [np.broadcast_to(np.float32(0), shape) for shape in shapes]
    return np.einsum_path(equation, *dummies, optimize="optimal")[0]


@register
class Einsum(Primitive):
    kind = "einsum"
    torch = "torch.einsum"
    doc = ("Einstein summation over one or two inputs, e.g. `bij,bjk->bik` (torch.einsum): lowercase letters, "
           "a letter has the same size everywhere; no ellipsis, no letter twice in one input.")
    params = {"equation": Param(Equation(), doc="terms of lowercase letters, `->`, the output term")}
    example = {"params": {"equation": "bij,bjk->bik"}, "inputs": [[2, 3, 4], [2, 4, 5]]}
    min_inputs = 1
    max_inputs = 2

    def infer(self, p, *inputs):
        if len({x.dtype for x in inputs}) > 1:
            raise ShapeError("inputs have different dtypes: " + ", ".join(show_type(x) for x in inputs),
                             code="wrong-dtype", hint="convert one input first (kind: cast)")
        terms, output = parse(p["equation"], len(inputs))
        found = sizes(terms, inputs)
        return TensorType(tuple(found[letter] for letter in output), inputs[0].dtype)

    def compute(self, p, out, *arrays):
        import numpy as np

        terms, output = parse(p["equation"], len(arrays))
        equation = ",".join(terms) + "->" + output
        path = contraction_path(equation, tuple(a.shape for a in arrays))
        return np.einsum(equation, *arrays, optimize=path)

    def emit(self, ctx, p, out, *inputs):
        terms, output = parse(p["equation"], len(inputs))
        layer = ctx.network.add_einsum([x.data for x in inputs], ",".join(terms) + "->" + output)
        return ctx.label(layer).get_output(0)

    def macs(self, node, out, *inputs):
        if len(inputs) < 2:
            return 0
        terms, output = parse(node.params["equation"], len(inputs))
        found = sizes(terms, inputs)
        inner = 1
        for letter in set("".join(terms)) - set(output):
            inner *= found[letter] if isinstance(found[letter], int) else 0
        return product_macs(out, inner)
