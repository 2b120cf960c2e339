"""The reference nms against ultralytics' non_max_suppression (8.4.190, its pure-torch TorchNMS) at a
YOLOv8 detector's size (8400 boxes, 80 classes, batch 2), over random parameters, and at TensorRT's
limit of 5000 candidates. Coordinates and scores are drawn as tests/opcases/nms.py explains, so that the
comparison is exact."""

import importlib.util
import json
import time

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import check_text
from opcases.nms import random_detections, ultralytics_non_max_suppression, ultralytics_nms

torch = pytest.importorskip("torch")
if importlib.util.find_spec("ultralytics") is None:  # not importorskip: see ultralytics_non_max_suppression
    pytest.skip("ultralytics is not installed", allow_module_level=True)
OUTPUTS = ("nms.num_dets", "nms.boxes", "nms.scores", "nms.classes")


def run(boxes, scores, **params):
    spec = {"netdsl": 1, "inputs": [{"name": "boxes", "shape": list(boxes.shape)},
                                    {"name": "scores", "shape": list(scores.shape)}],
            "layers": [{"name": "nms", "kind": "nms", "inputs": ["boxes", "scores"], **params}]}
    checked, diagnostics = check_text(json.dumps(spec), "nms.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    outputs = reference.run(checked, {}, {"boxes": boxes, "scores": scores}, keep=set(OUTPUTS))
    return [outputs[name] for name in OUTPUTS]


def assert_same(ours, theirs):
    for name, mine, value in zip(OUTPUTS, ours, theirs):
        np.testing.assert_array_equal(mine, value.numpy(), err_msg=name)


def test_yolov8_sized_predictions_are_fast():
    boxes, scores = random_detections(2, 8400, 80, seed=5)
    start = time.perf_counter()
    num = run(boxes, scores, max_detections=300)[0]
    seconds = time.perf_counter() - start
    assert seconds < 2.0, f"{seconds:.2f} s for 2 x 8400 boxes x 80 classes"
    assert num.min() == 300  # more survivors than K in both images


@pytest.mark.slow  # ultralytics' TorchNMS takes 10 to 30 s over 2 x 5000 candidates here
def test_yolov8_sized_predictions():
    boxes, scores = random_detections(2, 8400, 80, seed=5)
    ours = run(boxes, scores, max_detections=300)
    assert_same(ours, ultralytics_nms(torch.from_numpy(boxes), torch.from_numpy(scores), max_detections=300))


@pytest.mark.parametrize("seed", range(12))
def test_random_parameters(seed):
    rng = np.random.default_rng(seed)
    params = {"box_format": str(rng.choice(["center", "corners"])),
              "score_threshold": float(rng.choice([0, 0.1, 0.5])),
              "iou_threshold": float(rng.choice([0.0, 0.3, 0.45, 0.7, 1.0])),
              "max_detections": int(rng.integers(1, 60)), "class_aware": bool(rng.integers(2))}
    boxes, scores = random_detections(int(rng.integers(1, 3)), int(rng.integers(1, 400)), int(rng.integers(1, 6)),
                                      seed, extent=int(rng.integers(20, 400)))
    if params["box_format"] == "corners":
        boxes[..., 2:] += boxes[..., :2]  # (x1, y1, x2, y2) with x2 > x1, y2 > y1
    ours = run(boxes, scores, **params)
    assert_same(ours, ultralytics_nms(torch.from_numpy(boxes), torch.from_numpy(scores), **params))


def test_at_most_5000_candidates_compete():
    """TensorRT's NMS layer considers the 5000 best candidates per image; so does the reference: here the
    5000 best are copies of one box, and the 1000 disjoint boxes below them do not compete. ultralytics
    with max_nms=5000 agrees; with its default (30000) they would be kept."""
    boxes = np.zeros((1, 6000, 4), np.float32)
    boxes[0, :5000] = (10, 10, 8, 8)
    boxes[0, 5000:, 0], boxes[0, 5000:, 1], boxes[0, 5000:, 2:] = np.arange(1000) * 10 + 100, 100, 4
    scores = np.linspace(0.9, 0.3, 6000, dtype=np.float32).reshape(1, 6000, 1)
    ours = run(boxes, scores, max_detections=100)
    assert ours[0][0, 0] == 1
    assert_same(ours, ultralytics_nms(torch.from_numpy(boxes), torch.from_numpy(scores), max_detections=100))
    prediction = torch.from_numpy(np.concatenate([boxes, scores], -1).transpose(0, 2, 1).copy())
    assert len(ultralytics_non_max_suppression()(prediction, 0.25, 0.45, max_det=100)[0]) == 100


def test_padding_rows():
    boxes, scores = random_detections(2, 50, 4, seed=9)
    scores[1] = 0  # nothing above the threshold in image 1
    num, kept_boxes, kept_scores, kept_classes = run(boxes, scores, max_detections=60)  # K > N
    assert num[1, 0] == 0 and 0 < num[0, 0] < 50
    for b in range(2):
        n = num[b, 0]
        assert (kept_boxes[b, n:] == 0).all() and (kept_scores[b, n:] == 0).all() and (kept_classes[b, n:] == -1).all()
        assert (kept_scores[b, :n] > 0.25).all() and (np.diff(kept_scores[b, :n]) <= 0).all()
