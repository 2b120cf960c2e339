"""The TensorRT-semantics evaluator (netdsl.trt.evaluate) on every op case (tests/opcases): the network the
lowering builds for the case, evaluated with TensorRT's documented layer semantics, against the reference
executor (the spec's meaning) and PyTorch, in float32, float16 and bfloat16.

Tolerances, relative to the largest |expected| (at least 1):
- float32: the case's own (default 1e-5): both executors compute in float32, the differences are
  summation order and float32 coordinate arithmetic.
- float16: 4e-3, eight units of float16's roundoff (2^-11): the evaluator rounds the weights and every
  layer output to float16, a handful of roundings on the way to each value (no accumulation: it sums in
  float32, as TensorRT's kernels accumulate); the inputs are rounded for both executors alike (a case
  whose inputs float16 cannot hold is skipped: the reference refuses infinite inputs).
- bfloat16: 3e-2, about eight units of bfloat16's roundoff (2^-8), for the same reason.
"""

import numpy as np
import pytest

from evalcommon import relative_error
from netdsl import reference
from netdsl.build import network_for
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions
from opcases import all_cases, random_weights

pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")

TOLERANCE = {"float32": 1e-5, "float16": 4e-3, "bfloat16": 3e-2}

# Differences between PyTorch's meaning and TensorRT's documented semantics that the lowering does not
# handle yet (listed in docs/spec.md); strict, so that a fix is noticed.
KNOWN: dict = {}

PARAMS = [pytest.param(case, precision, id=f"{case.id}-{precision}",
                       marks=[pytest.mark.xfail(reason=KNOWN[case.id], strict=True)] if case.id in KNOWN else [])
          for case in all_cases() if case.error is None and case.trt
          for precision in (("float32", "float16", "bfloat16") if case.fp16 else ("float32",))]


def tolerance(case, precision, dtype):
    """The precision's tolerance, or a reduced-precision output dtype's (a cast to float16 in a float32
    network rounds, which the reference does not model)."""
    worst = max(TOLERANCE[precision], TOLERANCE.get(dtype, 0.0))
    return max(worst, case.atol) if precision == "float32" else worst


def run_both(case, precision):
    from netdsl.trt.evaluate import Evaluator, round_to

    checked, diagnostics = check_text(case.spec(), "case.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    bound = random_weights(checked, case)
    arrays = case.arrays()
    feed = {f"x{i}": a for i, a in enumerate(arrays)} or {"unused": np.zeros(1, np.float32)}
    node = checked.graph.nodes[0]
    if precision != "float32":  # the engine sees the inputs rounded by its input casts: the reference
        # runs on the same values, so that an ill-conditioned layer (a layer norm of values near 1000)
        # does not count the input's rounding, amplified, against the lowering; integer and bool results
        # of rounded floats are then exact
        feed = {k: round_to(v, precision) if v.dtype.kind == "f" else v for k, v in feed.items()}
        if not all(np.isfinite(v).all() for v in feed.values() if v.dtype.kind == "f"):
            pytest.skip(f"inputs beyond {precision}'s range: the engine would see inf, which the reference refuses")
    expected = reference.run(checked, bound, feed, keep=set(node.outputs))
    _, network, ctx = network_for(checked, bound, BuildOptions(precision=precision))
    got = Evaluator(network, ctx).run(feed, keep="all")
    return checked, node, bound, arrays, expected, got


@pytest.mark.parametrize("case,precision", PARAMS)
def test_evaluator_matches_reference(case, precision):
    checked, node, bound, arrays, expected, got = run_both(case, precision)
    for name in node.outputs:
        want = expected[name]
        mine = got[name]
        if mine.dtype.kind in "biu":
            np.testing.assert_array_equal(mine, want.astype(mine.dtype), err_msg=name)
            continue
        error = relative_error(mine, want.astype(np.float32))
        assert error <= tolerance(case, precision, checked.types[name].dtype), f"{name}: {error:.3g}"
    if precision == "float32" and case.torch is not None:  # and straight against PyTorch
        kwargs = {"w": {b.slot: torch.from_numpy(b.array.copy()) for b in bound.values()}} \
            if case.oracle_wants_weights() else {}
        with torch.no_grad():
            theirs = case.torch(*(torch.from_numpy(np.array(a)) for a in arrays), **kwargs)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for name, value in zip(node.outputs, theirs):
            value = value.float().numpy() if value.dtype.is_floating_point else value.numpy()
            if value.dtype.kind in "biu":
                np.testing.assert_array_equal(got[name], value.astype(got[name].dtype), err_msg=name)
            else:
                assert relative_error(got[name], value) <= tolerance(case, precision, checked.types[name].dtype)
