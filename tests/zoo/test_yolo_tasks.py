"""ultralytics' other tasks (`--set task=segment|pose|obb|classify` on specs/zoo/yolov8.yaml and yolo11.yaml)
against ultralytics 8.4.190 itself: SegmentationModel, PoseModel, OBBModel and ClassificationModel built from
the YAML configs ultralytics ships (no download), random weights and batch norm statistics. Parameter counts,
the reference executor's output0 (and segment's output1) against the model's eval output, uint8 frames,
TensorRT-RTX's shapes and builds."""

import pathlib
import sys

import numpy as np
import pytest

from netdsl import reference, summary
from netdsl.spec import load
from netdsl.weights import read_weights
from netdsl.weights.bind import bind
from netdsl.weights.from_torch import export_weights
from yolo_oracle import ultralytics_module

torch = pytest.importorskip("torch")
tasks = ultralytics_module("ultralytics.nn.tasks")  # skips the module where ultralytics is not installed
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_models import randomized  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAMILIES = ("yolov8", "yolo11")
# task -> (ultralytics' model class, the suffix of its YAML: yolov8n-seg.yaml, yolo11s-cls.yaml)
TASKS = {"segment": ("SegmentationModel", "seg"), "pose": ("PoseModel", "pose"), "obb": ("OBBModel", "obb"),
         "classify": ("ClassificationModel", "cls")}
STRIDES = (8, 16, 32)
# the issue's figures, which are what ultralytics prints for the models its YAMLs build
ISSUE_COUNTS = {("yolov8", "segment", "n"): 3_409_968, ("yolov8", "segment", "s"): 11_821_056,
                ("yolo11", "segment", "n"): 2_876_848, ("yolo11", "segment", "s"): 10_113_248,
                ("yolov8", "pose", "n"): 3_295_470, ("yolo11", "pose", "n"): 2_908_507,
                ("yolo11", "pose", "s"): 9_948_811, ("yolov8", "obb", "n"): 3_228_867,
                ("yolo11", "obb", "n"): 2_695_747,
                ("yolov8", "classify", "n"): 2_719_288, ("yolo11", "classify", "n"): 2_812_104,
                ("yolo11", "classify", "s"): 6_724_008}
MODELS = [(family, task, scale) for family in FAMILIES for task in TASKS for scale in "ns"]


def spec(family: str) -> str:
    return str(ROOT / "specs" / "zoo" / f"{family}.yaml")


def yaml_name(family: str, task: str, scale: str) -> str:
    return f"{family}{scale}-{TASKS[task][1]}.yaml"


def build_model(family: str, task: str, scale: str, **kwargs):
    return getattr(tasks, TASKS[task][0])(yaml_name(family, task, scale), verbose=False, **kwargs)


def ultralytics_model(family: str, task: str, scale: str, seed: int = 0, **kwargs):
    """The eval-mode model with random weights and batch norm statistics; DFL's projection keeps 0..15."""
    model = randomized(build_model(family, task, scale, **kwargs), seed)
    if task != "classify":
        with torch.no_grad():
            model.model[-1].dfl.conv.weight.copy_(torch.arange(16.0).view(1, 16, 1, 1))
    return model


def ultralytics_outputs(model, task: str, x: np.ndarray) -> list:
    """[output0] or, for segment, [output0, output1], from the eval-mode forward: Segment gives
    ((output0, proto), raw), Pose and OBB (output0, raw), Classify (softmax, logits)."""
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return [t.numpy() for t in (out[0] if task == "segment" else out[:1])]


def checked_spec(family, task, scale, **params):
    return load(spec(family), params={"scale": scale, "task": task, **params})


def run_spec(checked, weights_path, x) -> list:
    bound = bind(checked, read_weights(str(weights_path)), str(weights_path), strict=True)  # nothing unused
    outputs = reference.run(checked, bound, {"images": x})
    return [outputs[o.name] for o in checked.graph.outputs]


