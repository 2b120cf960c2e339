"""A Gst-nvinfer configuration (``config_infer_primary_<name>.txt``) and its ``labels.txt`` for a
detector with NMS in the engine, from the engine's manifest (or the spec's, before the engine exists).

netdsl's `nms` outputs are EfficientNMS' layout: ``num_dets`` [B, 1] int32, ``boxes`` [B, K, 4]
(x1, y1, x2, y2 in input pixels), ``scores`` [B, K], ``classes`` [B, K] int32, in that order. NVIDIA's
parser for that layout with boxes as x1, y1, x2, y2 is ``NvDsInferParseCustomEfficientNMSTLT``
(deepstream_tao_apps' post_processor, libnvds_infercustomparser_tao.so); DeepStream's own sample
``NvDsInferParseCustomEfficientNMS`` reads boxes as y1, x1, y2, x2 (TensorFlow's order) and would swap
them. NMS ran in the engine, so nvinfer clusters nothing (cluster-mode=4).

Pre-processing matches ultralytics' letterbox: nvinfer scales keeping the aspect ratio and pads both
sides (maintain-aspect-ratio=1, symmetric-padding=1), then y = x / 255 on RGB planes.
"""

from __future__ import annotations

from . import DeployError

PARSER = "NvDsInferParseCustomEfficientNMSTLT"
PARSER_LIBRARY = "/opt/nvidia/deepstream/deepstream/lib/libnvds_infercustomparser_tao.so"
NMS_OUTPUTS = ("num_dets", "boxes", "scores", "classes")
# network-type per ultralytics task (Gst-nvinfer: 0 detector, 1 classifier, 3 instance segmentation,
# 100 other: the output tensors go to the application as metadata, output-tensor-meta=1)
NETWORK_TYPES = {"detect": 0, "classify": 1, "segment": 3, "pose": 100, "obb": 100}
NETWORK_MODES = {"float32": 0, "int8": 1, "float16": 2}  # Gst-nvinfer's network-mode
SCALE_TEXT = "0.0039215697906911373"  # 1/255 as DeepStream's sample configs write it (1.2e-9 above it)


def task_of(manifest: dict) -> str:
    return (manifest["spec"].get("params") or {}).get("task", "detect")


def nvinfer_config(manifest: dict, engine_file: str, labels_file: str | None, batch_size: int | None = None,
                   parser_library: str = PARSER_LIBRARY, gpu_id: int = 0) -> dict:
    """The [property] and [class-attrs-all] groups as {group: {key: value}}, from the manifest."""
    name = manifest["spec"]["name"]
    task = task_of(manifest)
    if task != "detect":
        raise DeployError(f"{name}: task `{task}` (Gst-nvinfer network-type {NETWORK_TYPES.get(task, '?')}); "
                          "netdsl writes DeepStream configs for detectors (task detect, --set nms=true) so far")
    outputs = [entry["name"] for entry in manifest["outputs"]]
    if outputs != list(NMS_OUTPUTS):
        raise DeployError(f"{name}: outputs {', '.join(outputs)}; DeepStream's EfficientNMS parsers read "
                          f"{', '.join(NMS_OUTPUTS)} in that order: build the detector with --set nms=true")
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
    classes = (manifest["spec"].get("params") or {}).get("classes")
    if not isinstance(classes, int):
        raise DeployError(f"{name}: the spec has no `classes` parameter, which num-detected-classes needs")
    properties = {
        "gpu-id": gpu_id, "net-scale-factor": SCALE_TEXT, "model-color-format": 0, "model-engine-file": engine_file,
        **({"labelfile-path": labels_file} if labels_file else {}),
        "batch-size": batch_size or batch[1], "network-mode": NETWORK_MODES[precision],
        "num-detected-classes": classes, "interval": 0, "gie-unique-id": 1, "process-mode": 1,
        "network-type": NETWORK_TYPES[task], "cluster-mode": 4, "maintain-aspect-ratio": 1, "symmetric-padding": 1,
        "infer-dims": [3, height, width], "output-blob-names": list(NMS_OUTPUTS),
        "parse-bbox-func-name": PARSER, "custom-lib-path": parser_library,
    }
    # the engine kept only boxes above its own score threshold; nvinfer's default (0.2) would drop more
    conf = (manifest["spec"].get("params") or {}).get("conf", 0.0)
    return {"property": properties, "class-attrs-all": {"pre-cluster-threshold": float(conf), "topk":
                                                        image_detections(manifest)}}


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


def image_detections(manifest: dict) -> int:
    boxes = next(entry for entry in manifest["outputs"] if entry["name"] == "boxes")
    return boxes["shape"][1]


def config_text(groups: dict, source: str) -> str:
    """GKeyFile text (what Gst-nvinfer reads): lists joined by `;`."""
    lines = [f"# written by netdsl deploy deepstream from {source}",
             f"# parser: {PARSER} (NVIDIA deepstream_tao_apps, post_processor): EfficientNMS' outputs, boxes "
             "x1, y1, x2, y2"]
    for group, entries in groups.items():
        lines.append(f"\n[{group}]")
        for key, value in entries.items():
            shown = ";".join(str(v) for v in value) if isinstance(value, list) else value
            lines.append(f"{key}={shown}")
    return "\n".join(lines) + "\n"
