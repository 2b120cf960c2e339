"""`netdsl import` of YOLOv8n: ultralytics 8.4.190's DetectionModel built from the yolov8n.yaml it ships,
random weights, nothing downloaded. Two files:

- what ultralytics' own exporter writes (`model.export(format="onnx", simplify=False)`: onnxslim is
  not installed; batch norm folded into the convolutions, as in every file users have), and
- torch.onnx.export of the same model in the exporter's export mode (Detect.export, C2f.forward_split)
  with batch norm kept and a dynamic batch, whose parameters are the model's own 3,157,200 (the DFL's
  16 fixed weights included).

Each import validates, binds its weights strictly, computes what ONNX Runtime computes on the file,
has the source model's parameter count (the anchor grid is a buffer), and reads like the model:
ultralytics' module names, one block per module structure (Conv, C2f, the head's branches)."""

import copy
import importlib.util

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import randomized, run_onnxruntime, torch_export
from yolo_oracle import ultralytics_environment  # noqa: F401 (a fixture)

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
if importlib.util.find_spec("ultralytics") is None:
    pytest.skip("ultralytics is not installed", allow_module_level=True)
pytestmark = pytest.mark.usefixtures("ultralytics_environment")  # os.environ restored after the module



def yolov8n():
    from ultralytics.nn.tasks import DetectionModel

    return randomized(DetectionModel("yolov8n.yaml", verbose=False))


def parameters(checked) -> int:
    return sum(s.count for n in checked.graph.nodes for s in n.weight_slots(checked.types) if s.trainable)


def ultralytics_export(tmp_path, monkeypatch, size: int) -> tuple:
    """(the file ultralytics' exporter writes, the parameter count of the model it exported)."""
    from ultralytics import YOLO

    monkeypatch.chdir(tmp_path)  # the exporter writes next to the model's yaml name, in the working folder
    yolo = YOLO("yolov8n.yaml")
    randomized(yolo.model)
    path = yolo.export(format="onnx", simplify=False, imgsz=size, opset=17, dynamic=False, verbose=False)
    fused = copy.deepcopy(yolo.model).fuse()  # what the exporter exported: batch norm folded
    return path, sum(p.numel() for p in fused.parameters())


def export_mode(model):
    """The model as ultralytics' exporter prepares it for ONNX, batch norm left in place."""
    from ultralytics.nn.modules import C2f, Detect

    model = copy.deepcopy(model).eval()
    for module in model.modules():
        if isinstance(module, Detect):
            module.export, module.format, module.dynamic = True, "onnx", False
        elif isinstance(module, C2f):
            module.forward = module.forward_split
    return model


