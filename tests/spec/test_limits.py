"""The layer limit: a network of exactly MAX_LAYERS layers is read, one more is refused, and only layers
count (graph inputs, block instances and disabled layers do not). docs/security.md states the same number."""

import pathlib

import pytest

from netdsl.spec import blocks, check_text

ROOT = pathlib.Path(__file__).resolve().parents[2]


def spec(layers: int, inputs: int = 1, repeat_unit: int = 10) -> str:
    """`layers` relu layers: a block of `repeat_unit` layers repeated, then the rest one by one."""
    head = ["netdsl: 1", "inputs:"]
    head += [f"  - {{name: in{i}, shape: [1, 4]}}" for i in range(inputs)]
    head += ["blocks:", "  unit:", "    layers:"]
    head += [f"      - {{name: r{i}, kind: relu}}" for i in range(repeat_unit)]
    body = ["layers:", "  - {name: sum, kind: add, inputs: [" + ", ".join(f"in{i}" for i in range(inputs)) + "]}"
            if inputs > 1 else "  - {name: first, kind: relu}"]
    remaining = layers - 1
    repeats, rest = divmod(remaining, repeat_unit)
    for start in range(0, repeats, blocks.MAX_REPEAT):
        body.append(f"  - {{name: chain{start}, block: unit, repeat: {min(blocks.MAX_REPEAT, repeats - start)}}}")
    body += [f"  - {{name: last{i}, kind: relu}}" for i in range(rest)]
    return "\n".join(head + body) + "\n"


def too_many(diagnostics) -> list:
    return [d for d in diagnostics if d.code == "too-many-layers"]


def test_documented_limit_is_accepted_and_one_more_refused():
    checked, diagnostics = check_text(spec(blocks.MAX_LAYERS))
    assert checked is not None, list(diagnostics)[:3]
    assert len(checked.graph.nodes) == blocks.MAX_LAYERS
    one_more = spec(blocks.MAX_LAYERS) + "  - {name: one_more, kind: relu}\n"
    checked, diagnostics = check_text(one_more)
    assert checked is None
    [error] = too_many(diagnostics)
    assert f"more than {blocks.MAX_LAYERS:,} layers" in error.message
    assert error.layer == "one_more" and error.pos.line == one_more.count("\n")


@pytest.mark.parametrize("inputs", [1, 3])
def test_graph_inputs_do_not_count(monkeypatch, inputs):
    monkeypatch.setattr(blocks, "MAX_LAYERS", 25)
    checked, diagnostics = check_text(spec(25, inputs=inputs, repeat_unit=4))
    assert checked is not None and len(checked.graph.nodes) == 25, list(diagnostics)[:3]
    checked, diagnostics = check_text(spec(26, inputs=inputs, repeat_unit=4))
    assert checked is None and len(too_many(diagnostics)) == 1


def test_disabled_layers_and_block_instances_do_not_count(monkeypatch):
    monkeypatch.setattr(blocks, "MAX_LAYERS", 4)
    text = """\
netdsl: 1
inputs:
  - {name: x, shape: [1, 4]}
blocks:
  pair:
    layers:
      - {name: a, kind: relu}
      - {name: off, kind: sigmoid, when: false}
      - {name: b, kind: relu}
layers:
  - {name: p, block: pair, repeat: 2}
  - {name: skipped, kind: relu, when: false}
"""
    checked, diagnostics = check_text(text)
    assert checked is not None, list(diagnostics)
    assert [n.name for n in checked.graph.nodes] == ["p.0.a", "p.0.b", "p.1.a", "p.1.b"]
    checked, diagnostics = check_text(text + "  - {name: fifth, kind: relu}\n")
    assert checked is None and too_many(diagnostics)[0].layer == "fifth"


def test_security_page_states_the_limit():
    page = (ROOT / "docs" / "security.md").read_text()
    assert f"networks of more than {blocks.MAX_LAYERS:,} layers" in " ".join(page.split())
