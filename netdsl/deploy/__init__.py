"""Deployment: what Triton Inference Server and DeepStream need around an engine, written from the
engine's manifest (names, dtypes, shapes, profiles) and its spec (classes, input layout), so that no one
copies shapes by hand.

- :mod:`.triton`: a model repository, ``DIR/<name>/<version>/model.plan`` with its manifest beside it
  and ``DIR/<name>/config.pbtxt``;
- :mod:`.deepstream`: a Gst-nvinfer configuration for the YOLO specs' tasks and RT-DETR.

Both read a manifest as ``netdsl build`` writes it (:func:`netdsl.build.manifest`); neither needs a GPU.
"""

from __future__ import annotations

import re

from ..diagnostics import NetdslError, UsageError

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
LABELS_FILE = "labels.txt"
# ultralytics' cfg/datasets/DOTAv1.yaml, the classes of its released yolov8*-obb.pt and yolo11*-obb.pt
DOTA_V1 = ("plane", "ship", "storage tank", "baseball diamond", "tennis court", "basketball court",
           "ground track field", "harbor", "bridge", "large vehicle", "small vehicle", "helicopter", "roundabout",
           "soccer ball field", "swimming pool")


class DeployError(NetdslError):
    """The engine, its manifest or an option cannot be deployed as asked (exit 1)."""


def check_model_name(name: str, flag: str = "--name") -> str:
    """A model name as a folder name Triton and DeepStream take: letters, digits, `_`, `.`, `-`."""
    if not NAME.match(name or "") or name in (".", ".."):
        raise UsageError(f"{flag} `{name}`: a model name is letters, digits, `_`, `.` and `-`, not starting with "
                         "`.` or `-` (it names a folder)")
    return name


def class_names(manifest: dict, labels_path: str | None) -> tuple[str, ...] | None:
    """The class names for labels.txt: ``labels_path`` (one per line), else those of the dataset that
    ultralytics' released weights of the spec's task were trained on, where the class count matches: COCO's
    for a detector or segmenter with `classes: 80` (ultralytics' order, as `netdsl detect` names them),
    person for pose with `classes: 1`, DOTA v1's for obb with `classes: 15`; else None (no labels written;
    a classifier's are never guessed)."""
    params = manifest["spec"].get("params") or {}
    classes = params.get("classes")
    if labels_path is None:
        from ..detect import COCO

        task = params.get("task", "detect")
        known = {"detect": {80: COCO}, "segment": {80: COCO}, "pose": {1: ("person",)}, "obb": {15: DOTA_V1}}
        return known.get(task, {}).get(classes)
    try:
        with open(labels_path, encoding="utf-8") as stream:
            names = tuple(line.strip() for line in stream.read(1 << 22).splitlines() if line.strip())
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"--labels {labels_path}: {getattr(error, 'strerror', None) or error}") from None
    counted = classes if isinstance(classes, int) else output_classes(manifest)
    if not names:
        raise DeployError(f"--labels {labels_path}: no names in it (one class name per line)")
    if counted is not None and len(names) != counted:
        raise DeployError(f"--labels {labels_path}: {len(names)} names for {counted} classes "
                          f"({manifest['spec']['name']}); one name per class, in class order")
    return names


def output_classes(manifest: dict) -> int | None:
    """A classifier's class count: its only output's last dim, for an output [batch, classes]."""
    outputs = manifest["outputs"]
    if len(outputs) == 1 and len(outputs[0]["shape"]) == 2 and outputs[0]["shape"][1] > 0:
        return outputs[0]["shape"][1]
    return None


def labels_text(names) -> bytes:
    return "".join(f"{name}\n" for name in names).encode()


def planned_manifest(checked, options, plan_path: str) -> dict:
    """What `netdsl build` will record about the engine of ``checked`` with ``options`` (spec, precision,
    inputs, outputs, profiles), for configs written before the engine exists (an NMS detector, which
    needs full TensorRT to build, configured on a machine without it)."""
    from ..build import _io  # the manifest's own records of inputs and outputs
    from ..symbolic import has_named_dims
    from ..trt.network import profiles_of

    graph = checked.graph
    record = {"spec": {"path": checked.path, "name": graph.name, **({"params": graph.params} if graph.params else {})},
              "tensorrt": {"flavour": "(not built yet)", "version": ""}, "plan": {"path": plan_path},
              "precision": options.precision, "inputs": _io(checked, options, "inputs"),
              "outputs": _io(checked, options, "outputs")}
    if any(has_named_dims(i.shape) for i in graph.inputs):
        record["profiles"] = [{name: dict(zip(("min", "opt", "max"), r)) for name, r in p.ranges.items()}
                              for p in profiles_of(checked, options)]
    if graph.quantization is not None:
        record["quantization"] = {"dtype": graph.quantization.dtype}
    return record
