"""NMS in the engine for segment and pose (`--set task=segment|pose --set nms=true`) against ultralytics
8.4.190's own post-processing on the same raw outputs: the reference run keeps the head's output0 (and
segment's prototypes), ultralytics' non_max_suppression (its pure-PyTorch NMS, nc given so that the
task's columns travel with the boxes) and process_mask (upsample=False: masks at the prototypes'
resolution, cropped to the boxes scaled to it) turn them into detections, and the spec's padded outputs
must equal them: the same boxes, scores and classes, keypoints exactly (the same rows, gathered), masks
(the engine's sigmoid above 0.5) with IoU >= 0.99 against ultralytics' binary masks (einsum and torch's
matmul sum the 32 products in other orders, so a pixel whose logit is within rounding of 0 may differ).
Random weights (ultralytics' models from its YAMLs, randomised batch-norm statistics) make many anchors
candidates at the default thresholds."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import reference
from netdsl.weights import read_weights
from netdsl.weights.bind import bind
from netdsl.weights.from_torch import export_weights
from yolo_oracle import ultralytics_module

torch = pytest.importorskip("torch")
if importlib.util.find_spec("ultralytics") is None:  # not importorskip: see tests/yolo_oracle.py
    pytest.skip("ultralytics is not installed", allow_module_level=True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_yolo_tasks import checked_spec, spec, ultralytics_model  # noqa: E402

HEADS = {"yolov8": "model.22", "yolo11": "model.23"}


def raw_and_nms(tmp_path, family: str, task: str, x: np.ndarray):
    """The reference run of the spec with nms=true, keeping the head's output0 (and the prototypes)."""
    model = ultralytics_model(family, task, "n", seed=5)
    export_weights(model, str(tmp_path / "model.safetensors"))
    checked = checked_spec(family, task, "n", nms=True)
    bound = bind(checked, read_weights(str(tmp_path / "model.safetensors")), "model.safetensors", strict=True)
    head = HEADS[family]
    keep = {f"{head}.output"} | ({f"{head}.proto.cv3.act"} if task == "segment" else set())
    return reference.run(checked, bound, {"images": x}, keep=keep), head, model.model[-1].nc


def canonical(rows: np.ndarray) -> np.ndarray:
    """An order of detections that equal scores cannot change: score down, then class, then x1."""
    return np.lexsort((rows[:, 0], rows[:, 5], -rows[:, 4]))


def ultralytics_detections(got, head, classes):
    non_max_suppression = ultralytics_module("ultralytics.utils.nms").non_max_suppression
    return non_max_suppression(torch.from_numpy(got[f"{head}.output"]), 0.25, 0.7, max_det=300, nc=classes)


