"""`netdsl detect` against ultralytics' own postprocessing: a detector whose predictions are fixed (so
the expected detections do not come from netdsl), run on a picture that is letterboxed, with its boxes
mapped back by ultralytics' non_max_suppression and scale_boxes."""

import json

import numpy as np
import pytest
import torch

from netdsl.cli import main
from yolo_oracle import ultralytics_module

PIL = pytest.importorskip("PIL.Image")

# [1, 4 + 2 classes, 3 anchors] in the 32x32 input's pixels: cx, cy, w, h rows, then two class rows
PREDICTIONS = [[[16, 17, 5], [16, 16, 8], [8, 8, 4], [8, 8, 6], [0.9, 0.8, 0.1], [0.1, 0.3, 0.7]]]
SPEC = f"""\
netdsl: 1
name: fixed_detector
params: {{nms: false}}
inputs:
  - {{name: image, shape: [1, 3, 32, 32]}}
layers:
  - {{name: pooled, kind: reduce_sum, dim: [2, 3]}}
  - {{name: nothing, kind: constant, value: 0.0}}
  - {{name: zero, kind: mul, inputs: [pooled, nothing]}}
  - {{name: row, kind: unsqueeze, dim: 1}}
  - {{name: fixed, kind: constant, value: {PREDICTIONS}}}
  - {{name: output0, kind: add, inputs: [fixed, row]}}
  - {{name: rows, kind: permute, dims: [0, 2, 1], when: $nms}}
  - {{name: parts, kind: split, inputs: rows, split_size_or_sections: [4, 2], dim: 2, when: $nms}}
  - {{name: nms, kind: nms, inputs: [parts.0, parts.1], iou_threshold: 0.45, score_threshold: 0.25,
     max_detections: 10, when: $nms}}
outputs:
  - {{name: output0, from: output0, when: "${{not nms}}"}}
  - {{name: num_dets, from: nms.num_dets, when: $nms}}
  - {{name: boxes, from: nms.boxes, when: $nms}}
  - {{name: scores, from: nms.scores, when: $nms}}
  - {{name: classes, from: nms.classes, when: $nms}}
"""


@pytest.fixture()
def files(tmp_path):
    spec = tmp_path / "detector.yaml"
    spec.write_text(SPEC)
    picture = tmp_path / "street.png"
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)  # h 48, w 64
    PIL.fromarray(pixels).save(picture)
    return spec, picture


def expected_detections():
    """ultralytics: NMS on the network's output, then the boxes scaled from the 32x32 letterboxed input to
    the 48x64 picture."""
    nms = ultralytics_module("ultralytics.utils.nms").non_max_suppression
    scale_boxes = ultralytics_module("ultralytics.utils.ops").scale_boxes
    found = nms(torch.tensor(PREDICTIONS, dtype=torch.float32), conf_thres=0.25, iou_thres=0.7)[0]  # the predictor's
    boxes = scale_boxes((32, 32), found[:, :4].clone(), (48, 64))
    return [(int(c), float(s), [float(v) for v in b]) for b, s, c in zip(boxes, found[:, 4], found[:, 5])]


@pytest.mark.parametrize("nms", [False, True], ids=["raw-output0", "nms-layer"])
def test_detections_equal_ultralytics_postprocessing(files, capsys, nms):
    spec, picture = files
    argv = ["detect", str(spec), str(picture), "--random-weights", "--format", "json"]
    assert main(argv + (["--set", "nms=true"] if nms else [])) == 0
    (result,) = json.loads(capsys.readouterr().out)
    found = [(d["class"], d["score"], d["box"]) for d in result["detections"]]
    expected = expected_detections()
    assert len(expected) == 2  # anchor 0 (class 0) kept, anchor 1 suppressed by it (IoU 0.78), anchor 2 (class 1) kept
    assert [c for c, _, _ in found] == [c for c, _, _ in expected]
    for (_, score, box), (_, want_score, want_box) in zip(found, expected):
        assert score == pytest.approx(want_score, abs=1e-5)
        assert box == pytest.approx(want_box, abs=0.01)  # the JSON rounds to 0.01 px