def row_groups(task: str, classes: int, kpt_dims: int = 3) -> list:
    """(rows, absolute) of output0 compared together: coordinates in pixels, coefficients, angles and class
    probabilities within 2e-6 of their group's largest value (1000 random-weight probabilities are all
    near 0.001: an absolute bound would not see a wrong network); scores and visibilities (sigmoids) within
    2e-6."""
    if task == "classify":
        return [(slice(None), False)]
    groups = [(slice(0, 4), False), (slice(4, 4 + classes), True)]
    extra = slice(4 + classes, None)
    if task == "pose" and kpt_dims == 3:
        xy = [r for r in range(4 + classes, 4 + classes + 51) if (r - 4 - classes) % 3 != 2]
        return groups + [(xy, False), (list(range(6 + classes, 4 + classes + 51, 3)), True)]
    return groups + [(extra, False)]


def assert_close(output, expected, groups):
    """float32 rounding (about 6e-8 relative per operation) differs between numpy's and PyTorch's summation
    orders in each of about 100 layers: within 2e-6 of the compared values' scale."""
    assert output.shape == expected.shape, (output.shape, expected.shape)
    for rows, absolute in groups:
        error = np.abs(output[:, rows] - expected[:, rows]).max()
        scale = 1.0 if absolute else np.abs(expected[:, rows]).max()
        assert error <= 2e-6 * scale, (rows, error, scale)


def slow_unless(condition):
    return () if condition else (pytest.mark.slow,)


# -- parameters ----------------------------------------------------------------------------------------


@pytest.fixture
def meta_models(monkeypatch):
    """Models on PyTorch's meta device (shapes only): the trial forward pass that sets the strides is
    left on the meta device too, so bias_init (which reads them) is skipped; biases do not change counts."""
    Detect = ultralytics_module("ultralytics.nn.modules.head").Detect
    monkeypatch.setattr(Detect, "bias_init", lambda self: None)

    def build(family, task, scale, **kwargs):
        with torch.device("meta"):
            return build_model(family, task, scale, **kwargs)
    return build


@pytest.mark.parametrize("family, task, scale", MODELS)
def test_parameter_count_equals_ultralytics(family, task, scale, meta_models):
    expected = sum(p.numel() for p in meta_models(family, task, scale).parameters())
    assert summary.to_json(checked_spec(family, task, scale))["total_params"] == expected
    assert ISSUE_COUNTS.get((family, task, scale), expected) == expected


@pytest.mark.parametrize("task, params, nc", [("segment", {"classes": 3}, 3), ("obb", {"classes": 15}, 15),
                                              ("pose", {"classes": 1, "kpt_shape": [5, 2]}, 1),
                                              ("classify", {"classes": 10}, 10)])
def test_classes_and_kpt_shape_change_the_head_as_ultralytics_nc_and_kpt_shape_do(task, params, nc, meta_models):
    """ultralytics' nc (and kpt_shape, a YAML key its parse_model passes to Pose) against --set classes=...;
    the first rows of output0 then hold 4 + classes (+ extras) values, classify nc."""
    data = {"kpt_shape": list(params["kpt_shape"])} if "kpt_shape" in params else {}
    model = meta_models("yolo11", task, "s", nc=nc) if not data else None
    if data:  # kpt_shape is read from the YAML dict: build from the dict with it changed
        yaml_model = ultralytics_module("ultralytics.nn.tasks").yaml_model_load(yaml_name("yolo11", task, "s"))
        with torch.device("meta"):
            model = tasks.PoseModel({**yaml_model, **data}, nc=nc, verbose=False)
    checked = checked_spec("yolo11", task, "s", **params)
    assert summary.to_json(checked)["total_params"] == sum(p.numel() for p in model.parameters())
    extras = {"segment": 32, "obb": 1, "pose": 10}.get(task, 0)
    rows = nc if task == "classify" else 4 + nc + extras
    assert checked.types[checked.graph.outputs[0].source].shape[1] == rows


def batch_norm_values(checked, sizes: dict) -> int:
    from netdsl.symbolic import evaluate

    return sum(int(np.prod([evaluate(d, sizes) for d in checked.types[node.name].shape[1:]]))
               for node in checked.graph.nodes if node.kind == "batch_norm")


@pytest.mark.parametrize("family, task", [pytest.param(f, t, marks=slow_unless(f == "yolov8"))
                                          for f in FAMILIES for t in TASKS])
