"""`netdsl detect SPEC --set task=...` end to end against ultralytics 8.4.190's predictors: the same random
weights (tests/test_detect_tasks.py's planted models, exported to safetensors) in netdsl's YOLOv8 and
YOLO11 specs and in ultralytics' models built from the YAMLs it ships; each picture read, letterboxed (or
resized and cropped, to classify), run and post-processed by each side; the same classes in the same
order, scores within 2e-5, boxes and keypoints within 0.5 px, masks with IoU >= 0.99, the same top five.

They run the task heads of specs/zoo/yolov8.yaml and yolo11.yaml (the parameters `task` and `kpt_shape`,
outputs `output0`/`output1` as ultralytics exports them)."""

import json
import pathlib

import numpy as np
import pytest

from netdsl.cli import main
from test_detect_tasks import (ops, picture_file, planted, predicted, randomized, tasks, threshold_in_a_gap,
                               torchvision_transforms)

torch = pytest.importorskip("torch")
ROOT = pathlib.Path(__file__).resolve().parents[1]
KLASS = 3
FAMILIES = {"yolov8": "yolov8n", "yolo11": "yolo11n"}
KINDS = {"segment": (tasks.SegmentationModel, "-seg"), "pose": (tasks.PoseModel, "-pose"),
         "obb": (tasks.OBBModel, "-obb"), "classify": (tasks.ClassificationModel, "-cls")}
CASES = [pytest.param(family, task, marks=() if (family, task) in {("yolov8", "segment")} else pytest.mark.slow)
         for family in FAMILIES for task in KINDS]


def spec_path(family: str) -> pathlib.Path:
    return ROOT / "specs" / "zoo" / f"{family}.yaml"


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """(family, task) -> (the ultralytics model, its weights as a safetensors file), built once."""
    from netdsl.weights.from_torch import export_weights

    made = {}

    def get(family, task):
        if (family, task) not in made:
            kind, suffix = KINDS[task]
            model = kind(f"{FAMILIES[family]}{suffix}.yaml", verbose=False)
            model = randomized(model, 3) if task == "classify" else planted(model, 0 if task == "pose" else KLASS)
            path = tmp_path_factory.mktemp("weights") / f"{family}-{task}.safetensors"
            export_weights(model, str(path))
            made[family, task] = model, path
        return made[family, task]

    return get


def netdsl_detect(family, task, path, weights, capsys, *options):
    argv = ["detect", str(spec_path(family)), str(path), "--weights", str(weights), "--format", "json", "--set",
            f"task={task}", *options]  # the spec's classes follow the task as ultralytics' YAMLs do
    assert main(argv) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["task"] == task
    return result


def decoded(rle):
    height, width = rle["size"]
    values = np.arange(len(rle["counts"])) % 2 == 1
    return np.repeat(values, rle["counts"]).reshape(width, height).T


@pytest.mark.parametrize("family,task", CASES)
def test_detect_equals_the_predictor(family, task, weights, tmp_path, monkeypatch, capsys):
    spec_path(family)
    model, weights_file = weights(family, task)
    path = picture_file(tmp_path, "odd-landscape")
    if task == "classify":
        with torchvision_transforms():
            result, _, _ = predicted(task, model, monkeypatch, path, imgsz=224)
        ours = netdsl_detect(family, task, path, weights_file, capsys)
        assert [r["class"] for r in ours["top5"]] == result.probs.top5
        assert np.allclose([r["score"] for r in ours["top5"]], result.probs.top5conf.numpy(), atol=2e-5)
        return
    first, _, _ = predicted(task, model, monkeypatch, path, conf=0.01)
    data = (first.obb if task == "obb" else first.boxes).data.numpy()
    conf = threshold_in_a_gap(data[:, -2] if task == "obb" else data[:, 4])
    result, _, _ = predicted(task, model, monkeypatch, path, conf=conf)
    detections = netdsl_detect(family, task, path, weights_file, capsys, "--imgsz", "160", "--conf",
                               str(conf))["detections"]
    theirs = (result.obb if task == "obb" else result.boxes).data.numpy().astype(np.float64)
    assert len(detections) == len(theirs) >= 3
    assert [d["class"] for d in detections] == [int(c) for c in theirs[:, -1]]
    assert np.allclose([d["score"] for d in detections], theirs[:, -2], atol=2e-5)
    if task == "obb":
        ours = np.array([d["xywhr"] for d in detections])
        assert np.abs(ours[:, :4] - theirs[:, :4]).max() <= 0.5
        assert np.abs(np.array([d["corners"] for d in detections]) - result.obb.xyxyxyxy.numpy()).max() <= 0.5
        return
    assert np.abs(np.array([d["box"] for d in detections]) - theirs[:, :4]).max() <= 0.5
    if task == "pose":
        ours, points = np.array([d["keypoints"] for d in detections]), result.keypoints.data.numpy()
        assert np.abs(ours[..., :2] - points[..., :2]).max() <= 0.5
        assert np.abs(ours[..., 2] - points[..., 2]).max() <= 2e-5
        return
    masks = (ops.scale_masks(result.masks.data[None].float(), result.orig_shape)[0] > 0.5).numpy()
    for detection, mask in zip(detections, masks):
        ours = decoded(detection["mask"])
        assert (ours & mask).sum() / (ours | mask).sum() >= 0.99


