"""The nms layer on TensorRT-RTX: the network up to and including TensorRT's NMS layer is constructed, with
TensorRT's shape inference of the padded outputs equal to netdsl's at every profile corner; `netdsl build`
refuses it (located, naming the alternatives, nothing written) because TensorRT-RTX cannot build the NMS
layer, which is checked too; every other layer of the lowering builds with TensorRT-RTX; and the lowered
network's numbers, through the TensorRT-semantics evaluator, equal the reference's and ultralytics' on
dynamic sizes (N below and above K). No engine runs here: the evaluator is the only check of the
lowering's numbers without full TensorRT."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import build, reference
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions
from opcases.nms import ultralytics_nms

trt = pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUTS = ("det.num_dets", "det.boxes", "det.scores", "det.classes")

# a detector head [batch, 4 + 3 classes, height, width] flattened to height*width rows: N is an expression
# in the named sizes, from 4 (below K = 20) to 256
DYNAMIC = """\
netdsl: 1
name: head_nms
inputs:
  - {name: head, shape: [batch, 7, height, width]}
dims:
  batch: {min: 1, opt: 1, max: 2}
  height: {min: 2, opt: 8, max: 16}
  width: {min: 2, opt: 8, max: 16}
layers:
  - {name: flat, kind: flatten, start_dim: 2}
  - {name: rows, kind: permute, dims: [0, 2, 1]}
  - {name: xywh, kind: slice, dim: 2, start: 0, end: 4}
  - {name: logits, kind: slice, inputs: rows, dim: 2, start: 4, end: 7}
  - {name: probs, kind: sigmoid}
  - {name: det, kind: nms, inputs: [xywh, probs], max_detections: 20%s}
outputs: [det.num_dets, det.boxes, det.scores, det.classes]
"""


def checked_spec(extra: str = ""):
    checked, diagnostics = check_text(DYNAMIC % extra, "head_nms.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


def head(batch: int, height: int, width: int, seed: int = 0):
    """Integer centers and sizes (see tests/opcases/nms.py) and logits whose best are distinct."""
    rng = np.random.default_rng(seed)
    x = np.empty((batch, 7, height, width), np.float32)
    x[:, :2] = rng.integers(0, 64, (batch, 2, height, width))
    x[:, 2:4] = rng.integers(4, 24, (batch, 2, height, width))
    logits = rng.permutation(batch * 3 * height * width) / (batch * height * width) - 2  # from -2 to 1
    x[:, 4:] = logits.reshape(batch, 3, height, width)
    return x


def test_trt_shapes_of_the_padded_outputs_at_every_profile_corner():
    from netdsl.trt.dims import check_corners

    checked = checked_spec()
    _, network, _ = build.network_for(checked, {})
    assert check_corners(network, checked.types, checked.graph.profiles) > 0
    layer_types = {network.get_layer(i).type.name for i in range(network.num_layers)}
    assert {"NMS", "SCATTER", "TOPK", "GATHER", "SLICE"} <= layer_types  # N may be below K: the fill slice


@pytest.mark.parametrize("sizes", [(1, 2, 2), (2, 3, 5), (2, 16, 16)], ids=["n4", "n15", "n256"])
@pytest.mark.parametrize("extra", ["", ", class_aware: false, iou_threshold: 0.2"], ids=["aware", "agnostic"])
def test_lowered_network_equals_reference_and_ultralytics(sizes, extra):
    from netdsl.trt.evaluate import Evaluator

    checked = checked_spec(extra)
    x = head(*sizes)
    expected = reference.run(checked, {}, {"head": x})
    _, network, ctx = build.network_for(checked, {})
    got = Evaluator(network, ctx).run({"head": x})
    for name in OUTPUTS:  # the same boxes and classes; scores through two float32 sigmoids, within an ulp or two
        if name == "det.scores":
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    rows = torch.from_numpy(x.reshape(x.shape[0], 7, -1).transpose(0, 2, 1).copy())
    params = {"max_detections": 20, **({"class_aware": False, "iou_threshold": 0.2} if extra else {})}
    theirs = ultralytics_nms(rows[..., :4], torch.sigmoid(rows[..., 4:]), **params)
    assert int(theirs[0].sum()) > 0
    for name, value in zip(OUTPUTS, theirs):
        np.testing.assert_allclose(expected[name], value.numpy(), rtol=1e-6, atol=0, err_msg=name)


def test_build_is_refused_at_the_nms_layer_and_nothing_is_written(tmp_path):
    spec = tmp_path / "head_nms.yaml"
    spec.write_text(DYNAMIC % "")
    out = tmp_path / "head.plan"
    result = subprocess.run([sys.executable, "-m", "netdsl", "build", str(spec), "-o", str(out)], capture_output=True,
                            text=True, cwd=ROOT, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2, result.stderr
    assert f"{spec}:15:5: error[needs-full-tensorrt]: nms layer `det`: TensorRT-RTX cannot build" in result.stderr
    assert "without it (the raw boxes and scores" in result.stderr and "`pip install tensorrt`" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [spec]


def test_tensorrt_rtx_really_cannot_build_the_nms_layer(monkeypatch):
    """What the refusal stands on: without it, TensorRT-RTX's builder fails at the NMS layer. When a
    TensorRT-RTX release builds it, this fails, and the refusal can go."""
    import netdsl.ops.nms as nms

    checked, _ = check_text(json.dumps({"netdsl": 1, "inputs": [{"name": "b", "shape": [1, 6, 4]},
                                                                   {"name": "s", "shape": [1, 6, 2]}],
                                        "layers": [{"name": "det", "kind": "nms", "inputs": ["b", "s"]}]}), "x.yaml")
    monkeypatch.setattr(nms.NMS, "rtx_unbuildable", "")
    with pytest.raises(build.BuildFailed, match="det/nms has no runners"):
        build.build_plan(checked, {})


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_every_layer_but_nms_builds_on_tensorrt_rtx(monkeypatch, precision):
    """The layers after the NMS layer (scatter, fill slice, top-k, batched gathers, selects) build with
    TensorRT-RTX when a constant (batch, class, box) tensor stands in for the NMS layer's output."""
    import netdsl.ops.nms as nms

    def stand_in(ctx, p, boxes, scores, layers):
        triples = np.array([[0, 1, 3], [1, 0, 2], [1, 2, 0]], np.int32)
        return layers.const(triples, "int32", part="selected")

    monkeypatch.setattr(nms, "nms_layer", stand_in)
    monkeypatch.setattr(nms.NMS, "rtx_unbuildable", "")
    plan = build.build_plan(checked_spec(), {}, BuildOptions(precision=precision))
    assert len(plan.data) > 0


