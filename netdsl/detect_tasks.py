"""`netdsl detect` for ultralytics' other tasks: segmentation, pose, oriented boxes and classification,
post-processed as ultralytics 8.4.190's predictors post-process them (its ``SegmentationPredictor``,
``PosePredictor``, ``OBBPredictor`` and ``ClassificationPredictor``).

A spec names its task in its parameters (``task``: detect, segment, pose, obb or classify; detect when it
has none) and gives ultralytics' exported outputs:

- segment: ``output0`` [B, 4 + classes + 32, anchors] (boxes cx, cy, w, h; class scores; mask
  coefficients) and ``output1`` [B, 32, H/4, W/4] (the prototypes). NMS keeps each box's coefficients;
  its mask is ``coefficients @ prototypes`` upsampled to the input (bilinear), above 0 (a sigmoid above
  0.5), cropped to the box (``process_mask(upsample=True)``); a detection whose mask is empty is dropped,
  as the predictor drops it. The mask is then mapped to the picture as ``scale_masks`` maps it (the
  letterbox's padding cropped, bilinear to the picture's size, above 0.5), as ultralytics draws it.
- pose: ``output0`` [B, 4 + classes + K * D, anchors], K keypoints of D values (x, y in input pixels,
  visibility) per anchor, ``kpt_shape`` [K, D] (default [17, 3]); keypoints mapped back as
  ``scale_coords`` maps them (clipped to the picture).
- obb: ``output0`` [B, 4 + classes + 1, anchors], rows cx, cy, w, h, class scores, angle (radians);
  rotated NMS as ``non_max_suppression(rotated=True)``: class offsets on the centers, probabilistic IoU
  (``batch_probiou``) and its matrix form (``TorchNMS.fast_nms``: a box is dropped when any box of
  higher score overlaps it, kept or not). Boxes are mapped back as ``scale_boxes(xywh=True)`` maps them
  (not clipped), with their four corners as ``xywhr2xyxyxyxy``. The angle is the one the head gives
  ([-pi/4, 3pi/4)): 8.4.190's predictor does not call ``regularize_rboxes``, so netdsl does not either.
- classify: ``output0`` [B, classes], probabilities (the head's softmax). The picture is prepared as
  ``classify_transforms`` prepares it: its short side resized to the input's size (Pillow's bilinear, as
  torchvision's ``Resize`` calls it, long side ``int(size * long / short)``), then center-cropped
  (torchvision's ``CenterCrop``); a non-square size is a plain resize. The top five classes, by
  probability.

The functions :func:`segment`, :func:`pose`, :func:`obb` and :func:`top5` take one picture's raw outputs
(ultralytics' own exports, or netdsl's) and give its results in the picture's pixels.
"""

from __future__ import annotations

from typing import NamedTuple

from .detect import Thresholds
from .diagnostics import UsageError
from .yolo_ops import (Mask, box_mask, candidates, corners_to_picture, greedy_nms, mapping, mask_to_picture,
                       points_to_picture, rotated_corners, rotated_nms)

TASKS = ("detect", "segment", "pose", "obb", "classify")
MASK_COEFFICIENTS = 32
CLASSIFY_SIZE = 224  # ultralytics' classify_transforms default


class Instance(NamedTuple):
    """One detection of a segment, pose or obb model, in the picture's pixels."""

    klass: int
    score: float
    box: tuple  # x1, y1, x2, y2 (segment, pose); cx, cy, w, h, angle in radians (obb)
    mask: Mask | None = None  # segment: in the picture's pixels (``mask.array()``: bool [height, width])
    keypoints: object = None  # pose: float [K, D], x and y in the picture's pixels (then visibility)
    corners: object = None  # obb: float [4, 2], as ultralytics' xywhr2xyxyxyxy orders them
    name: str = ""


class Ranked(NamedTuple):
    """One of classification's top five."""

    klass: int
    score: float
    name: str = ""


def task_of(graph) -> str:
    """The spec's `task` parameter (detect when it has none)."""
    task = graph.params.get("task", "detect")
    if task not in TASKS:
        raise UsageError(f"the spec's parameter `task` is {task!r}; netdsl detect knows {', '.join(TASKS)}")
    return task


