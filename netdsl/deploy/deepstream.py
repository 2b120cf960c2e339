"""A Gst-nvinfer configuration (``config_infer_primary_<name>.txt``) and its ``labels.txt`` for the
YOLO specs' tasks and RT-DETR, from the engine's manifest (or the spec's, before the engine exists).
The keys are those of NVIDIA's Gst-nvinfer documentation ("Gst-nvinfer Property Group Supported Keys",
https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_plugin_gst-nvinfer.html).

- **detect** (`--set nms=true`): netdsl's `nms` outputs are EfficientNMS' layout: ``num_dets`` [B, 1]
  int32, ``boxes`` [B, K, 4] (x1, y1, x2, y2 in input pixels), ``scores`` [B, K], ``classes`` [B, K]
  int32, in that order. NVIDIA's parser for that layout with boxes as x1, y1, x2, y2 is
  ``NvDsInferParseCustomEfficientNMSTLT`` (libnvds_infercustomparser_tao.so); DeepStream's own sample
  ``NvDsInferParseCustomEfficientNMS`` reads boxes as y1, x1, y2, x2 (TensorFlow's order) and would swap
  them. NMS ran in the engine, so nvinfer clusters nothing (cluster-mode=4). network-type 0.
- **classify**: network-type 1 with nvinfer's built-in classifier parser, which takes the arg-max of a
  softmax output above ``classifier-threshold`` (output0 is ultralytics' softmax). Its labels file holds
  one line per output layer, the classes separated by `;`.
- **segment, pose, obb** (`--set nms=true`) and **RT-DETR**: network-type 100 (other) with
  output-tensor-meta=1: nvinfer runs the engine and attaches every output to the frame as
  NvDsInferTensorMeta for the application to read, since no parser reads these outputs as netdsl lays
  them out. The parsers that exist expect other engines: DeepStream-Yolo-Seg's ``NvDsInferParseYoloSeg``
  (network-type 3, output-instance-mask=1) takes outputs 0 to 3 as boxes, scores, classes (float) and
  masks cropped to each box (RoiAlign), where netdsl's first output is num_dets, classes are int32 and
  masks cover the whole input at 1/4 scale (nvinfer scales an instance mask to its box, so these would be
  drawn squeezed); DeepStream-Yolo-Pose's ``NvDsInferParseYoloPose`` (network-type 3, keypoints carried in
  the mask field) takes boxes as cx, cy, w, h before NMS, runs NMS itself and reads outputs 0 to 2;
  nvinfer has no rotated-box metadata at all; for RT-DETR's output0 rows (cx, cy, w, h as fractions of
  the input, score, class), DeepStream-Yolo's ``NvDsInferParseYolo`` reads the same [K, 6] rows as x1,
  y1, x2, y2 in input pixels, and TAO's ``NvDsInferParseCustomDDETRTAO`` wants separate pred_boxes and
  pred_logits.

Pre-processing matches ultralytics' predictors: y = x / 255 on RGB planes (net-scale-factor, no
offsets: ultralytics normalises by 255 only, also for classify, whose mean and std are 0 and 1),
bilinear scaling (scaling-filter=1: cv2.INTER_LINEAR, torchvision's BILINEAR), and
- the YOLO detectors' letterbox: scaled keeping the aspect ratio, padded on both sides
  (maintain-aspect-ratio=1, symmetric-padding=1; nvinfer pads with 0 where ultralytics pads with 114);
- RT-DETR's predictor stretches to the input (scale_fill): maintain-aspect-ratio=0;
- classify resizes the short side to the input and crops the centre (classify_transforms), which nvinfer
  cannot do: it scales the long side to the input and pads (maintain-aspect-ratio=1, symmetric-padding=1),
  the same for square frames or object crops, a smaller image with bands on the sides otherwise.
"""

from __future__ import annotations

from typing import NamedTuple

from . import DeployError

PARSER = "NvDsInferParseCustomEfficientNMSTLT"
PARSER_LIBRARY = "/opt/nvidia/deepstream/deepstream/lib/libnvds_infercustomparser_tao.so"
NMS_OUTPUTS = ("num_dets", "boxes", "scores", "classes")
# the outputs after NMS_OUTPUTS that a task's NMS adds, and the boxes' last dim
TASK_OUTPUTS = {"detect": ((), 4), "segment": (("masks",), 4), "pose": (("keypoints",), 4), "obb": ((), 5)}
# network-type per task (Gst-nvinfer: 0 detector, 1 classifier, 3 instance segmentation, 100 other: the
# output tensors go to the application as metadata, output-tensor-meta=1); rtdetr is the `head: rtdetr` specs
NETWORK_TYPES = {"detect": 0, "classify": 1, "segment": 100, "pose": 100, "obb": 100, "rtdetr": 100}
NETWORK_MODES = {"float32": 0, "int8": 1, "float16": 2}  # Gst-nvinfer's network-mode
SCALE_TEXT = "0.0039215697906911373"  # 1/255 as DeepStream's sample configs write it (1.2e-9 above it)
BILINEAR = 1  # scaling-filter: NvBufSurfTransformInter_Bilinear


