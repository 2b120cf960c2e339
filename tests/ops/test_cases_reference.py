"""Every op case (tests/opcases) through shape inference and the reference executor, with PyTorch
(torch==2.13.0, CPU) as the oracle for both. A case that must fail must give its located diagnostic
(never a traceback)."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.ops import REGISTRY
from netdsl.spec import check_text
from opcases import Case, all_cases, covered_kinds, random_weights

torch = pytest.importorskip("torch")

CASES = all_cases()
TORCH_DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
                torch.int8: "int8", torch.uint8: "uint8", torch.int32: "int32", torch.int64: "int64",
                torch.bool: "bool"}


def oracle(case: Case, arrays, bound):
    tensors = [torch.from_numpy(np.array(a)) for a in arrays]
    kwargs = {}
    if case.oracle_wants_weights():
        kwargs["w"] = {b.slot: torch.from_numpy(b.array.copy()) for b in bound.values()}
    with torch.no_grad():
        result = case.torch(*tensors, **kwargs)
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_shape_and_reference(case: Case):
    checked, diagnostics = check_text(case.spec(), "case.yaml")
    if case.error:
        assert checked is None, f"{case.id} must be refused"
        codes = [(d.code, d.message) for d in diagnostics]
        assert any(code == case.error and case.message in message for code, message in codes), codes
        assert all(d.pos is not None and d.pos.line >= 1 for d in diagnostics)
        return
    assert checked is not None, [str(d) for d in diagnostics]
    node = checked.graph.nodes[0]
    if case.torch is None:
        pytest.skip("no PyTorch oracle for this case")
    arrays = case.arrays()
    bound = random_weights(checked, case)
    expected = oracle(case, arrays, bound)
    assert len(expected) == len(node.outputs)
    feed = {i.name: a for i, a in zip(checked.graph.inputs, arrays)} if arrays else {"unused": np.zeros(1, np.float32)}
    ours = reference.run(checked, bound, feed, keep=set(node.outputs))
    for name, theirs in zip(node.outputs, expected):
        t = checked.types[name]
        assert t.shape == tuple(theirs.shape), f"{name}: netdsl infers {t.shape}, PyTorch gives {tuple(theirs.shape)}"
        theirs_dtype = TORCH_DTYPES[theirs.dtype]
        if t.dtype != theirs_dtype:
            # the documented differences: index outputs are int32 (TensorRT's), float results float32
            assert (t.dtype, theirs_dtype) in {("int32", "int64"), ("float32", "float64")}, (t.dtype, theirs_dtype)
        value = ours[name]
        want = theirs.float().numpy() if theirs.dtype.is_floating_point else theirs.numpy()
        if value.dtype.kind in "biu" or want.dtype.kind in "biu":
            np.testing.assert_array_equal(value, want.astype(value.dtype), err_msg=name)
        else:
            scale = max(1.0, float(np.nanmax(np.abs(want))) if want.size else 1.0)
            np.testing.assert_allclose(value, want, rtol=case.rtol, atol=case.atol * scale, err_msg=name)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_case_kind_exists():
    assert {c.kind for c in CASES} <= set(REGISTRY)


def test_every_kind_has_a_case_that_succeeds():
    assert covered_kinds() == set(REGISTRY)
