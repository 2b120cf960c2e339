"""Every op case (tests/opcases) again with one axis made a named dynamic size `d` (the first axis, then
the last; every input axis of the same size at the same place from the end takes the name), allowed to
be the case's size S or 2S: validate either refuses it with a located diagnostic, or the layer lowers
with TensorRT-RTX's shapes equal to netdsl's at every profile corner, and the lowered network evaluated
with TensorRT's layer semantics equals the reference executor at size 2S (the reference itself is
checked against PyTorch by the static cases and tests/trt/test_dynamic_kinds.py). A refusal passes its
variant, so the number that validate has a floor (LOWERED_AT_LEAST), printed with `-s`.

Tolerance: the case's own, or 1e-4 relative (float32 on both sides; the same layers at twice the size sum
twice as many terms); for float16 and bfloat16 tensors, test_evaluate_cases.py's (the evaluator rounds them).
"""

import json

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import check_text
from opcases import all_cases, random_weights

pytest.importorskip("tensorrt_rtx")
from netdsl.trt.evaluate import round_to  # noqa: E402

REFUSALS = {"dynamic-shape", "shape-mismatch", "invalid-value"}
# variants that validate (and so must lower exactly) when this was written: 819 of 980 (161 refused); a
# change that refuses more is a regression, however located its messages: raise it as kinds learn names
LOWERED_AT_LEAST = 800
# the evaluator rounds every reduced-precision tensor, the reference keeps float32: as tests/trt/test_evaluate_cases.py
TOLERANCE = {"float16": 4e-3, "bfloat16": 3e-2}


def dynamic_variant(case, axis: int):
    """The case's spec with axis ``axis`` of its first input (and the same axis of the others, counted
    from the end, where it has the same size) named `d`; None where that axis is missing or of size 1."""
    if case.error or not case.inputs or not case.trt or any(isinstance(i, np.ndarray) for i in case.inputs):
        return None
    first = case.input_specs()[0][0]
    if not -len(first) <= axis < len(first) or first[axis] < 2:
        return None
    size, spec = first[axis], json.loads(case.spec())
    from_end = axis - len(first) if axis >= 0 else axis
    for item in spec["inputs"]:
        if len(item["shape"]) >= -from_end and item["shape"][from_end] == size:
            item["shape"][from_end] = "d"
    spec["dims"] = {"d": {"min": size, "opt": size, "max": 2 * size, "multiple_of": size}}
    return json.dumps(spec), size


def arrays_at(case, checked, size: int) -> dict:
    rng = np.random.default_rng(0)
    result = {}
    for graph_input in checked.graph.inputs:
        shape = [2 * size if not isinstance(d, int) else d for d in graph_input.shape]
        dtype = graph_input.dtype
        if dtype == "bool":
            result[graph_input.name] = rng.random(shape) < 0.5
        elif dtype.startswith(("int", "uint")):
            result[graph_input.name] = rng.integers(0 if dtype == "uint8" else -5, 6, shape).astype(dtype)
        else:
            values = rng.uniform(case.low, case.high, shape) if case.low is not None else rng.standard_normal(shape)
            # a float16 or bfloat16 input holds only its dtype's values: the evaluator rounds them, the
            # reference takes them as they are
            result[graph_input.name] = round_to(values.astype(np.float32), dtype)
    return result


VARIANTS = [pytest.param(case, axis, id=f"{case.id}@axis{axis}") for axis in (0, -1) for case in all_cases()
            if dynamic_variant(case, axis) is not None]


def test_most_variants_are_not_refused():
    lowered = sum(check_text(dynamic_variant(case, axis)[0], "case.yaml")[0] is not None
                  for case, axis in (p.values for p in VARIANTS))
    print(f"dynamic op cases: {lowered} of {len(VARIANTS)} variants validate and lower, "
          f"{len(VARIANTS) - lowered} refused")
    assert lowered >= LOWERED_AT_LEAST, f"{lowered} of {len(VARIANTS)} variants validate"


@pytest.mark.parametrize("case, axis", VARIANTS)
def test_a_named_size_is_refused_at_the_layer_or_lowers_exactly(case, axis):
    from netdsl.build import network_for
    from netdsl.trt.dims import check_corners
    from netdsl.trt.evaluate import Evaluator

    text, size = dynamic_variant(case, axis)
    checked, diagnostics = check_text(text, "case.yaml")
    if checked is None:
        errors = [d for d in diagnostics if d.severity == "error"]
        assert errors and all(d.code in REFUSALS and d.layer == "l" and d.pos is not None for d in errors), \
            [str(d) for d in errors]
        return
    bound = random_weights(checked, case)
    _, network, ctx = network_for(checked, bound)
    check_corners(network, checked.types, checked.graph.profiles)
    feed = arrays_at(case, checked, size)
    node = checked.graph.nodes[0]
    expected = reference.run(checked, bound, feed, keep=set(node.outputs))
    got = Evaluator(network, ctx).run(feed, keep="all")
    for name in node.outputs:
        want, mine = expected[name], got[name]
        assert mine.shape == want.shape, name
        if want.dtype.kind in "biu" or mine.dtype.kind in "biu":
            np.testing.assert_array_equal(mine, want.astype(mine.dtype), err_msg=name)
        else:
            scale = max(1.0, float(np.abs(want).max()))
            tolerance = max(case.atol, 1e-4, *(TOLERANCE.get(i.dtype, 0) for i in checked.graph.inputs),
                            TOLERANCE.get(checked.types[name].dtype, 0))
            assert float(np.abs(mine - want.astype(np.float32)).max()) <= tolerance * scale, name
