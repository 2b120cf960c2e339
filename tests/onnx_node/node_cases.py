"""ONNX's operator test cases (``onnx.backend.test.case.node``: a one-node model, its inputs and the
expected outputs) run through netdsl: each case becomes a one-layer spec (``netdsl.onnx.node``), which is
checked (``netdsl.spec.check_text``) and run by the reference executor, and every output is compared
with ONNX's expected one.

A case ends in one of these states:

- ``covered``: every output matches; ``partial``: every output netdsl produces matches, and the others
  are ones netdsl does not produce (training statistics, max-pool indices, dropout masks);
- ``failed``: a wrong shape, dtype or value, weights that do not bind, or a traceback: netdsl (or the
  table) has a bug;
- ``not expressible``: the table says why netdsl cannot express the node (an attribute value, a dtype
  such as float64, a zero-size dimension); ``refused``: netdsl's checker refuses the spec (its message
  says why); ``not registered``: the table maps to a kind this tree does not have yet;
- ``unmapped``: the ONNX op is not in the table.

Used by test_node_cases.py and tools/onnx_coverage.py. The node tests are collected once per process
(ONNX generates them in memory: about 5 s).
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

RTOL, ATOL = 1e-3, 1e-7  # ONNX's own for its backend tests (onnx/backend/test/case/node: expect())
# the reference computes every float dtype in float32 (precision is the engine's business), so a
# bfloat16 result is compared to the width of one bfloat16 step (ONNX's value is rounded to 8 bits);
# float16's half step, 2**-12 relative, is already inside RTOL
RTOL_OF = {"bfloat16": 2.0**-8}
# dtypes netdsl decides differently, compared by value: index outputs are int32 (TensorRT's)
SAME_VALUES = {("int32", "int64")}
PASSED = ("covered", "partial")
STATES = ("covered", "partial", "failed", "not expressible", "refused", "not registered", "unmapped")


@dataclass
class Outcome:
    case: str
    op_type: str
    state: str
    detail: str = ""


@functools.cache
def collected() -> dict:
    """Name -> TestCase for every node test ONNX has (those its wheel once shipped as
    onnx/backend/test/data/node/*: the files are written from these), ``_expanded`` ones included."""
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    return {c.name: c for c in sorted(cases, key=lambda c: c.name)}


def node_cases() -> dict:
    """Name -> TestCase for every one-node case (the ``_expanded`` cases are ONNX function bodies:
    graphs of other ops, not cases of the op itself)."""
    return {name: c for name, c in collected().items() if len(c.model.graph.node) == 1 and "_expanded" not in name}


def op_type(case) -> str:
    return case.model.graph.node[0].op_type


def mapped(case) -> bool:
    from netdsl.onnx import TABLE

    return op_type(case) in TABLE


@functools.cache
def run_case(name: str) -> Outcome:
    case = node_cases()[name]
    op = op_type(case)
    try:
        state, detail = _run(case)
    except Exception as error:  # a traceback from netdsl is a bug, reported with the case
        import traceback

        state, detail = "failed", "".join(traceback.format_exception(error)[-6:])
    return Outcome(name, op, state, detail)


def _run(case):
    from netdsl.ops import REGISTRY
    from netdsl.onnx import TABLE, NotExpressible
    from netdsl.onnx.node import import_node, operand
    from netdsl.spec import check_text

    node = case.model.graph.node[0]
    if node.op_type not in TABLE:
        return "unmapped", ""
    arrays, expected = case.data_sets[0]
    given = iter(arrays)
    try:
        operands = [None if name == "" else operand(name, next(given)) for name in node.input]
        expected = [as_array(e) for e in expected]
        if any(e.size == 0 for e in expected):
            raise NotExpressible("a zero-size output (netdsl's dimensions are positive)")
        opset = next(o.version for o in case.model.opset_import if o.domain in ("", "ai.onnx"))
        imported = import_node(node, operands, opset)
    except NotExpressible as reason:
        return "not expressible", str(reason)
    if imported.kind not in REGISTRY:
        return "not registered", f"kind {imported.kind}"
    checked, diagnostics = check_text(imported.spec, f"{case.name}.yaml")
    if checked is None:
        return "refused", "; ".join(d.message for d in diagnostics if d.severity == "error")
    bound = bind(checked, imported.weights)
    feed = {f"x{i}": feedable(operands[index].value) for i, index in enumerate(imported.inputs)}
    wanted = {name for name in imported.outputs if name is not None}
    ours = run_reference(checked, bound, feed or {"unused": np.zeros(1, np.float32)}, wanted)
    problems = [compare(checked, name, ours[name], want)
                for name, want in zip(imported.outputs, expected) if name is not None]
    problems = [p for p in problems if p]
    if problems:
        return "failed", "\n".join(problems) + "\nspec: " + imported.spec
    if None in imported.outputs[:len(expected)]:
        return "partial", "outputs not produced: " + ", ".join(
            o for o, n in zip(node.output, imported.outputs) if n is None)
    return "covered", ""


def as_array(value) -> np.ndarray:
    if hasattr(value, "data_type"):
        from onnx import numpy_helper

        return numpy_helper.to_array(value)
    return np.asarray(value)


def feedable(value: np.ndarray) -> np.ndarray:
    """A float input as the reference takes it (float32; numpy has no bfloat16 of its own)."""
    return value.astype(np.float32) if value.dtype.kind in "fV" else value


def bind(checked, weights: dict) -> dict:
    """The table's weights bound like a weight file's, so a wrong slot shape fails here."""
    from netdsl.weights import Tensor
    from netdsl.weights.bind import bind as bind_weights

    tensors = {name: Tensor(name, "float32", tuple(a.shape), a) for name, a in weights.items()}
    return bind_weights(checked, tensors, "<onnx node>", strict=True)


def run_reference(checked, bound, feed: dict, wanted: set) -> dict:
    from netdsl import reference

    return reference.run(checked, bound, feed, keep=wanted)  # NaN and infinite inputs too (isnan, isinf)


def compare(checked, name: str, ours: np.ndarray, want: np.ndarray) -> str:
    """'' when netdsl's output matches ONNX's expected one, else the difference."""
    declared = checked.types[name].dtype
    if declared != want.dtype.name and (declared, want.dtype.name) not in SAME_VALUES:
        return f"{name}: netdsl gives {declared}, ONNX {want.dtype.name}"
    if ours.shape != want.shape:
        return f"{name}: netdsl gives shape {list(ours.shape)}, ONNX {list(want.shape)}"
    if want.dtype.kind in "fV":
        want = want.astype(np.float64)
        try:
            np.testing.assert_allclose(ours.astype(np.float64), want, rtol=RTOL_OF.get(declared, RTOL), atol=ATOL,
                                       equal_nan=True)
        except AssertionError as error:
            return f"{name}: values differ{str(error).split('Mismatched', 1)[-1][:600]}"
        return ""
    if not np.array_equal(ours, want):
        wrong = np.argwhere(ours != want)
        return (f"{name}: {len(wrong)} of {want.size} values differ; first at {wrong[0].tolist()}: netdsl "
                f"{ours[tuple(wrong[0])]}, ONNX {want[tuple(wrong[0])]}")
    return ""


def summary(outcomes: list[Outcome]) -> dict:
    """op type -> Counter of states."""
    table: dict[str, Counter] = {}
    for outcome in outcomes:
        table.setdefault(outcome.op_type, Counter())[outcome.state] += 1
    return table


def per_op(outcomes: list[Outcome]) -> str:
    """``Op covered/cases`` for every mapped op, wrapped in lines."""
    import textwrap

    from netdsl.onnx import TABLE

    table = summary(outcomes)
    parts = [f"{op} {sum(counts[s] for s in PASSED)}/{sum(counts.values())}"
             for op, counts in sorted(table.items()) if op in TABLE]
    return textwrap.fill(", ".join(parts), 110)


def coverage_line(outcomes: list[Outcome]) -> str:
    from netdsl.onnx import TABLE

    states = Counter(o.state for o in outcomes)
    of_mapped = sum(1 for o in outcomes if o.state != "unmapped")
    ops = {o.op_type for o in outcomes}
    return (f"ONNX node tests: {states['covered'] + states['partial']} covered ({states['partial']} of them "
            f"partially) of {of_mapped} cases of the {len(ops & set(TABLE))} mapped ops, of {len(outcomes)} "
            f"cases in all; " + ", ".join(f"{states[s]} {s}" for s in STATES[2:]))
