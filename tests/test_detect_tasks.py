"""netdsl's post-processing of segment, pose, obb and classify outputs against ultralytics 8.4.190's own
predictors, on the same raw outputs: its SegmentationPredictor, PosePredictor, OBBPredictor and
ClassificationPredictor run a model built from the YAML it ships (random weights, randomised batch-norm
statistics) on pictures made here; a hook on the model keeps the raw outputs the predictor received and
the letterboxed input's size; netdsl.detect_tasks turns the same raw outputs into results, which must
equal the predictor's: the same classes in the same order, scores within 1e-6, boxes and keypoints within
1e-3 px (float32 arithmetic on coordinates under 1000 px: a few units in the last place; the issue asks
0.5 px), masks on the picture with IoU >= 0.99 against ultralytics' (its masks mapped to the picture by
scale_masks, as its Annotator maps them), the same top five.

Random weights score every anchor alike; as in tests/test_detect_predictor.py, one class's score
convolutions are rescaled so that its logits spread over a few units and the other classes never score,
and the score threshold is put in a wide gap of the predictor's own scores (greedy NMS keeps the same
boxes above any threshold, so no detection sits within rounding of it)."""

import contextlib
import copy
import importlib.util
import pathlib
import sys
import types

import numpy as np
import pytest

from yolo_oracle import ultralytics_module

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")
tasks = ultralytics_module("ultralytics.nn.tasks")
ops = ultralytics_module("ultralytics.utils.ops")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "zoo"))
from test_images import natural  # noqa: E402
from torch_models import randomized  # noqa: E402

from netdsl import detect_tasks  # noqa: E402
from netdsl.detect import Thresholds  # noqa: E402

KLASS = 3  # the class that detects (0 for pose: one class)
PICTURES = {"odd-landscape": (333, 517, 2), "portrait": (701, 389, 3)}  # height, width, seed
NAMES = [pytest.param("odd-landscape"), pytest.param("portrait", marks=pytest.mark.slow)]  # one in the default run
MODELS = {"segment": (tasks.SegmentationModel, "yolov8n-seg.yaml"), "pose": (tasks.PoseModel, "yolov8n-pose.yaml"),
          "obb": (tasks.OBBModel, "yolov8n-obb.yaml"), "classify": (tasks.ClassificationModel, "yolov8n-cls.yaml")}
IMGSZ = 160
TOLERANCE = 1e-3  # pixels


def planted(model, klass: int):
    """Random weights, DFL's projection 0..15 as ultralytics', boxes of a few strides (the distance bins'
    logits falling), one class whose logits spread, and for segmentation, mask coefficients orthogonal to
    the prototypes' mean (so that masks cover part of their boxes, not all or nothing)."""
    model = randomized(model, seed=0)
    head = model.model[-1]
    seen = {}

    def keep(key):
        return lambda module, inputs, out: seen.__setitem__(key, out)

    with torch.no_grad():
        head.dfl.conv.weight.copy_(torch.arange(16.0).view(1, 16, 1, 1))
        for branch in head.cv2:
            branch[-1].weight *= 0.5
            branch[-1].bias.copy_((-0.4 * torch.arange(16.0)).repeat(4))
        hooks = [branch[-1].register_forward_hook(keep(("class", level))) for level, branch in enumerate(head.cv3)]
        if hasattr(head, "proto"):
            hooks += [head.proto.register_forward_hook(keep("proto"))]
        model(torch.from_numpy(natural(192, 160, seed=9).transpose(2, 0, 1)[None] / np.float32(255)))
        for hook in hooks:
            hook.remove()
        for level, branch in enumerate(head.cv3):
            conv, values = branch[-1], seen["class", level][0, klass]
            gain = 2.0 / float(values.std())
            conv.weight[klass] *= gain
            conv.bias[klass] = (conv.bias[klass] - values.mean()) * gain - 1.0
            conv.bias[torch.arange(conv.bias.numel()) != klass] = -30.0
        if hasattr(head, "proto"):
            mean = seen["proto"][0].mean((1, 2))  # [32]
            unit = mean / mean.norm()
            for branch in head.cv4:
                conv = branch[-1]
                rows = conv.weight.view(conv.weight.shape[0], -1)
                rows -= unit[:, None] * (unit @ rows)[None]
                conv.bias -= unit * (unit @ conv.bias)
    return model


