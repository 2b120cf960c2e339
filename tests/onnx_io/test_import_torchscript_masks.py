"""The padding mask as torch's TorchScript exporter (`dynamo=False`) writes transformers' attention masks
(BertModel, CLIPModel; transformers 5.25): the [batch, length] mask flattened to [batch * length, 1]
(Flatten with axis 2), read at batch index * length + key position (a Range over each run-time size, Mul
by the length taken from the mask's shape, Add), reshaped back, turned into a fill of 0 and -inf by
Where, added to the attention scores, Softmax, and a row that is all -inf (a sequence of padding only,
NaN after the softmax) set to 0 by IsNaN and Where.

The graph is written here node by node as the exporter writes it, and `netdsl import` of it is checked
against ONNX Runtime at two batch sizes and two lengths, one row all padding. Each step needs one of the
importer's mappings: the Flatten to a product of run-time sizes (a reshape to [-1, 1]), the length used as
a number in the index arithmetic (a tensor of one element), the Gather along the run-time axis
(`gather_nd`) and the -inf constant (`constant` takes -.inf). Tolerance 1e-5 of the output's scale:
float32, one product of length 4 and a softmax, the same operations in the same order."""

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import run_onnxruntime

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def padding_mask_model():
    from onnx import TensorProto, helper

    def const(name, value, dtype=np.int64):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(
            name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), np.shape(value), np.asarray(value, dtype).reshape(-1)))

    nodes = [
        const("zero", 0), const("one", 1), const("axes_b", [1, 2, 3]), const("axes_k", [0, 1, 2]),
        const("flat_shape", [-1]), const("fill_keep", [0.0], np.float32), const("fill_masked", [-np.inf], np.float32),
        const("nan_fill", [0.0], np.float32), const("perm_axes", [1]),
        helper.make_node("Cast", ["mask"], ["mask_bool"], to=TensorProto.BOOL),
        helper.make_node("Shape", ["mask_bool"], ["mask_shape"]),
        helper.make_node("Gather", ["mask_shape", "zero"], ["batch_size"], axis=0),
        helper.make_node("Gather", ["mask_shape", "one"], ["length"], axis=0),
        helper.make_node("Range", ["zero", "batch_size", "one"], ["batch_index"]),
        helper.make_node("Range", ["zero", "length", "one"], ["key_index"]),
        helper.make_node("Unsqueeze", ["batch_index", "axes_b"], ["batch_index4"]),
        helper.make_node("Unsqueeze", ["key_index", "axes_k"], ["key_index4"]),
        helper.make_node("Flatten", ["mask_bool"], ["flat"], axis=2),
        helper.make_node("Mul", ["batch_index4", "length"], ["row_start"]),
        helper.make_node("Add", ["key_index4", "row_start"], ["flat_index"]),
        helper.make_node("Gather", ["flat", "flat_index"], ["picked"], axis=0),
        helper.make_node("Shape", ["flat_index"], ["index_shape"]),
        helper.make_node("Reshape", ["picked", "flat_shape"], ["picked_flat"]),
        helper.make_node("Reshape", ["picked_flat", "index_shape"], ["keep"]),
        helper.make_node("Where", ["keep", "fill_keep", "fill_masked"], ["fill"]),
        helper.make_node("Transpose", ["x"], ["x_t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["x", "x_t"], ["scores3"]),
        helper.make_node("Unsqueeze", ["scores3", "perm_axes"], ["scores"]),
        helper.make_node("Add", ["scores", "fill"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["weights"], axis=-1),
        helper.make_node("IsNaN", ["weights"], ["empty_row"]),
        helper.make_node("Where", ["empty_row", "nan_fill", "weights"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "padding_mask",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", 4]),
         helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, "sequence", "sequence"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    return model


def test_torchscript_padding_mask_imports_and_matches_onnxruntime(tmp_path):
    from netdsl.onnx.dims import parse
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "mask.onnx"
    onnx.save(padding_mask_model(), str(path))
    imported = import_onnx(str(path), str(tmp_path / "mask.yaml"), sizes=parse(["sequence=1:8:16"], None))
    checked = imported.checked
    assert [[getattr(d, "name", d) for d in i.shape] for i in checked.graph.inputs] == \
        [["batch", "sequence", 4], ["batch", "sequence"]]
    kinds = {n.kind for n in checked.graph.nodes}
    assert "gather_nd" in kinds and "softmax" in kinds
    assert "-.inf" in (tmp_path / "mask.yaml").read_text()  # the fill as the file has it
    for batch, length in ((1, 3), (3, 16)):
        rng = np.random.default_rng(length)
        x = rng.standard_normal((batch, length, 4)).astype(np.float32)
        mask = np.ones((batch, length), np.int64)
        mask[-1, length // 2:] = 0
        if batch > 2:
            mask[1] = 0  # padding only: every score -inf, NaN after the softmax, 0 after the IsNaN
        with np.errstate(invalid="ignore"):
            [ours] = reference.run(checked, imported.bound, {"x": x, "mask": mask}).values()
        [theirs] = run_onnxruntime(path, {"x": x, "mask": mask})
        assert ours.shape == theirs.shape == (batch, 1, length, length)
        assert np.abs(ours - theirs).max() <= 1e-5 * max(1.0, float(np.abs(theirs).max())), (batch, length)
        if batch > 2:
            assert not theirs[1].any() and theirs[0].any()
