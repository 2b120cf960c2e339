"""Small checks on YAML nodes shared by the spec readers: allowed keys, names, typed fields."""

from __future__ import annotations

import re

from ..diagnostics import Diagnostics, did_you_mean
from ..yamlnodes import Map, Node, Scalar, Seq, describe

NAME_RE = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*\Z")
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
PARAM_REF_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\Z")
NAME_RULE = "letters, digits and `_`, in parts joined by `.` (like PyTorch's `layer1.0.conv1`)"


def expect_map(node: Node, what: str, diagnostics: Diagnostics, layer: str | None = None) -> Map | None:
    if isinstance(node, Map):
        return node
    diagnostics.error("wrong-type", f"{what} must be a mapping, found {describe(node)}", node.pos,
                      layer=layer, expected="a mapping", found=describe(node))
    return None


def expect_list(node: Node, what: str, diagnostics: Diagnostics) -> Seq | None:
    if isinstance(node, Seq):
        return node
    diagnostics.error("wrong-type", f"{what} must be a list, found {describe(node)}", node.pos,
                      expected="a list", found=describe(node))
    return None


def check_keys(node: Map, allowed, what: str, diagnostics: Diagnostics, required=(),
               layer: str | None = None) -> bool:
    """Report unknown keys (with a suggestion) and missing required ones; True when all is well."""
    ok = True
    for key in node.entries:
        if key not in allowed:
            ok = False
            diagnostics.error("unknown-key", f"unknown key `{key}` in {what}", node.key_pos[key], layer=layer,
                              hint=did_you_mean(key, allowed) or "known keys: " + ", ".join(sorted(allowed)))
    for key in required:
        if key not in node.entries:
            ok = False
            diagnostics.error("missing-key", f"{what} needs `{key}`", node.pos, layer=layer)
    return ok


def name_of(node: Node | None, what: str, diagnostics: Diagnostics, pattern=NAME_RE,
            rule: str = NAME_RULE) -> str | None:
    if node is None:
        return None
    if isinstance(node, Scalar) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        text = str(node.value)
        if pattern.match(text):
            return text
        diagnostics.error("bad-name", f"`{text}` is not a valid {what}", node.pos,
                          hint=f"names are {rule}", found=text)
        return None
    diagnostics.error("wrong-type", f"{what} must be a name, found {describe(node)}", node.pos,
                      expected="a name", found=describe(node))
    return None


def int_of(node: Node, what: str, diagnostics: Diagnostics, low: int, high: int) -> int | None:
    if isinstance(node, Scalar) and type(node.value) is int and low <= node.value <= high:
        return node.value
    diagnostics.error("invalid-value", f"{what} must be an integer from {low} to {high}, found {describe(node)}",
                      node.pos, expected=f"an integer from {low} to {high}", found=describe(node))
    return None


def bool_of(node: Node, what: str, diagnostics: Diagnostics, layer: str | None = None) -> bool | None:
    if isinstance(node, Scalar) and type(node.value) is bool:
        return node.value
    diagnostics.error("wrong-type", f"{what} must be true or false, found {describe(node)}", node.pos,
                      layer=layer, expected="true or false", found=describe(node))
    return None


def text_of(node: Node, what: str, diagnostics: Diagnostics) -> str | None:
    if isinstance(node, Scalar) and isinstance(node.value, str):
        return node.value
    diagnostics.error("wrong-type", f"{what} must be a string, found {describe(node)}", node.pos,
                      expected="a string", found=describe(node))
    return None
