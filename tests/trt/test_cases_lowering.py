"""Every op case (tests/opcases) lowered with the real TensorRT-RTX and built into a plan, in float32
and float16, and with a dynamic batch in the precisions the case names (its ``batch_builds``). The
lowering compares TensorRT's own inferred shape and dtype of every layer output with netdsl's and raises
on any difference. Kinds TensorRT-RTX cannot build (nms) are lowered, and their build must be refused
before TensorRT builds anything."""

import pytest

from netdsl.build import Unbuildable, build_plan, network_for
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions
from opcases import all_cases, random_weights

pytest.importorskip("tensorrt_rtx")

PARAMS = [pytest.param(case, precision, id=f"{case.id}-{precision}")
          for case in all_cases() if case.error is None and case.trt
          for precision in (("float32", "float16") if case.fp16 else ("float32",))]


@pytest.mark.parametrize("case,precision", PARAMS)
def test_lowering_builds(case, precision):
    checked, diagnostics = check_text(case.spec(), "case.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    bound, options = random_weights(checked, case), BuildOptions(precision=precision)
    if any(node.op.rtx_unbuildable for node in checked.graph.nodes):
        network_for(checked, bound, options)  # the lowering, TensorRT's shapes checked against netdsl's
        with pytest.raises(Unbuildable):
            build_plan(checked, bound, options)
        return
    plan = build_plan(checked, bound, options)
    assert len(plan.data) > 0


BATCH = [pytest.param(case, precision, id=f"{case.id}-batch-{precision}")
         for case in all_cases() for precision in case.batch_builds]


@pytest.mark.parametrize("case,precision", BATCH)
def test_lowering_builds_with_a_dynamic_batch(case, precision):
    checked, diagnostics = check_text(case.spec(dynamic_batch=True), "case.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    plan = build_plan(checked, random_weights(checked, case), BuildOptions(precision=precision))
    assert plan.data.nbytes > 1000
