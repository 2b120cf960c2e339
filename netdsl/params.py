"""Parameter types of layer kinds.

Each type checks a YAML node and returns the Python value, or raises :class:`ParamError` saying what
was expected and what was found; each also describes itself as JSON Schema. A layer kind declares its
parameters as a dict of these (see ``netdsl/ops``), which is at once the validation rule, the default
and the documentation.
"""

from __future__ import annotations

import math

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
    """Base of parameter types. A type is a value, as a frozen dataclass would be: equal to (and hashed
    like) another of its class with the same settings, its ``__slots__``. Each type lists them there and
    sets them in ``__init__``.

    Plain classes, not dataclasses: ``dataclasses`` imports ``inspect``, and generates every class's
    methods with ``exec``; with the Graph IR's classes that took a sixth of `netdsl validate`'s start-up."""

    __slots__ = ()
    description = ""

    def _settings(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return self._settings() == other._settings() if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self):
        return hash(self._settings())

    def __repr__(self):
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"

    def check(self, node: Node):
        raise NotImplementedError

    def schema(self) -> dict:
        raise NotImplementedError

    def show(self, value) -> str:
        """How a checked value reads in summaries and diffs."""
        return str(value)


class Int(ParamType):
    __slots__ = ("low", "high")

    def __init__(self, low: int | None = None, high: int | None = None):
        self.low = low
        self.high = high

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


class Float(ParamType):
    __slots__ = ("low", "high", "low_open")

    def __init__(self, low: float | None = None, high: float | None = None, low_open: bool = False):
        self.low = low
        self.high = high
        self.low_open = low_open  # True: the low bound itself is not allowed

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


class Floats(ParamType):
    """A non-empty list of finite numbers (one per channel: a normalization's mean and std), each as
    :class:`Float` with ``low`` and ``low_open`` checks it."""

    __slots__ = ("low", "low_open", "max_items")

    def __init__(self, low: float | None = None, low_open: bool = False, max_items: int = 4096):
        self.low = low
        self.low_open = low_open
        self.max_items = max_items

    def check(self, node):
        if not isinstance(node, Seq) or not node.items or len(node.items) > self.max_items:
            _fail(self.expected(), node)
        item = Float(self.low, low_open=self.low_open)
        return tuple(item.check(child) for child in node.items)

    def expected(self) -> str:
        each = Float(self.low, low_open=self.low_open).expected()[len("a finite number"):]
        return f"a list of 1 to {self.max_items} finite numbers" + (f" (each{each})" if each else "")

    def schema(self):
        return {"type": "array", "items": Float(self.low, low_open=self.low_open).schema(), "minItems": 1,
                "maxItems": self.max_items}

    def show(self, value):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"


class Bool(ParamType):
    __slots__ = ()

    def check(self, node):
        if not (isinstance(node, Scalar) and type(node.value) is bool):
            _fail("true or false", node)
        return node.value

    def schema(self):
        return {"type": "boolean"}

    def show(self, value):
        return str(value).lower()


class Choice(ParamType):
    __slots__ = ("options",)

    def __init__(self, options: tuple[str, ...]):
        self.options = options

    def check(self, node):
        if isinstance(node, Scalar) and node.value in self.options and type(node.value) is str:
            return node.value
        from .diagnostics import did_you_mean

        hint = did_you_mean(str(node.value), self.options) if isinstance(node, Scalar) else None
        _fail("one of " + ", ".join(self.options), node, hint)

    def schema(self):
        return {"enum": list(self.options)}


class Uniform(tuple):
    """A per-axis value written as one number: it holds for every spatial axis, whatever the input's
    rank. Stored for two axes, so that it reads (and compares) as the 2-D value it always was."""


class Sides(tuple):
    """Padding written per side as a map: (top, left, bottom, right), or (front, top, left, back,
    bottom, right) once `front` or `back` is given; a 1-D input takes `left` and `right` only."""


SPATIAL_NAMES = {1: "[length]", 2: "[height, width]", 3: "[depth, height, width]"}


def _per_axis(node, item: ParamType, what: str):
    if isinstance(node, Seq):
        if not 1 <= len(node.items) <= 3:
            _fail(f"{what} or a list of one per spatial axis ([length], [height, width] or "
                  "[depth, height, width])", node)
        return tuple(item.check(child) for child in node.items)
    value = item.check(node)
    return Uniform((value, value))


def _per_axis_schema(item: dict) -> dict:
    return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": 3}]}


def _show_per_axis(value, show=str) -> str:
    return show(value[0]) if len(set(value)) == 1 else "x".join(show(v) for v in value)


class Pair(ParamType):
    """An integer for every spatial axis, or one per axis: ``[length]``, ``[height, width]`` or
    ``[depth, height, width]`` (the input's rank decides which applies). One integer gives a
    :class:`Uniform` value."""

    __slots__ = ("low",)

    def __init__(self, low: int = 1):
        self.low = low

    def check(self, node):
        item = Int(self.low)
        if not isinstance(node, Seq) and not (isinstance(node, Scalar) and type(node.value) is int):
            _fail(f"{item.expected()} or a list [height, width] of two", node,
                  "1-D and 3-D inputs take [length] or [depth, height, width]")
        return _per_axis(node, item, item.expected())

    def schema(self):
        return _per_axis_schema(Int(self.low).schema())

    def show(self, value):
        return _show_per_axis(value)


