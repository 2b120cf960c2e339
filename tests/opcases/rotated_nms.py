"""rotated_nms cases, with ultralytics' own non_max_suppression(rotated=True) (8.4.190; its pure-torch
TorchNMS.fast_nms with batch_probiou) as the oracle, its outputs padded as netdsl's. Best scores are
distinct (TensorRT's top-k leaves the order of equal scores unspecified) and the probabilistic IoUs of
the random cases stay away from the thresholds by more than float32 rounding of cos, sin, exp and log."""

import numpy as np

from opcases import Case

DEFAULTS = {"score_threshold": 0.25, "iou_threshold": 0.7, "max_detections": 300, "max_candidates": 1000,
            "class_aware": True}


def ultralytics_rotated_nms(boxes, scores, **params):
    """(num_dets, boxes [B, K, 5], scores, classes) from ultralytics' non_max_suppression(rotated=True) on
    torch tensors boxes [B, N, 5] (cx, cy, w, h, angle) and scores [B, N, C]."""
    import torch

    from yolo_oracle import ultralytics_module

    non_max_suppression = ultralytics_module("ultralytics.utils.nms").non_max_suppression
    p = {**DEFAULTS, **params}
    prediction = torch.cat([boxes[..., :4], scores, boxes[..., 4:]], -1).transpose(1, 2)
    k = p["max_detections"]
    found = non_max_suppression(prediction, p["score_threshold"], p["iou_threshold"], agnostic=not p["class_aware"],
                                max_det=k, max_nms=p["max_candidates"], max_time_img=600.0, nc=scores.shape[2],
                                rotated=True)
    batch = len(found)
    num = torch.tensor([[len(f)] for f in found], dtype=torch.int32)
    kept_boxes, kept_scores = torch.zeros(batch, k, 5), torch.zeros(batch, k)
    kept_classes = torch.full((batch, k), -1, dtype=torch.int32)
    for b, rows in enumerate(found):  # rows: cx, cy, w, h, score, class, angle
        n = len(rows)
        kept_boxes[b, :n] = torch.cat([rows[:, :4], rows[:, 6:7]], 1)
        kept_scores[b, :n], kept_classes[b, :n] = rows[:, 4], rows[:, 5].int()
    return num, kept_boxes, kept_scores, kept_classes


def oracle(**params):
    return lambda boxes, scores: ultralytics_rotated_nms(boxes, scores, **params)


def rotated(*rows):
    """Boxes [1, N, 5] (cx, cy, w, h, angle)."""
    return np.array([rows], np.float32)


def scored(*rows):
    return np.array([rows], np.float32)


def random_rotated(batch: int, count: int, classes: int, seed: int, extent: int = 200):
    """Crowded rotated boxes with distinct best scores, most below 0.25."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0, extent, (batch, count, 2))
    sizes = rng.uniform(8, 60, (batch, count, 2))
    angles = rng.uniform(-np.pi / 4, 3 * np.pi / 4, (batch, count, 1))
    scores = (rng.permutation(batch * count * classes) / (batch * count * classes)) ** 2
    return (np.concatenate([centers, sizes, angles], -1).astype(np.float32),
            scores.reshape(batch, count, classes).astype(np.float32))


# the same box turned by 0.1 rad (probiou about 0.97) and one turned by 90 degrees (a 40x10 box becomes 10x40)
TURNED = rotated((50, 50, 40, 10, 0.0), (50, 50, 40, 10, 0.1), (50, 50, 40, 10, 1.5707964), (150, 50, 20, 20, 0.3))
SAME_CLASS = scored((0.9, 0.1), (0.8, 0.2), (0.7, 0.1), (0.6, 0.1))
OTHER_CLASS = scored((0.9, 0.1), (0.1, 0.8), (0.7, 0.1), (0.6, 0.1))
RANDOM_2 = random_rotated(2, 300, 4, seed=1)
RANDOM_1 = random_rotated(1, 400, 3, seed=2, extent=120)

def case(params, **fields):
    """A rotated_nms case; not exported to ONNX (netdsl's ONNX export has no rotated_nms yet)."""
    return Case("rotated_nms", params, onnx=False, **fields)


CASES = [
    case({}, inputs=[TURNED, SAME_CLASS], torch=oracle(), name="turned-same-class"),
    case({}, inputs=[TURNED, OTHER_CLASS], torch=oracle(), name="turned-other-class"),
    case({"class_aware": False}, inputs=[TURNED, OTHER_CLASS], torch=oracle(class_aware=False),
         name="turned-agnostic"),
    case({"max_detections": 2, "max_candidates": 8}, inputs=[TURNED, SAME_CLASS],
         torch=oracle(max_detections=2, max_candidates=8), name="k-below-kept-m-above-n"),
    case({"max_detections": 40, "max_candidates": 100}, inputs=list(RANDOM_2),
         torch=oracle(max_detections=40, max_candidates=100), name="random-batch2"),
    case({"max_detections": 50, "max_candidates": 60, "iou_threshold": 0.3, "score_threshold": 0.1,
                         "class_aware": False}, inputs=list(RANDOM_1),
         torch=oracle(max_detections=50, max_candidates=60, iou_threshold=0.3, score_threshold=0.1,
                      class_aware=False), name="random-crowded-agnostic-candidates-cut"),
    case({"max_detections": 5, "max_candidates": 5}, inputs=[TURNED, scored((0.2, 0.1), (0.25, 0.2),
                                                                                         (0.1, 0.0), (0.0, 0.0))],
         torch=oracle(max_detections=5, max_candidates=5), name="nothing-above-threshold"),
    # errors
    case({}, inputs=[(1, 8, 4), (1, 8, 3)], error="shape-mismatch", message="boxes (input 1) must be [B, N, 5]"),
    case({}, inputs=[(1, 8, 5), (1, 9, 3)], error="shape-mismatch", message="disagree on N: 8 and 9"),
    case({"max_candidates": 3841}, inputs=[(1, 8, 5), (1, 8, 3)], error="invalid-param",
         message="from 1 to 3840"),
    case({}, inputs=[(1, 8, 5), ((1, 8, 3), "float16")], error="wrong-dtype", message="one dtype"),
]
