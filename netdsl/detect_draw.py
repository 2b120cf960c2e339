"""`netdsl detect --draw` for segmentation, pose, oriented boxes and classification: masks blended over
the picture (each at 50 % opacity, as ultralytics' Annotator blends them), boxes with their labels, the
17 COCO keypoints joined by ultralytics' skeleton (keypoints of visibility under 0.25 left out, as its
Annotator leaves them), rotated boxes as polygons, and a classifier's top five as text."""

from __future__ import annotations

from .detect import PALETTE, label_box, save_picture

MASK_OPACITY = 0.5
KEYPOINT_VISIBLE = 0.25  # ultralytics' Annotator.kpts conf_thres
# ultralytics' Annotator: the COCO skeleton (1-based keypoints) and its colours, from its pose palette (RGB)
SKELETON = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8), (7, 9), (8, 10),
            (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))
POSE_PALETTE = ((0, 128, 255), (51, 153, 255), (102, 178, 255), (0, 230, 230), (255, 153, 255), (255, 204, 153),
                (255, 102, 255), (255, 51, 255), (255, 178, 102), (255, 153, 51), (153, 153, 255), (102, 102, 255),
                (51, 51, 255), (153, 255, 153), (102, 255, 102), (51, 255, 51), (0, 255, 0), (255, 0, 0),
                (0, 0, 255), (255, 255, 255))
LIMB_COLORS = (9, 9, 9, 9, 7, 7, 7, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16)
KEYPOINT_COLORS = (16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9)


def draw_task(path: str, task: str, found: list, output: str, banner: str | None = None) -> None:
    """The picture at ``path`` with ``found`` (detect_tasks' Instances, or the top five for classify)
    drawn on it, written atomically to ``output``."""
    import numpy as np

    from .images import _pillow, load

    Image = _pillow()[0]
    from PIL import ImageDraw

    pixels = load(path, 3)[..., ::-1].astype(np.float32)  # RGB, as detection reads it
    for instance in reversed(found) if task == "segment" else ():
        color = np.array(PALETTE[instance.klass % len(PALETTE)], np.float32)
        mask = instance.mask
        region = pixels[mask.top:mask.top + mask.window.shape[0], mask.left:mask.left + mask.window.shape[1]]
        region[mask.window] = region[mask.window] * (1 - MASK_OPACITY) + color * MASK_OPACITY
    picture = Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(picture)
    width = max(2, round(min(picture.size) / 300))
    if task == "classify":
        text = "\n".join(f"{r.name} {r.score:.2f}" for r in found)
        at = round(picture.size[1] * 0.03)
        pen.rectangle(pen.multiline_textbbox((at, at), text), fill=(64, 64, 64))
        pen.multiline_text((at, at), text, fill=(255, 255, 255))
    for instance in found if task != "classify" else ():
        color = PALETTE[instance.klass % len(PALETTE)]
        label = f"{instance.name} {instance.score:.2f}"
        if task == "obb":
            corners = [tuple(float(v) for v in point) for point in instance.corners]
            pen.polygon(corners, outline=color, width=width)
            label_box(pen, min(corners, key=lambda point: point[1]), label, color)
            continue
        pen.rectangle(instance.box, outline=color, width=width)
        label_box(pen, instance.box[:2], label, color)
        if task == "pose":
            draw_keypoints(pen, instance.keypoints, width)
    save_picture(picture, pen, output, banner)


def draw_keypoints(pen, keypoints, width: int) -> None:
    """Keypoints as dots, joined by the COCO skeleton when there are 17; those with visibility under
    0.25 (or at 0, 0 without visibility) left out."""
    count = len(keypoints)
    shown = [(point[2] >= KEYPOINT_VISIBLE) if len(point) == 3 else bool(point[0] or point[1]) for point in keypoints]
    if count == 17:
        for (a, b), color in zip(SKELETON, LIMB_COLORS):
            if shown[a - 1] and shown[b - 1]:
                line = [tuple(float(v) for v in keypoints[k - 1][:2]) for k in (a, b)]
                pen.line(line, fill=POSE_PALETTE[color], width=max(1, (width + 1) // 2))
    for k, point in enumerate(keypoints):
        if shown[k]:
            x, y = float(point[0]), float(point[1])
            color = POSE_PALETTE[KEYPOINT_COLORS[k]] if count == 17 else PALETTE[k % len(PALETTE)]
            pen.ellipse((x - width, y - width, x + width, y + width), fill=color)
