"""`${...}` expressions in specs: arithmetic over spec and block parameters, so that one spec covers a
model family (`out_channels: ${ceil(min(256, max_channels) * width / 8) * 8}`, `repeat: ${max(round(3 *
depth), 1)}`) without code.

The expression is parsed with Python's `ast` and walked here: only numbers, strings, booleans, parameter
names (bare or `$name`), arithmetic, comparisons (`in` over a literal list), `and`/`or`/`not`, `a if c
else b`, lists (their items, `kpt_shape[0]`, and `+` of two) and a few functions are accepted. Nothing
is ever passed to `eval`; sizes and exponents are bounded, so a hostile spec cannot make an expression
take long or build a huge number.

    >>> evaluate("ceil(min(256, max_channels) * width / 8) * 8", {"max_channels": 1024, "width": 0.25})
    64
    >>> evaluate("max(round(6 * $depth), 1)", {"depth": 0.33})
    2
    >>> evaluate("scale in ['m', 'l', 'x']", {"scale": "s"})
    False
"""

from __future__ import annotations

import math
import re

MAX_TEXT = 1000
MAX_MAGNITUDE = 10 ** 15  # far above any size or count in a network; bounds what `**` and `*` can build
REFERENCE_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class ExpressionError(Exception):
    """A user mistake in an expression; the message says what, for a located diagnostic. ``quiet``: it
    uses a parameter whose own definition failed, already reported."""

    def __init__(self, message: str, quiet: bool = False):
        super().__init__(message)
        self.quiet = quiet


def _round(x, digits=None):
    return round(x) if digits is None else round(x, digits)


FUNCTIONS = {
    "min": min, "max": max, "abs": abs, "int": int, "float": float, "round": _round,
    "floor": math.floor, "ceil": math.ceil,
}


def checked_value(value):
    """``value`` when it is within the bounds every expression value is held to (a finite number of at
    most MAX_MAGNITUDE, a string of at most MAX_TEXT characters), else ExpressionError: `--set` values
    and literal parameters go through the same check as `${...}` results.

        >>> checked_value(640)
        640
        >>> checked_value(10 ** 60)
        Traceback (most recent call last):
        ...
        netdsl.spec.expressions.ExpressionError: a value is out of range (about 10^60; the bound is 10^15 either way)
    """
    return Walker.bounded(value)


def _shown(value) -> str:
    """A number for a message: a huge int by its order of magnitude (str() refuses ints over 4300 digits)."""
    if isinstance(value, int) and abs(value) > 10 ** 20:
        return f"{'-' if value < 0 else ''}about 10^{int(abs(value).bit_length() * math.log10(2))}"
    return repr(value)


_TREES: dict = {}  # expression text -> its parsed body: each instance of a block evaluates the same texts
_MAX_TREES = 4096


def evaluate(text: str, names: dict):
    """The value of ``text`` with ``names`` (parameter name -> int, float, str or bool)."""
    # `_ast`, the builtin module that `ast` re-exports: the same parse (ast.parse is this compile call) and
    # node classes, without importing `ast` itself (about 2-5 ms of `netdsl validate` on specs with
    # expressions); `ast` is imported only to show a refused expression (its unparse)
    import _ast

    body = _TREES.get(text)
    if body is None:
        if len(text) > MAX_TEXT:
            raise ExpressionError(f"an expression is at most {MAX_TEXT} characters long")
        try:
            body = compile(REFERENCE_RE.sub(r"\1", text).strip(), "<unknown>", "eval", _ast.PyCF_ONLY_AST,
                           _feature_version=-1).body
        except SyntaxError as error:
            raise ExpressionError(f"`{text}` is not an expression ({error.msg})") from None
        if len(_TREES) >= _MAX_TREES:
            _TREES.clear()
        _TREES[text] = body  # the walk below only reads the tree
    return Walker(_ast, names).value(body)


def _unparse(node) -> str:
    import ast

    return ast.unparse(node)


