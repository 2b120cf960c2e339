"""Whole specs around the shape kinds: several outputs taken by name (also inside a block), and every
shape kind on a dynamic batch, each validated, run in the reference against PyTorch and built with
TensorRT-RTX."""

import textwrap

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import check_text

torch = pytest.importorskip("torch")
F = torch.nn.functional

SPLIT = """\
netdsl: 1
inputs:
  - {name: x, shape: [2, 6, 4, 4]}
blocks:
  gate:
    layers:
      - {name: s, kind: chunk, chunks: 2, dim: 1}
      - {name: a, kind: relu, inputs: s.0}
      - {name: b, kind: sigmoid, inputs: s.1}
      - {name: m, kind: mul, inputs: [a, b]}
layers:
  - {name: s, kind: split, split_size_or_sections: [2, 4], dim: 1}
  - {name: left, kind: tanh, inputs: s.0}
  - {name: right, block: gate, inputs: s.1}
  - {name: cat, kind: concat, inputs: [left, right], axis: 1}
outputs: [cat, {name: piece, from: s.1}]
"""

DYNAMIC = """\
netdsl: 1
inputs:
  - {name: x, shape: [-1, 8, 4, 6], batch: {min: 1, opt: 2, max: 4}}
layers:
  - {name: f, kind: flatten}
  - {name: r, kind: reshape, shape: [0, 2, -1]}
  - {name: u, kind: unsqueeze, dim: 1, inputs: x}
  - {name: q, kind: squeeze, dim: 1}
  - {name: p, kind: permute, dims: [0, 2, 3, 1], inputs: x}
  - {name: t, kind: transpose, dim0: 0, dim1: 1, inputs: x}
  - {name: back, kind: squeeze, inputs: u}
  - {name: sl, kind: slice, dim: [2, 3], start: 1, end: -1, inputs: x}
  - {name: sp, kind: split, split_size_or_sections: [3, 5], dim: 1, inputs: x}
  - {name: c, kind: concat, inputs: [sp.1, sp.0], axis: 1}
  - {name: st, kind: stack, inputs: [sp.0, sp.0]}
  - {name: g, kind: gather, dim: 1, index: [0, -1], inputs: x}
  - {name: g1, kind: gather, dim: 1, index: [2], inputs: x}
  - {name: e, kind: expand, size: [-1, 3, -1, -1]}
  - {name: pd, kind: pad, pad: [1, 1, 2, 0], mode: reflect, inputs: x}
  - {name: ti, kind: tile, dims: [2, 1, 1], inputs: x}
  - {name: ps, kind: pixel_shuffle, upscale_factor: 2, inputs: x}
  - {name: ro, kind: roll, shifts: [-1, 2], dims: [2, 3], inputs: x}
  - {name: index, kind: constant, value: [[3, 0]], dtype: int64}
  - {name: gt, kind: gather, dim: 1, inputs: [x, index]}
outputs: [r, q, p, t, back, sl, c, st, g, e, pd, ti, ps, ro, gt]
"""


def expected_dynamic(x):
    a, b = x.split([3, 5], 1)
    return {
        "r": x.flatten(1).reshape(x.shape[0], 2, -1), "q": x.unsqueeze(1).squeeze(1), "p": x.permute(0, 2, 3, 1),
        "t": x.transpose(0, 1), "back": x, "sl": x[:, :, 1:-1, 1:-1], "c": torch.cat([b, a], 1),
        "st": torch.stack([a, a]), "g": x[:, [0, 7]], "e": x[:, [2]].expand(-1, 3, -1, -1),
        "pd": F.pad(x, (1, 1, 2, 0), mode="reflect"), "ti": torch.tile(x, (2, 1, 1)),
        "ps": F.pixel_shuffle(x, 2), "ro": torch.roll(x, (-1, 2), (2, 3)), "gt": x[:, [[3, 0]]]}


def check(text: str):
    checked, diagnostics = check_text(textwrap.dedent(text), "spec.yaml")
    assert checked is not None, [f"{d.pos}: {d.code}: {d.message}" for d in diagnostics]
    return checked


def compare(checked, inputs: dict, expected: dict):
    ours = reference.run(checked, {}, {k: v.numpy() for k, v in inputs.items()})
    assert set(ours) == set(expected)
    for name, want in expected.items():
        # shape kinds move values unchanged; tanh, sigmoid differ from PyTorch's by a few float32 ulps
        np.testing.assert_allclose(ours[name], want.numpy(), rtol=1e-6, atol=1e-6, err_msg=name)