def compare_boxes(got, b, detections):
    """The common part, boxes, scores and classes; the two orders that make the rows comparable."""
    n = len(detections)
    assert 0 < n == got["num_dets"][b, 0]
    ours = np.concatenate([got["boxes"][b, :n], got["scores"][b, :n, None], got["classes"][b, :n, None]], 1)
    theirs = detections[:, :6].numpy()
    ours_order, theirs_order = canonical(ours), canonical(theirs)
    # corners from (cx, cy, w, h): a few float32 steps between the two formulas (as tests/zoo/test_yolo.py)
    np.testing.assert_allclose(ours[ours_order, :4], theirs[theirs_order, :4], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(ours[ours_order, 4:], theirs[theirs_order, 4:])
    assert not got["boxes"][b, n:].any() and not got["scores"][b, n:].any() and (got["classes"][b, n:] == -1).all()
    return ours_order, theirs_order


@pytest.mark.slow
@pytest.mark.parametrize("family", ["yolov8", "yolo11"])
def test_segment_masks_equal_process_mask(tmp_path, family):
    process_mask = ultralytics_module("ultralytics.utils.ops").process_mask
    x = np.random.default_rng(11).random((2, 3, 160, 224), dtype=np.float32)
    got, head, classes = raw_and_nms(tmp_path, family, "segment", x)
    assert "output1" not in got and got["masks"].shape == (2, 300, 40, 56)
    for b, detections in enumerate(ultralytics_detections(got, head, classes)):
        ours_order, theirs_order = compare_boxes(got, b, detections)
        n = len(detections)
        theirs = process_mask(torch.from_numpy(got[f"{head}.proto.cv3.act"][b]), detections[:, 6:], detections[:, :4],
                              (160, 224), upsample=False).numpy().astype(bool)[theirs_order]
        ours = got["masks"][b, :n][ours_order] > 0.5
        assert 0 < theirs.sum() < theirs.size  # masks cover part of their boxes, not all or nothing
        union = (ours | theirs).sum((1, 2))
        iou = np.where(union > 0, (ours & theirs).sum((1, 2)) / np.maximum(union, 1), 1.0)
        assert iou.min() >= 0.99, iou.min()
        assert not got["masks"][b, n:].any()  # padding rows are 0
        assert (got["masks"][b, :n] >= 0).all() and (got["masks"][b, :n] <= 1).all()


@pytest.mark.slow
@pytest.mark.parametrize("family", ["yolov8", "yolo11"])
def test_pose_keypoints_equal_the_kept_rows(tmp_path, family):
    x = np.random.default_rng(12).random((2, 3, 192, 160), dtype=np.float32)
    got, head, classes = raw_and_nms(tmp_path, family, "pose", x)
    assert got["keypoints"].shape == (2, 300, 17, 3)
    for b, detections in enumerate(ultralytics_detections(got, head, classes)):
        ours_order, theirs_order = compare_boxes(got, b, detections)
        n = len(detections)
        theirs = detections[:, 6:].view(n, 17, 3).numpy()[theirs_order]
        np.testing.assert_array_equal(got["keypoints"][b, :n][ours_order], theirs)
        assert not got["keypoints"][b, n:].any()


@pytest.mark.parametrize("task", ["segment", "pose"])
def test_tensorrt_rtx_refuses_segment_and_pose_nms_at_the_layer(tmp_path, task):
    """The NMS layer: TensorRT-RTX has no runners for it, so `netdsl build` refuses, exit 2, nothing written."""
    pytest.importorskip("tensorrt_rtx")
    plan = tmp_path / "model.plan"
    result = subprocess.run([sys.executable, "-m", "netdsl", "build", spec("yolov8"), "--set", f"task={task}",
                             "--set", "nms=true", "--random-weights", "-o", str(plan)],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 2 and "error[needs-full-tensorrt]: nms layer `nms`" in result.stderr, result.stderr
    assert not plan.exists() and "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("task", ["segment", "pose", "obb"])
def test_lowered_shapes_and_the_evaluator_agree_with_the_reference(tmp_path, task):
    """The lowered network (TensorRT-RTX constructs it; only building needs full TensorRT): TensorRT's
    shapes equal netdsl's at every profile corner, and netdsl's TensorRT-semantics evaluator of it gives
    the reference's detections, masks and keypoints (float32: the same kept rows; values within 1e-3 of
    their scale, other summation orders in the convolutions)."""
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import network_for
    from netdsl.spec.buildopts import BuildOptions
    from netdsl.trt.dims import check_corners
    from netdsl.trt.evaluate import Evaluator

    model = ultralytics_model("yolov8", task, "n", seed=5)
    export_weights(model, str(tmp_path / "model.safetensors"))
    checked = checked_spec("yolov8", task, "n", nms=True)
    bound = bind(checked, read_weights(str(tmp_path / "model.safetensors")), "model.safetensors", strict=True)
    _, network, ctx = network_for(checked, bound, BuildOptions(precision="float32"))
    check_corners(network, checked.types, checked.graph.profiles)
    extra = {"segment": ("masks", (1, 300, 32, 40)), "pose": ("keypoints", (1, 300, 17, 3)),
             "obb": ("boxes", (1, 300, 5))}[task]
    outputs = {network.get_output(i).name: tuple(network.get_output(i).shape) for i in range(network.num_outputs)}
    assert outputs == {"num_dets": (-1, 1), "boxes": (-1, 300, 4), "scores": (-1, 300), "classes": (-1, 300),
                       **{"segment": {"masks": (-1, 300, -1, -1)}, "pose": {"keypoints": (-1, 300, 17, 3)},
                          "obb": {"boxes": (-1, 300, 5)}}[task]}
    x = np.random.default_rng(13).random((1, 3, 128, 160), dtype=np.float32)
    expected = reference.run(checked, bound, {"images": x})
    got = Evaluator(network, ctx).run({"images": x})
    n = int(expected["num_dets"][0, 0])
    assert n > 0 and got["num_dets"][0, 0] == n and got[extra[0]].shape == extra[1]
    np.testing.assert_array_equal(got["classes"], expected["classes"])
    for name in ("boxes", "scores", extra[0]):
        scale = max(float(np.abs(expected[name]).max()), 1.0)
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-3 * scale, err_msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["yolov8", "yolo11"])
def test_obb_rotated_nms_equals_ultralytics(tmp_path, family):
    """obb with nms=true: the rotated_nms kind against ultralytics' non_max_suppression(rotated=True) on the
    same output0 (max_nms 1000, the kind's candidates): the same rotated boxes, scores and classes."""
    non_max_suppression = ultralytics_module("ultralytics.utils.nms").non_max_suppression
    x = np.random.default_rng(14).random((2, 3, 160, 192), dtype=np.float32)
    got, head, classes = raw_and_nms(tmp_path, family, "obb", x)
    assert got["boxes"].shape == (2, 300, 5)
    found = non_max_suppression(torch.from_numpy(got[f"{head}.output"]), 0.25, 0.7, max_det=300, nc=classes,
                                max_nms=1000, rotated=True)
    for b, detections in enumerate(found):
        n = len(detections)
        assert 0 < n == got["num_dets"][b, 0]
        ours = np.concatenate([got["boxes"][b, :n, :4], got["scores"][b, :n, None], got["classes"][b, :n, None],
                               got["boxes"][b, :n, 4:]], 1)
        theirs = detections.numpy()  # cx, cy, w, h, score, class, angle: the same rows, not computed anew
        np.testing.assert_array_equal(ours[canonical(ours)], theirs[canonical(theirs)])
        assert not got["boxes"][b, n:].any() and (got["classes"][b, n:] == -1).all()


@pytest.mark.slow
def test_tensorrt_rtx_builds_obb_with_rotated_nms(tmp_path):
    """No NMS layer: TensorRT-RTX builds yolov8n-obb with nms=true; TensorRT's output shapes are netdsl's."""
    pytest.importorskip("tensorrt_rtx")
    plan = tmp_path / "yolov8n-obb.plan"
    result = subprocess.run([sys.executable, "-m", "netdsl", "build", spec("yolov8"), "--set", "task=obb",
                             "--set", "nms=true", "--random-weights", "-o", str(plan)],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    assert plan.stat().st_size > 0


@pytest.mark.parametrize("task", ["segment", "obb"])
def test_netdsl_detect_refuses_nms_in_the_engine_with_the_way_out(tmp_path, capsys, task):
    """netdsl detect post-processes the raw outputs: a task spec with NMS in the engine is refused, naming
    --set nms=false (exit 2, before any weights or pictures are read)."""
    from netdsl.cli import main

    assert main(["detect", spec("yolov8"), "--set", f"task={task}", "--set", "nms=true",
                 str(tmp_path / "missing.png"), "--random-weights"]) == 2
    err = capsys.readouterr().err
    kind = "rotated_nms" if task == "obb" else "nms"
    assert f"ends in an NMS layer (`nms`, kind {kind})" in err and "--set nms=false" in err
    assert "Traceback" not in err
