"""`netdsl fmt`: one canonical layout for specs, so that diffs show only real changes.

- Top-level keys in the order netdsl, name, description, params, weights, build, quantization, inputs,
  dims, profiles, blocks, layers, outputs, with one blank line between groups. Spec parameters one per
  line, in their own order (each may use those above it).
- Every input, layer and block instance on one line, as a flow mapping, keys in a fixed order: name,
  kind or block, inputs, when, repeat, then the kind's parameters in their declared order (see
  `netdsl schema`), then with, first, weights. Blocks: doc, params, inputs, layers, output.
- Scalars keep their source spelling (`1e-5` stays `1e-5`); comments stay with the line they annotate
  (a comment line goes with the item below it, an end-of-line comment with its item); a blank line
  before a list item is kept, so is grouping.

Formatting never changes meaning: the result is checked to define the same network as the input (and
to keep every comment) before it is written. Formatting a formatted spec changes nothing.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right

from .diagnostics import InternalError, SpecError
from .ops import REGISTRY
from .yamlnodes import Map, Scalar, Seq, paused_gc

TOP_GROUPS = (("netdsl", "name", "description"), ("params",), ("weights",), ("plugins",), ("build",),
              ("quantization",), ("inputs",), ("dims", "profiles"), ("blocks",), ("layers",), ("outputs",))
TOP_ORDER = [key for group in TOP_GROUPS for key in group]
INPUT_ORDER = ("name", "dtype", "shape", "batch")
HEAD = ("name", "kind", "block", "inputs", "when", "repeat")
TAIL = ("with", "first", "weights")
BLOCK_ORDER = ("doc", "params", "inputs", "layers", "output")
WEIGHTS_ORDER = ("file", "prefix", "rename")
QUANTIZATION_ORDER = ("dtype", "scales", "kinds", "exclude", "residual")  # netdsl.spec.quantization.SECTION_KEYS
PLAIN_SAFE = re.compile(r"[A-Za-z_$./][A-Za-z0-9_$./+\-]*\Z")


def comment_start(line: str) -> int | None:
    """Where a YAML comment starts on a line (outside quotes), or None."""
    if "#" not in line:
        return None
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'" and (index == 0 or line[index - 1] in " \t[{,:"):
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index
    return None


class Formatter:
    def __init__(self, source):
        self.source = source
        self.lines = source.text.splitlines()
        self.units: list[tuple[int | None, int, str, bool]] = []  # (source line, indent, text, blank before)

    # -- scalars and flow collections --------------------------------------------------------------------

    def scalar(self, node: Scalar) -> str:
        pos = node.pos
        if pos.width > 1 or (pos.width == 1 and node.value is not None and len(str(node.value)) <= 1):
            text = self.lines[pos.line - 1][pos.col - 1:pos.col - 1 + pos.width]
            if text and "\n" not in text and not text.startswith(("|", ">")):
                return text
        if node.quoted:  # quoting can matter (`$name`), so a quoted scalar stays quoted
            return json.dumps(str(node.value), ensure_ascii=False)
        return self.emit_value(node.value)

    @staticmethod
    def emit_value(value) -> str:
        if value is None:
            return "null"
        if value is True or value is False:
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        text = str(value)
        if PLAIN_SAFE.match(text) and text not in ("true", "false", "null", "yes", "no", "on", "off", "~"):
            return text
        return json.dumps(text, ensure_ascii=False)

    def flow(self, node, order=None) -> str:
        if isinstance(node, Scalar):
            return self.scalar(node)
        if isinstance(node, Seq):
            return "[" + ", ".join(self.flow(item) for item in node.items) + "]"
        keys = ordered(node, order) if order else list(node.entries)
        return "{" + ", ".join(f"{key}: {self.flow(node.entries[key])}" for key in keys) + "}"

    # -- units: one output line each, anchored to a source line for comments --------------------------------

    def blank_before(self, line: int) -> bool:
        """A blank line right above this source line, or above the comment lines right above it."""
        index = line - 2
        while index >= 0 and self.lines[index].strip().startswith("#"):
            index -= 1
        return index >= 0 and not self.lines[index].strip()

    def unit(self, line: int | None, indent: int, text: str, blank: bool = False) -> None:
        self.units.append((line, indent, text, blank))

    def layer_list(self, node, indent: int) -> None:
        if not isinstance(node, Seq):
            return
        for index, item in enumerate(node.items):
            text = self.flow(item, layer_order(item) if isinstance(item, Map) else None)
            self.unit(item.pos.line, indent, f"- {text}", index > 0 and self.blank_before(item.pos.line))

    def section(self, key: str, node, key_line: int, first: bool) -> None:
        blank = not first
        if isinstance(node, (Seq, Map)) and not (node.items if isinstance(node, Seq) else node.entries):
            self.unit(key_line, 0, f"{key}: {self.flow(node)}", blank)  # [] or {}
        elif key in ("inputs", "layers") and isinstance(node, Seq):
            self.unit(key_line, 0, f"{key}:", blank)
            if key == "inputs":
                for item in node.items:
                    self.unit(item.pos.line, 2, f"- {self.flow(item, INPUT_ORDER)}")
            else:
                self.layer_list(node, 2)
        elif key == "outputs" and isinstance(node, Seq) and all(isinstance(i, Scalar) for i in node.items):
            self.unit(key_line, 0, f"outputs: {self.flow(node)}", blank)
        elif key == "outputs" and isinstance(node, Seq):
            self.unit(key_line, 0, "outputs:", blank)
            for item in node.items:
                self.unit(item.pos.line, 2, f"- {self.flow(item, ('name', 'from'))}")
        elif key == "blocks" and isinstance(node, Map):
            self.unit(key_line, 0, "blocks:", blank)
            for position, name in enumerate(node.entries):
                body = node.entries[name]
                line = node.key_pos[name].line
                self.unit(line, 2, f"{name}:", position > 0)
                if not isinstance(body, Map):
                    continue
                for sub in ordered(body, BLOCK_ORDER):
                    value, sub_line = body.entries[sub], body.key_pos[sub].line
                    if sub == "layers" and isinstance(value, Seq) and value.items:
                        self.unit(sub_line, 4, "layers:")
                        self.layer_list(value, 6)
                    else:
                        self.unit(sub_line, 4, f"{sub}: {self.flow(value)}")
        elif key == "params" and isinstance(node, Map):  # one line per parameter, in their order (they build on
            self.unit(key_line, 0, "params:", blank)       # the ones above them)
            for name, value in node.entries.items():
                self.unit(node.key_pos[name].line, 2, f"{name}: {self.flow(value)}")
        elif key == "dims" and isinstance(node, Map):  # one line per dimension
            self.unit(key_line, 0, "dims:", blank)
            for name, value in node.entries.items():
                self.unit(node.key_pos[name].line, 2, f"{name}: {self.flow(value, ('min', 'opt', 'max', 'multiple_of'))}")
        elif key == "profiles" and isinstance(node, Seq):  # one line per profile
            self.unit(key_line, 0, "profiles:", blank)
            for item in node.items:
                self.unit(item.pos.line, 2, f"- {self.flow(item)}")
        elif key in ("weights", "build", "quantization") and isinstance(node, Map):
            self.unit(key_line, 0, f"{key}:", blank)
            for sub in ordered(node, {"weights": WEIGHTS_ORDER, "quantization": QUANTIZATION_ORDER}.get(key) or
                               build_order()):
                value, sub_line = node.entries[sub], node.key_pos[sub].line
                if sub == "rename" and isinstance(value, Seq) and value.items:
                    self.unit(sub_line, 2, "rename:")
                    for rule in value.items:
                        self.unit(rule.pos.line, 4, f"- {self.flow(rule, ('from', 'to'))}")
                else:
                    self.unit(sub_line, 2, f"{sub}: {self.flow(value)}")
        elif key == "description" and isinstance(node, Scalar) and isinstance(node.value, str) and "\n" in node.value:
            body = node.value
            self.unit(key_line, 0, "description: |" + ("" if body.endswith("\n") else "-"), blank)
            for text_line in body.rstrip("\n").split("\n"):
                self.unit(None, 2, text_line)
        else:
            self.unit(key_line, 0, f"{key}: {self.flow(node)}", blank)

    # -- comments ---------------------------------------------------------------------------------------

    def render(self, root: Map) -> str:
        keys = ordered(root, TOP_ORDER)
        group_of = {key: index for index, group in enumerate(TOP_GROUPS) for key in group}
        previous = None
        for position, key in enumerate(keys):
            new_group = previous is None or group_of.get(key, -1) != group_of.get(previous, -2)
            self.section(key, root.entries[key], root.key_pos[key].line, position == 0 or not new_group)
            previous = key
        anchored = sorted(line for line, *_ in self.units if line is not None)
        leading: dict[int, list[str]] = {}
        trailing: dict[int, list[str]] = {}
        tail: list[str] = []
        header: list[str] = []  # comments above the first key stay at the top of the file
        first_line = anchored[0] if anchored else 0
        for number, text in enumerate(self.lines, start=1):
            start = comment_start(text)
            if start is None:
                continue
            comment = text[start:].rstrip()
            if not text[:start].strip() and number < first_line:
                if header and not self.lines[number - 2].strip():
                    header.append("")
                header.append(comment)
            elif not text[:start].strip():  # a comment line: goes with the next item
                after = bisect_right(anchored, number)
                if after == len(anchored):
                    tail.append(comment)
                else:
                    group = leading.setdefault(anchored[after], [])
                    if group and number > 1 and not self.lines[number - 2].strip():
                        group.append("")  # keep a blank line inside a comment block
                    group.append(comment)
            else:  # an end-of-line comment: goes with the item on or above its line
                after = bisect_right(anchored, number)
                trailing.setdefault(anchored[after - 1] if after else None, []).append(comment)
        out: list[str] = list(header)
        seen = set()
        for line, indent, text, blank in self.units:
            pad = " " * indent
            if blank and out and out[-1] != "":
                out.append("")
            if line is not None and line not in seen:
                for comment in leading.get(line, []):
                    out.append(pad + comment if comment else "")
                comments = trailing.get(line, [])
                seen.add(line)
            else:
                comments = []
            out.append(pad + text + ("  " + " ".join(comments) if comments else ""))
        if tail:
            out.append("")
            out.extend(tail)
        return "\n".join(out).rstrip("\n") + "\n"


def build_order() -> tuple:
    from .spec.buildopts import OPTION_KEYS

    return OPTION_KEYS


def ordered(node: Map, order) -> list[str]:
    known = [key for key in order if key in node.entries]
    return known + [key for key in node.entries if key not in order]


def layer_order(item: Map) -> tuple:
    kind = item.entries.get("kind")
    op = REGISTRY.get(kind.value) if isinstance(kind, Scalar) and isinstance(kind.value, str) else None
    return HEAD + (tuple(op.params) if op else ()) + TAIL


@paused_gc()  # two YAML trees and a line per layer: see paused_gc
def format_text(text: str, path: str = "<string>") -> str:
    """The canonical text of a spec; raises SpecError when it is not even readable YAML."""
    from .diagnostics import Diagnostics, Source
    from .yamlnodes import compose

    diagnostics = Diagnostics()
    source = Source(path, text)
    root = compose(source, diagnostics)
    if root is None or diagnostics.has_errors:
        raise SpecError(diagnostics)
    if not isinstance(root, Map):
        return text
    result = Formatter(source).render(root)
    check_same(source, root, result)
    return result


def comments(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        start = comment_start(line)
        if start is not None:
            found.append(line[start:].rstrip())
    return sorted(found)


def check_same(source, root: Map, after: str) -> None:
    """The formatted text must mean what the original (``source``, composed to ``root``) means, and keep
    every comment."""
    from .diagnostics import Diagnostics, Source
    from .yamlnodes import compose

    path = source.path
    new = compose(Source(path, after), Diagnostics())
    if new is None or not same_meaning(root, new):
        raise InternalError(f"{path}: formatting would change the data; this is a bug in netdsl fmt")
    if comments(source.text) != comments(after):
        raise InternalError(f"{path}: formatting would lose a comment; this is a bug in netdsl fmt")


def same_meaning(a, b) -> bool:
    """Whether two YAML trees say the same to netdsl, which reads a spec from its tree alone (positions
    only place messages): equal values of equal types (``1``, ``1.0`` and ``true`` differ), the same
    quoting (an unquoted ``$name`` or ``required`` means something), the same keys in any order.

    >>> from netdsl.diagnostics import Diagnostics, Source
    >>> from netdsl.yamlnodes import compose
    >>> tree = lambda text: compose(Source("<s>", text), Diagnostics())
    >>> same_meaning(tree("{a: 1, b: [x, $y]}"), tree("{b: [x, $y], a: 1}"))
    True
    >>> [same_meaning(tree("a: 1"), tree(other)) for other in ("a: 1.0", "a: true", "a: '1'")]
    [False, False, False]
    >>> same_meaning(tree("a: $y"), tree("a: '$y'"))
    False
    """
    if type(a) is not type(b):
        return False
    if type(a) is Scalar:
        x, y = a.value, b.value
        return type(x) is type(y) and (x == y or x != x and y != y) and a.quoted == b.quoted  # NaN equals NaN
    if type(a) is Seq:
        return len(a.items) == len(b.items) and all(map(same_meaning, a.items, b.items))
    return a.entries.keys() == b.entries.keys() and all(same_meaning(v, b.entries[k]) for k, v in a.entries.items())
