"""Hostile and unsupported ONNX files: refused with a message (never a traceback), without reading
outside the model's folder or allocating what a file merely declares; every node netdsl cannot express
is named with its op type."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl.diagnostics import NetdslError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


def small_model(weight=None, extra_nodes=(), extra_inits=()):
    """x [N, 4] -> MatMul by a [4, 3] weight -> Relu."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w") if weight is None else weight
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="/proj/MatMul"),
             helper.make_node("Relu", ["y"], ["z"], name="/act/Relu"), *extra_nodes]
    out = nodes[-1].output[0]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", 3])], [w, *extra_inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def import_file(path, tmp_path, partial=False):
    from netdsl.onnx.importer import import_onnx

    return import_onnx(str(path), str(tmp_path / "out.yaml"), partial)


def write(tmp_path, model, name="model.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def test_the_small_model_imports(tmp_path):
    imported = import_file(write(tmp_path, small_model()), tmp_path)
    assert [n.kind for n in imported.checked.graph.nodes] == ["linear", "relu"]
    assert (tmp_path / "out.yaml").exists() and (tmp_path / "out.safetensors").exists()


def test_truncated_files_are_refused(tmp_path):
    model = small_model()
    data = model.SerializeToString()
    # the one cut that leaves a well-formed protobuf: the model without its last field, opset_import
    model.ClearField("opset_import")
    whole_fields = model.SerializeToString()
    accepted = []
    for cut in range(len(data)):  # every length: a cut at a field boundary parses, one inside a field does not
        path = tmp_path / "cut.onnx"
        path.write_bytes(data[:cut])
        try:
            import_file(path, tmp_path)
        except NetdslError as error:  # refused with a message (anything else, a traceback, fails the test)
            assert str(error).startswith(f"{path}: "), (cut, str(error))  # located
            assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.onnx"], cut  # nothing written
            continue
        accepted.append(data[:cut])
        for written in ("out.yaml", "out.safetensors"):
            (tmp_path / written).unlink()
    assert accepted in ([], [whole_fields])


def test_garbage_is_refused(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\xff\xfe not a protobuf at all" * 10)
    with pytest.raises(NetdslError, match="not an ONNX model"):
        import_file(path, tmp_path)


def test_huge_declared_sizes_are_refused_before_allocation(tmp_path):
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2**20, 2**20], raw_data=b"\0" * 48)
    with pytest.raises(NetdslError, match="declares more than"):
        import_file(write(tmp_path, small_model(huge)), tmp_path)
    lying = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3000], raw_data=b"\0" * 48)
    with pytest.raises(NetdslError, match="holds data for 48 bytes"):
        import_file(write(tmp_path, small_model(lying)), tmp_path)
    shape = numpy_helper.from_array(np.array([2**40, 3], np.int64), "shape")
    fill = helper.make_node("ConstantOfShape", ["shape"], ["big"], name="/fill")
    add = helper.make_node("Add", ["z", "big"], ["out"], name="/add")
    imported_problem = pytest.raises(NetdslError, match=r"node `/fill` \(ConstantOfShape\)")
    with imported_problem:
        import_file(write(tmp_path, small_model(extra_nodes=[fill, add], extra_inits=[shape])), tmp_path)


def external(location, length=48, offset=0):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def test_external_data_inside_the_folder_is_read(tmp_path):
    (tmp_path / "weights.bin").write_bytes(np.arange(12, dtype=np.float32).tobytes())
    imported = import_file(write(tmp_path, small_model(external("weights.bin"))), tmp_path)
    np.testing.assert_array_equal(imported.weights["proj.weight"], np.arange(12, dtype=np.float32).reshape(4, 3).T)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/hostname", "sub/../../secret.bin", "link.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"S" * 48)
    folder = tmp_path / "model"
    folder.mkdir()
    os.symlink(outside, folder / "link.bin")
    with pytest.raises(NetdslError, match="inside the model's folder|outside the model's folder"):
        import_file(write(folder, small_model(external(location))), folder)


