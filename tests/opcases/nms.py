"""nms cases, with ultralytics' own non_max_suppression (8.4.190; YOLO_OFFLINE, and without torchvision,
so its pure-torch TorchNMS) as the oracle, its outputs padded as netdsl's. Box coordinates are multiples
of 1/2 with integer centers and sizes, so that ultralytics' xywh->xyxy conversion and its class offsets
(class * 7680 added to the corners) are exact in float32, and its IoU equals netdsl's bit for bit. Best
scores are distinct, or tied only where their order cannot change the result (TensorRT leaves the order
of equal scores unspecified)."""


import numpy as np

from opcases import Case



def ultralytics_non_max_suppression():
    """ultralytics' function, imported offline and without its side effect on the environment (see
    tests/yolo_oracle.py)."""
    from yolo_oracle import ultralytics_module

    return ultralytics_module("ultralytics.utils.nms").non_max_suppression


DEFAULTS = {"box_format": "center", "score_threshold": 0.25, "iou_threshold": 0.45, "max_detections": 100,
            "class_aware": True}


def ultralytics_nms(boxes, scores, *extras, **params):
    """(num_dets, boxes, scores, classes) as netdsl pads them, from ultralytics' non_max_suppression on
    torch tensors boxes [B, N, 4] and scores [B, N, C] (max_nms: TensorRT's 5000 candidates); with extras
    [B, N, E], ultralytics' extra columns (its mask coefficients, nc given), kept rows padded with 0."""
    import torch

    non_max_suppression = ultralytics_non_max_suppression()
    p = {**DEFAULTS, **params}
    if p["box_format"] == "corners":  # ultralytics takes centers: exact for these coordinates
        boxes = torch.cat([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], -1)
    prediction = torch.cat([boxes, scores, *extras], -1).transpose(1, 2)
    k = p["max_detections"]
    found = non_max_suppression(prediction, p["score_threshold"], p["iou_threshold"], agnostic=not p["class_aware"],
                                max_det=k, max_nms=5000, max_time_img=600.0,  # no time limit: all of it
                                nc=scores.shape[2])
    batch = len(found)
    num = torch.tensor([[len(f)] for f in found], dtype=torch.int32)
    kept_boxes, kept_scores = torch.zeros(batch, k, 4), torch.zeros(batch, k)
    kept_classes = torch.full((batch, k), -1, dtype=torch.int32)
    for b, rows in enumerate(found):
        kept_boxes[b, :len(rows)], kept_scores[b, :len(rows)] = rows[:, :4], rows[:, 4]
        kept_classes[b, :len(rows)] = rows[:, 5].int()
    if not extras:
        return num, kept_boxes, kept_scores, kept_classes
    kept_extras = torch.zeros(batch, k, extras[0].shape[2])
    for b, rows in enumerate(found):
        kept_extras[b, :len(rows)] = rows[:, 6:]
    return num, kept_boxes, kept_scores, kept_classes, kept_extras


def oracle(**params):
    return lambda *inputs: ultralytics_nms(*inputs, **params)


def centers(*rows):
    """Boxes [1, N, 4] (cx, cy, w, h)."""
    return np.array([rows], np.float32)


def scored(*rows):
    """Scores [1, N, C]."""
    return np.array([rows], np.float32)


def random_detections(batch: int, count: int, classes: int, seed: int, extent: int = 640, size=(2, 160)):
    """Boxes with integer centers and sizes and scores whose best per box are distinct, most of them
    below 0.25 (as a detector's are)."""
    rng = np.random.default_rng(seed)
    boxes = np.concatenate([rng.integers(0, extent, (batch, count, 2)), rng.integers(*size, (batch, count, 2))], -1)
    scores = (rng.permutation(batch * count * classes) / (batch * count * classes)) ** 3
    return boxes.astype(np.float32), scores.reshape(batch, count, classes).astype(np.float32)


# two boxes of IoU 0.6 (16x10 and 16x10 shifted by 4 on x: 12*10 / (160+160-120)), and one far away
OVERLAPPING = centers((50, 50, 16, 10), (54, 50, 16, 10), (300, 300, 20, 20))
SAME_CLASS = scored((0.9, 0.1), (0.8, 0.2), (0.3, 0.1))
OTHER_CLASS = scored((0.9, 0.1), (0.1, 0.8), (0.3, 0.1))
DISJOINT = centers(*((20 * i + 10, 10, 10, 10) for i in range(30)))  # 30 touching boxes, IoU 0
RANDOM_2 = random_detections(2, 300, 6, seed=1)
RANDOM_1 = random_detections(1, 500, 3, seed=2, extent=200, size=(10, 80))  # crowded: many suppressions