class Padding(ParamType):
    """``same``, one integer, one per spatial axis (``[height, width]``...), or per side
    ``{top, bottom, left, right}`` (and ``front``, ``back`` for 3-D).

    The value is ``"same"`` or a tuple of the begin paddings then the end paddings, outer axis first:
    ``(top, left, bottom, right)`` for 2-D, the order TensorRT's pre/post padding takes.
    """

    __slots__ = ("allow_same",)
    SIDES = ("front", "back", "top", "bottom", "left", "right")

    def __init__(self, allow_same: bool = True):
        self.allow_same = allow_same

    def check(self, node):
        if isinstance(node, Scalar) and node.value == "same" and self.allow_same:
            return "same"
        if isinstance(node, Map):
            sides = {}
            for key, child in node.entries.items():
                if key not in self.SIDES:
                    raise ParamError(f"unknown padding side `{key}`", child, ", ".join(self.SIDES), key)
                sides[key] = Int(0).check(child)
            order = ("top", "left", "bottom", "right")
            if "front" in sides or "back" in sides:
                order = ("front", "top", "left", "back", "bottom", "right")
            return Sides(sides.get(side, 0) for side in order)
        if isinstance(node, (Seq, Scalar)):
            try:
                values = Pair(0).check(node)
            except ParamError:
                pass
            else:
                return (Uniform if isinstance(values, Uniform) else tuple)(values + values)
        same = "`same`, " if self.allow_same else ""
        _fail(same + "an integer >= 0, one per spatial axis ([height, width]...), or {top, bottom, left, right}",
              node)

    def schema(self):
        side = {"type": "integer", "minimum": 0}
        options = [
            Pair(0).schema(),
            {"type": "object", "additionalProperties": False, "properties": {name: side for name in self.SIDES}},
        ]
        if self.allow_same:
            options.insert(0, {"const": "same"})
        return {"anyOf": options}

    def show(self, value):
        if value == "same":
            return value
        half = len(value) // 2
        begins, ends = value[:half], value[half:]
        if begins == ends:
            return _show_per_axis(begins)
        names = {2: ("l", "r"), 4: ("t", "l", "b", "r"), 6: ("front", "t", "l", "back", "b", "r")}[len(value)]
        return " ".join(f"{name}{v}" for name, v in zip(names, value))


class Dims(ParamType):
    """A list of integers (reshape targets: -1 and 0 allowed)."""

    __slots__ = ("low", "empty")

    def __init__(self, low: int = -1, empty: bool = False):
        self.low = low
        self.empty = empty  # [] (a scalar's shape) allowed

    def check(self, node):
        if not isinstance(node, Seq) or not (node.items or self.empty):
            _fail("a list of integers" if self.empty else "a non-empty list of integers", node)
        if len(node.items) > 8:
            _fail("at most 8 dimensions", node)
        return tuple(Int(self.low, MAX_DIM).check(child) for child in node.items)

    def schema(self):
        return {"type": "array", "items": {"type": "integer", "minimum": self.low}, "minItems": 0 if self.empty else 1,
                "maxItems": 8}

    def show(self, value):
        return "[" + ", ".join(str(v) for v in value) + "]"


class Scale(ParamType):
    """A resize factor: one positive number for every spatial axis, or one per axis."""

    __slots__ = ()

    def check(self, node):
        return _per_axis(node, Float(0.0, 1024.0, low_open=True), "one positive number")

    def schema(self):
        return _per_axis_schema({"type": "number", "exclusiveMinimum": 0})

    def show(self, value):
        return _show_per_axis(value, lambda v: f"{v:g}")


class Literal(ParamType):
    """A number, or a (nested) list of numbers with the same length at each level: a small constant
    written in the spec. The value is a nested tuple; larger tensors belong in the weight file."""

    __slots__ = ("max_elements", "infinite")

    def __init__(self, max_elements: int = 4096, infinite: bool = False):
        self.max_elements = max_elements
        self.infinite = infinite  # -.inf and .inf taken (a mask's fill); never .nan

    def check(self, node):
        count = [0]

        def read(item, depth):
            if isinstance(item, Scalar) and type(item.value) in (int, float, bool):
                if type(item.value) is float and not math.isfinite(item.value) and not (
                        self.infinite and math.isinf(item.value)):
                    _fail("numbers or -.inf and .inf" if self.infinite else "finite numbers", item)
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


class Param:
    """A parameter of a layer kind: its type, its default (``REQUIRED``: none) and what it does. Compared
    and hashed by all three."""

    __slots__ = ("type", "default", "doc")

    def __init__(self, type: ParamType, default: object = REQUIRED, doc: str = ""):
        self.type = type
        self.default = default
        self.doc = doc

    def __eq__(self, other):
        if other.__class__ is not Param:
            return NotImplemented
        return (self.type, self.default, self.doc) == (other.type, other.default, other.doc)

    def __hash__(self):
        return hash((self.type, self.default, self.doc))

    def __repr__(self):
        return f"Param(type={self.type!r}, default={self.default!r}, doc={self.doc!r})"

    @property
    def required(self) -> bool:
        return self.default is REQUIRED
