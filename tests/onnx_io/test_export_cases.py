"""Every op case (tests/opcases) exported to ONNX: the model passes onnx.checker's full check and ONNX
Runtime computes what netdsl's reference executor computes. Cases on float16 and bfloat16 tensors run
on the reference in float32 and are compared to the width of a step of their dtype."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import check_text
from opcases import all_cases, random_weights

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

CASES = [c for c in all_cases() if not c.error]
RTOL_OF = {"float32": 1e-5, "float16": 2.0**-10, "bfloat16": 2.0**-7}
# what ONNX Runtime's CPU provider cannot run (it has no kernel for the type); each is reported as a skip
NO_KERNEL = "NOT_IMPLEMENTED"


def feed_for(checked, arrays):
    from netdsl.tensors import numpy_dtype

    feed = {}
    for i, array in zip(checked.graph.inputs, arrays):
        if i.dtype == "float16":
            array = array.astype(np.float16)
        elif i.dtype == "bfloat16":
            pytest.skip("ONNX Runtime's CPU provider has no bfloat16 kernels for most operators")
        feed[i.name] = np.asarray(array, numpy_dtype(i.dtype) if i.dtype != "float16" else np.float16)
    return feed


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
    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - ONNX Runtime raises its own types
        if NO_KERNEL in str(error):
            pytest.skip(f"ONNX Runtime: {str(error)[:200]}")
        raise
    if not arrays:  # a layer without inputs (constant): the spec's stand-in input
        feed = {checked.graph.inputs[0].name: np.zeros(checked.graph.inputs[0].shape, np.float32)}
    got = session.run(None, feed)
    want = reference.run(checked, bound, {k: np.asarray(v, np.float32) if v.dtype == np.float16 else v
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