CASES = [
    Case("nms", {}, inputs=[OVERLAPPING, SAME_CLASS], torch=oracle(), name="overlap-same-class"),
    Case("nms", {}, inputs=[OVERLAPPING, OTHER_CLASS], torch=oracle(), name="overlap-other-class"),
    Case("nms", {"class_aware": False}, inputs=[OVERLAPPING, OTHER_CLASS], torch=oracle(class_aware=False),
         name="overlap-other-class-agnostic"),
    Case("nms", {"iou_threshold": 0.6}, inputs=[OVERLAPPING, SAME_CLASS], torch=oracle(iou_threshold=0.6),
         name="iou-at-threshold"),  # IoU 0.6 exactly in float32 is not above 0.6: both kept
    Case("nms", {"iou_threshold": 0.0, "max_detections": 3}, inputs=[OVERLAPPING, SAME_CLASS],
         torch=oracle(iou_threshold=0.0, max_detections=3), name="any-overlap-suppresses"),
    # the first of equal class scores is the class; equal best scores of disjoint boxes: both kept
    Case("nms", {"max_detections": 4}, inputs=[centers((10, 10, 4, 4), (30, 10, 4, 4), (50, 10, 4, 4)),
                                                scored((0.5, 0.7, 0.7), (0.6, 0.6, 0.2), (0.5, 0.7, 0.1))],
         torch=oracle(max_detections=4), name="ties"),
    Case("nms", {"max_detections": 5}, inputs=[OVERLAPPING, scored((0.25, 0.1), (0.2, 0.2), (0.1, 0.0))],
         torch=oracle(max_detections=5), name="nothing-above-threshold"),  # 0.25 is not above 0.25
    Case("nms", {"max_detections": 10}, inputs=[DISJOINT, np.linspace(0.3, 0.9, 60, dtype=np.float32)
                                                 .reshape(1, 30, 2)],
         torch=oracle(max_detections=10), name="more-than-k-survivors"),
    Case("nms", {"max_detections": 8}, inputs=[OVERLAPPING, SAME_CLASS], torch=oracle(max_detections=8),
         name="k-above-n"),  # K > N: padding only
    Case("nms", {"box_format": "corners"}, inputs=[np.array([[[0, 0, 16, 10], [4, 0, 20, 10], [40, 40, 60, 70]]],
                                                             np.float32), SAME_CLASS],
         torch=oracle(box_format="corners"), name="corners"),
    Case("nms", {"max_detections": 50}, inputs=list(RANDOM_2), torch=oracle(max_detections=50), name="random-batch2"),
    Case("nms", {"max_detections": 40, "class_aware": False, "score_threshold": 0.1, "iou_threshold": 0.3},
         inputs=list(RANDOM_1), torch=oracle(max_detections=40, class_aware=False, score_threshold=0.1,
                                             iou_threshold=0.3), name="random-crowded-agnostic"),
    Case("nms", {"max_detections": 1}, inputs=list(RANDOM_1), torch=oracle(max_detections=1), name="k-1"),
    # rows that travel with the boxes (YOLO's mask coefficients): the kept ones, padding 0
    Case("nms", {"max_detections": 50}, inputs=[*RANDOM_2, np.random.default_rng(3).normal(size=(2, 300, 5))
                                                .astype(np.float32)],
         torch=oracle(max_detections=50), name="extras-random-batch2"),
    Case("nms", {"max_detections": 8}, inputs=[OVERLAPPING, SAME_CLASS, np.arange(6, dtype=np.float32).reshape(1, 3, 2)],
         torch=oracle(max_detections=8), name="extras-k-above-n"),
    # errors
    Case("nms", {}, inputs=[(1, 8, 4), (1, 8, 3), (1, 7, 2)], error="shape-mismatch", message="disagree on N: 8 and 7"),
    Case("nms", {}, inputs=[(1, 8, 4), (1, 8, 3), (1, 8)], error="shape-mismatch", message="extras (input 3) must be"),
    Case("nms", {}, inputs=[(1, 8, 5), (1, 8, 3)], error="shape-mismatch", message="boxes (input 1) must be [B, N, 4]"),
    Case("nms", {}, inputs=[(1, 8, 4), (8, 3)], error="shape-mismatch", message="scores (input 2) must be [B, N, C]"),
    Case("nms", {}, inputs=[(1, 8, 4), (1, 9, 3)], error="shape-mismatch", message="disagree on N: 8 and 9"),
    Case("nms", {}, inputs=[(2, 8, 4), (1, 8, 3)], error="shape-mismatch", message="disagree on B"),
    Case("nms", {"max_detections": 3841}, inputs=[(1, 8, 4), (1, 8, 3)], error="invalid-param",
         message="from 1 to 3840"),
    Case("nms", {"max_detections": 0}, inputs=[(1, 8, 4), (1, 8, 3)], error="invalid-param"),
    Case("nms", {"score_threshold": 1.5}, inputs=[(1, 8, 4), (1, 8, 3)], error="invalid-param",
         message=">= 0 and <= 1"),
    Case("nms", {"iou_threshold": -0.1}, inputs=[(1, 8, 4), (1, 8, 3)], error="invalid-param"),
    Case("nms", {"box_format": "xywh"}, inputs=[(1, 8, 4), (1, 8, 3)], error="invalid-param", message="center"),
    Case("nms", {}, inputs=[((1, 8, 4), "int32"), (1, 8, 3)], error="wrong-dtype"),
    Case("nms", {}, inputs=[(1, 8, 4), ((1, 8, 3), "float16")], error="wrong-dtype", message="one dtype"),
    Case("nms", {}, inputs=[(1, 8, 4)], error="input-count"),
]
