"""The ultralytics zoo specs (YOLOv8, YOLOv5u, YOLO11) against ultralytics itself: models built from the
YAML configs ultralytics ships (no download), with random weights. Parameter counts of all 15 models, MACs
against ultralytics' GFLOPs, the reference executor's `output0` against the model's eval output, a
tensorrtx `.wts` bound without renaming, weight errors reported at once, and TensorRT-RTX builds."""

import os
import pathlib
import sys

import numpy as np
import pytest

from netdsl import reference, summary
from netdsl.cli import main
from netdsl.spec import load
from netdsl.weights import read_weights
from netdsl.weights.bind import bind
from netdsl.weights.from_torch import export_weights
from yolo_oracle import ultralytics_module

torch = pytest.importorskip("torch")
tasks = ultralytics_module("ultralytics.nn.tasks")  # skips the module where ultralytics is not installed
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_models import gen_wts, randomized  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAMILIES = {"yolov8": "yolov8{}.yaml", "yolov5u": "yolov5{}u.yaml", "yolo11": "yolo11{}.yaml"}
MODELS = [(family, scale) for family in FAMILIES for scale in "nsmlx"]
STRIDES = (8, 16, 32)


def slow_unless(condition):
    return () if condition else (pytest.mark.slow,)


def spec(family: str) -> str:
    return str(ROOT / "specs" / "zoo" / f"{family}.yaml")


def ultralytics_model(family: str, scale: str, seed: int = 0):
    """The eval-mode DetectionModel with random weights and batch norm statistics; DFL's projection keeps
    ultralytics' 0..15 (it is a parameter, and the spec reads it from the weights like any other)."""
    model = randomized(tasks.DetectionModel(FAMILIES[family].format(scale), verbose=False), seed)
    with torch.no_grad():
        model.model[-1].dfl.conv.weight.copy_(torch.arange(16.0).view(1, 16, 1, 1))
    return model


def meta_model(family: str, scale: str, monkeypatch, classes: int = 80):
    """The DetectionModel on PyTorch's meta device (shapes only, no memory, so even the x scales cost well
    under a second). Detect.bias_init reads the strides, which the build's trial forward pass leaves on the
    meta device too: the strides are set to ultralytics' 8, 16, 32 instead (biases do not change FLOPs)."""
    Detect = ultralytics_module("ultralytics.nn.modules.head").Detect
    monkeypatch.setattr(Detect, "bias_init", lambda self: None)
    with torch.device("meta"):
        model = tasks.DetectionModel(FAMILIES[family].format(scale), nc=classes, verbose=False)
    model.stride = model.model[-1].stride = torch.tensor([float(s) for s in STRIDES])
    return model


# -- parameters and MACs -----------------------------------------------------------------------------


@pytest.mark.parametrize("family, scale", MODELS)
def test_parameter_count_equals_ultralytics(family, scale, monkeypatch):
    model = meta_model(family, scale, monkeypatch)
    expected = sum(p.numel() for p in model.parameters())  # what model.info() prints, DFL's 16 included
    assert summary.to_json(load(spec(family), params={"scale": scale}))["total_params"] == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_classes_changes_the_heads_as_ultralytics_nc_does(family, monkeypatch):
    model = meta_model(family, "s", monkeypatch, classes=3)  # c3 = max(c256, min(nc, 100)): c256 here
    checked = load(spec(family), params={"scale": "s", "classes": 3})
    assert summary.to_json(checked)["total_params"] == sum(p.numel() for p in model.parameters())
    assert checked.types[checked.graph.outputs[0].source].shape[:2] == (checked.types["images"].shape[0], 7)


def batch_norm_values(checked, sizes: dict) -> int:
    """Output values of every batch norm layer, per image, at the named sizes."""
    from netdsl.symbolic import evaluate

    return sum(int(np.prod([evaluate(d, sizes) for d in checked.types[node.name].shape[1:]]))
               for node in checked.graph.nodes if node.kind == "batch_norm")