def test_external_data_past_the_end_or_of_the_wrong_length_is_refused(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0" * 40)
    with pytest.raises(NetdslError, match="which has 40"):
        import_file(write(tmp_path, small_model(external("weights.bin"))), tmp_path)
    with pytest.raises(NetdslError, match="dimensions need 48"):
        import_file(write(tmp_path, small_model(external("weights.bin", length=2**40))), tmp_path)


def test_every_node_netdsl_cannot_express_is_named(tmp_path):
    nodes = [helper.make_node("NonMaxSuppression", ["z", "z"], ["boxes"], name="/post/nms"),
             helper.make_node("Frobnicate", ["z"], ["f"], name="/custom", domain="com.example"),
             helper.make_node("Cast", ["boxes"], ["float_boxes"], name="/cast", to=TensorProto.FLOAT),
             helper.make_node("Sum", ["float_boxes", "f"], ["out"], name="/after")]
    model = small_model(extra_nodes=nodes)
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    path = write(tmp_path, model)
    with pytest.raises(NetdslError) as error:
        import_file(path, tmp_path)
    message = str(error.value)
    assert "node `/post/nms` (NonMaxSuppression): no mapping for ONNX op NonMaxSuppression" in message
    assert "node `/custom` (Frobnicate): operator domain `com.example`" in message
    assert "/after" not in message  # what depends on them is not listed again
    assert not (tmp_path / "out.yaml").exists()


def test_partial_writes_what_can_be_expressed(tmp_path):
    nms = helper.make_node("Celu", ["z"], ["c"], name="/act2/Celu", alpha=2.0)
    weird = helper.make_node("Frobnicate", ["c"], ["f"], name="/custom", domain="com.example")
    relu = helper.make_node("Relu", ["f"], ["out"], name="/tail/Relu")
    model = small_model(extra_nodes=[nms, weird, relu])
    model.graph.value_info.append(helper.make_tensor_value_info("f", TensorProto.FLOAT, ["N", 3]))
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    imported = import_file(write(tmp_path, model), tmp_path, partial=True)
    assert imported.problems == ["node `/custom` (Frobnicate): operator domain `com.example`"]
    assert "{name: f, shape: [-1, 3], batch: {min: 1, opt: 1, max: 32}}  # made by node `/custom` (Frobnicate), " \
           "left out" in imported.text
    assert [n.name for n in imported.checked.graph.nodes] == ["proj", "act", "act2", "tail"]


def test_cli_refuses_hostile_files_without_a_traceback(tmp_path):
    path = tmp_path / "cut.onnx"
    path.write_bytes(small_model().SerializeToString()[:30])
    result = subprocess.run([sys.executable, "-m", "netdsl", "import", str(path), "-o", str(tmp_path / "o.yaml")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1 and "netdsl: error:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.yaml").exists()


# -- what ONNX's checker refuses (onnx.checker.check_model, full_check) -------------------------------------


def two_writers():
    """Two nodes write `z`: valid-looking, each node alone fine."""
    model = small_model()
    model.graph.node.append(helper.make_node("Sigmoid", ["y"], ["z"], name="/act/Sigmoid"))
    return model


def opset_99():
    model = small_model()
    model.opset_import[0].version = 99
    return model


def malformed_max_pool():
    return small_model(extra_nodes=[helper.make_node("MaxPool", ["z"], ["p"], name="/pool/MaxPool")])


def no_inputs():
    """Only constants: the checker takes it, a netdsl spec cannot be one."""
    value = helper.make_tensor("v", TensorProto.FLOAT, [2], [1.0, 2.0])
    graph = helper.make_graph([helper.make_node("Constant", [], ["c"], value=value)], "constants", [],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def inconsistent_shapes():
    """A declared output shape that shape inference contradicts (full_check's strict mode)."""
    model = small_model()
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 5]))
    return model


CHECKER_REFUSES = {  # model, a part of the checker's message
    "two-writers": (two_writers, "z"),
    "malformed-node": (malformed_max_pool, "kernel_shape"),
    "inconsistent-shapes": (inconsistent_shapes, "ShapeInferenceError"),
}


@pytest.mark.parametrize("case", CHECKER_REFUSES)
def test_what_the_onnx_checker_refuses_is_refused_with_its_message(tmp_path, case):
    make, part = CHECKER_REFUSES[case]
    model = make()
    with pytest.raises(onnx.checker.ValidationError if case != "inconsistent-shapes" else
                       onnx.shape_inference.InferenceError):
        onnx.checker.check_model(model, full_check=True)  # the oracle: ONNX's checker refuses it
    path = write(tmp_path, model)
    with pytest.raises(NetdslError, match="the ONNX checker refuses it") as error:
        import_file(path, tmp_path)
    assert part in str(error.value)
    assert not (tmp_path / "out.yaml").exists() and not (tmp_path / "out.safetensors").exists()


def test_an_opset_onnx_does_not_have_is_refused(tmp_path):
    onnx.checker.check_model(opset_99(), full_check=True)  # the checker takes it (not its business)
    newest = onnx.defs.onnx_opset_version()
    with pytest.raises(NetdslError, match=f"opset 99, .*the newest is {newest}"):
        import_file(write(tmp_path, opset_99()), tmp_path)
    assert not (tmp_path / "out.yaml").exists()


def test_a_graph_without_inputs_is_refused(tmp_path):
    onnx.checker.check_model(no_inputs(), full_check=True)  # valid ONNX
    with pytest.raises(NetdslError, match="no inputs"):
        import_file(write(tmp_path, no_inputs()), tmp_path)


@pytest.mark.parametrize("make", [two_writers, opset_99])
def test_cli_refuses_what_the_checker_refuses(tmp_path, make):
    path = write(tmp_path, make())
    result = subprocess.run([sys.executable, "-m", "netdsl", "import", str(path), "-o", str(tmp_path / "o.yaml")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"netdsl: error: {path}: "), lines
    assert "the ONNX checker refuses it" in lines[0] or "opset 99" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
