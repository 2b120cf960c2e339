"""`netdsl deploy deepstream`: the Gst-nvinfer config, read back as GKeyFile text (configparser, no
interpolation) and checked key by key against the key list and value types of NVIDIA's Gst-nvinfer
documentation, "Gst-nvinfer Property Group Supported Keys" and "Class-attributes Group Supported Keys":
https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_plugin_gst-nvinfer.html
(types as the parser reads them: g_key_file_get_integer / _double / _boolean / _string / _*_list, in
DeepStream's sources/gst-plugins/gst-nvinfer/gstnvinfer_property_parser.cpp, which also gives the
allowed values of network-type and scaling-filter; it parses [class-attrs-*] only for network-type 0
and 3). Values are checked against the spec as this test reads it (its YAML) and against ultralytics'
own preprocessing and dataset files, not against netdsl's own code. No DeepStream runs here."""

import ast
import configparser
import importlib.util
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = "https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_plugin_gst-nvinfer.html"

# key -> (type, allowed values or None), from the documentation's tables
PROPERTY = {
    "gpu-id": ("integer", None),
    "net-scale-factor": ("float", None),
    "model-color-format": ("integer", {0, 1, 2}),  # 0 RGB, 1 BGR, 2 GRAY
    "model-engine-file": ("string", None),
    "labelfile-path": ("string", None),
    "batch-size": ("integer", None),
    "network-mode": ("integer", {0, 1, 2, 3}),  # 0 FP32, 1 INT8, 2 FP16, 3 BEST
    "num-detected-classes": ("integer", None),
    "interval": ("integer", None),
    "gie-unique-id": ("integer", None),
    "process-mode": ("integer", {1, 2}),  # 1 primary, 2 secondary
    "network-type": ("integer", {0, 1, 2, 3, 100}),  # detector, classifier, segmentation, instance seg., other
    "cluster-mode": ("integer", {0, 1, 2, 3, 4}),  # groupRectangles, DBSCAN, NMS, DBSCAN+NMS, none
    "maintain-aspect-ratio": ("boolean", None),
    "symmetric-padding": ("boolean", None),
    "infer-dims": ("integer list", None),  # channel;height;width
    "output-blob-names": ("string list", None),
    "parse-bbox-func-name": ("string", None),
    "custom-lib-path": ("string", None),
    "output-tensor-meta": ("boolean", None),
    "offsets": ("float list", None),  # per-channel means subtracted before net-scale-factor
    # NvBufSurfTransform_Inter: 0 nearest, 1 bilinear, 2-5 Algo1-4, 6 default
    "scaling-filter": ("integer", {0, 1, 2, 3, 4, 5, 6}),
    "classifier-threshold": ("float", None),
}
CLASS_ATTRS = {"pre-cluster-threshold": ("float", None), "topk": ("integer", None)}


def value_of(kind, text):
    if kind == "integer":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "boolean":
        assert text in ("0", "1", "true", "false"), text
        return text in ("1", "true")
    if kind == "float list":
        return [float(v) for v in text.split(";") if v]
    if kind == "integer list":
        return [int(v) for v in text.split(";") if v]
    if kind == "string list":
        return [v for v in text.split(";") if v]
    return text


def read_config(path):
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive in GKeyFile
    parser.read_string(path.read_text())
    assert set(parser.sections()) <= {"property", "class-attrs-all"}
    found = {}
    for section, table in (("property", PROPERTY), ("class-attrs-all", CLASS_ATTRS)):
        for key, text in (parser[section].items() if parser.has_section(section) else ()):
            assert key in table, f"{key} is not a Gst-nvinfer [{section}] key ({DOCS})"
            kind, allowed = table[key]
            found[key] = value_of(kind, text)
            assert allowed is None or found[key] in allowed, (key, found[key])
    return found


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