def build(checked):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import build_plan
    from netdsl.spec.buildopts import BuildOptions

    for precision in ("float32", "float16"):
        assert len(build_plan(checked, {}, BuildOptions(precision=precision)).data) > 0


def test_split_outputs_feed_layers_by_name_also_inside_a_block():
    checked = check(SPLIT)
    assert checked.graph.node("right.m").inputs == ["right.a", "right.b"]
    assert checked.graph.node("right.s").inputs == ["s.1"]
    assert checked.types["s.0"].shape == (2, 2, 4, 4) and checked.types["right.s.1"].shape == (2, 2, 4, 4)
    x = torch.randn(2, 6, 4, 4)
    left, right = x.split([2, 4], 1)
    first, second = right.chunk(2, 1)
    compare(checked, {"x": x}, {"cat": torch.cat([left.tanh(), first.relu() * second.sigmoid()], 1), "piece": right})
    build(checked)


def test_a_spec_ending_with_a_split_outputs_every_piece():
    checked = check("""\
        netdsl: 1
        inputs: [{name: x, shape: [3, 4]}]
        layers: [{name: s, kind: chunk, chunks: 2, dim: 1}]
        """)
    assert [o.name for o in checked.graph.outputs] == ["s.0", "s.1"]


@pytest.mark.parametrize("layer", ["{name: bad, kind: relu, inputs: s}", "{name: bad, kind: relu}"],
                         ids=["by-name", "implicitly"])
def test_taking_a_layer_with_several_outputs_by_its_bare_name_is_refused(layer):
    text = f"""\
netdsl: 1
inputs: [{{name: x, shape: [3, 4]}}]
layers:
  - {{name: s, kind: split, split_size_or_sections: [1, 3], dim: 1}}
  - {layer}
"""
    checked, diagnostics = check_text(text, "spec.yaml")
    assert checked is None
    [error] = diagnostics
    assert error.code == "several-outputs" and error.layer == "bad" and error.pos.line == 5
    assert "`s.0`, `s.1`" in error.hint


def test_shape_kinds_on_a_dynamic_batch():
    checked = check(DYNAMIC)
    assert str(checked.types["t"].shape) == "(8, N, 4, 6)" and str(checked.types["st"].shape) == "(2, N, 3, 4, 6)"
    x = torch.randn(3, 8, 4, 6)
    compare(checked, {"x": x}, expected_dynamic(x))
    build(checked)


@pytest.mark.parametrize("layer,message", [
    ("{name: l, kind: squeeze, dim: 0}", "dynamic dimension N"),
    ("{name: l, kind: slice, dim: 0, end: 1}", "dynamic dimension N"),
    ("{name: l, kind: concat, inputs: [x, x], axis: 0}", "dynamic dimension N"),
    ("{name: l, kind: reshape, shape: [-1]}", "-1 must stand for exactly the batch"),
    ("{name: l, kind: flatten, start_dim: 0}", "cannot flatten the dynamic batch"),
    ("{name: l, kind: tile, dims: [2, 1, 1, 1]}", "dynamic dimension N"),
    ("{name: l, kind: roll, shifts: 1, dims: 0}", "dynamic dimension N"),
    ("{name: l, kind: roll, shifts: 1}", "roll flattens the whole tensor, dynamic sizes included"),
])
def test_what_needs_the_batch_size_is_refused_with_a_dynamic_batch(layer, message):
    text = DYNAMIC.split("layers:")[0] + f"layers:\n  - {layer}\n"
    checked, diagnostics = check_text(text, "spec.yaml")
    assert checked is None
    assert any(message in d.message for d in diagnostics), [d.message for d in diagnostics]


def test_summary_graph_and_diff_show_each_output_of_a_split():
    from netdsl import diff, graph_picture, summary

    old = check(SPLIT)
    assert "0 [2, 2, 4, 4]; 1 [2, 4, 4, 4]" in summary.format_table(old)
    assert summary.to_json(old)["layers"][0]["outputs"] == {"0": {"shape": [2, 2, 4, 4], "dtype": "float32"},
                                                            "1": {"shape": [2, 4, 4, 4], "dtype": "float32"}}
    assert '"s" -> "left" [label="0 [2, 2, 4, 4]"]' in graph_picture.to_dot(old)
    changes = diff.compare(old, check(SPLIT.replace("[2, 4]", "[3, 3]")))
    assert ("s.0", (2, 2, 4, 4), (2, 3, 4, 4)) in changes.shapes
