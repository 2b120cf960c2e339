"""ONNX's operator test cases through netdsl's reference executor, one test per case of a mapped op
(node_cases.py says how a case runs and what its states mean). A wrong result fails; a case netdsl
cannot express, or whose kind this tree lacks, is skipped with the reason. The summary line is printed
at the end of the session (conftest.py) and by tools/onnx_coverage.py."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")

import node_cases  # noqa: E402

MAPPED = [name for name, case in node_cases.node_cases().items() if node_cases.mapped(case)]
# cases covered when this was written (before the shape, math, norm and conv kinds being written now
# were merged); a change that covers fewer is a regression: raise it as kinds land
COVERED_AT_LEAST = 506  # Mod (10 cases), Div on int32/int64, GatherElements (2): kinds mod, div on integers, gather_elements


@pytest.mark.parametrize("name", MAPPED)
def test_node_case(name):
    outcome = node_cases.run_case(name)
    if outcome.state == "failed":
        pytest.fail(f"{name} ({outcome.op_type}): {outcome.detail}", pytrace=False)
    if outcome.state not in node_cases.PASSED:
        pytest.skip(f"{outcome.state}: {outcome.detail}")


def test_coverage():
    outcomes = [node_cases.run_case(name) for name in node_cases.node_cases()]
    covered = sum(o.state in node_cases.PASSED for o in outcomes)
    print(node_cases.coverage_line(outcomes))
    assert len(outcomes) > 1000  # ONNX ships about 1400 one-node cases; far fewer means collection broke
    assert not [o.case for o in outcomes if o.state == "failed"]
    assert covered >= COVERED_AT_LEAST, node_cases.coverage_line(outcomes)


def test_unsqueeze_of_several_axes_is_covered():
    # netdsl's unsqueeze inserts one axis: the importer writes several as one reshape (a skip would hide it)
    for name in ("test_unsqueeze_two_axes", "test_unsqueeze_three_axes", "test_unsqueeze_unsorted_axes"):
        outcome = node_cases.run_case(name)
        assert outcome.state in node_cases.PASSED, (name, outcome.state, outcome.detail)


def test_every_mapped_op_has_cases():
    from netdsl.onnx import TABLE

    ops = {node_cases.op_type(case) for case in node_cases.node_cases().values()}
    assert not sorted(set(TABLE) - ops)


def test_importing_netdsl_onnx_does_not_import_onnx():
    code = "import sys, netdsl, netdsl.onnx, netdsl.onnx.node; print('onnx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "False", result.stderr
