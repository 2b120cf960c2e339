"""`netdsl deploy deepstream`: the Gst-nvinfer config, read back as GKeyFile text (configparser, no
interpolation) and checked key by key against the key list and value types of NVIDIA's Gst-nvinfer
documentation, "Gst-nvinfer Property Group Supported Keys" and "Class-attributes Group Supported Keys":
https://docs.nvidia.com/metropolis/deepstream/dev-guide/text/DS_plugin_gst-nvinfer.html
(types as the parser reads them: g_key_file_get_integer / _double / _boolean / _string / _*_list).
Values are checked against the spec as this test reads it (its YAML), not against netdsl's own code.
No DeepStream runs here."""

import configparser
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
        for key, text in parser[section].items():
            assert key in table, f"{key} is not a Gst-nvinfer [{section}] key ({DOCS})"
            kind, allowed = table[key]
            found[key] = value_of(kind, text)
            assert allowed is None or found[key] in allowed, (key, found[key])
    return found


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)


@pytest.mark.parametrize("family", ["yolov8", "yolov5u", "yolo11"])
@pytest.mark.parametrize("task", ["detect"])  # the tasks these specs take today
def test_yolo_detector_config_has_the_documented_keys_and_the_specs_values(tmp_path, family, task):
    spec = ROOT / "specs" / "zoo" / f"{family}.yaml"
    result = netdsl("deploy", "deepstream", str(spec), "--set", "nms=true", "--precision", "fp16", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    found = read_config(tmp_path / f"config_infer_primary_{family}.txt")
    document = yaml.safe_load(spec.read_text())
    dims = document["dims"]
    assert found["infer-dims"] == [3, dims["height"]["opt"], dims["width"]["opt"]]
    assert found["batch-size"] == dims["batch"]["opt"]
    assert found["num-detected-classes"] == document["params"]["classes"] == 80
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
