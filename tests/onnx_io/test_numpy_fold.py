"""The importer folds the commonest constant nodes with numpy instead of importing ONNX's reference evaluator
(netdsl.onnx.graph_import.numpy_fold): each case here is held to the evaluator's own result, dtype, shape
and values bit for bit, and the cases it does not take are left to the evaluator."""

import numpy as np
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from netdsl.onnx.graph_import import numpy_fold

OPSET = 17


def by_evaluator(node, arrays):
    names = [f"in{i}" for i in range(len(arrays))]
    copy = helper.make_node(node.op_type, names, ["out0"])
    copy.attribute.extend(node.attribute)
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in zip(names, arrays)]
    model = helper.make_model(helper.make_graph([copy], "fold", inputs, [helper.make_empty_tensor_value_info("out0")]),
                              opset_imports=[helper.make_opsetid("", OPSET)])
    with np.errstate(all="ignore"):
        return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, dict(zip(names, arrays)))]


def node(op_type, count, **attributes):
    return helper.make_node(op_type, [f"x{i}" for i in range(count)], ["y"], **attributes)


INTS = np.array([7, -7, 7, -7, 0, 9, -1, 2**40], np.int64)
DIVISORS = np.array([2, 2, -2, -2, 3, -4, 5, -3], np.int64)
FLOATS = np.array([1.5, -2.25, 3.0, 1e30, -0.0, 7.0], np.float32)
CASES = {
    "constant float32": (node("Constant", 0, value=numpy_helper.from_array(FLOATS)), []),
    "constant 0-d": (node("Constant", 0, value=numpy_helper.from_array(np.array(3.5, np.float32))), []),
    "constant int64": (node("Constant", 0, value=numpy_helper.from_array(INTS.reshape(2, 4))), []),
    "constant float16": (node("Constant", 0, value=numpy_helper.from_array(FLOATS[:3].astype(np.float16))), []),
    "constant int32": (node("Constant", 0, value=numpy_helper.from_array(np.arange(6, dtype=np.int32))), []),
    **{f"{op} int64": (node(op, 2), [INTS, DIVISORS]) for op in ("Add", "Sub", "Mul", "Div")},
    **{f"{op} float32": (node(op, 2), [FLOATS, FLOATS[::-1].copy()]) for op in ("Add", "Sub", "Mul", "Div")},
    "Div by zero int64": (node("Div", 2), [INTS, np.zeros_like(INTS)]),
    "Div broadcast int32": (node("Div", 2), [np.arange(-6, 6, dtype=np.int32).reshape(3, 4), np.array([5], np.int32)]),
    "Mul 0-d": (node("Mul", 2), [np.array(3, np.int64), np.array(-4, np.int64)]),
    "Add float16": (node("Add", 2), [FLOATS[:3].astype(np.float16), FLOATS[2::-1].astype(np.float16)]),
    "Gather": (node("Gather", 2), [INTS, np.array([0, -1, 3], np.int64)]),
    "Gather axis": (node("Gather", 2, axis=1), [INTS.reshape(2, 4), np.array([[1], [-2]], np.int64)]),
    "Gather negative axis": (node("Gather", 2, axis=-1), [FLOATS.reshape(2, 3), np.array(2, np.int64)]),
    "Gather strided": (node("Gather", 2), [INTS[::2], np.array([[1, 0]], np.int64)[:, ::-1]]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_numpy_fold_is_the_evaluators_result(name):
    onnx_node, arrays = CASES[name]
    ours = numpy_fold(onnx_node, arrays, OPSET)
    assert ours is not None, "the case is one numpy_fold takes"
    [expected] = by_evaluator(onnx_node, arrays)
    [found] = ours
    assert (found.dtype, found.shape) == (expected.dtype, expected.shape)
    assert found.tobytes() == expected.tobytes()


@pytest.mark.parametrize("onnx_node, arrays", [
    (node("Add", 2), [INTS, INTS.astype(np.int32)]),  # two dtypes: the evaluator refuses it
    (node("Add", 2), [np.array([True]), np.array([False])]),
    (node("Gather", 2), [INTS, np.array([0.0])]),
    (node("Gather", 2), [INTS, np.array([99], np.int64)]),  # out of range: the evaluator words the error
    (node("Constant", 0, value_ints=[1, 2]), []),
    (node("Pow", 2), [INTS, INTS]),
])
def test_other_cases_are_left_to_the_evaluator(onnx_node, arrays):
    assert numpy_fold(onnx_node, arrays, OPSET) is None