def keypoint_shape(graph) -> tuple[int, int]:
    """The spec's `kpt_shape` ([K, D], or "K,D"), default [17, 3]."""
    value = graph.params.get("kpt_shape", (17, 3))
    if isinstance(value, str):
        value = value.strip("[]() ").replace("x", ",").split(",")
    try:
        shape = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 2 or shape[0] < 1 or shape[1] not in (2, 3):
        raise UsageError(f"the spec's parameter `kpt_shape` is {value!r}; it must be [keypoints, 2 or 3]")
    return shape


# -- the tasks ----------------------------------------------------------------------------------------


def segment(output0, output1, input_size, picture_size, thresholds: Thresholds = Thresholds()) -> list[Instance]:
    """One picture's instances from ultralytics' segment outputs: ``output0`` [4 + classes + 32,
    anchors], ``output1`` [32, H/4, W/4]; ``input_size`` (height, width) of the letterboxed input,
    ``picture_size`` (height, width) of the picture."""
    import numpy as np

    output0, prototypes = np.asarray(output0, np.float32), np.asarray(output1, np.float32)
    coefficients = prototypes.shape[0] if prototypes.ndim == 3 else 0
    classes = output0.shape[0] - 4 - coefficients if output0.ndim == 2 else 0
    if not coefficients or classes < 1:
        raise UsageError(f"segment outputs {list(output0.shape)} and {list(prototypes.shape)}: expected "
                         "[4 + classes + 32, anchors] and [32, H/4, W/4]")
    rows = greedy_nms(candidates(output0, classes, thresholds), thresholds)
    where = mapping(input_size, picture_size)
    flat = prototypes.reshape(coefficients, -1)
    found = []
    for row in rows:
        mask = box_mask((row[6:] @ flat).reshape(prototypes.shape[1:]), row[:4], input_size)
        if mask is None:  # the predictor drops detections whose mask is empty
            continue
        box = corners_to_picture(row[None, :4], where)[0]
        found.append(Instance(int(row[5]), float(row[4]), tuple(float(v) for v in box),
                              mask=mask_to_picture(mask, picture_size)))
    return found


def pose(output0, input_size, picture_size, thresholds: Thresholds = Thresholds(),
         kpt_shape=(17, 3)) -> list[Instance]:
    """One picture's instances from ultralytics' pose output ``output0`` [4 + classes + K * D, anchors]."""
    import numpy as np

    output0, (count, values) = np.asarray(output0, np.float32), kpt_shape
    classes = output0.shape[0] - 4 - count * values if output0.ndim == 2 else 0
    if classes < 1:
        raise UsageError(f"pose output {list(output0.shape)}: expected [4 + classes + {count}*{values}, anchors] "
                         "(kpt_shape sets the keypoints)")
    rows = greedy_nms(candidates(output0, classes, thresholds), thresholds)
    where = mapping(input_size, picture_size)
    boxes = corners_to_picture(rows[:, :4], where)
    keypoints = points_to_picture(rows[:, 6:].reshape(len(rows), count, values), where)
    return [Instance(int(row[5]), float(row[4]), tuple(float(v) for v in box), keypoints=points)
            for row, box, points in zip(rows, boxes, keypoints)]


def obb(output0, input_size, picture_size, thresholds: Thresholds = Thresholds()) -> list[Instance]:
    """One picture's rotated boxes from ultralytics' obb output ``output0`` [4 + classes + 1, anchors]."""
    import numpy as np

    output0 = np.asarray(output0, np.float32)
    classes = output0.shape[0] - 5 if output0.ndim == 2 else 0
    if classes < 1:
        raise UsageError(f"obb output {list(output0.shape)}: expected [4 + classes + 1, anchors]")
    rows = rotated_nms(candidates(output0, classes, thresholds), thresholds)
    where = mapping(input_size, picture_size)
    found = []
    for row in rows.astype(np.float64):
        cx, cy = (row[0] - where.left) / where.gain_x, (row[1] - where.top) / where.gain_y
        xywhr = (cx, cy, row[2] / where.gain_x, row[3] / where.gain_y, row[6])
        found.append(Instance(int(row[5]), float(row[4]), tuple(float(v) for v in xywhr),
                              corners=rotated_corners(xywhr)))
    return found