@pytest.mark.parametrize("family, scale", [pytest.param(f, s, marks=slow_unless(s == "n")) for f, s in MODELS])
def test_macs_match_ultralytics_gflops(family, scale, monkeypatch):
    """ultralytics' GFLOPs is thop's count x 2. thop counts convolutions (without bias) and matrix products
    as netdsl does, and batch norm as 4 operations per value (calculate_norm's 2, doubled for the affine
    part); SiLU, max pooling, nearest upsampling, softmax (a tensor method) and the decode count 0 in both.
    So thop = netdsl's MACs + 4 x the batch norm outputs, exactly."""
    get_flops = ultralytics_module("ultralytics.utils.torch_utils").get_flops
    gflops = get_flops(meta_model(family, scale, monkeypatch), 640)
    checked = load(spec(family), params={"scale": scale})
    macs = summary.to_json(checked)["total_macs"]  # per image at the profile's opt, 640x640
    assert gflops / 2 * 1e9 == pytest.approx(macs + 4 * batch_norm_values(checked, {"height": 640, "width": 640}), rel=1e-12, abs=0.5)
    assert 0.95 < 2 * macs / 1e9 / gflops < 1.0  # the batch norms' share: 1-3 %


# -- output0 against the model ------------------------------------------------------------------------


def ultralytics_output(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x))[0].numpy()


def assert_same_detections(output, expected):
    """Boxes (rows 0-3, pixels) within 2e-6 of the largest coordinate, scores (sigmoids) within 2e-6:
    float32 rounding (about 6e-8 relative per operation) differs between numpy's and PyTorch's
    summation orders in each of about 100 layers, and DFL's expected bins are then scaled by the stride."""
    assert output.shape == expected.shape
    boxes, scores = np.abs(output - expected)[:, :4], np.abs(output - expected)[:, 4:]
    assert boxes.max() <= 2e-6 * np.abs(expected[:, :4]).max(), (boxes.max(), np.abs(expected[:, :4]).max())
    assert scores.max() <= 2e-6, scores.max()


def run_spec(family, scale, bound_from, x):
    checked = load(spec(family), params={"scale": scale})
    bound = bind(checked, read_weights(str(bound_from)), str(bound_from), strict=True)  # nothing unused
    return reference.run(checked, bound, {"images": x})["output0"]


REFERENCE_CASES = [pytest.param("yolov8", "n", 1, 320, 256)] + [  # the default run's one: a few seconds
    pytest.param(family, scale, batch, height, width, marks=pytest.mark.slow)
    for family in FAMILIES for scale in "ns" for batch, height, width in ((1, 640, 640), (2, 480, 640))]


