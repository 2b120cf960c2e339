"""`netdsl detect`: a detector spec on pictures, with the reference executor (no GPU)."""

from __future__ import annotations

import math
import os

from .args import EXIT_OK, add_format, add_set, add_weights, network_of, output_path, print_json


def add_detect(add) -> None:
    detecting = add("detect", cmd_detect, "a YOLO (any task) or RT-DETR spec on pictures, reference executor (no GPU)",
                    "Letterbox each picture as ultralytics' predictor does (an input of free height and width: "
                    "the long side to --imgsz, padded to a multiple of 32; a fixed-size input: to its size), run the "
                    "spec on the CPU with the reference executor, and print the detections in the picture's pixels, "
                    "mapped back as the predictor maps them. A spec ending in an `nms` layer gives its own "
                    "detections; one with ultralytics' raw output0 [B, 4 + classes, anchors] goes through the same "
                    "NMS with --conf/--iou/--max-det (the predictor's defaults). A spec whose parameter `task` is "
                    "segment, pose, obb or classify is post-processed as ultralytics' predictor for that task does it "
                    "(masks, keypoints, rotated boxes, the top five classes; docs/yolo.md); one whose parameter `head` is "
                    "rtdetr as ultralytics' RTDETRPredictor does it (the picture stretched to the input's size, rows "
                    "above --conf, the first --max-det). --draw writes the picture "
                    "with its boxes (Pillow).",
                    usage="netdsl detect SPEC IMAGE... [--weights FILE | --random-weights] [--set scale=s] "
                    "[--imgsz H[,W]] [--draw OUT] [options]")
    add_set(detecting)
    detecting.add_argument("spec", metavar="SPEC")
    detecting.add_argument("images", nargs="+", metavar="IMAGE", help=".jpg, .png or .bmp files")
    add_weights(detecting, strict=False, random="seeded random weights: checks that the spec runs; its detections "
                "mean nothing")
    detecting.add_argument("--imgsz", metavar="H[,W]", help="image size where the spec's height/width are dynamic, "
                           "rounded up to the stride as ultralytics does (default 640; 224 for a classifier)")
    detecting.add_argument("--conf", type=float, default=0.25, help="score threshold for a raw output (0.25)")
    detecting.add_argument("--iou", type=float, default=0.7, help="IoU threshold for a raw output (0.7)")
    detecting.add_argument("--max-det", type=int, default=300, help="most detections per picture, raw output (300)")
    detecting.add_argument("--names", metavar="FILE", help="class names, one per line (default: COCO's for 80 "
                           "classes, else numbers)")
    detecting.add_argument("--draw", metavar="OUT", help="write the picture with its boxes (.png/.jpg), or a folder "
                           "for several pictures", type=output_path("a picture's format follows its extension"))
    add_format(detecting)


def cmd_detect(args) -> int:
    from .. import detect
    if args.draw and len(args.images) > 1 and not os.path.isdir(args.draw):
        from ..diagnostics import UsageError

        raise UsageError(f"--draw {args.draw}: with several images, name an existing folder")
    network = network_of(args)
    checked, bound = network.checked, network.bound_weights
    thresholds = detect.Thresholds(args.conf, args.iou, args.max_det)
    from ..detect_tasks import task_of

    from .. import detect_rtdetr

    task = task_of(checked.graph)
    if task != "detect":
        return report_task(args, task, checked, bound, thresholds, parse_imgsz(args.imgsz))
    run = detect_rtdetr.detect if detect_rtdetr.is_rtdetr(checked.graph) else detect.detect
    results = run(checked, bound, args.images, thresholds, parse_imgsz(args.imgsz), args.names)
    if args.format == "json":
        print_json([{"image": path, "detections": [{"class": d.klass, "name": d.name, "score": round(d.score, 5),
                                                    "box": [round(v, 2) for v in d.box]} for d in found]}
                    for path, found in results])
    else:
        print_detections(args, results)
    for path, found in results if args.draw else ():
        output = drawn_path(args, path, len(results))
        if args.random_weights:
            detect.draw(path, found[:RANDOM_SHOWN], output, banner="RANDOM WEIGHTS")
        else:
            detect.draw(path, found, output)
        if args.format != "json":
            print(f"wrote {output}")
    return EXIT_OK


