"""ultralytics 8.4.190's post-processing operations that netdsl detect's tasks share, in numpy and in
ultralytics' own arithmetic (float32 where it computes in float32): the candidates and NMS of
``non_max_suppression`` (greedy, and rotated with ``batch_probiou`` in ``fast_nms``' matrix form), the
mapping of boxes and points from the letterboxed input back to the picture (``scale_boxes``,
``scale_coords``), and masks (``F.interpolate``'s bilinear resize, ``crop_mask``'s region,
``scale_masks``), with ``xywhr2xyxyxyxy``'s corners."""

from __future__ import annotations

import math
from typing import NamedTuple

from .detect import Thresholds
from .ops.rotated_nms import probiou  # the rotated_nms kind's, ultralytics' batch_probiou

MAX_NMS = 30000  # ultralytics' non_max_suppression: candidates kept, by score, before NMS
MAX_WH = 7680  # its class offset (pixels) for class-aware rotated NMS


# -- NMS ----------------------------------------------------------------------------------------------


def candidates(output, classes: int, thresholds: Thresholds):
    """Rows [n, 4 + 2 + extra] (box, best score, its class, the extra values) of one picture's output
    [4 + classes + extra, anchors] whose best score passes, at most MAX_NMS by score; as float32."""
    import numpy as np

    rows = np.ascontiguousarray(np.asarray(output, dtype=np.float32).T)  # [A, 4 + C + extra]
    scores = rows[:, 4:4 + classes]
    best, klass = scores.max(axis=1), scores.argmax(axis=1)  # argmax: the first best, as torch's max
    keep = np.flatnonzero(best > np.float32(thresholds.score))
    if len(keep) > MAX_NMS:
        keep = keep[np.argsort(-best[keep], kind="stable")[:MAX_NMS]]
    return np.concatenate([rows[keep, :4], best[keep, None], klass[keep, None].astype(np.float32),
                           rows[keep, 4 + classes:]], axis=1)


def greedy_nms(rows, thresholds: Thresholds):
    """Rows kept by ultralytics' greedy, class-aware NMS (the `nms` kind's), boxes made corners."""
    from .ops.nms import survivors, to_corners

    corners = to_corners(rows[:, :4], "center")
    params = {"score_threshold": thresholds.score, "iou_threshold": thresholds.iou,
              "max_detections": thresholds.max_detections}
    kept = survivors(corners, rows[:, 4], rows[:, 5].astype("int64"), params)
    out = rows[kept].copy()
    out[:, :4] = corners[kept]
    return out


def rotated_nms(rows, thresholds: Thresholds):
    """Rows [n, 7] (cx, cy, w, h, score, class, angle) kept by ultralytics' rotated NMS."""
    import numpy as np

    if not len(rows):
        return rows
    offset = rows[:, 5:6] * np.float32(MAX_WH)
    boxes = np.concatenate([rows[:, :2] + offset, rows[:, 2:4], rows[:, 6:7]], axis=1)
    order = np.argsort(-rows[:, 4], kind="stable")
    ious = np.triu(probiou(boxes[order], boxes[order]), k=1)
    picked = order[~(ious > np.float32(thresholds.iou)).any(axis=0)]
    return rows[picked[:thresholds.max_detections]]


# -- back to the picture ------------------------------------------------------------------------------


class Mapping(NamedTuple):
    """How input pixels map to the picture's, as ultralytics' scale_boxes and scale_coords compute it
    from the two sizes alone (the letterbox's rounding included)."""

    gain_x: float
    gain_y: float
    left: int
    top: int
    height: int  # the picture's
    width: int


def mapping(input_size, picture_size) -> Mapping:
    (input_height, input_width), (height, width) = input_size, picture_size[:2]
    gain = min(input_height / height, input_width / width)
    new_height, new_width = max(round(height * gain), 1), max(round(width * gain), 1)
    left, top = round((input_width - new_width) / 2 - 0.1), round((input_height - new_height) / 2 - 0.1)
    return Mapping(new_width / width, new_height / height, left, top, height, width)


def corners_to_picture(boxes, where: Mapping):
    """[n, 4] x1, y1, x2, y2 in input pixels -> the picture's, clipped (scale_boxes)."""
    import numpy as np

    out = np.asarray(boxes, np.float64).copy()
    out[:, 0::2] = ((out[:, 0::2] - where.left) / where.gain_x).clip(0, where.width)
    out[:, 1::2] = ((out[:, 1::2] - where.top) / where.gain_y).clip(0, where.height)
    return out


def points_to_picture(points, where: Mapping):
    """[..., >= 2] x, y first -> the picture's, clipped (scale_coords)."""
    import numpy as np

    out = np.asarray(points, np.float64).copy()
    out[..., 0] = ((out[..., 0] - where.left) / where.gain_x).clip(0, where.width)
    out[..., 1] = ((out[..., 1] - where.top) / where.gain_y).clip(0, where.height)
    return out


class Mask(NamedTuple):
    """A bool mask of a picture kept as the window that holds its set pixels (a detection's mask lies in
    its box): ``array()`` gives it whole."""

    top: int
    left: int
    window: object  # bool [rows, columns]
    height: int  # of the whole picture
    width: int

    def array(self):
        import numpy as np

        whole = np.zeros((self.height, self.width), bool)
        whole[self.top:self.top + self.window.shape[0], self.left:self.left + self.window.shape[1]] = self.window
        return whole

    @property
    def area(self) -> int:
        return int(self.window.sum())