def test_inspect_shows_the_network_with_its_nms_layer(tmp_path):
    spec = tmp_path / "head_nms.yaml"
    spec.write_text(DYNAMIC % "")
    result = subprocess.run([sys.executable, "-m", "netdsl", "inspect", str(spec), "--format", "json"],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    layers = {layer["name"]: layer for layer in json.loads(result.stdout)["layers"]}
    nms = layers["det/nms"]
    assert nms["type"] == "NMS" and nms["params"]["bounding_box_format"] == "CENTER_SIZES"
    assert nms["params"]["topk_box_limit"] == 5000
    assert [o["shape"] for o in nms["outputs"]] == [[-1, 3], []]


def test_onnx_export_with_float16_inputs_and_a_dynamic_batch():
    """The exported model (ONNX's NonMaxSuppression, which takes float32, and the padding) in ONNX
    Runtime equals the reference, on float16 inputs the float16 outputs hold exactly."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from netdsl.onnx.export import to_model
    from opcases.nms import random_detections

    batch = {"min": 1, "opt": 2, "max": 4}
    spec = {"netdsl": 1, "inputs": [{"name": "b", "shape": [-1, 300, 4], "dtype": "float16", "batch": batch},
                                    {"name": "s", "shape": [-1, 300, 5], "dtype": "float16", "batch": batch}],
            "layers": [{"name": "det", "kind": "nms", "inputs": ["b", "s"], "max_detections": 40}]}
    checked, diagnostics = check_text(json.dumps(spec), "x.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    model = to_model(checked, {})
    onnx.checker.check_model(model, full_check=True)
    feed = dict(zip("bs", (a.astype(np.float16) for a in random_detections(3, 300, 5, seed=7, extent=200))))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip(OUTPUTS, session.run(None, feed)))
    expected = reference.run(checked, {}, {k: v.astype(np.float32) for k, v in feed.items()})
    for name in OUTPUTS:
        np.testing.assert_array_equal(got[name].astype(expected[name].dtype), expected[name], err_msg=name)
    assert got["det.boxes"].dtype == np.float16 and 0 < expected["det.num_dets"].min()


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_lowered_network_at_yolov8_size(precision):
    """2 x 8400 boxes x 80 classes, more than 5000 candidates per image, K = 300: the evaluated network
    equals the reference (on the inputs as the engine sees them, rounded to the precision)."""
    from netdsl.trt.evaluate import Evaluator, round_to
    from opcases.nms import random_detections

    checked, _ = check_text(json.dumps({"netdsl": 1, "inputs": [{"name": "b", "shape": [2, 8400, 4]},
                                                                   {"name": "s", "shape": [2, 8400, 80]}],
                                        "layers": [{"name": "det", "kind": "nms", "inputs": ["b", "s"],
                                                    "max_detections": 300}]}), "x.yaml")
    feed = dict(zip("bs", (round_to(a, precision) for a in random_detections(2, 8400, 80, seed=5))))
    expected = reference.run(checked, {}, feed)
    _, network, ctx = build.network_for(checked, {}, BuildOptions(precision=precision))
    got = Evaluator(network, ctx).run(feed)
    for name in OUTPUTS:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert expected["det.num_dets"].min() == 300