@pytest.mark.parametrize("family", ["yolov8", "yolov5u", "yolo11"])
@pytest.mark.parametrize("task", ["detect"])  # the other tasks: the tests below
def test_yolo_detector_config_has_the_documented_keys_and_the_specs_values(tmp_path, family, task):
    spec = ROOT / "specs" / "zoo" / f"{family}.yaml"
    result = netdsl("deploy", "deepstream", str(spec), "--set", "nms=true", "--precision", "fp16", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    found = read_config(tmp_path / f"config_infer_primary_{family}.txt")
    document = yaml.safe_load(spec.read_text())
    dims = document["dims"]
    # the opt size, ultralytics' default imgsz (the spec's dims are task expressions since the task heads)
    imgsz = yaml.safe_load(ultralytics_file("cfg", "default.yaml"))["imgsz"]
    assert found["infer-dims"] == [3, imgsz, imgsz] == [3, 640, 640]
    assert found["batch-size"] == dims["batch"]["opt"]
    classes = document["params"]["classes"]  # a number, or a table by task ({by: task, detect: 80, ...})
    assert found["num-detected-classes"] == (classes[task] if isinstance(classes, dict) else classes) == 80
    assert found["network-type"] == {"detect": 0}[task] and found["network-mode"] == 2  # fp16
    assert found["output-blob-names"] == ["num_dets", "boxes", "scores", "classes"]
    assert found["cluster-mode"] == 4 and found["maintain-aspect-ratio"] and found["symmetric-padding"]
    assert found["net-scale-factor"] == 0.0039215697906911373 and found["model-color-format"] == 0
    assert found["model-engine-file"] == f"{family}.plan"  # relative to the config, as nvinfer resolves it
    assert found["pre-cluster-threshold"] == document["params"]["conf"]
    assert found["topk"] == document["params"]["max_det"]
    labels = (tmp_path / "labels.txt").read_text().splitlines()
    assert found["labelfile-path"] == "labels.txt" and len(labels) == 80 and labels[:2] == ["person", "bicycle"]


@pytest.mark.parametrize("args,says", [
    ([], "build the detector with --set nms=true"),
    (["--set", "nms=true", "--set", "frames=true"], "build it with frames=false"),
    (["--set", "nms=true", "--batch-size", "17"], "takes batches 1 to 16"),
    (["--set", "nms=true", "--precision", "bf16"], "bfloat16"),
])
def test_what_nvinfer_cannot_take_is_a_one_line_error(tmp_path, args, says):
    result = netdsl("deploy", "deepstream", "specs/zoo/yolov8.yaml", *args, "-o", str(tmp_path))
    assert result.returncode == 1 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_network_type_per_task_is_a_documented_value():
    from netdsl.deploy.deepstream import NETWORK_TYPES

    assert set(NETWORK_TYPES.values()) <= PROPERTY["network-type"][1]
    assert NETWORK_TYPES["detect"] == 0 and NETWORK_TYPES["classify"] == 1
    assert {NETWORK_TYPES[t] for t in ("segment", "pose", "obb", "rtdetr")} == {100}


def ultralytics_file(*parts):
    """A file of the installed ultralytics package, read as text (not imported: no torch needed)."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is None:
        pytest.skip("ultralytics is not installed (pip install --no-deps -r tests/requirements-nodeps.txt)")
    return pathlib.Path(spec.origin).parent.joinpath(*parts).read_text()


def ultralytics_names(dataset):
    """The class names of ultralytics' cfg/datasets/<dataset>.yaml, in class order."""
    names = yaml.safe_load(ultralytics_file("cfg", "datasets", f"{dataset}.yaml"))["names"]
    return [names[i] for i in range(len(names))]


def assigned(source, target, within=None):
    """The literal value assigned to ``target`` at the top of ``source`` (or in class ``within``)."""
    body = ast.parse(source).body
    if within:
        body = next(node for node in body if isinstance(node, ast.ClassDef) and node.name == within).body
    for node in body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == target for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no `{target} = ...` in ultralytics' source")


def deepstream(tmp_path, spec, *args):
    result = netdsl("deploy", "deepstream", str(ROOT / spec), *args, "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    name = yaml.safe_load((ROOT / spec).read_text())["name"]
    return read_config(tmp_path / f"config_infer_primary_{name}.txt")


def labels_of(tmp_path):
    return (tmp_path / "labels.txt").read_text().splitlines() if (tmp_path / "labels.txt").exists() else None


@pytest.mark.parametrize("family", ["yolov8", "yolo11"])
def test_classifier_config_preprocesses_as_ultralytics_and_labels_one_line(tmp_path, family):
    names = tmp_path / "names.txt"
    names.write_text("".join(f"class {i}\n" for i in range(1000)))
    out = tmp_path / "out"
    found = deepstream(out, f"specs/zoo/{family}.yaml", "--set", "task=classify", "--labels", str(names))
    assert found["network-type"] == 1 and found["output-blob-names"] == ["output0"]
    assert found["infer-dims"] == [3, 224, 224]  # the spec's classify default, ultralytics' -cls imgsz
    # ultralytics' classify_transforms: ToTensor (x / 255), then Normalize(DEFAULT_MEAN, DEFAULT_STD);
    # nvinfer computes net-scale-factor * (x - offsets)
    augment = ultralytics_file("data", "augment.py")
    mean, std = assigned(augment, "DEFAULT_MEAN"), assigned(augment, "DEFAULT_STD")
    assert found["offsets"] == [255 * m for m in mean] == [0, 0, 0]
    # DeepStream's samples' 1/255 is 3e-7 (relative) above it; a y = x / 255 of 8-bit x moves by under 1e-6
    assert all(found["net-scale-factor"] == pytest.approx(1 / (255 * s), rel=1e-6) for s in std)
    assert found["model-color-format"] == 0 and found["scaling-filter"] == 1  # RGB; PIL BILINEAR resize
    assert found["maintain-aspect-ratio"] and found["symmetric-padding"]  # the nearest to a centre crop
    assert found["classifier-threshold"] == 0.0  # ultralytics reports the top class whatever its score
    assert "num-detected-classes" not in found and "pre-cluster-threshold" not in found  # detector keys
    # nvinfer's classifier labels: one line per output layer, the classes separated by `;`
    assert labels_of(out) == [";".join(f"class {i}" for i in range(1000))]


def test_classifier_labels_are_not_guessed_and_a_semicolon_is_refused(tmp_path):
    found = deepstream(tmp_path / "a", "specs/zoo/yolov8.yaml", "--set", "task=classify", "--set", "classes=80")
    assert "labelfile-path" not in found and labels_of(tmp_path / "a") is None  # 80 classes are not COCO here
    names = tmp_path / "names.txt"
    names.write_text("".join(f"class;{i}\n" for i in range(1000)))
    result = netdsl("deploy", "deepstream", "specs/zoo/yolov8.yaml", "--set", "task=classify", "--labels",
                    str(names), "-o", str(tmp_path / "b"))
    assert result.returncode == 1 and "holds `;`" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "b").exists()


TASK_BLOBS = {"segment": ["num_dets", "boxes", "scores", "classes", "masks"],
              "pose": ["num_dets", "boxes", "scores", "classes", "keypoints"],
              "obb": ["num_dets", "boxes", "scores", "classes"]}


@pytest.mark.parametrize("family", ["yolov8", "yolo11"])
@pytest.mark.parametrize("task,classes,dataset", [("segment", None, "coco"), ("pose", 1, "coco-pose"),
                                                  ("obb", 15, "DOTAv1")])
def test_task_with_nms_gives_its_tensors_to_the_application(tmp_path, family, task, classes, dataset):
    args = ["--set", f"task={task}", "--set", "nms=true", "--precision", "fp16"]
    found = deepstream(tmp_path, f"specs/zoo/{family}.yaml", *args,
                       *(["--set", f"classes={classes}"] if classes else []))
    # no nvinfer parser reads these outputs: network-type 100 (other) with the tensors as metadata
    assert found["network-type"] == 100 and found["output-tensor-meta"] is True
    assert found["output-blob-names"] == TASK_BLOBS[task]
    assert "parse-bbox-func-name" not in found and "pre-cluster-threshold" not in found
    imgsz = yaml.safe_load(ultralytics_file("cfg", "default.yaml"))["imgsz"]
    assert found["infer-dims"] == [3, imgsz, imgsz] == [3, 640, 640]
    assert found["maintain-aspect-ratio"] and found["symmetric-padding"] and found["scaling-filter"] == 1
    assert found["net-scale-factor"] == 0.0039215697906911373 and found["network-mode"] == 2
    # the class names of the dataset ultralytics' released weights of the task were trained on
    assert found["labelfile-path"] == "labels.txt" and labels_of(tmp_path) == ultralytics_names(dataset)
    text = (tmp_path / f"config_infer_primary_{family}.txt").read_text()
    assert "# network-type 100 (other): no nvinfer parser reads these outputs" in text


@pytest.mark.parametrize("spec", ["specs/zoo/rtdetr-l.yaml", "specs/zoo/rtdetr-x.yaml"])
def test_rtdetr_stretches_as_its_predictor_and_gives_output0_to_the_application(tmp_path, spec):
    found = deepstream(tmp_path, spec)
    assert found["network-type"] == 100 and found["output-tensor-meta"] is True
    assert found["output-blob-names"] == ["output0"] and found["infer-dims"] == [3, 640, 640]
    # ultralytics' RTDETRPredictor letterboxes with scale_fill (a stretch): nvinfer without the aspect ratio
    scale_fill = assigned(ultralytics_file("models", "rtdetr", "predict.py"), "scale_fill", "RTDETRPredictor")
    assert scale_fill is True and found["maintain-aspect-ratio"] is False and "symmetric-padding" not in found
    assert labels_of(tmp_path) == ultralytics_names("coco")


@pytest.mark.parametrize("args,says", [
    (["--set", "task=segment"], "reads num_dets, boxes, scores, classes, masks in that order"),
    (["--set", "task=obb"], "build the spec with --set nms=true"),
    (["--set", "task=pose", "--set", "nms=true", "--parser-library", "x.so"], "names no parser library"),
])
def test_tasks_without_nms_in_the_engine_or_a_parser_they_cannot_use_are_refused(tmp_path, args, says):
    result = netdsl("deploy", "deepstream", "specs/zoo/yolov8.yaml", *args, "-o", str(tmp_path))
    assert result.returncode == (2 if "--parser-library" in args else 1), result.stderr
    assert says in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert list(tmp_path.iterdir()) == []