def top5(probabilities) -> list[Ranked]:
    """The five most probable classes (ultralytics' Probs.top5), highest first."""
    import numpy as np

    probabilities = np.asarray(probabilities, np.float32).reshape(-1)
    order = np.argsort(-probabilities, kind="stable")[:5]
    return [Ranked(int(k), float(probabilities[k])) for k in order]


def classify_fit(picture, size):
    """uint8 [h, w, c] as ultralytics' classify_transforms fits it to ``size`` (height, width): a square
    size resizes the short side (Pillow bilinear) and center-crops; another is resized to it."""
    import numpy as np

    from .images import _pillow

    Image = _pillow()[0]
    height, width = picture.shape[:2]
    if size[0] == size[1]:
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = size[0], int(size[0] * long / short)
        new_width, new_height = (new_short, new_long) if width <= height else (new_long, new_short)
    else:
        new_height, new_width = size
    image = Image.fromarray(picture if picture.shape[2] == 3 else picture[..., 0])
    if (new_height, new_width) != (height, width):
        image = image.resize((new_width, new_height), Image.BILINEAR)
    resized = np.asarray(image)
    if resized.ndim == 2:
        resized = resized[..., None]
    crop_height, crop_width = size
    if crop_height > new_height or crop_width > new_width:  # torchvision pads with 0 first (a size < 1 px away)
        padded = np.zeros((max(crop_height, new_height), max(crop_width, new_width), resized.shape[2]), np.uint8)
        top, left = (crop_height - new_height) // 2 if crop_height > new_height else 0, \
            (crop_width - new_width) // 2 if crop_width > new_width else 0
        padded[top:top + new_height, left:left + new_width] = resized
        resized, new_height, new_width = padded, *padded.shape[:2]
    top, left = int(round((new_height - crop_height) / 2.0)), int(round((new_width - crop_width) / 2.0))
    return np.ascontiguousarray(resized[top:top + crop_height, left:left + crop_width])


# -- a spec on pictures -------------------------------------------------------------------------------


def detect_task(checked, bound, paths: list[str], task: str, thresholds: Thresholds = Thresholds(), imgsz=None,
                names_path: str | None = None) -> list[tuple[str, list]]:
    """(path, results) for each picture: Instances for segment, pose and obb, the top five (Ranked) for
    classify. ``imgsz`` (height, width) where the input's size is free (default 640, 224 to classify)."""
    from . import images, reference
    from .detect import fit, fitting_for, read_names

    graph = checked.graph
    if len(graph.inputs) != 1:
        raise UsageError(f"netdsl detect runs specs with one image input; {checked.path} has {len(graph.inputs)}")
    roles = output_roles(checked, task)
    names = read_names(names_path, class_count(checked, task, roles))
    kpt_shape = keypoint_shape(graph) if task == "pose" else None
    if task == "classify":
        target = images.image_input(graph.inputs[0], graph.profiles, imgsz or classify_size(graph.inputs[0]))
    else:
        fitting = fitting_for(graph.inputs[0], graph.profiles, imgsz)
        target = fitting.target
    results = []
    for path in paths:
        picture = images.load(path, target.channels)
        if task == "classify":
            sample = images.to_input(classify_fit(picture, (target.height, target.width)), target)
        else:
            box, sample = fit(fitting, picture, graph.profiles, path)
        outputs = reference.run(checked, bound, {target.name: sample[None]})
        first = outputs[roles[0]][0]
        input_size = sample.shape[:2] if target.nhwc else sample.shape[1:]
        if task == "classify":
            found = top5(first)
        elif task == "segment":
            found = segment(first, outputs[roles[1]][0], input_size, picture.shape, thresholds)
        elif task == "pose":
            found = pose(first, input_size, picture.shape, thresholds, kpt_shape)
        else:
            found = obb(first, input_size, picture.shape, thresholds)
        results.append((path, [r._replace(name=names[r.klass] if 0 <= r.klass < len(names) else str(r.klass))
                               for r in found]))
    return results


def classify_size(graph_input):
    """A classifier's default size: its fixed height and width, else 224 (ultralytics' default)."""
    from .images import image_layout

    dims = image_layout(graph_input)[2]
    return tuple(d if isinstance(d, int) else CLASSIFY_SIZE for d in dims)


ROLES = {"segment": ("output0", "output1"), "pose": ("output0",), "obb": ("output0",), "classify": ("output0",)}
RANKS = {"segment": (3, 4), "pose": (3,), "obb": (3,), "classify": (2,)}