def drawn_path(args, path: str, count: int) -> str:
    """Where --draw writes the picture ``path`` (one of ``count``)."""
    if count == 1 and not os.path.isdir(args.draw):
        return args.draw
    return os.path.join(args.draw, os.path.splitext(os.path.basename(path))[0] + ".png")


RANDOM_SHOWN = 5  # with random weights, the detections shown (and drawn): they only show that the spec runs


def print_detections(args, results) -> None:
    if args.random_weights:
        print(f"RANDOM WEIGHTS (seed {args.seed}): detections mean nothing; the first {RANDOM_SHOWN} of each picture "
              "are shown")
    for path, found in results:
        shown = found[:RANDOM_SHOWN] if args.random_weights else found
        more = f", the first {len(shown)} shown" if len(shown) < len(found) else ""
        print(f"{path}: {len(found)} detection{'s' if len(found) != 1 else ''}{more}")
        for d in shown:
            print(f"  {d.name:<16} {d.score:.3f}  [{d.box[0]:.1f}, {d.box[1]:.1f}, {d.box[2]:.1f}, {d.box[3]:.1f}]")


def report_task(args, task: str, checked, bound, thresholds, imgsz) -> int:
    """`netdsl detect` for a segment, pose, obb or classify spec: its results printed (or as JSON) and
    drawn."""
    from .. import detect_draw, detect_tasks

    results = detect_tasks.detect_task(checked, bound, args.images, task, thresholds, imgsz, args.names)
    if args.format == "json":
        print_json([detect_tasks.json_record(task, path, found) for path, found in results])
    else:
        print_task(args, task, results)
    for path, found in results if args.draw else ():
        output = drawn_path(args, path, len(results))
        if args.random_weights:
            detect_draw.draw_task(path, task, found[:RANDOM_SHOWN], output, banner="RANDOM WEIGHTS")
        else:
            detect_draw.draw_task(path, task, found, output)
        if args.format != "json":
            print(f"wrote {output}")
    return EXIT_OK


def print_task(args, task: str, results) -> None:
    if args.random_weights:
        print(f"RANDOM WEIGHTS (seed {args.seed}): results mean nothing; the first {RANDOM_SHOWN} of each picture "
              "are shown")
    for path, found in results:
        if task == "classify":
            print(f"{path}: " + ", ".join(f"{r.name} {r.score:.3f}" for r in found))
            continue
        shown = found[:RANDOM_SHOWN] if args.random_weights else found
        more = f", the first {len(shown)} shown" if len(shown) < len(found) else ""
        print(f"{path}: {len(found)} detection{'s' if len(found) != 1 else ''}{more}")
        for d in shown:
            if task == "obb":
                cx, cy, w, h, angle = d.box
                print(f"  {d.name:<16} {d.score:.3f}  center ({cx:.1f}, {cy:.1f}) size {w:.1f} x {h:.1f} "
                      f"angle {math.degrees(angle):.1f} deg")
                continue
            extra = (f"  mask {d.mask.area} px" if task == "segment" else
                     f"  {len(d.keypoints)} keypoints" if task == "pose" else "")
            print(f"  {d.name:<16} {d.score:.3f}  [{d.box[0]:.1f}, {d.box[1]:.1f}, {d.box[2]:.1f}, {d.box[3]:.1f}]"
                  + extra)


def parse_imgsz(text):
    """`--imgsz 640`, `480,640` or `480x640` -> (height, width); None when not given."""
    if text is None:
        return None
    from ..diagnostics import UsageError

    try:
        sizes = [int(v) for v in text.replace("x", ",").split(",")]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 1:
        raise UsageError(f"--imgsz takes SIZE or HEIGHT,WIDTH, found {text!r}")
    return (sizes[0], sizes[-1])


COMMANDS = {"detect": add_detect}