@pytest.mark.parametrize("family, scale, batch, height, width", REFERENCE_CASES)
def test_reference_output0_equals_ultralytics(tmp_path, family, scale, batch, height, width):
    model = ultralytics_model(family, scale)
    export_weights(model, str(tmp_path / "model.safetensors"))
    x = np.random.default_rng(1).random((batch, 3, height, width), dtype=np.float32)
    output = run_spec(family, scale, tmp_path / "model.safetensors", x)
    expected = ultralytics_output(model, x)
    anchors = sum((height // s) * (width // s) for s in STRIDES)
    assert expected.shape == (batch, 84, anchors)
    assert_same_detections(output, expected)


@pytest.mark.parametrize("family", [pytest.param(f, marks=slow_unless(f == "yolov8")) for f in FAMILIES])
def test_tensorrtx_wts_binds_without_renaming(tmp_path, family):
    model = ultralytics_model(family, "n", seed=3)
    gen_wts(model, tmp_path / "model.wts")  # as tensorrtx's yolov8/gen_wts.py writes it: every state_dict key
    x = np.random.default_rng(4).random((2, 3, 256, 320), dtype=np.float32)
    assert_same_detections(run_spec(family, "n", tmp_path / "model.wts", x), ultralytics_output(model, x))


# -- weight errors ------------------------------------------------------------------------------------


def test_a_missing_and_a_misshaped_key_are_reported_at_once_with_their_layers(tmp_path, capsys):
    state = {k: v.clone() for k, v in tasks.DetectionModel("yolov8n.yaml", verbose=False).state_dict().items()}
    del state["model.22.cv3.1.2.bias"]
    state["model.4.m.1.cv2.conv.weight"] = state["model.4.m.1.cv2.conv.weight"][:, :8]
    export_weights(state, str(tmp_path / "broken.safetensors"))
    assert main(["validate", spec("yolov8"), "--weights", str(tmp_path / "broken.safetensors")]) == 1
    reports = capsys.readouterr().err.split("\n\n")
    [missing] = [r for r in reports if "model.22.cv3.1.2.bias" in r]
    [misshaped] = [r for r in reports if "model.4.m.1.cv2.conv.weight" in r]
    assert "error[missing-weight]: layer `model.22.cv3.1.2` needs weight" in missing
    assert "kind: convolution, out_channels: $out" in missing  # the line in the block that makes the layer
    assert "layer `model.4.m.1.cv2.conv` needs [32, 32, 3, 3]" in misshaped and "has shape [32, 8, 3, 3]" in misshaped
    assert reports[-1].strip() == "2 errors"


@pytest.mark.parametrize("family", [pytest.param(f, marks=slow_unless(f == "yolov8")) for f in FAMILIES])
def test_uint8_bgr_frames_are_converted_as_ultralytics_predictor_does(tmp_path, family):
    from types import SimpleNamespace

    BasePredictor = ultralytics_module("ultralytics.engine.predictor").BasePredictor
    model = ultralytics_model(family, "n", seed=5)
    export_weights(model, str(tmp_path / "model.safetensors"))
    frames = np.random.default_rng(6).integers(0, 256, (2, 224, 288, 3), dtype=np.uint8)
    # the predictor's own preprocess on already letterboxed BGR frames: NHWC -> NCHW, BGR -> RGB, / 255
    predictor = SimpleNamespace(pre_transform=lambda images: images, device="cpu", model=SimpleNamespace(fp16=False))
    images = BasePredictor.preprocess(predictor, list(frames)).numpy()
    checked = load(spec(family), params={"scale": "n", "frames": True})
    assert [(i.name, i.dtype, i.shape) for i in checked.graph.inputs][0][:2] == ("images", "uint8")
    bound = bind(checked, read_weights(str(tmp_path / "model.safetensors")), "model.safetensors", strict=True)
    output = reference.run(checked, bound, {"images": frames})["output0"]
    assert_same_detections(output, ultralytics_output(model, images))


# -- TensorRT-RTX ---------------------------------------------------------------------------------------


def lowered(family, precision, bound=None, **params):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import network_for
    from netdsl.spec.buildopts import BuildOptions
    from tests.opcases import random_weights

    checked = load(spec(family), params={"scale": "n", **params})
    bound = bound or random_weights(checked)
    _, network, ctx = network_for(checked, bound, BuildOptions(precision=precision))
    return checked, bound, network, ctx


@pytest.mark.parametrize("family, frames", [(family, False) for family in FAMILIES] + [("yolov8", True)])
@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_tensorrt_shapes_at_every_profile_corner(family, frames, precision):
    """TensorRT's own shape inference of the lowered network: every tensor as netdsl says at the profile's
    min, opt and max, and output0 [B, 4 + 80, anchors] for the input's size, float32 out of a float16
    network too; with frames, the input is uint8 [B, H, W, 3]."""
    from netdsl.trt.dims import check_corners, corners

    checked, _, network, _ = lowered(family, precision, frames=frames)
    assert check_corners(network, checked.types, checked.graph.profiles) > network.num_layers
    output, images = network.get_output(0), network.get_input(0)
    assert (output.name, str(output.dtype).rsplit(".", 1)[-1]) == ("output0", "FLOAT")
    assert str(images.dtype).rsplit(".", 1)[-1] == ("UINT8" if frames else "FLOAT")
    for where, sizes in corners(checked.graph.profiles):
        size = (sizes["height"], sizes["width"])
        images.shape = (sizes["batch"], *size, 3) if frames else (sizes["batch"], 3, *size)
        anchors = sum((sizes["height"] // s) * (sizes["width"] // s) for s in STRIDES)
        assert tuple(output.shape) == (sizes["batch"], 84, anchors), where


@pytest.mark.slow  # about 10 s a build on the CPU here
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_tensorrt_rtx_builds(family, precision):
    from netdsl import build
    from netdsl.spec.buildopts import BuildOptions
    from tests.opcases import random_weights

    checked = load(spec(family), params={"scale": "n"})
    plan = build.build_plan(checked, random_weights(checked), BuildOptions(precision=precision))
    record = build.manifest(plan, f"{family}n.plan")
    [output] = record["outputs"]
    assert (output["name"], output["dtype"], output["shape"], output["dims"][:2]) == ("output0", "float32", [-1, 84, -1],
                                                                                     ["batch", 84])
    assert record["inputs"][0]["dims"] == ["batch", 3, "height", "width"]
    assert plan.data.nbytes > 0.8 * summary.to_json(checked)["total_params"] * (4 if precision == "float32" else 2)


@pytest.mark.slow  # the TensorRT-semantics evaluator through numpy: about 10 s per precision
@pytest.mark.parametrize("family", FAMILIES)
def test_tensorrt_network_evaluated_matches_ultralytics(tmp_path, family):
    """The network TensorRT was given, computed with TensorRT's layer semantics (netdsl.trt.evaluate),
    against ultralytics. float32 as the reference executor; float16: boxes within 4e-3 of the largest
    coordinate and scores within 4e-3, a few float16 steps (2^-11 relative) at the output's magnitude."""
    from netdsl.trt.evaluate import Evaluator

    model = ultralytics_model(family, "n", seed=7)
    export_weights(model, str(tmp_path / "model.safetensors"))
    checked = load(spec(family), params={"scale": "n"})
    bound = bind(checked, read_weights(str(tmp_path / "model.safetensors")), "model.safetensors", strict=True)
    x = np.random.default_rng(8).random((2, 3, 256, 320), dtype=np.float32)
    expected = ultralytics_output(model, x)
    for precision in ("float32", "float16"):
        _, _, network, ctx = lowered(family, precision, bound)
        [output] = Evaluator(network, ctx).run({"images": x}).values()
        if precision == "float32":
            assert_same_detections(output, expected)
        else:
            error = np.abs(output - expected)
            assert error[:, :4].max() <= 4e-3 * np.abs(expected[:, :4]).max() and error[:, 4:].max() <= 4e-3


# -- NMS in the engine ----------------------------------------------------------------------------------


@pytest.mark.parametrize("family", [pytest.param(f, marks=slow_unless(f == "yolov8")) for f in FAMILIES])
def test_nms_outputs_equal_ultralytics_non_max_suppression_of_output0(tmp_path, family):
    """With nms=true, the padded outputs against ultralytics' non_max_suppression (its pure-PyTorch NMS)
    with the spec's defaults (conf 0.25, IoU 0.7, 300 detections, class-aware) on the output0 of the
    same run (so that float32 rounding cannot move a box across a threshold); output0 itself is checked
    against the model above. Random weights make most of the 1680 anchors candidates."""
    non_max_suppression = ultralytics_module("ultralytics.utils.nms").non_max_suppression
    model = ultralytics_model(family, "n", seed=9)
    export_weights(model, str(tmp_path / "model.safetensors"))
    checked = load(spec(family), params={"scale": "n", "nms": True})
    bound = bind(checked, read_weights(str(tmp_path / "model.safetensors")), "model.safetensors", strict=True)
    x = np.random.default_rng(10).random((2, 3, 256, 320), dtype=np.float32)
    head = [n.name for n in checked.graph.nodes if n.name.endswith(".output")][0]
    got = reference.run(checked, bound, {"images": x}, keep={head})
    expected = non_max_suppression(torch.from_numpy(got[head]), 0.25, 0.7, max_det=300)
    for b, detections in enumerate(expected):
        n = len(detections)
        assert 0 < n == got["num_dets"][b, 0]
        ours = np.concatenate([got["boxes"][b, :n], got["scores"][b, :n, None], got["classes"][b, :n, None]], 1)
        theirs = detections.numpy()
        # equal scores (sigmoids of random logits do collide in float32) may come in either order: ultralytics
        # sorts with torch.sort, netdsl in box order, TensorRT unspecified; compare both in one canonical order
        ours, theirs = (rows[np.lexsort((rows[:, 1], rows[:, 0], -rows[:, 4]))] for rows in (ours, theirs))
        # corners from (cx, cy, w, h): a few float32 steps (3e-5 at 256..512) between the two formulas
        np.testing.assert_allclose(ours[:, :4], theirs[:, :4], rtol=0, atol=1e-4)
        np.testing.assert_array_equal(ours[:, 4:], theirs[:, 4:])
        assert not got["boxes"][b, n:].any() and not got["scores"][b, n:].any() and (got["classes"][b, n:] == -1).all()


def test_nms_network_shapes_and_the_tensorrt_rtx_refusal(tmp_path):
    """The NMS variant lowers (TensorRT's shapes at every corner: padded outputs of fixed size), and
    `netdsl build` with TensorRT-RTX refuses it at the nms layer, naming the alternatives, writing nothing."""
    import subprocess

    from netdsl.trt.dims import check_corners

    checked, _, network, _ = lowered("yolov8", "float32", nms=True)
    check_corners(network, checked.types, checked.graph.profiles)
    outputs = {network.get_output(i).name: tuple(network.get_output(i).shape) for i in range(network.num_outputs)}
    assert outputs == {"num_dets": (-1, 1), "boxes": (-1, 300, 4), "scores": (-1, 300), "classes": (-1, 300)}
    result = subprocess.run([sys.executable, "-m", "netdsl", "build", spec("yolov8"), "--set", "nms=true",
                             "--random-weights", "-o", str(tmp_path / "yolov8n.plan")], capture_output=True,
                            text=True, cwd=ROOT, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2 and "error[needs-full-tensorrt]: nms layer `nms`" in result.stderr, result.stderr
    assert "without it (the raw boxes and scores" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


# -- INT8 / FP8 (issue 18): calibrated from pictures, built, Q/DQ read back ----------------------------

@pytest.mark.slow
def test_yolov8n_int8_and_fp8_calibrated_on_images_build_with_qdq_where_the_spec_says(tmp_path, capsys):
    from PIL import Image

    from netdsl.build import bind_weights, build_plan, options_for
    from netdsl.quant import quantizer_for
    from netdsl.quant.scales import read_scales

    sys.path.insert(0, str(ROOT / "tests" / "trt"))
    from test_quant_build import check_network

    model = ultralytics_model("yolov8", "n")
    weights = tmp_path / "yolov8n.safetensors"
    export_weights(model, str(weights))
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    rng = np.random.default_rng(3)
    for index, size in enumerate(((120, 160), (200, 150), (96, 96))):  # letterboxed to 128x128 by calibrate
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(pictures / f"{index}.png")
    scales = tmp_path / "yolov8n.scales"
    assert main(["calibrate", spec("yolov8"), "--set", "quantize=int8", "--weights", str(weights), "--data",
                 str(pictures), "--imgsz", "128", "--method", "max", "-o", str(scales)]) == 0
    assert "wrote" in capsys.readouterr().out
    calibrated = read_scales(str(scales)).activations
    for dtype in ("int8", "fp8"):
        checked = load(spec("yolov8"), params={"quantize": dtype, "scales": str(scales)})
        quantizer = quantizer_for(checked)
        where = quantizer.placement
        convolutions = [n.name for n in checked.graph.nodes if n.kind == "convolution"]
        excluded = {f"model.22.cv{b}.{i}.2" for b in (2, 3) for i in range(3)} | {"model.22.dfl.conv"}
        assert set(where.layers) >= set(convolutions) - excluded and not excluded & set(where.layers)
        assert set(where.tensors) <= set(calibrated)  # every quantized activation has a calibrated range
        bound = bind_weights(checked, str(weights))
        check_network(checked, bound, quantizer)  # Q/DQ on each input and weight, scales as calibrated
        plan = build_plan(checked, bound, options_for(checked), quantizer=quantizer)
        assert plan.quantization["dtype"] == dtype and plan.data.nbytes > 0