class Models(dict):
    """Each task's model, built when a test first asks for it."""

    def __missing__(self, task):
        kind, yaml = MODELS[task]
        model = kind(yaml, verbose=False)
        self[task] = randomized(model, 3) if task == "classify" else planted(model, 0 if task == "pose" else KLASS)
        return self[task]


@pytest.fixture(scope="module")
def models():
    return Models()


def picture_file(tmp_path, name: str) -> pathlib.Path:
    height, width, seed = PICTURES[name]
    path = tmp_path / f"{name}.png"
    Image.fromarray(natural(height, width, seed=seed)).save(path)
    return path


def predicted(task: str, model, monkeypatch, path, **args):
    """ultralytics' predictor for ``task`` on ``path``: (its Results, the raw outputs the model gave it,
    the letterboxed input's (height, width)). Its warmup imports torchvision, which cannot load here
    (tests/requirements-nodeps.txt); on the CPU it does nothing else, so it is skipped."""
    monkeypatch.setattr(ultralytics_module("ultralytics.nn.autobackend").AutoBackend, "warmup", lambda *a, **k: None)
    predictors = {"segment": ("ultralytics.models.yolo.segment", "SegmentationPredictor"),
                  "pose": ("ultralytics.models.yolo.pose", "PosePredictor"),
                  "obb": ("ultralytics.models.yolo.obb", "OBBPredictor"),
                  "classify": ("ultralytics.models.yolo.classify", "ClassificationPredictor")}
    module, name = predictors[task]
    overrides = {"conf": 0.25, "batch": 1, "save": False, "mode": "predict", "rect": True, "verbose": False,
                 "imgsz": IMGSZ, **args}
    predictor = getattr(ultralytics_module(module), name)(overrides=overrides)
    model = copy.deepcopy(model)
    seen = {}
    model.register_forward_hook(lambda m, inputs, out: seen.update(input=inputs[0], out=out))
    [result] = predictor(source=[str(path)], model=model)
    predicted.input = seen["input"]  # the letterboxed or cropped input it ran
    return result, seen["out"], tuple(seen["input"].shape[2:])


def threshold_in_a_gap(scores) -> float:
    scores = np.sort(np.asarray(scores))[::-1][:40]
    assert len(scores) >= 4, "the model detects next to nothing"
    gaps = scores[:-1] - scores[1:]
    at = int(np.argmax(gaps[2:])) + 2  # keep at least 3 detections
    assert gaps[at] > 1e-3, gaps[at]
    return float(scores[at] + scores[at + 1]) / 2


def run_both(task, models, monkeypatch, tmp_path, name):
    path = picture_file(tmp_path, name)
    first, _, _ = predicted(task, models[task], monkeypatch, path, conf=0.01)
    data = (first.obb if task == "obb" else first.boxes).data.numpy()
    conf = threshold_in_a_gap(data[:, -2] if task == "obb" else data[:, 4])
    result, out, size = predicted(task, models[task], monkeypatch, path, conf=conf)
    return result, out, size, Thresholds(score=conf), result.orig_shape


def assert_boxes(ours, boxes):
    theirs = boxes.data.numpy().astype(np.float64)
    assert len(ours) == len(theirs) >= 3
    assert [o.klass for o in ours] == [int(c) for c in theirs[:, 5]]
    assert np.allclose([o.score for o in ours], theirs[:, 4], atol=1e-6)
    assert np.abs(np.array([o.box for o in ours]) - theirs[:, :4]).max() <= TOLERANCE


