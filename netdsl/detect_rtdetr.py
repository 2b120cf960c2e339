"""`netdsl detect` for RT-DETR, post-processed as ultralytics 8.4.190's ``RTDETRPredictor`` does it.

A spec says it is RT-DETR with its parameter ``head: rtdetr`` (the zoo's rtdetr-l.yaml and rtdetr-x.yaml
have it; add it to a spec ``netdsl import`` wrote from ultralytics' export). The shape of its output,
[B, N, 6], does not say it alone: ultralytics' end-to-end YOLO exports give the same shape with corner
boxes in pixels. Each picture is stretched to the input's size (the predictor's ``LetterBox(auto=False,
scale_fill=True)``: OpenCV's bilinear resize, no padding, the aspect ratio not kept), the spec is run,
and each row of ``output0`` (cx, cy, w, h as fractions of the input, score, class) whose score is above
``conf`` is kept, the first ``max_det`` of them, its corners scaled by the picture's width and height
(not clipped, as the predictor does not clip them).
"""

from __future__ import annotations

from .detect import IMGSZ, Detection, Thresholds, read_names
from .diagnostics import UsageError

HEAD = "rtdetr"
ROW = 6  # cx, cy, w, h, score, class


def is_rtdetr(graph) -> bool:
    """Whether the spec's parameter `head` is rtdetr."""
    return graph.params.get("head") == HEAD


def looks_like_rtdetr(checked) -> bool:
    """One output [B, N, 6] (N not 6): RT-DETR's layout, or an end-to-end YOLO's, which raw NMS would
    read as 2 + N classes over 6 anchors."""
    graph = checked.graph
    if len(graph.outputs) != 1:
        return False
    shape = checked.types[graph.outputs[0].source].shape
    return len(shape) == 3 and shape[2] == ROW and shape[1] != ROW


def rows_to_detections(output0, picture_size, thresholds: Thresholds = Thresholds()):
    """One picture's rows [N, 6] as the predictor keeps them: (class, score, x1, y1, x2, y2 in the
    picture's pixels) as float32 arrays, computed in float32 as PyTorch computes them."""
    import numpy as np

    rows = np.asarray(output0, np.float32).reshape(-1, ROW)
    xy, half = rows[:, :2], rows[:, 2:4] / np.float32(2)
    corners = np.concatenate([xy - half, xy + half], axis=1)  # ultralytics' xywh2xyxy
    kept = rows[:, 4] > np.float32(thresholds.score)
    corners, rows = corners[kept][:thresholds.max_detections], rows[kept][:thresholds.max_detections]
    height, width = picture_size[:2]
    corners *= np.array([width, height, width, height], np.float32)
    return rows[:, 5], rows[:, 4], corners


def detect(checked, bound, paths: list[str], thresholds: Thresholds = Thresholds(), imgsz=None,
           names_path: str | None = None) -> list[tuple[str, list[Detection]]]:
    """(path, detections) for each picture in ``paths``; ``imgsz`` (height, width) where the input's size
    is free (default 640)."""
    from . import images, reference

    graph = checked.graph
    if len(graph.inputs) != 1:
        raise UsageError(f"netdsl detect runs specs with one image input; {checked.path} has {len(graph.inputs)}")
    if not looks_like_rtdetr(checked):
        shapes = ", ".join(f"{o.name} {list(checked.types[o.source].shape)}" for o in graph.outputs)
        raise UsageError(f"{checked.path} (head rtdetr) has outputs {shapes}; RT-DETR gives one, [B, N, 6] "
                         "(cx, cy, w, h as fractions of the input, score, class)")
    graph_input = graph.inputs[0]
    dims = images.image_layout(graph_input)[2]
    wanted = imgsz or tuple(None if isinstance(d, int) else IMGSZ for d in dims)
    target = images.image_input(graph_input, graph.profiles, wanted)
    names = read_names(names_path, class_count(checked))
    results = []
    for path in paths:
        picture = images.load(path, target.channels)
        sample = images.to_input(images.stretch(picture, (target.height, target.width)), target)
        output0 = reference.run(checked, bound, {target.name: sample[None]})[graph.outputs[0].name][0]
        classes, scores, boxes = rows_to_detections(output0, picture.shape, thresholds)
        found = []
        for klass, score, box in zip(classes.astype(int).tolist(), scores.tolist(), boxes.tolist()):
            found.append(Detection(klass, names[klass] if 0 <= klass < len(names) else str(klass), score,
                                   tuple(box)))
        results.append((path, found))
    return results


def class_count(checked) -> int:
    """The spec's `classes` parameter (RT-DETR's output holds class indices, not a score per class), else
    80, COCO's."""
    classes = checked.graph.params.get("classes", 80)
    return classes if isinstance(classes, int) and classes > 0 else 80
