"""Reshapes to several sizes known only at run time, as the exports of transformers' GPT-2 write them
(transformers 5.25, torch 2.13):

- Conv1D's `.view(batch, sequence, 3 * hidden)` of its [batch * sequence, 3 * hidden] product (both
  exporters): a Reshape to a target computed from the input's Shape, two run-time sizes;
- the dynamo exporter's attention over the cache, the keys [batch, heads, past + sequence, head_dim]
  merged to [batch * heads, ...], transposed, and split again to [batch, heads, head_dim, past +
  sequence]: netdsl's reshape cannot infer the batch from a count divided by a sum of sizes, and no
  tensor has the batch and past + sequence on those axes.

Both graphs are written here node by node and `netdsl import` of them is checked against ONNX Runtime at
two batch sizes and lengths (an empty cache, past 0, among them). The import makes each a `reshape_as`
of zeros grown to the target (from tensors of the graph that have those sizes). Tolerance: exact
(moves of elements, and one product of length 4 in the same order)."""

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import run_onnxruntime

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def const(name, value, dtype=np.int64):
    from onnx import helper

    array = np.asarray(value, dtype)
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(
        name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape, array.reshape(-1)))


def model(nodes, inputs, outputs):
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "reshapes",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs])
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(built, full_check=True)
    return built


def conv1d_view():
    from onnx import helper

    weight = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    nodes = [const("flat_shape", [-1, 4]), const("nf", [6]), const("w", weight, np.float32),
             helper.make_node("Shape", ["x"], ["leading"], start=0, end=2),
             helper.make_node("Reshape", ["x", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["product"]),
             helper.make_node("Concat", ["leading", "nf"], ["target"], axis=0),
             helper.make_node("Reshape", ["product", "target"], ["y"])]
    return model(nodes, [("x", ["batch", "sequence", 4])], [("y", ["batch", "sequence", 6])]), weight


def split_keys():
    from onnx import helper

    nodes = [const("zero", [0]), const("one", [1]), const("two", [2]), const("three", [3]), const("four", [4]),
             const("minus_one", [-1]),
             helper.make_node("Concat", ["past", "new"], ["keys"], axis=2),  # [B, 4, P + S, 2]
             helper.make_node("Shape", ["keys"], ["shape"]),
             helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
             helper.make_node("Slice", ["shape", "two", "three"], ["length"]),
             helper.make_node("Slice", ["shape", "three", "four"], ["width"]),
             helper.make_node("Concat", ["minus_one", "length", "width"], ["merged_shape"], axis=0),
             helper.make_node("Reshape", ["keys", "merged_shape"], ["merged"]),  # [4B, P + S, 2]
             helper.make_node("Transpose", ["merged"], ["turned"], perm=[0, 2, 1]),  # [4B, 2, P + S]
             helper.make_node("Concat", ["batch", "four", "width", "length"], ["split_shape"], axis=0),
             helper.make_node("Reshape", ["turned", "split_shape"], ["y"])]  # [B, 4, 2, P + S]
    return model(nodes, [("past", ["batch", 4, "past", 2]), ("new", ["batch", 4, "sequence", 2])],
                 [("y", ["batch", 4, 2, "past + sequence"])])


def imported(tmp_path, built, dims):
    from netdsl.onnx.dims import parse
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "model.onnx"
    onnx.save(built, str(path))
    return path, import_onnx(str(path), str(tmp_path / "model.yaml"), sizes=parse(dims, None))


def test_conv1d_view_to_batch_and_sequence(tmp_path):
    built, weight = conv1d_view()
    path, result = imported(tmp_path, built, ["sequence=1:8:16"])
    [source] = result.checked.graph.inputs
    assert [getattr(d, "name", d) for d in source.shape] == ["batch", "sequence", 4]
    assert "reshape_as" in {n.kind for n in result.checked.graph.nodes}
    for batch, length in ((1, 3), (3, 16)):
        x = np.random.default_rng(length).standard_normal((batch, length, 4)).astype(np.float32)
        [ours] = reference.run(result.checked, result.bound, {"x": x}).values()
        [theirs] = run_onnxruntime(path, {"x": x})
        assert ours.shape == theirs.shape == (batch, length, 6)
        assert np.array_equal(ours, theirs)


def test_keys_over_the_cache_split_again(tmp_path):
    path, result = imported(tmp_path, split_keys(), ["sequence=1:8:16", "past=0:8:16"])
    assert [[getattr(d, "name", d) for d in i.shape] for i in result.checked.graph.inputs] == \
        [["batch", 4, "past", 2], ["batch", 4, "sequence", 2]]
    assert "reshape_as" in {n.kind for n in result.checked.graph.nodes}
    for batch, length, past in ((1, 3, 0), (3, 16, 5)):
        rng = np.random.default_rng(length)
        feed = {"past": rng.standard_normal((batch, 4, past, 2)).astype(np.float32),
                "new": rng.standard_normal((batch, 4, length, 2)).astype(np.float32)}
        [ours] = reference.run(result.checked, result.bound, feed).values()
        [theirs] = run_onnxruntime(path, feed)
        assert ours.shape == theirs.shape == (batch, 4, 2, past + length)
        assert np.array_equal(ours, theirs)


def test_a_size_no_tensor_has_is_refused_and_leaves_nothing_behind(tmp_path):
    """[batch, sequence, 4] to [sequence, 2 * batch, 2]: no tensor of the graph has 2 * batch, so no
    tensor of the target's shape can be grown; the Reshape is refused with its name, and the partial
    import keeps nothing made while trying (no stray zero constant before the relu)."""
    from onnx import helper

    from netdsl.onnx.importer import NotImportable

    nodes = [const("flat_shape", [-1, 4]), const("two", [2]), const("pair", [2]),
             helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Slice", ["shape", "zero_index", "one_index"], ["batch"]),
             helper.make_node("Slice", ["shape", "one_index", "two_index"], ["length"]),
             helper.make_node("Mul", ["batch", "two"], ["doubled"]),
             helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Reshape", ["r", "flat_shape"], ["flat"]),
             helper.make_node("Concat", ["length", "doubled", "pair"], ["target"], axis=0),
             helper.make_node("Reshape", ["flat", "target"], ["y"])]
    nodes[:0] = [const("zero_index", [0]), const("one_index", [1]), const("two_index", [2])]
    built = model(nodes, [("x", ["batch", "sequence", 4])], [("y", ["sequence", "doubled", 2]),
                                                               ("r", ["batch", "sequence", 4])])
    with pytest.raises(NotImportable, match="\\(Reshape\\): a reshape to a shape with two sizes known only"):
        imported(tmp_path, built, ["sequence=1:8:16"])
    from netdsl.onnx.dims import parse
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "model.onnx"
    import_onnx(str(path), str(tmp_path / "partial.yaml"), partial=True, sizes=parse(["sequence=1:8:16"], None))
    text = (tmp_path / "partial.yaml").read_text()
    assert "kind: relu" in text and "kind: constant" not in text and "reshape_as" not in text