def box_mask(logits, box, size) -> Mask | None:
    """``process_mask(upsample=True)`` for one detection: mask logits [mh, mw] upsampled to the input's
    ``size`` (bilinear), above 0, cropped to ``box`` (x1, y1, x2, y2 in input pixels; crop_mask keeps
    columns x1 <= c < x2 and rows y1 <= r < y2). Only the box's pixels are computed: the others are
    cropped. None where the mask is empty (the predictor drops those detections)."""
    import numpy as np

    def inside(low, high, count):
        positions = np.arange(count, dtype=np.float32)
        return np.flatnonzero((positions >= low) & (positions < high))

    rows, columns = inside(box[1], box[3], size[0]), inside(box[0], box[2], size[1])
    if not len(rows) or not len(columns):
        return None
    window = resize_bilinear(logits, *size, rows=rows, columns=columns) > 0
    return Mask(int(rows[0]), int(columns[0]), window, *size) if window.any() else None


def mask_to_picture(mask: Mask, picture_size) -> Mask:
    """A mask of the letterboxed input as the picture's, as ``scale_masks`` then ``> 0.5`` make it: the
    content without the padding, bilinear to the picture's size. Only the picture's pixels whose two
    source rows or columns reach the mask's window are computed; the others read zeros."""
    import numpy as np

    (input_height, input_width), (height, width) = (mask.height, mask.width), picture_size[:2]
    if (input_height, input_width) == (height, width):
        return mask
    gain = min(input_height / height, input_width / width)
    content_height, content_width = max(round(height * gain), 1), max(round(width * gain), 1)
    top = round((input_height - content_height) / 2 - 0.1)
    left = round((input_width - content_width) / 2 - 0.1)
    # the window in the content's coordinates, cut to the content
    first_row, first_column = mask.top - top, mask.left - left
    row_begin, row_end = max(first_row, 0), min(first_row + mask.window.shape[0], content_height)
    column_begin, column_end = max(first_column, 0), min(first_column + mask.window.shape[1], content_width)
    empty = Mask(0, 0, np.zeros((0, 0), bool), height, width)
    if row_begin >= row_end or column_begin >= column_end:
        return empty
    padded = np.zeros((row_end - row_begin + 2, column_end - column_begin + 2), np.float32)  # a zero border
    padded[1:-1, 1:-1] = mask.window[row_begin - first_row:row_end - first_row,
                                     column_begin - first_column:column_end - first_column]

    def reaching(count, new, begin, end):
        first, second, w0, w1 = bilinear_taps(count, new)
        picked = np.flatnonzero(((first >= begin) & (first < end)) | ((second >= begin) & (second < end)))
        return picked, np.clip(first[picked] - begin + 1, 0, end - begin + 1), \
            np.clip(second[picked] - begin + 1, 0, end - begin + 1), w0[picked], w1[picked]

    rows, r0, r1, u0, u1 = reaching(content_height, height, row_begin, row_end)
    columns, c0, c1, v0, v1 = reaching(content_width, width, column_begin, column_end)
    if not len(rows) or not len(columns):
        return empty
    picked = padded[r0] * u0[:, None] + padded[r1] * u1[:, None]
    return Mask(int(rows[0]), int(columns[0]), picked[:, c0] * v0 + picked[:, c1] * v1 > 0.5, height, width)


def bilinear_taps(size: int, new: int):
    """For each of ``new`` output positions: its two source indices and their weights, as
    F.interpolate(mode="bilinear", align_corners=False) computes them in float32 (half-pixel centers,
    positions clamped at 0, the last pixel repeated)."""
    import numpy as np

    position = np.maximum((np.arange(new, dtype=np.float32) + np.float32(0.5)) * np.float32(size / new)
                          - np.float32(0.5), np.float32(0))
    first = np.minimum(position.astype(np.int64), size - 1)
    second = np.minimum(first + 1, size - 1)
    weight = (position - first).astype(np.float32)
    return first, second, np.float32(1) - weight, weight


def resize_bilinear(array, height: int, width: int, rows=None, columns=None):
    """float32 [h, w] resized to [height, width] as torch.nn.functional.interpolate(mode="bilinear",
    align_corners=False) computes it; only the output ``rows`` and ``columns`` (indices) where given."""
    import numpy as np

    array = np.asarray(array, np.float32)
    r0, r1, u0, u1 = (t if rows is None else t[rows] for t in bilinear_taps(array.shape[0], height))
    c0, c1, v0, v1 = (t if columns is None else t[columns] for t in bilinear_taps(array.shape[1], width))
    picked = array[r0] * u0[:, None] + array[r1] * u1[:, None]
    return picked[:, c0] * v0 + picked[:, c1] * v1


def rotated_corners(xywhr):
    """[4, 2] corners of a rotated box, in ultralytics' xywhr2xyxyxyxy order."""
    import numpy as np

    cx, cy, w, h, angle = xywhr
    cos, sin = math.cos(angle), math.sin(angle)
    along, across = np.array([w / 2 * cos, w / 2 * sin]), np.array([-h / 2 * sin, h / 2 * cos])
    center = np.array([cx, cy])
    return np.stack([center + along + across, center + along - across, center - along - across,
                     center - along + across])
