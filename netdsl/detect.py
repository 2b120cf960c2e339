"""`netdsl detect`: a detector spec run by the reference executor on picture files, for a quick look
without a GPU (does the spec, with these weights, find what is in the picture?).

Each image is letterboxed to the input's size as ultralytics' predictor does (netdsl.images), run, and
its detections are mapped back to the picture's pixels. A spec whose outputs come from an `nms` layer
gives its detections as they are (the engine's own thresholds); a spec with ultralytics' raw output
(`output0` [B, 4 + classes, anchors], boxes as cx, cy, w, h) goes through the same NMS as the `nms`
kind, with the thresholds given here.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from .diagnostics import UsageError

COCO = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
        "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
        "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
        "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
        "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
        "scissors", "teddy bear", "hair drier", "toothbrush")  # the 80 COCO classes, in ultralytics' order
NMS_OUTPUTS = ("num_dets", "boxes", "scores", "classes")


class Detection(NamedTuple):
    klass: int
    name: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the picture's pixels


class Thresholds(NamedTuple):
    score: float = 0.25
    iou: float = 0.45
    max_detections: int = 300


def read_names(path: str | None, classes: int) -> tuple[str, ...]:
    """Class names: one per line of ``path``, else COCO's for 80 classes, else the numbers."""
    if path is None:
        return COCO if classes == 80 else tuple(str(i) for i in range(classes))
    try:
        with open(path, encoding="utf-8") as stream:
            names = tuple(line.strip() for line in stream.read(1 << 20).splitlines() if line.strip())
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--names {path}: {error}") from None
    if len(names) < classes:
        raise UsageError(f"--names {path} has {len(names)} names, the network {classes} classes")
    return names


def nms_outputs(graph) -> dict[str, str] | None:
    """output role (num_dets, boxes, scores, classes) -> graph output name, when an `nms` layer gives them."""
    layers = {node.name for node in graph.nodes if node.kind == "nms"}
    found = {}
    for output in graph.outputs:
        layer, _, role = output.source.rpartition(".")
        if layer in layers and role in NMS_OUTPUTS:
            found[role] = output.name
    return found if len(found) == len(NMS_OUTPUTS) else None


def detect(checked, bound, paths: list[str], thresholds: Thresholds = Thresholds(), imgsz=None,
           names_path: str | None = None) -> list[tuple[str, list[Detection]]]:
    """(path, detections) for each picture in ``paths``."""
    from . import images, reference

    graph = checked.graph
    if len(graph.inputs) != 1:
        raise UsageError(f"netdsl detect runs specs with one image input; {checked.path} has {len(graph.inputs)}")
    target = images.image_input(graph.inputs[0], graph.profiles, imgsz)
    roles = nms_outputs(graph)
    if roles is None and len(graph.outputs) != 1:
        raise UsageError(f"{checked.path} has neither an `nms` layer's outputs (num_dets, boxes, scores, classes) nor "
                         "one output [B, 4 + classes, anchors] (ultralytics' output0)")
    names = read_names(names_path, class_count(checked, roles))
    results = []
    for path in paths:
        picture = images.load(path, target.channels)
        box = images.letterbox_box(picture.shape, (target.height, target.width))
        sample = images.to_input(images.letterbox(picture, (target.height, target.width)), target)
        outputs = reference.run(checked, bound, {target.name: sample[None]})
        if roles is not None:
            count, boxes, scores, classes = (outputs[roles[r]] for r in NMS_OUTPUTS)
        else:
            count, boxes, scores, classes = raw_nms(outputs[graph.outputs[0].name], thresholds)
        n = int(count[0, 0])
        found = []
        for k in range(n):
            klass = int(classes[0, k])
            name = names[klass] if 0 <= klass < len(names) else str(klass)
            found.append(Detection(klass, name, float(scores[0, k]), unletterbox(boxes[0, k], box, picture.shape)))
        results.append((path, found))
    return results


def class_count(checked, roles) -> int:
    """How many classes the detector scores: the `nms` layer's score columns, or output0's rows past 4."""
    graph = checked.graph
    if roles is not None:
        layer = graph.outputs[0].source.rpartition(".")[0]
        scores = graph.node(layer).inputs[1]
        size = checked.types[scores].shape[-1]
    else:
        shape = checked.types[graph.outputs[0].source].shape
        size = shape[1] - 4 if len(shape) == 3 and isinstance(shape[1], int) else None
    if not isinstance(size, int) or size < 1:
        raise UsageError(f"{checked.path}: its output has no class scores where ultralytics' layout puts them "
                         "([B, 4 + classes, anchors])")
    return size


def raw_nms(output, thresholds: Thresholds):
    """ultralytics' output0 [1, 4 + C, A] through the `nms` kind's own NMS."""
    import numpy as np

    from .ops import REGISTRY

    if output.ndim != 3 or output.shape[1] < 5:
        raise UsageError(f"the output has shape {list(output.shape)}; netdsl detect needs ultralytics' layout "
                         "[B, 4 + classes, anchors] (or an `nms` layer)")
    predictions = np.ascontiguousarray(output.transpose(0, 2, 1), dtype=np.float32)  # [B, A, 4 + C]
    params = {"box_format": "center", "score_threshold": thresholds.score, "iou_threshold": thresholds.iou,
              "max_detections": thresholds.max_detections, "class_aware": True}
    return REGISTRY["nms"].compute(params, None, predictions[..., :4], predictions[..., 4:])


def unletterbox(xyxy, box, shape) -> tuple[float, float, float, float]:
    """A box in the network's input pixels as a box in the picture's pixels (ultralytics' scale_boxes)."""
    height, width = shape[:2]
    x1, x2 = ((float(v) - box.left) / box.scale for v in (xyxy[0], xyxy[2]))
    y1, y2 = ((float(v) - box.top) / box.scale for v in (xyxy[1], xyxy[3]))
    return (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width),
            min(max(y2, 0.0), height))


def draw(path: str, detections: list[Detection], output: str) -> None:
    """The picture with its detections drawn on it (Pillow's ImageDraw), written atomically."""
    import io

    from .files import write_atomic
    from .images import _pillow, load

    Image = _pillow()[0]
    from PIL import ImageDraw

    picture = Image.fromarray(load(path, 3)[..., ::-1].copy())  # read as for detection (checked, EXIF applied)
    pen = ImageDraw.Draw(picture)
    for detection in detections:
        color = PALETTE[detection.klass % len(PALETTE)]
        pen.rectangle(detection.box, outline=color, width=max(2, round(min(picture.size) / 300)))
        label = f"{detection.name} {detection.score:.2f}"
        left, top = detection.box[0], max(detection.box[1] - 12, 0)
        pen.rectangle(pen.textbbox((left, top), label), fill=color)
        pen.text((left, top), label, fill=(255, 255, 255))
    data = io.BytesIO()
    picture.save(data, format=image_format(output))
    write_atomic(output, data.getvalue())


def image_format(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
    if suffix not in formats:
        raise UsageError(f"--draw {path}: write .png, .jpg or .bmp")
    return formats[suffix]


PALETTE = ((255, 56, 56), (255, 157, 151), (255, 112, 31), (255, 178, 29), (207, 210, 49), (72, 249, 10),
           (146, 204, 23), (61, 219, 134), (26, 147, 52), (0, 212, 187), (44, 153, 168), (0, 194, 255),
           (52, 69, 147), (100, 115, 255), (0, 24, 236), (132, 56, 255), (82, 0, 133), (203, 56, 255),
           (255, 149, 200), (255, 55, 199))
