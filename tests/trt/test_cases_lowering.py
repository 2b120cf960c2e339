"""Every op case (tests/opcases) lowered with the real TensorRT-RTX and built into a plan, in float32
and float16. The lowering compares TensorRT's own inferred shape and dtype of every layer output with
netdsl's and raises on any difference."""

import pytest

from netdsl.build import build_plan
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
    plan = build_plan(checked, random_weights(checked, case), BuildOptions(precision=precision))
    assert len(plan.data) > 0
