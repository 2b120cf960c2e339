"""What a key/value cache needs from the spec language (specs/zoo/gpt2.yaml): a named dimension that may be
0 (an empty cache), an input dimension that is a sum of named ones (an attention mask over the cache and
the new tokens), input shapes with spec parameters, layers left out by `when` that read inputs left out
too, and `weights.tied`. Checked against numpy's own concatenation and TensorRT-RTX's shapes."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.diagnostics import UsageError
from netdsl.spec import check_text
from netdsl.symbolic import Dim

CACHE = """netdsl: 1
params: {heads: 2}
inputs:
  - {name: new, shape: [batch, $heads, sequence, 4]}
  - {name: past, shape: [batch, $heads, past, 4]}
  - {name: mask, shape: [batch, past+sequence]}
dims:
  batch: {min: 1, opt: 1, max: 4}
  sequence: {min: 1, opt: 1, max: 8}
  past: {min: 0, opt: 3, max: 16}
layers:
  - {name: present, kind: concat, inputs: [past, new], axis: 2}
  - {name: total, kind: reduce_sum, dim: [1, 3]}
  - {name: masked, kind: mul, inputs: [total, mask]}
outputs:
  - {name: present, from: present}
  - {name: masked, from: masked}
"""


def check(text, params=None):
    checked, diagnostics = check_text(text, params=params)
    return checked, [(d.code, d.message) for d in diagnostics if d.severity == "error"]


def test_a_cache_may_be_empty_and_a_mask_spans_cache_and_new_tokens():
    checked, problems = check(CACHE)
    assert problems == []
    assert checked.graph.profiles[0].ranges["past"] == (0, 3, 16)
    assert checked.types["present"].shape == (Dim("batch"), 2, Dim("past") + Dim("sequence"), 4)
    rng = np.random.default_rng(0)
    for past_length in (0, 5):
        new = rng.standard_normal((2, 2, 3, 4)).astype(np.float32)
        past = rng.standard_normal((2, 2, past_length, 4)).astype(np.float32)
        mask = rng.standard_normal((2, past_length + 3)).astype(np.float32)
        out = reference.run(checked, {}, {"new": new, "past": past, "mask": mask})
        present = np.concatenate([past, new], axis=2)
        assert np.array_equal(out["present"], present)
        assert np.allclose(out["masked"], present.sum(axis=(1, 3)) * mask, atol=1e-6)


def test_inputs_whose_sizes_disagree_with_the_sum_are_refused():
    checked, _ = check(CACHE)
    inputs = {"new": np.zeros((1, 2, 3, 4), np.float32), "past": np.zeros((1, 2, 5, 4), np.float32),
              "mask": np.zeros((1, 7), np.float32)}
    with pytest.raises(UsageError, match=r"input `mask` has size 7 in dimension 1, which is past\+sequence = 8"):
        reference.run(checked, {}, inputs)


def test_input_shapes_take_spec_parameters():
    checked, problems = check(CACHE, params={"heads": 3})
    assert problems == [] and checked.types["present"].shape[1] == 3


@pytest.mark.parametrize("shape, fragment", [
    ("[batch, past+]", "dimension 1 must be"),
    ("[batch, past-sequence]", "dimension 1 must be"),
])
def test_malformed_sums_are_located_errors(shape, fragment):
    _, problems = check(CACHE.replace("[batch, past+sequence]", shape))
    assert any(code == "bad-dims" and fragment in message for code, message in problems), problems


def test_a_kind_that_needs_a_size_of_1_or_more_names_the_empty_size():
    _, problems = check("""netdsl: 1
inputs:
  - {name: x, shape: [1, 3, height, 8]}
dims:
  height: {min: 0, opt: 4, max: 8}
layers:
  - {name: pool, kind: max_pool, kernel: 2}
""")
    assert any("height=" in message for _, message in problems), problems


def test_dims_below_0_are_refused():
    _, problems = check(CACHE.replace("past: {min: 0", "past: {min: -1"))
    assert any(code == "invalid-value" and "past" in message for code, message in problems), problems


OPTIONAL = """netdsl: 1
params: {with_mask: false}
inputs:
  - {name: x, shape: [1, 4]}
  - {name: mask, shape: [1, 4], when: $with_mask}
layers:
  - {name: relu, kind: relu, inputs: x}
  - {name: masking, kind: mul, inputs: [mask, relu], when: $with_mask}
  - {name: out, kind: add, inputs: [relu, relu]}
"""


def test_a_layer_left_out_may_read_an_input_left_out():
    for with_mask in (False, True):
        checked, problems = check(OPTIONAL, params={"with_mask": with_mask})
        assert problems == [] and ("masking" in checked.types) == with_mask


def test_a_name_that_passes_nothing_on_is_reported_where_it_is_used():
    _, problems = check(OPTIONAL.replace("inputs: [relu, relu]", "inputs: [masking, relu]"))
    assert [code for code, _ in problems] == ["unknown-input"] and "`masking`" in problems[0][1]


def test_a_tie_to_itself_and_a_tie_nothing_reads():
    from netdsl.diagnostics import Diagnostics
    from netdsl.weights.bind import bind

    _, problems = check(CACHE.replace("layers:", "weights:\n  tied: {a.weight: a.weight}\nlayers:", 1))
    assert any(code == "invalid-value" and "tied to itself" in message for code, message in problems), problems
    checked, problems = check(CACHE.replace("layers:", "weights:\n  tied: {lm_head.weight: wte.weight}\nlayers:", 1))
    diagnostics = Diagnostics()
    assert problems == [] and bind(checked, {}, "weights.safetensors", diagnostics=diagnostics) == {}
    assert [(d.code, d.severity) for d in diagnostics] == [("unused-tied", "warning")]


def test_trt_shapes_at_every_corner_include_the_empty_cache():
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import build_plan
    from netdsl.spec.buildopts import BuildOptions

    checked, _ = check(CACHE)
    plan = build_plan(checked, {}, BuildOptions())  # TensorRT's shapes compared with netdsl's at past = 0
    assert plan.profiles[0]["past"]["min"] == 0


@pytest.mark.parametrize("kind", ["reduce_max", "argmax"])
def test_a_maximum_of_an_empty_axis_is_refused_with_the_layer(kind):
    checked, problems = check(f"""netdsl: 1
inputs:
  - {{name: x, shape: [1, n]}}
dims:
  n: {{min: 0, opt: 2, max: 8}}
layers:
  - {{name: m, kind: {kind}, dim: 1}}
""")
    assert problems == []
    with pytest.raises(UsageError, match=rf"layer `m` \({kind}\) cannot compute over an empty input \(input 0 has "
                                         r"shape \[1, 0\]"):
        reference.run(checked, {}, {"x": np.zeros((1, 0), np.float32)})
    assert reference.run(checked, {}, {"x": np.ones((1, 2), np.float32)})["m"].shape == (1,)
