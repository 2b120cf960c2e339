"""Parameter types of layer kinds.

Each type checks a YAML node and returns the Python value, or raises :class:`ParamError` saying what
was expected and what was found; each also describes itself as JSON Schema. A layer kind declares its
parameters as a dict of these (see ``netdsl/ops``), which is at once the validation rule, the default
and the documentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .yamlnodes import Map, Node, Scalar, Seq, describe

REQUIRED = object()  # default of a parameter that must be given
MAX_DIM = 2**31 - 1


class ParamError(Exception):
    def __init__(self, message: str, node: Node | None = None, expected: str | None = None,
                 found: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.node = node
        self.expected = expected
        self.found = found
        self.hint = hint


def _fail(expected: str, node: Node, hint: str | None = None):
    raise ParamError(f"expected {expected}, found {describe(node)}", node, expected, describe(node), hint)


class ParamType:
    description = ""

    def check(self, node: Node):
        raise NotImplementedError

    def schema(self) -> dict:
        raise NotImplementedError

    def show(self, value) -> str:
        """How a checked value reads in summaries and diffs."""
        return str(value)


@dataclass(frozen=True)
class Int(ParamType):
    low: int | None = None
    high: int | None = None

    def check(self, node):
        if not (isinstance(node, Scalar) and type(node.value) is int):
            _fail(self.expected(), node)
        value = node.value
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            _fail(self.expected(), node)
        return value

    def expected(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an integer from {self.low} to {self.high}"
        if self.low == 1:
            return "a positive integer"
        if self.low == 0:
            return "an integer >= 0"
        if self.low is not None:
            return f"an integer >= {self.low}"
        return "an integer"

    def schema(self):
        schema = {"type": "integer"}
        if self.low is not None:
            schema["minimum"] = self.low
        if self.high is not None:
            schema["maximum"] = self.high
        return schema


@dataclass(frozen=True)
class Float(ParamType):
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the low bound itself is not allowed

    def check(self, node):
        if not (isinstance(node, Scalar) and type(node.value) in (int, float)) or not math.isfinite(node.value):
            _fail(self.expected(), node)
        value = float(node.value)
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        if too_low or (self.high is not None and value > self.high):
            _fail(self.expected(), node)
        return value

    def expected(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"<= {self.high:g}")
        return "a finite number" + (" " + " and ".join(parts) if parts else "")

    def schema(self):
        schema = {"type": "number"}
        if self.low is not None:
            schema["exclusiveMinimum" if self.low_open else "minimum"] = self.low
        if self.high is not None:
            schema["maximum"] = self.high
        return schema


@dataclass(frozen=True)
class Bool(ParamType):
    def check(self, node):
        if not (isinstance(node, Scalar) and type(node.value) is bool):
            _fail("true or false", node)
        return node.value

    def schema(self):
        return {"type": "boolean"}

    def show(self, value):
        return str(value).lower()


@dataclass(frozen=True)
class Choice(ParamType):
    options: tuple[str, ...]

    def check(self, node):
        if isinstance(node, Scalar) and node.value in self.options and type(node.value) is str:
            return node.value
        from .diagnostics import did_you_mean

        hint = did_you_mean(str(node.value), self.options) if isinstance(node, Scalar) else None
        _fail("one of " + ", ".join(self.options), node, hint)

    def schema(self):
        return {"enum": list(self.options)}


@dataclass(frozen=True)
class Pair(ParamType):
    """An integer for both spatial axes, or ``[height, width]``; the value is always a 2-tuple."""

    low: int = 1

    def check(self, node):
        item = Int(self.low)
        if isinstance(node, Seq):
            if len(node.items) != 2:
                _fail("one integer or a list [height, width] of two", node)
            return tuple(item.check(child) for child in node.items)
        if isinstance(node, Scalar) and type(node.value) is int:
            value = item.check(node)
            return (value, value)
        _fail(f"{item.expected()} or a list [height, width] of two", node)

    def schema(self):
        item = Int(self.low).schema()
        return {"anyOf": [item, {"type": "array", "items": item, "minItems": 2, "maxItems": 2}]}

    def show(self, value):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}x{value[1]}"


@dataclass(frozen=True)
class Padding(ParamType):
    """``same``, one integer, ``[height, width]``, or per side ``{top, bottom, left, right}``.

    The value is ``"same"`` or a tuple ``(top, left, bottom, right)`` (begin padding before end padding,
    height before width, the order TensorRT's pre/post padding takes).
    """

    allow_same: bool = True

    def check(self, node):
        if isinstance(node, Scalar) and node.value == "same" and self.allow_same:
            return "same"
        if isinstance(node, Map):
            sides = {}
            for key, child in node.entries.items():
                if key not in ("top", "bottom", "left", "right"):
                    raise ParamError(f"unknown padding side `{key}`", child, "top, bottom, left, right", key)
                sides[key] = Int(0).check(child)
            return (sides.get("top", 0), sides.get("left", 0), sides.get("bottom", 0), sides.get("right", 0))
        if isinstance(node, (Seq, Scalar)):
            try:
                height, width = Pair(0).check(node)
            except ParamError:
                pass
            else:
                return (height, width, height, width)
        same = "`same`, " if self.allow_same else ""
        _fail(same + "an integer >= 0, [height, width], or {top, bottom, left, right}", node)

    def schema(self):
        side = {"type": "integer", "minimum": 0}
        options = [
            Pair(0).schema(),
            {"type": "object", "additionalProperties": False,
             "properties": {name: side for name in ("top", "bottom", "left", "right")}},
        ]
        if self.allow_same:
            options.insert(0, {"const": "same"})
        return {"anyOf": options}

    def show(self, value):
        if value == "same":
            return value
        top, left, bottom, right = value
        if (top, left) == (bottom, right):
            return str(top) if top == left else f"{top}x{left}"
        return f"t{top} l{left} b{bottom} r{right}"


@dataclass(frozen=True)
class Dims(ParamType):
    """A list of integers (reshape targets: -1 and 0 allowed)."""

    low: int = -1

    def check(self, node):
        if not isinstance(node, Seq) or not node.items:
            _fail("a non-empty list of integers", node)
        if len(node.items) > 8:
            _fail("at most 8 dimensions", node)
        return tuple(Int(self.low, MAX_DIM).check(child) for child in node.items)

    def schema(self):
        return {"type": "array", "items": {"type": "integer", "minimum": self.low}, "minItems": 1,
                "maxItems": 8}

    def show(self, value):
        return "[" + ", ".join(str(v) for v in value) + "]"


@dataclass(frozen=True)
class Scale(ParamType):
    """An upsampling factor: one positive number, or ``[height, width]``."""

    def check(self, node):
        item = Float(0.0, 1024.0, low_open=True)
        if isinstance(node, Seq):
            if len(node.items) != 2:
                _fail("one number or a list [height, width] of two", node)
            return tuple(item.check(child) for child in node.items)
        value = item.check(node)
        return (value, value)

    def schema(self):
        item = {"type": "number", "exclusiveMinimum": 0}
        return {"anyOf": [item, {"type": "array", "items": item, "minItems": 2, "maxItems": 2}]}

    def show(self, value):
        return f"{value[0]:g}" if value[0] == value[1] else f"{value[0]:g}x{value[1]:g}"


@dataclass(frozen=True)
class Literal(ParamType):
    """A number, or a (nested) list of numbers with the same length at each level: a small constant
    written in the spec. The value is a nested tuple; larger tensors belong in the weight file."""

    max_elements: int = 4096

    def check(self, node):
        count = [0]

        def read(item, depth):
            if isinstance(item, Scalar) and type(item.value) in (int, float, bool):
                if type(item.value) is float and not math.isfinite(item.value):
                    _fail("finite numbers", item)
                count[0] += 1
                if count[0] > self.max_elements:
                    _fail(f"at most {self.max_elements} numbers (put larger constants in the weight file)", node)
                return item.value
            if isinstance(item, Seq) and depth < 8:
                values = tuple(read(child, depth + 1) for child in item.items)
                shapes = {literal_shape(v) for v in values}
                if len(shapes) > 1:
                    _fail("a list whose items all have the same shape", item)
                return values
            _fail("a number or a list of numbers", item)

        return read(node, 0)

    def schema(self):
        number = {"type": ["number", "boolean"]}
        return {"anyOf": [number, {"type": "array"}]}

    def show(self, value):
        text = str(value).replace("(", "[").replace(")", "]").replace(",]", "]")
        return text if len(text) <= 40 else text[:37] + "..."


def literal_shape(value) -> tuple:
    shape = []
    while isinstance(value, tuple):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


@dataclass(frozen=True)
class Param:
    type: ParamType
    default: object = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED
