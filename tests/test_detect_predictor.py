"""`netdsl detect` against ultralytics 8.4.190's own predictor, end to end: its DetectionPredictor on an
in-memory YOLOv8n (built from the YAML it ships, random weights shared with the spec) reads each picture
(cv2), letterboxes it (the minimum rectangle for a PyTorch model; the square for a fixed-size engine),
runs the model, applies its NMS and maps the boxes back with scale_boxes. `netdsl detect` on
specs/zoo/yolov8.yaml with the same weights must give the same detections: the same classes in the same
order, scores within 2e-5 and boxes within 0.5 px.

Random weights make every anchor score alike (the features barely vary); the class-score convolutions
are rescaled so that one class's logits spread over a few units across the anchors, and the score
threshold is put in a wide gap of the predictor's own scores, so that no detection sits within float32
rounding of a threshold (greedy NMS keeps the same boxes above any threshold)."""

import copy
import json
import pathlib
import re
import sys

import numpy as np
import pytest

from netdsl.cli import main
from yolo_oracle import ultralytics_module

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")
tasks = ultralytics_module("ultralytics.nn.tasks")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "zoo"))
from test_images import natural  # noqa: E402
from torch_models import randomized  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "zoo" / "yolov8.yaml"
KLASS = 3  # the class that detects


def save_rgb(pixels):
    return lambda path: Image.fromarray(pixels).save(path)


def save_exif_rotated(path):
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the predictor (cv2) and netdsl apply it
    Image.fromarray(natural(300, 470, seed=6)).save(path, exif=exif, quality=95)


# name -> how it is written; the picture classes of issue 26
PICTURES = {
    "small.png": save_rgb(natural(61, 97, seed=1)),  # upscaled 6.6x
    "odd-landscape.png": save_rgb(natural(333, 517, seed=2)),  # upscaled, odd sides
    "portrait.png": save_rgb(natural(701, 389, seed=3)),  # downscaled, taller than wide
    "wide.png": save_rgb(natural(1001, 2000, seed=4)),  # downscaled: 640x320 exactly, no padding
    "gray.png": lambda path: Image.fromarray(natural(451, 300, seed=5)[..., 0]).save(path),
    "rgba.png": lambda path: Image.fromarray(np.dstack([natural(257, 383, seed=7), natural(257, 383, 1, 8)])).save(path),
    "exif-rotated.jpg": save_exif_rotated,
}
FAST = {"small.png"}  # the default run's one (a few seconds); the rest run with -m slow


@pytest.fixture(scope="module")
def model():
    """YOLOv8n with random weights; DFL's projection 0..15 as ultralytics'. Each level's class-score
    convolution is rescaled and shifted so that KLASS's logit over the anchors of a reference picture has
    mean -1 and spread 2 (random features move it by about 1 %), and the other classes never score."""
    model = randomized(tasks.DetectionModel("yolov8n.yaml", verbose=False), seed=0)
    head = model.model[-1]
    with torch.no_grad():
        head.dfl.conv.weight.copy_(torch.arange(16.0).view(1, 16, 1, 1))
        logits = {}
        hooks = [branch[2].register_forward_hook(lambda m, i, out, level=level: logits.__setitem__(level, out))
                 for level, branch in enumerate(head.cv3)]
        model(torch.from_numpy(natural(320, 320, seed=9).transpose(2, 0, 1)[None] / np.float32(255)))
        for hook in hooks:
            hook.remove()
        for level, branch in enumerate(head.cv3):
            conv, values = branch[2], logits[level][0, KLASS]
            gain = 2.0 / float(values.std())
            conv.weight[KLASS] *= gain
            conv.bias[KLASS] = (conv.bias[KLASS] - values.mean()) * gain - 1.0
            conv.bias[torch.arange(conv.bias.numel()) != KLASS] = -30.0
    return model


@pytest.fixture(scope="module")
def weights(model, tmp_path_factory):
    from netdsl.weights.from_torch import export_weights

    path = tmp_path_factory.mktemp("weights") / "yolov8n.safetensors"
    export_weights(model, str(path))
    return path


def predictor(model, monkeypatch, **args):
    """ultralytics' DetectionPredictor with YOLO.predict's own arguments (rect=True: the minimum rectangle
    for a model of free size). Its warmup imports torchvision, whose operators cannot load beside the CPU
    torch wheel (tests/requirements-nodeps.txt); on the CPU it does nothing else, so it is skipped."""
    monkeypatch.setattr(ultralytics_module("ultralytics.nn.autobackend").AutoBackend, "warmup", lambda *a, **k: None)
    DetectionPredictor = ultralytics_module("ultralytics.models.yolo.detect").DetectionPredictor
    overrides = {"conf": 0.25, "batch": 1, "save": False, "mode": "predict", "rect": True, "verbose": False, **args}
    return DetectionPredictor(overrides=overrides)


