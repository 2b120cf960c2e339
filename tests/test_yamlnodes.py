"""The positioned YAML reader: YAML 1.2 scalars, positions, bounds."""

import math

import pytest

from netdsl.diagnostics import Diagnostics, Source
from netdsl.yamlnodes import MAX_NODES, compose


def read(text):
    diagnostics = Diagnostics()
    node = compose(Source("t.yaml", text), diagnostics)
    return node, [d.code for d in diagnostics]


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("-7", -7), ("0x1F", 31), ("0o17", 15), ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5),
    ("true", True), ("False", False), ("~", None), ("null", None), ("", None),
    # YAML 1.1 surprises that the 1.2 core schema keeps as strings:
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("1_000", "1_000"), ("0b101", "0b101"),
    ("'3'", "3"), ('"true"', "true"), ("!!str 5", "5"), ("!!float 2", 2.0), ("same", "same"),
])
def test_scalars_follow_yaml_1_2_core(text, value):
    node, codes = read(f"k: {text}\n")
    assert codes == []
    assert node.entries["k"].value == value and type(node.entries["k"].value) is type(value)


def test_special_floats():
    node, _ = read("a: .inf\nb: -.Inf\nc: .nan\n")
    assert node.entries["a"].value == math.inf and node.entries["b"].value == -math.inf
    assert math.isnan(node.entries["c"].value)


def test_positions_are_one_based_line_and_column():
    node, _ = read("a:\n  b: [10, 20]\n")
    inner = node.entries["a"].entries["b"]
    assert (inner.pos.line, inner.pos.col) == (2, 6)
    assert (inner.items[1].pos.line, inner.items[1].pos.col, inner.items[1].pos.width) == (2, 11, 2)
    assert node.entries["a"].key_pos["b"].col == 3


def test_anchors_aliases_and_merge_keys():
    node, codes = read("base: &b {k: 3, s: 1}\nlayer: {<<: *b, s: 2}\nsame: *b\n")
    assert codes == []
    assert node.plain()["layer"] == {"k": 3, "s": 2}
    assert node.plain()["same"] == {"k": 3, "s": 1}


def test_merge_of_a_scalar_is_an_error():
    _, codes = read("a: {<<: 3}\n")
    assert codes == ["bad-merge"]


def test_quoted_merge_key_is_an_ordinary_key():
    node, codes = read('a: {"<<": 3}\n')
    assert codes == [] and node.plain() == {"a": {"<<": 3}}


def test_complex_keys_are_rejected():
    _, codes = read("? [a, b]\n: 1\n")
    assert codes == ["bad-key"]


def test_alias_expansion_is_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    node, codes = read("\n".join(lines) + "\n")
    assert node is None and codes == ["too-many-nodes"]
    assert 10 ** 9 > MAX_NODES  # the document above would expand to about a billion nodes


def test_a_reused_small_anchor_is_fine():
    node, codes = read("a: &a [1, 2]\nb: [*a, *a, *a]\n")
    assert codes == [] and node.plain()["b"] == [[1, 2]] * 3