def test_text_output_and_drawing(files, tmp_path, capsys):
    spec, picture = files
    drawn = tmp_path / "drawn.png"
    assert main(["detect", str(spec), str(picture), "--random-weights", "--names", str(write_names(tmp_path)),
                 "--draw", str(drawn)]) == 0
    out = capsys.readouterr().out
    assert "street.png: 2 detections" in out and "  car " in out and "  bus " in out
    assert f"wrote {drawn}" in out
    with PIL.open(drawn) as image:
        assert image.size == (64, 48)
        before = np.asarray(PIL.open(picture).convert("RGB"))
        assert (np.asarray(image.convert("RGB")) != before).any()  # boxes were drawn


def write_names(folder):
    path = folder / "names.txt"
    path.write_text("car\nbus\n")
    return path


def test_refusals_are_clean(files, tmp_path, capsys):
    spec, picture = files
    assert main(["detect", str(spec), str(picture), "--random-weights", "--imgsz", "64"]) == 2
    assert "fixed height of 32" in capsys.readouterr().err
    assert main(["detect", str(spec), str(picture), str(picture), "--random-weights", "--draw", "x.png"]) == 2
    assert "existing folder" in capsys.readouterr().err
    short = tmp_path / "one.txt"
    short.write_text("car\n")
    assert main(["detect", str(spec), str(picture), "--random-weights", "--names", str(short)]) == 2
    assert "has 1 names, the network 2 classes" in capsys.readouterr().err
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    assert main(["detect", str(spec), str(broken), "--random-weights"]) == 1  # a bad input, not a usage error
    assert "broken.png" in capsys.readouterr().err


def test_random_weights_show_five_detections_and_say_so_on_the_drawing(tmp_path, capsys):
    """Eight separate boxes of one class: all eight found (JSON), five printed and drawn, and the drawing
    says RANDOM WEIGHTS in red on black in its top left corner (the picture is plain gray)."""
    rows = [[4 + 8 * (i % 4), 8 + 16 * (i // 4), 4, 4, 0.9 - 0.05 * i] for i in range(8)]  # cx, cy, w, h, score
    predictions = [[list(column) for column in zip(*rows)]]  # [1, 5, 8]
    spec = tmp_path / "eight.yaml"
    spec.write_text(SPEC.replace(str(PREDICTIONS), str(predictions)).replace("[4, 2]", "[4, 1]")
                    .replace("dim: [2, 3]", "dim: [1, 2, 3]"))  # the zero row broadcasts over 8 anchors
    picture, drawn = tmp_path / "gray.png", tmp_path / "drawn.png"
    PIL.fromarray(np.full((256, 256, 3), 114, np.uint8)).save(picture)  # 8x the input: boxes 32 px wide
    assert main(["detect", str(spec), str(picture), "--random-weights", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["detections"]) == 8
    assert main(["detect", str(spec), str(picture), "--random-weights", "--draw", str(drawn)]) == 0
    out = capsys.readouterr().out
    assert "RANDOM WEIGHTS (seed 0): detections mean nothing; the first 5" in out
    assert "gray.png: 8 detections, the first 5 shown" in out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("  ")] == ["0.900", "0.850", "0.800",
                                                                                       "0.750", "0.700"]
    with PIL.open(drawn) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels[:32, :128] == (255, 0, 0)).all(-1).any() and (pixels[:32, :128] == 0).all(-1).any()
    assert (pixels[176:208, 16:48] != 114).any()  # anchor 4 (x 16-48, y 176-208) drawn
    assert (pixels[150:, 70:] == 114).all()  # anchors 5-7 (x 80-112, 144-176, 208-240) not drawn