@pytest.mark.slow
@pytest.mark.parametrize("task", ["segment", "pose", "obb", "classify"])
def test_frames_give_the_same_results(task, weights, tmp_path, capsys):
    """`--set frames=true` (uint8 BGR NHWC, converted in the engine) reads the same pixels: the same results,
    but for the engine's conversion rounding apart from the host's (x / 255 there, a float32 ulp), at a
    score threshold in a wide gap of the scores; detections matched by their boxes (near-equal scores may
    swap places)."""
    spec_path("yolov8")
    _, weights_file = weights("yolov8", task)
    path = picture_file(tmp_path, "portrait")
    if task == "classify":
        floats, frames = (netdsl_detect("yolov8", task, path, weights_file, capsys, *more)
                          for more in ([], ["--set", "frames=true"]))
        assert [r["class"] for r in frames["top5"]] == [r["class"] for r in floats["top5"]]
        return
    options = ["--imgsz", "256"]  # 256x160: inside the spec's profile
    every = netdsl_detect("yolov8", task, path, weights_file, capsys, *options, "--conf", "0.01")["detections"]
    options += ["--conf", str(threshold_in_a_gap([d["score"] for d in every]))]
    floats, frames = (netdsl_detect("yolov8", task, path, weights_file, capsys, *options, *more)["detections"]
                      for more in ([], ["--set", "frames=true"]))
    assert len(frames) == len(floats) >= 3
    key = "xywhr" if task == "obb" else "box"
    for a in frames:
        b = min(floats, key=lambda d: np.abs(np.array(d[key]) - a[key]).max())
        assert a["class"] == b["class"] and abs(a["score"] - b["score"]) <= 2e-5
        for field in ("box", "xywhr", "corners", "keypoints"):
            assert np.abs(np.array(a.get(field, 0)) - np.array(b.get(field, 0))).max() <= 0.02, field
        if "mask" in a:
            ours, theirs = decoded(a["mask"]), decoded(b["mask"])
            assert (ours & theirs).sum() / (ours | theirs).sum() >= 0.99


@pytest.mark.slow
def test_pose_of_five_keypoints_without_visibility(tmp_path, monkeypatch, capsys):
    """`--set kpt_shape=[5,2]` against PoseModel(data_kpt_shape=(5, 2)): keypoints x, y only."""
    from netdsl.weights.from_torch import export_weights

    spec_path("yolov8")
    model = planted(tasks.PoseModel("yolov8n-pose.yaml", data_kpt_shape=(5, 2), verbose=False), 0)
    weights_file = tmp_path / "pose52.safetensors"
    export_weights(model, str(weights_file))
    path = picture_file(tmp_path, "odd-landscape")
    first, _, _ = predicted("pose", model, monkeypatch, path, conf=0.01)
    conf = threshold_in_a_gap(first.boxes.data.numpy()[:, 4])
    result, _, _ = predicted("pose", model, monkeypatch, path, conf=conf)
    detections = netdsl_detect("yolov8", "pose", path, weights_file, capsys, "--set", "kpt_shape=[5,2]", "--imgsz",
                               "160", "--conf", str(conf))["detections"]
    theirs = result.keypoints.data.numpy()
    assert theirs.shape[1:] == (5, 2) and len(detections) == len(theirs) >= 3
    assert np.abs(np.array([d["keypoints"] for d in detections]) - theirs).max() <= 0.5
