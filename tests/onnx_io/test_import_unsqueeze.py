"""An ONNX Unsqueeze of several axes (which netdsl's `unsqueeze` cannot express: it inserts one) imports as
one reshape that validates and computes what ONNX Runtime computes, on inputs with dynamic sizes too; one
that would need two of them inferred is named as not expressible."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.diagnostics import NetdslError
from onnx_helpers import run_onnxruntime

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def unsqueezed(shape, axes):
    rank = len(shape) + len(axes)
    result = list(shape)
    for axis in sorted(a % rank for a in axes):
        result.insert(axis, 1)
    return result


def model(shape, axes):
    axes_tensor = numpy_helper.from_array(np.array(axes, np.int64), "axes")
    node = helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="/unsqueeze")
    relu = helper.make_node("Relu", ["y"], ["out"], name="/relu")  # so that the unsqueeze is not the output
    graph = helper.make_graph([node, relu], "unsqueeze", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, unsqueezed(shape, axes))],
                              [axes_tensor])  # (the ONNX checker, which netdsl import runs, wants output shapes)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def import_model(tmp_path, shape, axes):
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "model.onnx"
    path.write_bytes(model(shape, axes).SerializeToString())
    return path, import_onnx(str(path), str(tmp_path / "model.yaml"))


@pytest.mark.parametrize("shape, axes, kind", [
    ([2, 3, 4], [0], "unsqueeze"),  # one axis: the unsqueeze kind, as before
    ([2, 3, 4], [0, 4], "reshape"),
    (["N", 3, 4], [1, 3], "reshape"),  # the batch keeps its place: copied (0)
    (["N", 3, 4], [0, 2], "reshape"),  # the batch moves: inferred (-1)
    (["N", 3, 4], [-1, 0, 3], "reshape"),  # negative and unsorted, as ONNX allows
    (["N", 3, "W"], [2, 4], "reshape"),  # two dynamic sizes, one moved
])
def test_several_axes_become_one_reshape_equal_to_onnxruntime(tmp_path, shape, axes, kind):
    path, imported = import_model(tmp_path, shape, axes)
    checked = imported.checked
    assert [n.kind for n in checked.graph.nodes] == [kind, "relu"]
    for which in (0, 1):  # every dynamic size at two values in the importer's ranges (N 1..32, W 32..1024)
        sizes = {"N": (2, 5)[which], "W": (32, 40)[which]}
        x = np.random.default_rng(which).standard_normal([sizes.get(d, d) for d in shape])
        x = x.astype(np.float32)
        [expected] = run_onnxruntime(path.read_bytes(), {"x": x})
        [got] = reference.run(checked, imported.bound, {checked.graph.inputs[0].name: x}).values()
        assert got.shape == expected.shape and np.array_equal(got, expected), (sizes, got.shape, expected.shape)


def test_two_moved_dynamic_sizes_are_not_expressible(tmp_path):
    with pytest.raises(NetdslError, match=r"node `/unsqueeze` \(Unsqueeze\).*two or more dynamic dimensions"):
        import_model(tmp_path, ["N", "W"], [0, 2])
