"""`netdsl export`: every zoo spec (and LeNet) as ONNX with its weights passes onnx.checker's full check,
runs in ONNX Runtime with the reference executor's outputs, and TensorRT-RTX's ONNX parser builds it.
The names in the file are the spec's, and a dynamic dimension is an ONNX symbolic dimension."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import load
from netdsl.weights.synthetic import random_weights
from onnx_helpers import build_with_tensorrt_rtx, random_inputs, run_onnxruntime

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = ["lenet.yaml", "zoo/unet_small.yaml", "zoo/resnet18.yaml", "zoo/mobilenet_v2.yaml"]
LARGE = ["zoo/resnet50.yaml", "zoo/alexnet.yaml", "zoo/vgg16.yaml"]  # hundreds of MB of weights: slow
SPECS = SMALL + [pytest.param(name, marks=pytest.mark.slow) for name in LARGE]


@pytest.mark.parametrize("name", SPECS)
def test_zoo_export_runs_in_onnxruntime_and_tensorrt_rtx(name):
    from netdsl.onnx.export import to_model

    checked = load(str(ROOT / "specs" / name))
    bound = random_weights(checked, seed=1)
    model = to_model(checked, bound)
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    feed = random_inputs(checked, batch=2)
    got = run_onnxruntime(data, feed)
    want = reference.run(checked, bound, feed)
    for output, value in zip(checked.graph.outputs, got):
        expected = want[output.name]
        scale = max(1.0, float(np.abs(expected).max()))
        assert np.abs(value - expected).max() <= 1e-5 * scale, (output.name, np.abs(value - expected).max(), scale)
    pytest.importorskip("tensorrt_rtx")
    build_with_tensorrt_rtx(data)


def test_names_weights_and_symbolic_dimensions():
    from onnx import numpy_helper

    from netdsl.onnx.export import to_model

    checked = load(str(ROOT / "specs" / "zoo" / "resnet18.yaml"))
    bound = random_weights(checked, seed=0)
    model = to_model(checked, bound)
    graph = model.graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["logits"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim[1:]] == [3, 224, 224]
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "N"
    names = {n.name for n in graph.node}
    assert {"layer1.0.conv1/Conv", "layer2.0.downsample.1/BatchNormalization", "fc/Gemm", "fc/Flatten"} <= names
    produced = {o for n in graph.node for o in n.output}
    assert {"layer1.0.conv1", "layer3.1.relu", "avgpool"} <= produced  # the spec's tensor names
    initializers = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    assert set(initializers) == set(bound)  # exactly the state_dict keys
    np.testing.assert_array_equal(initializers["layer4.1.bn2.running_var"], bound["layer4.1.bn2.running_var"].array)
    assert {p.key: p.value for p in model.metadata_props} == {"netdsl.batch.input": "1,8,32"}


# a size in each optimization profile of specs/dynamic/*.yaml, not square
DYNAMIC = {"detector_dynamic": [(1, 128, 192), (2, 352, 480)], "unet_dynamic": [(2, 68, 100), (1, 256, 264)]}


@pytest.mark.parametrize("name", DYNAMIC)
def test_named_dynamic_sizes_export_and_run_in_onnxruntime_at_a_size_in_each_profile(name):
    # The detector's merge adds 2*((height+15)//16) rows to (height+7)//8: equal only because every allowed
    # height is a multiple of 32 (the export compares sizes over the profiles, as validate does)
    from netdsl.onnx.export import to_model

    checked = load(str(ROOT / "specs" / "dynamic" / f"{name}.yaml"))
    bound = random_weights(checked, seed=1)
    model = to_model(checked, bound)
    onnx.checker.check_model(model, full_check=True)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    data = model.SerializeToString()
    rng = np.random.default_rng(0)
    for batch, height, width in DYNAMIC[name]:
        feed = {"image": rng.standard_normal((batch, 3, height, width)).astype(np.float32)}
        [got] = run_onnxruntime(data, feed)
        [expected] = reference.run(checked, bound, feed).values()
        assert got.shape == expected.shape
        scale = max(1.0, float(np.abs(expected).max()))  # float32 both sides: 1e-5 as for the zoo above
        assert np.abs(got - expected).max() <= 1e-5 * scale, (batch, height, width)
    pytest.importorskip("tensorrt_rtx")  # and TensorRT-RTX's ONNX parser builds it with the spec's profiles
    image = ("batch", 3, "height", "width")
    build_with_tensorrt_rtx(data, profiles=[{"image": [tuple(p.ranges[d][i] if isinstance(d, str) else d for d in image)
                                                        for i in range(3)]} for p in checked.graph.profiles])


def test_a_dimension_that_is_not_an_int_becomes_a_dim_param_of_its_name():
    from netdsl.onnx.export import tensor_info
    from netdsl.tensors import Dim, TensorType

    info = tensor_info("x", TensorType((Dim("batch"), Dim("seq"), 768), "float16"))
    dims = info.type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[:2]] == ["batch", "seq"] and dims[2].dim_value == 768
    assert info.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16


def test_a_layer_without_onnx_form_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    from netdsl.onnx import EXPORTS
    from netdsl.onnx.export import ExportError, to_model

    spec = tmp_path / "net.yaml"
    spec.write_text("netdsl: 1\ninputs:\n  - {name: x, shape: [1, 8, 4, 4]}\nlayers:\n"
                    "  - {name: norm, kind: lrn, size: 3}\n  - {name: act, kind: relu}\n"
                    "  - {name: norm2, kind: lrn, size: 5}\n")
    monkeypatch.delitem(EXPORTS, "lrn")
    with pytest.raises(ExportError) as error:
        to_model(load(str(spec)), {})
    assert "layer `norm` (lrn): lrn has no ONNX form" in str(error.value)
    assert "layer `norm2` (lrn)" in str(error.value)  # every layer, not only the first


def test_cli_export(tmp_path):
    out = tmp_path / "lenet.onnx"
    command = [sys.executable, "-m", "netdsl", "export", str(ROOT / "specs" / "lenet.yaml"), "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "opset 21" in result.stdout
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert {i.name for i in model.graph.initializer} >= {"conv1.weight", "fc3.bias"}


def test_cli_export_without_weights_is_a_usage_error(tmp_path):
    out = tmp_path / "resnet.onnx"
    command = [sys.executable, "-m", "netdsl", "export", str(ROOT / "specs" / "zoo" / "resnet18.yaml"), "-o", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and "random-weights" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("kind, params, size", [
    ("max_pool", {"kernel": 2, "stride": 2, "padding": 1}, (5, 6)),  # height drops a window, width keeps one
    ("max_pool", {"kernel": 2, "stride": 3, "padding": 1, "dilation": 2}, (7, 8)),  # the extension goes to a Pad
    ("avg_pool", {"kernel": 3, "stride": 3, "padding": 1, "count_include_pad": True}, (5, 6)),
    ("avg_pool", {"kernel": 2, "stride": 3, "count_include_pad": False}, (8, 9)),
])
def test_ceil_mode_pooling_has_pytorchs_windows_in_onnxruntime(kind, params, size):
    # PyTorch's ceil mode drops a last window starting in the end padding, ONNX's keeps it
    import torch
    import torch.nn.functional as F

    from netdsl.onnx.export import to_model
    from netdsl.spec import check_text

    layer = ", ".join(f"{key}: {str(value).lower() if isinstance(value, bool) else value}"
                      for key, value in params.items())
    text = (f"netdsl: 1\nname: pool\ninputs: [{{name: x, shape: [1, 2, {size[0]}, {size[1]}]}}]\n"
            f"layers:\n  - {{name: pool, kind: {kind}, ceil_mode: true, {layer}}}\noutputs: [pool]\n")
    checked, diagnostics = check_text(text, "pool.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    model = to_model(checked, {})
    onnx.checker.check_model(model, full_check=True)
    x = np.random.default_rng(0).standard_normal((1, 2, *size)).astype(np.float32)
    [got] = run_onnxruntime(model, {"x": x})
    p = dict(params)
    if kind == "max_pool":
        want = F.max_pool2d(torch.tensor(x), p["kernel"], p["stride"], p["padding"], p.get("dilation", 1), True)
    else:
        want = F.avg_pool2d(torch.tensor(x), p["kernel"], p["stride"], p.get("padding", 0), True, p["count_include_pad"])
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


def test_bicubic_that_keeps_every_length_is_refused():
    # PyTorch interpolates with 1 / scale_factor; ONNX Runtime copies a Resize whose shape is unchanged
    from netdsl.onnx.export import ExportError, to_model
    from netdsl.spec import check_text

    text = ("netdsl: 1\nname: up\ninputs: [{name: x, shape: [1, 2, 10, 10]}]\nlayers:\n"
            "  - {name: up, kind: interpolate, mode: bicubic, scale_factor: 1.09}\noutputs: [up]\n")
    checked, diagnostics = check_text(text, "up.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    with pytest.raises(ExportError, match="layer `up` .*ONNX Runtime copies the input"):
        to_model(checked, {})


def test_flatten_over_named_sizes_exports_with_one_inferred_dimension():
    # flatten(start_dim=2) of [batch, 4, height, width]: Reshape [0, 4, -1], run in ONNX Runtime at two sizes
    from netdsl.onnx.export import to_model
    from netdsl.spec import check_text

    checked, diagnostics = check_text("""\
netdsl: 1
inputs:
  - {name: x, shape: [batch, 3, height, width]}
dims:
  batch: {min: 1, opt: 1, max: 4}
  height: {min: 8, opt: 16, max: 32}
  width: {min: 8, opt: 16, max: 32}
layers:
  - {name: c, kind: convolution, out_channels: 4, kernel: 1}
  - {name: f, kind: flatten, start_dim: 2}
""")
    assert checked is not None, diagnostics
    bound = random_weights(checked, seed=2)
    data = to_model(checked, bound).SerializeToString()
    for shape in ((1, 3, 8, 12), (3, 3, 31, 9)):
        feed = {"x": np.random.default_rng(1).standard_normal(shape).astype(np.float32)}
        [got] = run_onnxruntime(data, feed)
        [expected] = reference.run(checked, bound, feed).values()
        assert got.shape == expected.shape == (shape[0], 4, shape[2] * shape[3])
        assert np.abs(got - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))
