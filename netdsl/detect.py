"""`netdsl detect`: a detector spec run by the reference executor on picture files, for a quick look
without a GPU (does the spec, with these weights, find what is in the picture?).

Each picture is letterboxed as ultralytics' predictor (8.4.190) letterboxes it (netdsl.images): for an
input of free height and width (two named dims), scaled so that its long side fits ``imgsz`` (640) and
padded only to the next multiple of the stride (its "minimum rectangle", as for a PyTorch model), so a
2000x1001 picture runs at 640x320; for a fixed-size input, scaled and padded to that size (as for a
fixed-size engine). It is run, and its detections are mapped back to the picture's pixels as the
predictor's ``scale_boxes`` maps them. A spec whose outputs come from an `nms` layer gives its
detections as they are (the engine's own thresholds); a spec with ultralytics' raw output (`output0`
[B, 4 + classes, anchors], boxes as cx, cy, w, h) goes through the same NMS as the `nms` kind, with the
predictor's thresholds (conf 0.25, IoU 0.7, 300 detections) unless others are given.
"""

from __future__ import annotations

import math
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
IMGSZ = 640  # ultralytics' default image size
MIN_STRIDE = 32  # ultralytics' AutoBackend pads to a multiple of max(the model's stride, 32)


class Detection(NamedTuple):
    klass: int
    name: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the picture's pixels


class Thresholds(NamedTuple):
    score: float = 0.25
    iou: float = 0.7
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
    """(path, detections) for each picture in ``paths``; ``imgsz`` (height, width) where the input's size
    is free (default 640)."""
    from . import images, reference

    graph = checked.graph
    if len(graph.inputs) != 1:
        raise UsageError(f"netdsl detect runs specs with one image input; {checked.path} has {len(graph.inputs)}")
    fitting = fitting_for(graph.inputs[0], graph.profiles, imgsz)
    roles = nms_outputs(graph)
    if roles is None and len(graph.outputs) != 1:
        raise UsageError(f"{checked.path} has neither an `nms` layer's outputs (num_dets, boxes, scores, classes) nor "
                         "one output [B, 4 + classes, anchors] (ultralytics' output0)")
    if roles is None:
        raw_layout(checked)
    names = read_names(names_path, class_count(checked, roles))
    results = []
    for path in paths:
        picture = images.load(path, fitting.target.channels)
        box, sample = fit(fitting, picture, graph.profiles, path)
        outputs = reference.run(checked, bound, {fitting.target.name: sample[None]})
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


class Fitting(NamedTuple):
    """How pictures are letterboxed into the detector's image input."""

    target: object  # images.ImageInput; its height and width are the letterbox's size
    stride: int | None  # for a free size: pad only to a multiple of this (ultralytics' minimum rectangle)
    dims: tuple  # the input's height and width dims