def test_macs_match_ultralytics_gflops(family, task, meta_models):
    """ultralytics' GFLOPs is thop's count x 2, at 640 (classify: 224). thop counts convolutions, transposed
    ones (Proto's) and linear layers as netdsl does, batch norm as 4 operations per value, and Classify's
    AdaptiveAvgPool2d as (kernel + 1) per output (1280 x (H/32 x W/32 + 1)); netdsl counts no pooling."""
    get_flops = ultralytics_module("ultralytics.utils.torch_utils").get_flops
    model = meta_models(family, task, "n")
    size = 224 if task == "classify" else 640
    if task != "classify":  # the strides the meta-device build could not compute
        model.stride = model.model[-1].stride = torch.tensor([float(s) for s in STRIDES])
    gflops = get_flops(model, size)
    checked = checked_spec(family, task, "n")
    macs = summary.to_json(checked)["total_macs"]  # per image at the profile's opt: 640x640, classify 224x224
    pooling = 1280 * ((size // 32) ** 2 + 1) if task == "classify" else 0
    thop = macs + 4 * batch_norm_values(checked, {"height": size, "width": size}) + pooling
    assert gflops / 2 * 1e9 == pytest.approx(thop, rel=1e-12, abs=0.5)


def test_the_default_classes_are_those_of_ultralytics_yamls():
    for family in FAMILIES:
        for task in TASKS:
            nc = ultralytics_module("ultralytics.nn.tasks").yaml_model_load(yaml_name(family, task, "n"))["nc"]
            assert load(spec(family), params={"task": task}).graph.params["classes"] == nc


# -- output0 (and output1) against the model -----------------------------------------------------------

REFERENCE_CASES = [pytest.param(family, task, "n", 1, 160, 224, marks=slow_unless(family == "yolov8"))
                   for family in FAMILIES for task in TASKS] + [
    pytest.param(family, task, scale, batch, height, width, marks=pytest.mark.slow)
    for family in FAMILIES for task in TASKS for scale in "ns"
    for batch, height, width in ((1, 640, 640), (2, 480, 640))]


@pytest.mark.parametrize("family, task, scale, batch, height, width", REFERENCE_CASES)
def test_reference_outputs_equal_ultralytics(tmp_path, family, task, scale, batch, height, width):
    model = ultralytics_model(family, task, scale)
    export_weights(model, str(tmp_path / "model.safetensors"))
    x = np.random.default_rng(1).random((batch, 3, height, width), dtype=np.float32)
    checked = checked_spec(family, task, scale)
    outputs = run_spec(checked, tmp_path / "model.safetensors", x)
    expected = ultralytics_outputs(model, task, x)
    assert [o.name for o in checked.graph.outputs] == ["output0", "output1"][:len(expected)]
    nc = model.model[-1].linear.out_features if task == "classify" else model.model[-1].nc
    anchors = sum((height // s) * (width // s) for s in STRIDES)
    extras = {"segment": 32, "pose": 51, "obb": 1}.get(task)
    assert expected[0].shape == ((batch, nc) if task == "classify" else (batch, 4 + nc + extras, anchors))
    assert_close(outputs[0], expected[0], row_groups(task, nc))
    if task == "segment":
        assert expected[1].shape == (batch, 32, height // 4, width // 4)
        assert_close(outputs[1], expected[1], [(slice(None), False)])


def test_keypoints_without_visibility_equal_ultralytics(tmp_path):
    """kpt_shape [5, 2]: x and y per keypoint, no sigmoid row (Pose.kpts_decode's ndim == 2)."""
    yaml_model = ultralytics_module("ultralytics.nn.tasks").yaml_model_load("yolov8n-pose.yaml")
    model = randomized(tasks.PoseModel({**yaml_model, "kpt_shape": [5, 2]}, verbose=False), 11)
    with torch.no_grad():
        model.model[-1].dfl.conv.weight.copy_(torch.arange(16.0).view(1, 16, 1, 1))
    export_weights(model, str(tmp_path / "model.safetensors"))
    x = np.random.default_rng(12).random((2, 3, 128, 160), dtype=np.float32)
    [output] = run_spec(checked_spec("yolov8", "pose", "n", kpt_shape=[5, 2]), tmp_path / "model.safetensors", x)
    [expected] = ultralytics_outputs(model, "pose", x)
    assert expected.shape == (2, 4 + 1 + 10, 21 * 4 * 5)
    assert_close(output, expected, [(slice(0, 4), False), (slice(4, 5), True), (slice(5, None), False)])


@pytest.mark.parametrize("family, task", [pytest.param(f, t, marks=slow_unless(f == "yolov8" and t == "obb"))
                                          for f in FAMILIES for t in TASKS])
def test_uint8_bgr_frames_are_converted_as_ultralytics_predictor_does(tmp_path, family, task):
    from types import SimpleNamespace

    BasePredictor = ultralytics_module("ultralytics.engine.predictor").BasePredictor
    model = ultralytics_model(family, task, "n", seed=5)
    export_weights(model, str(tmp_path / "model.safetensors"))
    frames = np.random.default_rng(6).integers(0, 256, (2, 128, 160, 3), dtype=np.uint8)
    # the predictor's own preprocess on already letterboxed BGR frames: NHWC -> NCHW, BGR -> RGB, / 255
    predictor = SimpleNamespace(pre_transform=lambda images: images, device="cpu", model=SimpleNamespace(fp16=False))
    images = BasePredictor.preprocess(predictor, list(frames)).numpy()
    checked = checked_spec(family, task, "n", frames=True)
    assert [(i.name, i.dtype) for i in checked.graph.inputs] == [("images", "uint8")]
    outputs = run_spec(checked, tmp_path / "model.safetensors", frames)
    nc = model.model[-1].linear.out_features if task == "classify" else model.model[-1].nc
    for ours, theirs in zip(outputs, ultralytics_outputs(model, task, images), strict=True):
        assert_close(ours, theirs, row_groups(task, nc) if ours.ndim < 4 else [(slice(None), False)])


def test_nms_with_another_task_is_refused_at_the_parameter(capsys):
    from netdsl.cli import main

    assert main(["validate", spec("yolov8"), "--set", "task=classify", "--set", "nms=true"]) == 1
    err = capsys.readouterr().err
    assert "yolov8.yaml:" in err and "error[invalid-value]: parameter `nms_task` is 'classify'" in err
    assert "nms_in_the_engine" in err and "Traceback" not in err


@pytest.mark.parametrize("family", FAMILIES)
def test_quantize_leaves_every_tasks_outputs_in_float(family):
    """quantize=int8 loads for every task (its `exclude` names only layers there are) and keeps the layers
    whose values are the outputs in float: the head's last convolutions, DFL, cv4, Proto's last Conv,
    Classify's linear layer."""
    head = "model.22" if family == "yolov8" else "model.23"
    for task in TASKS:
        exclude = checked_spec(family, task, "n", quantize="int8").graph.quantization.exclude
        if task == "classify":
            assert exclude == (("model.9" if family == "yolov8" else "model.10") + ".linear",)
            continue
        assert {f"{head}.cv2.2.2", f"{head}.cv3.0.2", f"{head}.dfl", f"{head}.cv4.1.2"} <= set(exclude)
        assert (f"{head}.proto.cv3" in exclude) == (task == "segment")


# -- TensorRT-RTX ---------------------------------------------------------------------------------------


def lowered(family, task, precision, **params):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import network_for
    from netdsl.spec.buildopts import BuildOptions
    from tests.opcases import random_weights

    checked = checked_spec(family, task, "n", **params)
    _, network, ctx = network_for(checked, random_weights(checked), BuildOptions(precision=precision))
    return checked, network


def expected_shapes(task: str, classes: int, sizes: dict) -> dict:
    batch, height, width = sizes["batch"], sizes["height"], sizes["width"]
    if task == "classify":
        return {"output0": (batch, classes)}
    anchors = sum((height // s) * (width // s) for s in STRIDES)
    shapes = {"output0": (batch, 4 + classes + {"segment": 32, "pose": 51, "obb": 1}[task], anchors)}
    if task == "segment":
        shapes["output1"] = (batch, 32, height // 4, width // 4)
    return shapes


@pytest.mark.parametrize("family, task", [(f, t) for f in FAMILIES for t in TASKS])
@pytest.mark.parametrize("precision", ["float32", pytest.param("float16", marks=pytest.mark.slow)])
def test_tensorrt_shapes_at_every_profile_corner(family, task, precision):
    """TensorRT's own shape inference of the lowered network: every tensor as netdsl says at the profile's
    min, opt and max, and the outputs as ultralytics exports them, float32 out of a float16 network too."""
    from netdsl.trt.dims import check_corners, corners

    checked, network = lowered(family, task, precision)
    assert check_corners(network, checked.types, checked.graph.profiles) > network.num_layers
    images = network.get_input(0)
    outputs = {network.get_output(i).name: network.get_output(i) for i in range(network.num_outputs)}
    assert {str(o.dtype).rsplit(".", 1)[-1] for o in outputs.values()} == {"FLOAT"}
    classes = checked.graph.params["classes"]
    for where, sizes in corners(checked.graph.profiles):
        images.shape = (sizes["batch"], 3, sizes["height"], sizes["width"])
        assert {name: tuple(o.shape) for name, o in outputs.items()} == expected_shapes(task, classes, sizes), where


@pytest.mark.parametrize("family, task", [(f, t) for f in FAMILIES for t in TASKS])
def test_tensorrt_frames_input(family, task):
    checked, network = lowered(family, task, "float32", frames=True)
    images = network.get_input(0)
    assert str(images.dtype).rsplit(".", 1)[-1] == "UINT8" and tuple(images.shape) == (-1, -1, -1, 3)


@pytest.mark.slow  # a few seconds to half a minute a build on the CPU here
@pytest.mark.parametrize("family, task", [(f, t) for f in FAMILIES for t in TASKS])
@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_tensorrt_rtx_builds(family, task, precision):
    from netdsl import build
    from netdsl.spec.buildopts import BuildOptions
    from tests.opcases import random_weights

    checked = checked_spec(family, task, "n")
    plan = build.build_plan(checked, random_weights(checked), BuildOptions(precision=precision))
    record = build.manifest(plan, f"{family}n-{task}.plan")
    classes = checked.graph.params["classes"]
    opt = {"batch": 1, "height": 224, "width": 224} if task == "classify" else {"batch": 1, "height": 640, "width": 640}
    wanted = expected_shapes(task, classes, opt)
    assert [o["name"] for o in record["outputs"]] == list(wanted)
    for output in record["outputs"]:
        assert output["dtype"] == "float32" and output["shape"][1] == wanted[output["name"]][1]
    assert plan.data.nbytes > 0.8 * summary.to_json(checked)["total_params"] * (4 if precision == "float32" else 2)


@pytest.mark.slow  # the TensorRT-semantics evaluator through numpy: several seconds per precision
@pytest.mark.parametrize("family, task", [(f, t) for f in FAMILIES for t in TASKS])
def test_tensorrt_network_evaluated_matches_ultralytics(tmp_path, family, task):
    """The network TensorRT was given, computed with TensorRT's layer semantics (netdsl.trt.evaluate),
    against ultralytics: float32 as the reference executor; float16 within 4e-3 of each part's scale, a
    few float16 steps (2^-11 relative) at the output's magnitude."""
    from netdsl.build import network_for
    from netdsl.spec.buildopts import BuildOptions
    from netdsl.trt.evaluate import Evaluator

    pytest.importorskip("tensorrt_rtx")
    model = ultralytics_model(family, task, "n", seed=7)
    export_weights(model, str(tmp_path / "model.safetensors"))
    checked = checked_spec(family, task, "n")
    bound = bind(checked, read_weights(str(tmp_path / "model.safetensors")), "model.safetensors", strict=True)
    x = np.random.default_rng(8).random((2, 3, 128, 160), dtype=np.float32)
    expected = ultralytics_outputs(model, task, x)
    nc = checked.graph.params["classes"]
    for precision, bound_by in (("float32", 2e-6), ("float16", 4e-3)):
        _, network, ctx = network_for(checked, bound, BuildOptions(precision=precision))
        outputs = Evaluator(network, ctx).run({"images": x})
        for name, theirs in zip(("output0", "output1"), expected):
            groups = row_groups(task, nc) if name == "output0" else [(slice(None), False)]
            for rows, absolute in groups:
                error = np.abs(outputs[name][:, rows] - theirs[:, rows]).max()
                scale = 1.0 if absolute else np.abs(theirs[:, rows]).max()
                assert error <= bound_by * scale, (precision, name, rows, error, scale)