class NvinferConfig(NamedTuple):
    groups: dict  # {group: {key: value}}: [property] and, for detectors, [class-attrs-all]
    notes: list  # comment lines for the top of the file


def task_of(manifest: dict) -> str:
    params = manifest["spec"].get("params") or {}
    return "rtdetr" if params.get("head") == "rtdetr" else params.get("task", "detect")


def nvinfer_config(manifest: dict, engine_file: str, labels_file: str | None, batch_size: int | None = None,
                   parser_library: str = PARSER_LIBRARY, gpu_id: int = 0) -> NvinferConfig:
    """The config's groups and notes, from the manifest."""
    name = manifest["spec"]["name"]
    task = task_of(manifest)
    if task not in NETWORK_TYPES:
        raise DeployError(f"{name}: task `{task}`; netdsl writes DeepStream configs for {', '.join(NETWORK_TYPES)}")
    outputs = [entry["name"] for entry in manifest["outputs"]]
    check_outputs(manifest, task, outputs)
    [image] = manifest["inputs"] if len(manifest["inputs"]) == 1 else [None]
    if image is None or image["dtype"] not in ("float32", "float16") or len(image["shape"]) != 4 \
            or image["shape"][1] != 3:
        raise DeployError(f"{name}: Gst-nvinfer feeds one float RGB input [B, 3, H, W]; this engine takes "
                          + ", ".join(f"{e['name']} {e['dtype']} {e['shape']}" for e in manifest["inputs"])
                          + " (a frames=true spec takes uint8 frames: build it with frames=false)")
    height, width, batch = input_size(manifest, image)
    if batch_size is not None and not batch[0] <= batch_size <= batch[2]:
        raise DeployError(f"--batch-size {batch_size}: {name}'s engine takes batches {batch[0]} to {batch[2]}")
    precision = "int8" if (manifest.get("quantization") or {}).get("dtype") == "int8" else manifest["precision"]
    if precision not in NETWORK_MODES:
        raise DeployError(f"{name}: built in {precision}, which Gst-nvinfer's network-mode (fp32, int8, fp16) "
                          "does not name")
    params = manifest["spec"].get("params") or {}
    classes = params.get("classes")
    if task == "detect" and not isinstance(classes, int):
        raise DeployError(f"{name}: the spec has no `classes` parameter, which num-detected-classes needs")
    letterbox = task != "rtdetr"  # RT-DETR's predictor stretches (scale_fill); the others keep the aspect
    properties = {
        "gpu-id": gpu_id, "net-scale-factor": SCALE_TEXT, **({"offsets": [0, 0, 0]} if task == "classify" else {}),
        "model-color-format": 0, "model-engine-file": engine_file,
        **({"labelfile-path": labels_file} if labels_file else {}),
        "batch-size": batch_size or batch[1], "network-mode": NETWORK_MODES[precision],
        **({"num-detected-classes": classes} if task == "detect" else {}),
        "interval": 0, "gie-unique-id": 1, "process-mode": 1, "network-type": NETWORK_TYPES[task],
        **({"cluster-mode": 4} if task == "detect" else {}),
        "maintain-aspect-ratio": int(letterbox), **({"symmetric-padding": 1} if letterbox else {}),
        "scaling-filter": BILINEAR, "infer-dims": [3, height, width], "output-blob-names": outputs,
    }
    if task == "detect":
        properties.update({"parse-bbox-func-name": PARSER, "custom-lib-path": parser_library})
        # the engine kept only boxes above its own score threshold; nvinfer's default (0.2) would drop more
        attributes = {"pre-cluster-threshold": float(params.get("conf", 0.0)),
                      "topk": manifest["outputs"][1]["shape"][1]}
        return NvinferConfig({"property": properties, "class-attrs-all": attributes},
                             [f"parser: {PARSER} (NVIDIA deepstream_tao_apps, post_processor): EfficientNMS' "
                              "outputs, boxes x1, y1, x2, y2"])
    if task == "classify":
        # ultralytics reports the top class whatever its score: nvinfer keeps the arg-max above this
        properties["classifier-threshold"] = 0.0
        return NvinferConfig({"property": properties}, [
            "classifier: nvinfer's own softmax parser (arg-max of output0); labels.txt holds the classes on one "
            "line, separated by `;`",
            "ultralytics resizes the short side and crops the centre; nvinfer cannot crop, so it scales the long "
            "side and pads (the same for square inputs)"])
    properties["output-tensor-meta"] = 1
    return NvinferConfig({"property": properties}, [
        f"network-type 100 (other): no nvinfer parser reads these outputs, so nvinfer attaches them to each "
        f"frame as NvDsInferTensorMeta (output-tensor-meta=1) for the application to decode: "
        + "; ".join(f"{e['name']} {e['dtype']} [{', '.join(map(str, e.get('dims') or e['shape']))}]"
                    for e in manifest["outputs"]),
        TENSOR_NOTES[task]])