class Walker:
    _tables = None  # (binary, compare): operator node class -> function, made once (a walker per expression)

    def __init__(self, ast, names: dict):
        self.ast = ast
        self.names = names
        if Walker._tables is None:
            Walker._tables = (
                {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                 ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
                 ast.Pow: Walker.power},
                {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
                 ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
                 ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b})
        self.binary, self.compare = Walker._tables

    def value(self, node):
        ast = self.ast
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return self.bounded(node.value)
        if isinstance(node, ast.Name):
            if node.id not in self.names:
                known = ", ".join(sorted(self.names)) or "none"
                raise ExpressionError(f"`{node.id}` is not a parameter here (parameters: {known})")
            value = self.names[node.id]
            if type(value).__name__ == "Failed":
                raise ExpressionError(f"`{node.id}` has no value", quiet=True)
            return value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(left, str) and isinstance(right, str):  # names: 'yolov8' + scale + '.scales'
                return self.bounded(left + right)
            if isinstance(left, tuple) and isinstance(right, tuple):  # lists: head_layers + ['model.22.proto']
                return self.bounded(left + right)
        if isinstance(node, ast.BinOp) and type(node.op) in self.binary:
            left, right = self.number(node.left), self.number(node.right)
            try:
                return self.bounded(self.binary[type(node.op)](left, right))
            except ZeroDivisionError:
                raise ExpressionError("division by zero") from None
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return not self.value(node.operand)
            if isinstance(node.op, (ast.USub, ast.UAdd)):
                operand = self.number(node.operand)
                return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BoolOp):
            result = None
            for operand in node.values:
                result = self.value(operand)
                if isinstance(node.op, ast.And) != bool(result):  # `and` stops at a false, `or` at a true
                    return result
            return result
        if isinstance(node, ast.Compare):
            left = self.value(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                right = self.value(comparator)
                if type(op) not in self.compare:
                    break
                if not self.compare[type(op)](left, right):
                    return False
                left = right
            else:
                return True
        if isinstance(node, ast.IfExp):
            return self.value(node.body) if self.value(node.test) else self.value(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= 64:
            return tuple(self.value(item) for item in node.elts)
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):  # kpt_shape[0]
            sequence, index = self.value(node.value), self.value(node.slice)
            if not isinstance(sequence, tuple) or isinstance(index, bool) or not isinstance(index, int):
                raise ExpressionError(f"`{_unparse(node)}`: only a list takes an index, and the index is "
                                      "a whole number")
            if not -len(sequence) <= index < len(sequence):
                raise ExpressionError(f"`{_unparse(node)}`: index {index} is outside a list of "
                                      f"{len(sequence)}")
            return sequence[index]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            function = FUNCTIONS.get(node.func.id)
            if function is None:
                raise ExpressionError(f"`{node.func.id}` is not a function expressions know (they know "
                                      f"{', '.join(FUNCTIONS)})")
            arguments = [self.value(argument) for argument in node.args]
            try:
                return self.bounded(function(*arguments))
            except (TypeError, ValueError, OverflowError) as error:
                raise ExpressionError(f"{node.func.id}(): {error}") from None
        raise ExpressionError(f"`{_unparse(node)}` cannot be written in a spec expression (numbers, "
                              "parameters, + - * / // % **, comparisons, and/or/not, `a if c else b`, "
                              f"{', '.join(FUNCTIONS)})")

    def number(self, node):
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"`{_unparse(node)}` is {value!r}, not a number")
        return value

    @staticmethod
    def power(base, exponent):
        if abs(exponent) > 64:
            raise ExpressionError(f"an exponent is at most 64, found {exponent}")
        return base ** exponent

    @staticmethod
    def bounded(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
                raise ExpressionError(f"a value is out of range ({_shown(value)}; the bound is 10^15 either way)")
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            raise ExpressionError("a string is too long")
        elif isinstance(value, tuple):  # a list parameter (kpt_shape: [17, 3])
            if len(value) > 64:
                raise ExpressionError("a list has at most 64 values")
            return tuple(Walker.bounded(item) for item in value)
        return value