def check_import(path, tmp_path, x: np.ndarray):
    """Imports the file; returns it, after comparing its reference outputs with ONNX Runtime's."""
    from netdsl.onnx.importer import import_onnx

    imported = import_onnx(str(path), str(tmp_path / "yolov8n.yaml"))
    checked = imported.checked
    [name] = [i.name for i in checked.graph.inputs]  # the ONNX file's: `images` (ultralytics), `input`
    [ours] = reference.run(checked, imported.bound, {name: x}).values()
    [theirs] = run_onnxruntime(open(path, "rb").read(), {name: x})
    assert ours.shape == theirs.shape == (x.shape[0], 84, 21 * (x.shape[2] // 32) ** 2)
    # boxes in pixels (up to the image size), class scores in [0, 1]: float32 rounding over ~70 layers
    boxes, scores = np.abs(ours[:, :4] - theirs[:, :4]).max(), np.abs(ours[:, 4:] - theirs[:, 4:]).max()
    assert boxes <= 1e-6 * x.shape[2] * 20 and scores <= 1e-5, (boxes, scores)
    return imported


def test_ultralytics_export(tmp_path, monkeypatch):
    path, count = ultralytics_export(tmp_path, monkeypatch, 320)  # 640 in test_ultralytics_export_at_640
    x = np.random.default_rng(0).standard_normal((1, 3, 320, 320)).astype(np.float32)
    imported = check_import(path, tmp_path, x)
    assert parameters(imported.checked) == count == 3_151_904  # ultralytics' "YOLOv8n summary (fused)"
    text = imported.text
    lines = text.splitlines()
    assert len(lines) <= 250, len(lines)  # a hand-written YOLOv8 spec takes about 150 to 250
    # Conv (conv + SiLU) and C2f are blocks; model.N keeps ultralytics' layer names
    assert "  - {name: model.0, block: model_0, with: {out_channels: 16}}" in lines
    assert "      - {name: act, kind: silu}" in lines
    assert "  - {name: model.11, kind: concat, inputs: [model.10, model.6]}" in lines  # ultralytics' from: [-1, 6]
    assert "- {name: model.4, block: model_4, with: {cv1_conv_out_channels: 64, split_size_or_sections: [32, 32], " \
           "m_out_channels: 32}}" in text
    # the repeated bottlenecks of a C2f with n=2 are a chain of the bottleneck block
    assert "      - {name: m, block: m, inputs: split.1, with: {out_channels: $m_out_channels}, repeat: 2}" in lines
    # n=1 C2f with and without the bottleneck's shortcut: one block, the add switched
    assert "      - {name: m.0.add, kind: add, inputs: [m.0.cv2.act, split.1], when: $residual}" in lines
    # the head: its six branches are one block; DFL as written in ultralytics; the anchors one buffer
    assert [line.split(",")[:2] for line in lines if "block: cv2_0" in line] == [
        [f"  - {{name: model.22.{branch}.{level}", " block: cv2_0"] for branch in ("cv2", "cv3") for level in range(3)]
    assert "- {name: model.22.dfl.softmax, kind: softmax}" in text
    assert "- {name: model.22.dfl.conv, kind: convolution, out_channels: 1, kernel: 1, bias: false}" in text
    assert "- {name: model.22.constant, kind: constant, shape: [1, 2, 2100], buffer: true}" in text
    names = [node.name for node in imported.checked.graph.nodes]  # what summary lists
    assert names[:4] == ["model.0.conv", "model.0.act", "model.1.conv", "model.1.act"]
    assert "model.2.m.0.cv1.conv" in names and "model.4.m.1.cv2.act" in names
    # TensorRT-RTX builds it, its inferred shape equal to netdsl's at every layer (netdsl/trt/lowering.py)
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import build_plan

    assert len(build_plan(imported.checked, imported.bound).data) > 1_000_000


def test_batch_norm_kept_and_a_dynamic_batch(tmp_path):
    model = yolov8n()
    assert sum(p.numel() for p in model.parameters()) == 3_157_200
    path = tmp_path / "yolov8n.onnx"
    torch_export(export_mode(model), path, (1, 3, 320, 320), dynamic=True)
    x = np.random.default_rng(1).standard_normal((2, 3, 320, 320)).astype(np.float32)
    imported = check_import(path, tmp_path, x)
    assert parameters(imported.checked) == 3_157_200
    text = imported.text
    assert len(text.splitlines()) <= 250
    assert "shape: [-1, 3, 320, 320], batch: {min: 1, opt: 1, max: 32}}  # dimension 0 is ONNX's `batch`" in text
    assert "      - {name: bn, kind: batch_norm, eps: 0.001}" in text.splitlines()
    assert "- {name: model.22.reshape, kind: reshape, shape: [0, 64, -1]}" in text  # the batch copied
    bound = imported.bound
    assert set(bound) == {k for k in model.state_dict() if not k.endswith("num_batches_tracked")} | {
        "model.22.constant.value", "model.22.constant_3.value"}  # the anchors and strides


@pytest.mark.slow
def test_ultralytics_export_at_640(tmp_path, monkeypatch):
    path, count = ultralytics_export(tmp_path, monkeypatch, 640)
    x = np.random.default_rng(2).standard_normal((1, 3, 640, 640)).astype(np.float32)
    imported = check_import(path, tmp_path, x)
    assert parameters(imported.checked) == count
    assert "- {name: model.22.constant, kind: constant, shape: [1, 2, 8400], buffer: true}" in imported.text


@pytest.mark.parametrize("name", ["yolov8n", "yolo11n"])
def test_ultralytics_dynamic_export(tmp_path, monkeypatch, name):
    # ultralytics' dynamic=True: batch, height and width known only at run time. The anchor grid comes from
    # the feature maps' sizes (Range, ConstantOfShape: a running sum of ones over a `where` grown to the
    # size), YOLO11's attention views [B, C, H*W] as [B, C, H, W] (reshape_as)
    from ultralytics import YOLO

    from netdsl.onnx.importer import import_onnx

    monkeypatch.chdir(tmp_path)
    yolo = YOLO(f"{name}.yaml")
    randomized(yolo.model)
    path = yolo.export(format="onnx", simplify=False, imgsz=320, opset=17, dynamic=True, verbose=False)
    imported = import_onnx(path, str(tmp_path / f"{name}.yaml"))
    assert "  - {name: images, shape: [batch, 3, height, width]}" in imported.text
    assert "  height: {min: 32, opt: 224, max: 1024, multiple_of: 32}" in imported.text
    for batch, height, width in ((1, 320, 256), (2, 256, 320)):  # two sizes of each dimension
        x = np.random.default_rng(height).random((batch, 3, height, width)).astype(np.float32)
        [ours] = reference.run(imported.checked, imported.bound, {"images": x}).values()
        [theirs] = run_onnxruntime(path, {"images": x})
        assert ours.shape == theirs.shape == (batch, 84, 21 * height * width // 32 ** 2)
        # as check_import: boxes in pixels (float32 rounding over ~70 layers), class scores in [0, 1]
        boxes, scores = np.abs(ours[:, :4] - theirs[:, :4]).max(), np.abs(ours[:, 4:] - theirs[:, 4:]).max()
        assert boxes <= 1e-6 * height * 20 and scores <= 1e-5, (boxes, scores)


def test_from_torch_names_blocks_as_ultralytics_does(tmp_path):
    # netdsl.from_torch knows the modules' classes: Conv, C2f, Bottleneck become blocks of those names;
    # the reference equals ultralytics' own forward pass (export mode: boxes and class scores)
    import netdsl

    model = export_mode(yolov8n())
    imported = netdsl.from_torch(model, torch.randn(1, 3, 256, 256))
    lines = imported.text.splitlines()
    assert "  - {name: model.0, block: conv, with: {out_channels: 16}}" in lines
    assert "  - {name: model.2, block: c2f, with: {cv1_conv_out_channels: 32, split_size_or_sections: [16, 16], " \
           "m_0_cv1_conv_out_channels: 16, residual: true}}" in lines
    assert "      - {name: m, block: bottleneck, inputs: split.1, with: {out_channels: $m_out_channels}, repeat: 2}" \
           in lines
    assert parameters(imported.checked) == 3_157_200
    x = np.random.default_rng(3).standard_normal((2, 3, 256, 256)).astype(np.float32)
    [ours] = imported.reference({"input": x}).values()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.abs(ours[:, :4] - expected[:, :4]).max() <= 1e-6 * 256 * 20
    assert np.abs(ours[:, 4:] - expected[:, 4:]).max() <= 1e-5


def test_yolo11_attention_with_dynamic_batch_height_and_width(tmp_path):
    # YOLO11's attention (C2PSA's, ultralytics' own module): `.view(B, C, H, W)` of [B, C, H*W], whose sizes are
    # all known only at run time: `reshape_as` the attention's input, which has them
    import warnings

    from ultralytics.nn.modules.block import Attention

    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "attention.onnx"
    model = randomized(Attention(64, num_heads=2)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 64, 32, 32),), str(path), dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=17,
                          dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}})
    imported = import_onnx(str(path), str(tmp_path / "attention.yaml"))
    assert "reshape_as" in {n.kind for n in imported.checked.graph.nodes}
    assert "  - {name: input, shape: [batch, 64, height, width]}" in imported.text
    # [batch, 2, H*W, H*W] scores: at netdsl import's default sizes (up to 1024x1024) 2^41 elements, over netdsl's
    # bound (2^31); the default sizes narrow until every tensor fits (here 64), and the spec says so
    assert "height: {min: 32, opt: 64, max: 64}  # netdsl import's default, narrowed" in imported.text
    for batch, height, width in ((1, 32, 64), (2, 64, 32)):  # two sizes of each dimension, in the ranges
        x = np.random.default_rng(height).standard_normal((batch, 64, height, width)).astype(np.float32)
        [ours] = reference.run(imported.checked, imported.bound, {"input": x}).values()
        [theirs] = run_onnxruntime(path.read_bytes(), {"input": x})
        assert ours.shape == theirs.shape == x.shape
        # float32 over a softmax of H*W <= 2048 scores and two 1x1 convolutions: 1e-5 of the scale
        assert np.abs(ours - theirs).max() <= 1e-5 * max(1.0, float(np.abs(theirs).max()))
