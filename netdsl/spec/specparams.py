"""The spec's own parameters (top-level `params:`), chosen when the spec is used, not by editing it:

```yaml
params:
  scale: n                  # netdsl build specs/zoo/yolov8.yaml --set scale=s
  classes: 80
  width: {by: scale, n: 0.25, s: 0.50, m: 0.75, l: 1.00, x: 1.25}   # a table: the entry for `scale`
  c64: ${ceil(min(64, max_channels) * width / 8) * 8}               # an expression over those above
```

Entries are read in order; each may use the ones above it. `--set NAME=VALUE` replaces an entry's
definition before the entries that depend on it are worked out. Every layer (top level and blocks) can
use them as `$name` or inside `${...}`; a block's own parameter of the same name wins inside the block.
"""

from __future__ import annotations

from ..diagnostics import Diagnostics, Pos
from ..yamlnodes import Map, Node as YamlNode, Scalar, Seq, describe
from .fields import IDENT_RE, expect_map

MAX_PARAMS = 1000


class Failed:
    """The value of a parameter whose definition had an error (reported once): whatever uses it is
    left out quietly instead of adding a second report for the same mistake."""

    def __repr__(self):
        return "<failed>"


FAILED = Failed()


def is_expression(value) -> bool:
    """`${...}`, quoted or not (inside a `{...}` flow mapping YAML needs the quotes: `"${min(a, b)}"`)."""
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def parse_override(text: str) -> tuple[str, object]:
    """`NAME=VALUE` from the command line: the value is read as a YAML scalar would be (3, 0.5, true, s).

    >>> parse_override("scale=s"), parse_override("classes=20"), parse_override("nms=false")
    (('scale', 's'), ('classes', 20), ('nms', False))
    >>> parse_override("kpt_shape=[5, 3]")
    ('kpt_shape', (5, 3))
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not IDENT_RE.match(name):
        raise ValueError(f"`{text}` is not NAME=VALUE (e.g. scale=s)")
    return name, scalar_value(value.strip())


def scalar_value(text: str):
    if text.startswith("[") and text.endswith("]"):  # a list: kpt_shape=[5,3]
        return tuple(scalar_value(item.strip()) for item in text[1:-1].split(",")) if text[1:-1].strip() else ()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def read_spec_params(node: YamlNode | None, overrides: dict | None, diagnostics: Diagnostics,
                     where: Pos) -> dict[str, Scalar]:
    """Parameter name -> its value as a Scalar (at the position that defined it)."""
    overrides = dict(overrides or {})
    values: dict[str, Scalar] = {}
    mapping = expect_map(node, "`params`", diagnostics) if node is not None else None
    reported: set = set()  # (parameter, value) pairs that picked no table entry, reported once
    entries = mapping.entries.items() if mapping is not None else ()
    if len(entries) > MAX_PARAMS:
        diagnostics.error("invalid-value", f"a spec has at most {MAX_PARAMS} parameters", mapping.pos)
        return values
    for name, definition in entries:
        pos = mapping.key_pos[name]
        if not IDENT_RE.match(name):
            diagnostics.error("bad-name", f"`{name}` is not a valid parameter name", pos,
                              hint="parameter names are letters, digits and `_`, not starting with a digit")
            continue
        if name in overrides:
            values[name] = Scalar(override_value(name, overrides.pop(name), diagnostics, pos), pos)
            continue
        value = definition_value(name, definition, values, diagnostics, reported)
        values[name] = Scalar(FAILED, pos) if value is None else value
    for name in overrides:
        known = ", ".join(values) if values else "it has none"
        diagnostics.error("unknown-param", f"--set {name}: the spec has no parameter `{name}` ({known})",
                          mapping.pos if mapping is not None else where,
                          hint="declare it under `params:` at the top of the spec")
    return values


def override_value(name: str, value, diagnostics: Diagnostics, pos: Pos):
    """A `--set` value, held to the bounds a `${...}` value is held to (reported at the parameter)."""
    from .expressions import ExpressionError, checked_value  # here: specs without parameters never need it

    try:
        return checked_value(tuple(value) if isinstance(value, list) else value)  # a list from the Python API
    except ExpressionError as error:
        shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
        diagnostics.error("invalid-value", f"--set {name}={shown}: {error}", pos,
                          hint="values of spec parameters are numbers, strings and booleans within the bounds "
                          "of `${...}` expressions")
        return FAILED


def definition_value(name: str, definition: YamlNode, values: dict[str, Scalar], diagnostics: Diagnostics,
                     reported: set):
    from .expressions import ExpressionError, checked_value, evaluate

    env = {key: scalar.value for key, scalar in values.items()}
    if isinstance(definition, Map):
        return table_value(name, definition, values, diagnostics, reported)
    if isinstance(definition, Seq) and all(isinstance(item, Scalar) for item in definition.items):
        try:  # a list of literals (kpt_shape: [17, 3]); expressions take its items as kpt_shape[0]
            return Scalar(checked_value(tuple(item.value for item in definition.items)), definition.pos)
        except ExpressionError as error:
            diagnostics.error("invalid-value", f"parameter `{name}`: {error}", definition.pos)
            return None
    if not isinstance(definition, Scalar):
        diagnostics.error("wrong-type", f"parameter `{name}` must be a number, a string, a boolean, a list of "
                          f"those, an expression `${{...}}` or a table `{{by: ..., ...}}`, found "
                          f"{describe(definition)}",
                          definition.pos)
        return None
    text = definition.value
    if is_expression(text):
        try:
            return Scalar(evaluate(text[2:-1], env), definition.pos)
        except ExpressionError as error:
            if not error.quiet:
                diagnostics.error("invalid-value", f"parameter `{name}`: {error}", definition.pos)
            return None
    try:
        checked_value(text)  # a literal is held to the bounds of `${...}` values too
    except ExpressionError as error:
        diagnostics.error("invalid-value", f"parameter `{name}`: {error}", definition.pos)
        return None
    return definition


def table_value(name: str, table: Map, values: dict[str, Scalar], diagnostics: Diagnostics, reported: set):
    by = table.entries.get("by")
    if not (isinstance(by, Scalar) and isinstance(by.value, str)):
        diagnostics.error("missing-key", f"table parameter `{name}` needs `by: <parameter>`, the parameter whose "
                          "value picks the entry", table.pos)
        return None
    chooser = values.get(by.value)
    if chooser is None:
        diagnostics.error("unknown-param", f"table parameter `{name}` is chosen by `{by.value}`, which is not a "
                          "parameter above it", by.pos, hint="parameters are read in order: define it first")
        return None
    key = chooser.value
    if key is FAILED:
        return None
    choices = {str(k): v for k, v in table.entries.items() if k != "by"}
    entry = choices.get(str(key))
    if entry is None:
        if (by.value, str(key)) in reported:
            return None
        reported.add((by.value, str(key)))
        diagnostics.error("invalid-value", f"parameter `{by.value}` is {key!r}, which has no entry in table "
                          f"`{name}` (entries: {', '.join(choices)})", chooser.pos,
                          expected=", ".join(choices), found=str(key))
        return None
    return definition_value(name, entry, values, diagnostics, reported)