@pytest.mark.parametrize("name", NAMES)
def test_segment_equals_the_predictor(name, models, monkeypatch, tmp_path):
    result, out, size, thresholds, shape = run_both("segment", models, monkeypatch, tmp_path, name)
    output0, output1 = (t[0].numpy() for t in out[0])  # eval: ((output0, output1), training's parts)
    ours = detect_tasks.segment(output0, output1, size, shape, thresholds)
    assert_boxes(ours, result.boxes)
    theirs = ops.scale_masks(result.masks.data[None].float(), shape)[0] > 0.5  # as its Annotator draws them
    for instance, mask in zip(ours, theirs.numpy()):
        ours_mask = instance.mask.array()
        assert ours_mask.shape == mask.shape == shape and mask.any()
        iou = (ours_mask & mask).sum() / (ours_mask | mask).sum()
        assert iou >= 0.99, iou


@pytest.mark.parametrize("name", NAMES)
def test_pose_equals_the_predictor(name, models, monkeypatch, tmp_path):
    result, out, size, thresholds, shape = run_both("pose", models, monkeypatch, tmp_path, name)
    ours = detect_tasks.pose(out[0][0].numpy(), size, shape, thresholds, (17, 3))
    assert_boxes(ours, result.boxes)
    theirs = result.keypoints.data.numpy().astype(np.float64)
    ours_points = np.array([o.keypoints for o in ours])
    assert np.abs(ours_points[..., :2] - theirs[..., :2]).max() <= TOLERANCE
    assert np.allclose(ours_points[..., 2], theirs[..., 2], atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_obb_equals_the_predictor(name, models, monkeypatch, tmp_path):
    result, out, size, thresholds, shape = run_both("obb", models, monkeypatch, tmp_path, name)
    ours = detect_tasks.obb(out[0][0].numpy(), size, shape, thresholds)
    theirs = result.obb.data.numpy().astype(np.float64)  # cx, cy, w, h, angle, score, class
    assert len(ours) == len(theirs) >= 3
    assert [o.klass for o in ours] == [int(c) for c in theirs[:, 6]]
    assert np.allclose([o.score for o in ours], theirs[:, 5], atol=1e-6)
    assert np.abs(np.array([o.box[:4] for o in ours]) - theirs[:, :4]).max() <= TOLERANCE
    assert np.allclose([o.box[4] for o in ours], theirs[:, 4], atol=1e-6)
    corners = result.obb.xyxyxyxy.numpy()
    assert np.abs(np.array([o.corners for o in ours]) - corners).max() <= TOLERANCE


@contextlib.contextmanager
def torchvision_transforms():
    """torchvision's transforms (pure Python) without torchvision's package init, whose compiled operators
    cannot load beside the CPU torch wheel: ClassificationPredictor builds its Resize and CenterCrop from
    them. Every torchvision module is taken out of sys.modules afterwards, so that ultralytics' NMS, which
    uses torchvision whenever it is imported, runs its own path in the other tests as before."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        pytest.skip("torchvision (for its transforms' source) is not installed")
    package = types.ModuleType("torchvision")
    package.__path__, package.__spec__, package.__file__ = list(spec.submodule_search_locations), spec, spec.origin
    sys.modules["torchvision"] = package
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("imgsz", [224, pytest.param((160, 192), marks=pytest.mark.slow)])
def test_classify_equals_the_predictor(name, imgsz, models, monkeypatch, tmp_path):
    """The predictor's input (classify_transforms: short side to 224 and center crop; a non-square size
    resized) equals netdsl's exactly, and the top five of the raw output are the predictor's."""
    from netdsl import images

    path = picture_file(tmp_path, name)
    with torchvision_transforms():
        result, out, size = predicted("classify", models["classify"], monkeypatch, path, imgsz=imgsz)
    assert "torchvision" not in sys.modules
    assert size == ((imgsz, imgsz) if isinstance(imgsz, int) else imgsz)
    target = images.ImageInput("images", *size, 3, False)
    ours = images.to_input(detect_tasks.classify_fit(images.load(str(path)), size), target)
    assert np.array_equal(ours, predicted.input[0].numpy())
    ranked = detect_tasks.top5(out[0][0].numpy())  # eval: (probabilities, logits)
    assert [r.klass for r in ranked] == result.probs.top5
    assert [r.score for r in ranked] == result.probs.top5conf.tolist()
