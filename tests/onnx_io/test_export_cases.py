"""Every op case (tests/opcases) exported to ONNX: the model passes onnx.checker's full check and ONNX
Runtime computes what netdsl's reference executor computes; where ONNX Runtime's CPU provider has no
kernel (bfloat16, some types of some operators), ONNX's own reference evaluator computes it instead.
Cases on float16 and bfloat16 tensors run on the reference in float32 and are compared to the width of
a step of their dtype."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import check_text
from opcases import all_cases, random_weights

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx.helper import tensor_dtype_to_np_dtype  # noqa: E402

CASES = [c for c in all_cases() if not c.error and c.onnx]
RTOL_OF = {"float32": 1e-5, "float16": 2.0**-10, "bfloat16": 2.0**-7}
# what ONNX Runtime's CPU provider cannot run (it has no kernel for the type): run by onnx.reference
NO_KERNEL = "NOT_IMPLEMENTED"


def feed_for(checked, arrays):
    from netdsl.tensors import numpy_dtype

    # float16 and bfloat16 inputs as themselves (bfloat16: ml_dtypes', as onnx.reference reads it)
    reduced = {"float16": np.float16, "bfloat16": tensor_dtype_to_np_dtype(onnx.TensorProto.BFLOAT16)}
    return {i.name: np.asarray(array, reduced.get(i.dtype) or numpy_dtype(i.dtype))
            for i, array in zip(checked.graph.inputs, arrays)}


def run_model(model, feed) -> list:
    """ONNX Runtime's outputs, or ONNX's reference evaluator's where ONNX Runtime has no kernel."""
    from onnx.reference import ReferenceEvaluator

    bfloat16 = tensor_dtype_to_np_dtype(onnx.TensorProto.BFLOAT16)
    if not any(v.dtype == bfloat16 for v in feed.values()):  # no bfloat16 kernels for most operators
        try:
            session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            return session.run(None, feed)
        except Exception as error:  # noqa: BLE001 - ONNX Runtime raises its own types
            if NO_KERNEL not in str(error):
                raise
    return ReferenceEvaluator(model).run(None, feed)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_exports_and_runs_in_onnxruntime(case):
    from netdsl.onnx.export import to_model

    checked, diagnostics = check_text(case.spec(), "case.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    bound = random_weights(checked, case)
    model = to_model(checked, bound)
    onnx.checker.check_model(model, full_check=True)
    arrays = case.arrays()
    feed = feed_for(checked, arrays)
    if not arrays:  # a layer without inputs (constant): the spec's stand-in input
        feed = {checked.graph.inputs[0].name: np.zeros(checked.graph.inputs[0].shape, np.float32)}
    got = run_model(model, feed)
    reduced = (np.float16, tensor_dtype_to_np_dtype(onnx.TensorProto.BFLOAT16))
    want = reference.run(checked, bound, {k: np.asarray(v, np.float32) if v.dtype in reduced else v
                                          for k, v in feed.items()})
    for output, value in zip(checked.graph.outputs, got):
        expected = want[output.name]
        dtype = checked.types[output.source].dtype
        assert value.shape == expected.shape, output.name
        if expected.dtype.kind in "biu":
            np.testing.assert_array_equal(value, expected.astype(value.dtype), err_msg=output.name)
        else:
            scale = max(1.0, float(np.nanmax(np.abs(expected))))
            rtol = max(RTOL_OF[dtype], case.rtol) if dtype in RTOL_OF else case.rtol
            np.testing.assert_allclose(value.astype(np.float32), expected, rtol=rtol, atol=max(case.atol, rtol) * scale,
                                       err_msg=output.name)