def predicted(model, monkeypatch, path, **args):
    [result] = predictor(model, monkeypatch, **args)(source=[str(path)], model=copy.deepcopy(model))
    return result.boxes.data.numpy().astype(np.float64), result.orig_shape


def threshold_in_a_gap(model, monkeypatch, path, **args) -> float:
    """A score threshold in the widest gap among the predictor's top detections at conf 0.01."""
    found, _ = predicted(model, monkeypatch, path, conf=0.01, **args)
    scores = np.sort(found[:, 4])[::-1][:40]
    assert len(scores) >= 4, "the model detects next to nothing"
    gaps = scores[:-1] - scores[1:]
    at = int(np.argmax(gaps[2:])) + 2  # keep at least 3 detections
    assert gaps[at] > 1e-3, gaps[at]
    return float(scores[at] + scores[at + 1]) / 2


def netdsl_detect(spec, weights, path, capsys, *options):
    assert main(["detect", str(spec), str(path), "--weights", str(weights), "--format", "json", *options]) == 0
    [result] = json.loads(capsys.readouterr().out)
    return [(d["class"], d["score"], d["box"]) for d in result["detections"]]


def assert_same(ours, theirs):
    assert [c for c, _, _ in ours] == [int(c) for c in theirs[:, 5]]
    for (_, score, box), row in zip(ours, theirs):
        assert score == pytest.approx(row[4], abs=2e-5)  # float32 sigmoids; the JSON keeps 5 decimals
        assert np.abs(np.array(box) - row[:4]).max() <= 0.5, (box, row[:4])


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in PICTURES])
def test_free_size_equals_the_predictor(name, model, weights, tmp_path, monkeypatch, capsys):
    """A spec of free height and width, as ultralytics' predictor runs a PyTorch model: the defaults
    (imgsz 640, IoU 0.7, 300 detections) on all but the fast case, which runs at 160 to stay quick."""
    path = tmp_path / name
    PICTURES[name](str(path))
    imgsz = {"imgsz": 160} if name in FAST else {}
    conf = threshold_in_a_gap(model, monkeypatch, path, **imgsz)
    theirs, shape = predicted(model, monkeypatch, path, conf=conf, **imgsz)
    assert len(theirs) >= 3
    options = ["--conf", str(conf)] + (["--imgsz", "160"] if imgsz else [])
    assert_same(netdsl_detect(SPEC, weights, path, capsys, *options), theirs)


def test_the_minimum_rectangle_of_the_issue():
    """2000x1001 into 640: ultralytics' LetterBox(auto=True) makes 640x320 with no padding."""
    from netdsl import images

    LetterBox = ultralytics_module("ultralytics.data.augment").LetterBox
    box = images.letterbox_box((1001, 2000), (640, 640), stride=32)
    assert images.letterboxed_size(box) == (320, 640) and (box.height, box.width) == (320, 640)
    for shape in ((1001, 2000), (61, 97), (701, 389), (17, 3), (1, 500), (480, 640)):
        picture = natural(*shape, seed=shape[0])
        expected = LetterBox((640, 640), auto=True, stride=32)(image=picture.copy())
        assert np.array_equal(images.letterbox(picture, (640, 640), stride=32), expected), shape


def fixed_size_spec(tmp_path, size: int):
    """specs/zoo/yolov8.yaml with its input fixed at size x size (an engine built for one size)."""
    text = SPEC.read_text()
    text = text.replace("shape: [batch, 3, height, width]", f"shape: [batch, 3, {size}, {size}]")
    text, count = re.subn(r"^  (height|width): \{min: .*\}\n", "", text, flags=re.M)  # the two dims
    assert count == 2
    path = tmp_path / "yolov8-fixed.yaml"
    path.write_text(text)
    return path


def test_fixed_size_equals_the_predictor_of_a_fixed_size_engine(model, weights, tmp_path, monkeypatch, capsys):
    """A fixed-size input: the square letterbox the predictor uses for an engine of one size (rect off:
    auto=False), 192x192 for a 333x517 picture."""
    path = tmp_path / "odd-landscape.png"
    PICTURES["odd-landscape.png"](str(path))
    conf = threshold_in_a_gap(model, monkeypatch, path, imgsz=192, rect=False)
    theirs, _ = predicted(model, monkeypatch, path, conf=conf, imgsz=192, rect=False)
    ours = netdsl_detect(fixed_size_spec(tmp_path, 192), weights, path, capsys, "--conf", str(conf))
    assert_same(ours, theirs)