def fitting_for(graph_input, profiles, imgsz) -> Fitting:
    """A free size (height and width two named dims) is letterboxed as ultralytics' predictor does for a
    PyTorch model: ``imgsz`` rounded up to the stride (its check_imgsz), then the minimum rectangle. Any
    other input is letterboxed to its size, a named dim taking ``imgsz`` (default 640)."""
    from . import images
    from .symbolic import Dim

    nhwc, channels, dims = images.image_layout(graph_input)
    free = all(isinstance(d, Dim) for d in dims) and dims[0].name != dims[1].name
    if not free:
        wanted = imgsz or tuple(None if isinstance(d, int) else IMGSZ for d in dims)
        return Fitting(images.image_input(graph_input, profiles, wanted), None, dims)
    steps = [p.steps.get(d.name, 1) for p in profiles for d in dims]
    stride = max(MIN_STRIDE, math.lcm(*steps))
    height, width = (max(-(-size // stride) * stride, stride) for size in imgsz or (IMGSZ, IMGSZ))
    return Fitting(images.ImageInput(graph_input.name, height, width, channels, nhwc), stride, dims)


def fit(fitting: Fitting, picture, profiles, path: str):
    """(the letterbox, one sample of the input) for ``picture``; a free size must fit a profile."""
    from . import images

    target = fitting.target
    box = images.letterbox_box(picture.shape, (target.height, target.width), fitting.stride)
    if fitting.stride is not None:
        size = images.letterboxed_size(box)
        try:
            images.image_size(target.name, fitting.dims, profiles, size)
        except UsageError as error:
            raise UsageError(f"{path}: letterboxed for --imgsz {target.height},{target.width}: {error}; another --imgsz "
                             "gives another size") from None
    fitted = images.letterbox(picture, (target.height, target.width), stride=fitting.stride)
    return box, images.to_input(fitted, target)


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


def raw_layout(checked) -> None:
    """Refuses an output [B, N, 6] (RT-DETR's rows, or an end-to-end YOLO's), which NMS would read as
    N - 4 classes over 6 anchors."""
    shape = checked.types[checked.graph.outputs[0].source].shape
    if len(shape) == 3 and shape[2] == 6 and shape[1] != 6:
        raise UsageError(f"{checked.path}: its output {list(shape)} holds rows (box, score, class), not ultralytics' "
                         "[B, 4 + classes, anchors]; for RT-DETR's (cx, cy, w, h as fractions, score, class) give the "
                         "spec the parameter `head: rtdetr` (params: section)")


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
    """A box in the network's input pixels as a box in the picture's pixels, clipped to the picture, as
    ultralytics 8.4.190's scale_boxes computes it from the two sizes alone: the gain from the input's
    size, each side of the resized picture rounded as LetterBox rounds it, then a gain per axis. For a
    minimum rectangle this can differ from the letterbox by a pixel (2000x1001 runs at 640x320, which
    scale_boxes takes as 639 columns); netdsl maps as the predictor does, so that its boxes are its."""
    from .images import letterboxed_size

    input_height, input_width = letterboxed_size(box)
    height, width = shape[:2]
    gain = min(input_height / height, input_width / width)
    new_height, new_width = max(round(height * gain), 1), max(round(width * gain), 1)
    left, top = round((input_width - new_width) / 2 - 0.1), round((input_height - new_height) / 2 - 0.1)
    gain_x, gain_y = new_width / width, new_height / height
    x1, x2 = ((float(v) - left) / gain_x for v in (xyxy[0], xyxy[2]))
    y1, y2 = ((float(v) - top) / gain_y for v in (xyxy[1], xyxy[3]))
    return (min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width),
            min(max(y2, 0.0), height))


def draw(path: str, detections: list[Detection], output: str, banner: str | None = None) -> None:
    """The picture with its detections drawn on it (Pillow's ImageDraw), written atomically; ``banner``
    (such as RANDOM WEIGHTS) written large in its top left corner."""
    from .images import _pillow, load

    Image = _pillow()[0]
    from PIL import ImageDraw

    picture = Image.fromarray(load(path, 3)[..., ::-1].copy())  # read as for detection (checked, EXIF applied)
    pen = ImageDraw.Draw(picture)
    for detection in detections:
        color = PALETTE[detection.klass % len(PALETTE)]
        pen.rectangle(detection.box, outline=color, width=max(2, round(min(picture.size) / 300)))
        label_box(pen, detection.box[:2], f"{detection.name} {detection.score:.2f}", color)
    save_picture(picture, pen, output, banner)


def label_box(pen, corner, label: str, color) -> None:
    """``label`` on a box of ``color`` just above ``corner`` (x, y)."""
    left, top = corner[0], max(corner[1] - 12, 0)
    pen.rectangle(pen.textbbox((left, top), label), fill=color)
    pen.text((left, top), label, fill=(255, 255, 255))


def save_picture(picture, pen, output: str, banner: str | None = None) -> None:
    """``picture`` (a Pillow image drawn on by ``pen``) with ``banner`` in its top left corner, written
    atomically to ``output`` in the format its extension names."""
    import io

    from .files import write_atomic

    if banner:
        from PIL import ImageFont

        try:
            font = ImageFont.load_default(size=max(12, min(picture.size) // 12))
        except TypeError:  # Pillow before 10.1: one small bitmap font
            font = ImageFont.load_default()
        pen.rectangle(pen.textbbox((4, 4), banner, font=font), fill=(0, 0, 0))
        pen.text((4, 4), banner, fill=(255, 0, 0), font=font)
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
