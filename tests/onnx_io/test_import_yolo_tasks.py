"""`netdsl import` of ultralytics' ONNX export of its other tasks (segment, pose, obb, classify): the file
`YOLO("yolov8n-seg.yaml").export(format="onnx")` writes (random weights, nothing downloaded; onnxslim is
not installed, so `simplify=False`), static and with `dynamic=True`. Each import validates, binds its
weights, and computes what ONNX Runtime computes on the file, every output (segment's two)."""

import importlib.util

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import randomized, run_onnxruntime
from yolo_oracle import ultralytics_environment  # noqa: F401 (a fixture)

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
if importlib.util.find_spec("ultralytics") is None:
    pytest.skip("ultralytics is not installed", allow_module_level=True)
pytestmark = pytest.mark.usefixtures("ultralytics_environment")  # os.environ restored after the module

SUFFIX = {"segment": "seg", "pose": "pose", "obb": "obb", "classify": "cls"}


def assert_same(ours: np.ndarray, theirs: np.ndarray):
    """float32 rounding over ~100 layers, in two summation orders: 1e-5 of the output's scale (coordinates
    in pixels up to the image size, scores and probabilities up to 1, coefficients of any size)."""
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-5 * max(1.0, float(np.abs(theirs).max()))


@pytest.mark.slow  # an export and an import of about 300 nodes each: several seconds
@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("family", ["yolov8", "yolo11"])
@pytest.mark.parametrize("task", list(SUFFIX))
def test_ultralytics_task_export_imports_and_matches_onnxruntime(tmp_path, monkeypatch, task, family, dynamic):
    from ultralytics import YOLO

    from netdsl.onnx.importer import import_onnx

    monkeypatch.chdir(tmp_path)  # the exporter writes next to the model's yaml name, in the working folder
    size = 224 if task == "classify" else 256
    yolo = YOLO(f"{family}n-{SUFFIX[task]}.yaml")
    randomized(yolo.model)
    path = yolo.export(format="onnx", simplify=False, imgsz=size, opset=17, dynamic=dynamic, verbose=False)
    imported = import_onnx(path, str(tmp_path / "imported.yaml"))
    [name] = [i.name for i in imported.checked.graph.inputs]
    assert name == "images"
    sizes = ((1, size, size),) if not dynamic else ((1, 256, 192), (2, 192, 256))
    for batch, height, width in sizes:
        x = np.random.default_rng(height).random((batch, 3, height, width)).astype(np.float32)
        ours = reference.run(imported.checked, imported.bound, {name: x})
        theirs = run_onnxruntime(path, {name: x})
        assert list(ours) == ["output0", "output1"][:len(theirs)]
        for mine, expected in zip(ours.values(), theirs, strict=True):
            assert_same(mine, expected)
        nc = yolo.model.yaml["nc"]
        rows = {"segment": 4 + nc + 32, "pose": 4 + nc + 51, "obb": 4 + nc + 1}.get(task, nc)
        anchors = sum((height // s) * (width // s) for s in (8, 16, 32))
        assert theirs[0].shape == ((batch, rows) if task == "classify" else (batch, rows, anchors))
        if task == "segment":
            assert theirs[1].shape == (batch, 32, height // 4, width // 4)