def output_roles(checked, task: str) -> tuple[str, ...]:
    """The graph outputs the task reads (ultralytics' names, or the only outputs of the right ranks)."""
    graph = checked.graph
    names = [o.name for o in graph.outputs]
    wanted = ROLES[task]
    if not all(name in names for name in wanted):
        suppression = [node for node in graph.nodes if node.kind in ("nms", "rotated_nms")]
        if suppression:
            raise UsageError(f"{checked.path} (task {task}) ends in an NMS layer (`{suppression[0].name}`, kind "
                             f"{suppression[0].kind}); netdsl detect post-processes "
                             f"ultralytics' raw outputs for this task ({layout(task)}): run it without NMS in the "
                             "engine (for the zoo's specs, --set nms=false)")
        if len(names) != len(wanted):
            raise UsageError(f"{checked.path} (task {task}) has outputs {', '.join(names)}; netdsl detect needs "
                             f"{' and '.join(wanted)} as ultralytics exports them ({layout(task)})")
        wanted = tuple(names)
    for name, rank in zip(wanted, RANKS[task]):
        shape = output_shape(checked, name)
        if len(shape) != rank:
            raise UsageError(f"{checked.path} (task {task}): output `{name}` has rank {len(shape)}; netdsl detect "
                             f"needs ultralytics' layout ({layout(task)})")
    return wanted


def output_shape(checked, name: str) -> tuple:
    return next(checked.types[o.source].shape for o in checked.graph.outputs if o.name == name)


def layout(task: str) -> str:
    return {"segment": "output0 [B, 4 + classes + 32, anchors], output1 [B, 32, H/4, W/4]",
            "pose": "output0 [B, 4 + classes + keypoints * dims, anchors]",
            "obb": "output0 [B, 4 + classes + 1, anchors]", "classify": "output0 [B, classes]"}[task]


def class_count(checked, task: str, roles) -> int:
    """How many classes the task's output scores, from its static shape."""
    shapes = [output_shape(checked, role) for role in roles]
    rows = shapes[0][1]
    extra = {"segment": shapes[-1][1] if len(shapes) > 1 else MASK_COEFFICIENTS, "obb": 1, "classify": -4}
    if task == "pose":
        count, values = keypoint_shape(checked.graph)
        extra["pose"] = count * values
    size = rows - 4 - extra[task] if isinstance(rows, int) and isinstance(extra[task], int) else None
    if size is None or size < 1:
        raise UsageError(f"{checked.path} (task {task}): output `{roles[0]}` {list(shapes[0])} has no class scores "
                         f"where ultralytics' layout puts them ({layout(task)})")
    return size


def mask_rle(mask) -> dict:
    """A Mask, or a bool mask [height, width], as COCO's uncompressed RLE: {"size": [height, width], "counts": [...]},
    the lengths of alternating runs of 0 and 1 in column-major order, starting with a run of 0 (possibly
    empty); pycocotools' ``frPyObjects`` reads it."""
    import numpy as np

    mask = np.asarray(mask.array() if isinstance(mask, Mask) else mask, bool)
    flat = mask.T.reshape(-1)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return {"size": list(mask.shape), "counts": ([0] if flat.size and flat[0] else []) + counts}


def json_record(task: str, path: str, found: list) -> dict:
    """One picture's results as `netdsl detect --format json` gives them (docs/yolo.md, "netdsl detect for
    every task")."""
    if task == "classify":
        return {"image": path, "task": task, "top5": [{"class": r.klass, "name": r.name, "score": round(r.score, 6)}
                                                      for r in found]}
    records = []
    for d in found:
        record = {"class": d.klass, "name": d.name, "score": round(d.score, 5)}
        if task == "obb":
            record["xywhr"] = [round(v, 2) for v in d.box[:4]] + [round(d.box[4], 6)]
            record["corners"] = [[round(float(v), 2) for v in point] for point in d.corners]
        else:
            record["box"] = [round(v, 2) for v in d.box]
        if task == "segment":
            record["mask"] = mask_rle(d.mask)
        if task == "pose":
            record["keypoints"] = [[round(float(v), 2 if i < 2 else 5) for i, v in enumerate(point)]
                                   for point in d.keypoints]
        records.append(record)
    return {"image": path, "task": task, "detections": records}