TENSOR_NOTES = {
    "segment": "boxes x1, y1, x2, y2 in input pixels; masks sigmoid, over the whole input at 1/4 scale (nvinfer's "
               "instance masks are per box, so network-type 3 would squeeze them); rows past num_dets are padding",
    "pose": "boxes x1, y1, x2, y2 and keypoints x, y (input pixels), visibility; rows past num_dets are padding",
    "obb": "boxes cx, cy, w, h (input pixels), angle (radians): nvinfer has no rotated-box metadata; rows past "
           "num_dets are padding",
    "rtdetr": "output0 rows cx, cy, w, h (fractions of the input), score, class index, sorted by score",
}


def check_outputs(manifest: dict, task: str, outputs: list) -> None:
    """The outputs the task's config reads, in order, else a located error saying how to build them."""
    name = manifest["spec"]["name"]
    if task == "classify":
        shape = manifest["outputs"][0]["shape"]
        if len(outputs) != 1 or len(shape) != 2:
            raise DeployError(f"{name}: outputs {', '.join(outputs)}; a Gst-nvinfer classifier reads one output "
                              "[B, classes] of probabilities")
        return
    if task == "rtdetr":
        shape = manifest["outputs"][0]["shape"]
        if len(outputs) != 1 or len(shape) != 3 or shape[2] != 6:
            raise DeployError(f"{name}: outputs {', '.join(outputs)}; RT-DETR's config reads output0 "
                              "[B, K, 6]")
        return
    extra, box_values = TASK_OUTPUTS[task]
    wanted = list(NMS_OUTPUTS + extra)
    if outputs != wanted:
        raise DeployError(f"{name}: outputs {', '.join(outputs)}; DeepStream's config for task {task} reads "
                          f"{', '.join(wanted)} in that order: build the {'detector' if task == 'detect' else 'spec'} "
                          "with --set nms=true")
    if manifest["outputs"][1]["shape"][-1] != box_values:
        raise DeployError(f"{name}: boxes {manifest['outputs'][1]['shape']}; task {task} has {box_values} values a "
                          "box")


def input_size(manifest: dict, image: dict) -> tuple[int, int, tuple[int, int, int]]:
    """(height, width, the batch's (min, opt, max)): fixed dims as they are, named ones at their opt size in
    the first profile (nvinfer runs one size)."""
    profile = (manifest.get("profiles") or [{}])[0]
    dims = image.get("dims") or image["shape"]
    sizes = []
    for index in (2, 3):
        d = dims[index]
        sizes.append(d if isinstance(d, int) and d > 0 else profile.get(d, {}).get("opt"))
    if None in sizes:
        raise DeployError(f"{manifest['spec']['name']}: input {image['name']} has no fixed or opt height and width")
    first = dims[0]
    batch = image.get("batch") or (profile.get(first) if isinstance(first, str) else None)
    return sizes[0], sizes[1], ((batch["min"], batch["opt"], batch["max"]) if batch else (first,) * 3)


def labels_text(manifest: dict, names) -> bytes:
    """labels.txt as nvinfer reads it: a detector's classes one a line; a classifier's (one per output layer)
    on one line, separated by `;`."""
    if task_of(manifest) != "classify":
        return "".join(f"{name}\n" for name in names).encode()
    split = [name for name in names if ";" in name]
    if split:
        raise DeployError(f"class name `{split[0]}` holds `;`, which separates a classifier's labels in nvinfer's "
                          "labels file")
    return (";".join(names) + "\n").encode()


def config_text(config: NvinferConfig, source: str) -> str:
    """GKeyFile text (what Gst-nvinfer reads): lists joined by `;`."""
    lines = [f"# written by netdsl deploy deepstream from {source}", *(f"# {note}" for note in config.notes)]
    for group, entries in config.groups.items():
        lines.append(f"\n[{group}]")
        for key, value in entries.items():
            shown = ";".join(str(v) for v in value) if isinstance(value, list) else value
            lines.append(f"{key}={shown}")
    return "\n".join(lines) + "\n"
