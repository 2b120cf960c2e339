"""`netdsl detect` on specs whose `task` is segment, pose, obb or classify, end to end through the command
line, against ultralytics' own post-processing: each spec's raw outputs are fixed (constants in
ultralytics' export layout), so the expected results come from ultralytics 8.4.190's functions
(non_max_suppression, process_mask, scale_masks, scale_boxes, scale_coords, xywhr2xyxyxyxy, Probs.top5)
applied to the same arrays as its predictors apply them, never from netdsl. The 48x64 picture is
letterboxed into the 32x32 input (24x32, 4 rows of padding above and below), so every result is mapped
back through the letterbox."""

import json

import numpy as np
import pytest

from netdsl.cli import main
from yolo_oracle import ultralytics_module

torch = pytest.importorskip("torch")
PIL = pytest.importorskip("PIL.Image")
nms = ultralytics_module("ultralytics.utils.nms")
ops = ultralytics_module("ultralytics.utils.ops")

INPUT, PICTURE = (32, 32), (48, 64)
ANCHORS = 8


def spec_text(task: str, outputs: dict, extra_params: str = "") -> str:
    """A spec of one 32x32 image input whose outputs are the constants ``outputs`` (plus 0 times the
    image, so that the input is used)."""
    layers = ["  - {name: pooled, kind: reduce_sum, dim: [1, 2, 3], keepdim: true}",
              "  - {name: nothing, kind: constant, value: 0.0}",
              "  - {name: zero4, kind: mul, inputs: [pooled, nothing]}",
              "  - {name: zero3, kind: squeeze, inputs: zero4, dim: 3}",
              "  - {name: zero2, kind: squeeze, inputs: zero3, dim: 2}"]
    lines = []
    for name, value in outputs.items():
        zero = f"zero{value.ndim}"
        layers.append(f"  - {{name: fixed_{name}, kind: constant, value: {json.dumps(value.tolist())}}}")
        layers.append(f"  - {{name: {name}, kind: add, inputs: [fixed_{name}, {zero}]}}")
        lines.append(f"  - {{name: {name}, from: {name}}}")
    return "\n".join(["netdsl: 1", f"name: fixed_{task}", f"params: {{task: {task}{extra_params}}}", "inputs:",
                      "  - {name: images, shape: [1, 3, 32, 32]}", "layers:", *layers, "outputs:", *lines]) + "\n"


def boxes_rows(rng, classes: int):
    """[4 + classes, ANCHORS]: boxes cx, cy, w, h inside the letterboxed content, one class scoring each."""
    rows = np.zeros((4 + classes, ANCHORS), np.float32)
    rows[0] = rng.uniform(6, 26, ANCHORS)
    rows[1] = rng.uniform(9, 23, ANCHORS)
    rows[2:4] = rng.uniform(4, 14, (2, ANCHORS))
    rows[4:] = rng.uniform(0.0, 0.2, (classes, ANCHORS))
    rows[4 + rng.integers(0, classes, ANCHORS), np.arange(ANCHORS)] = rng.uniform(0.3, 0.95, ANCHORS)
    return rows


@pytest.fixture()
def picture(tmp_path):
    path = tmp_path / "street.png"
    PIL.fromarray(np.random.default_rng(0).integers(0, 256, (*PICTURE, 3), dtype=np.uint8)).save(path)
    return path


def run(tmp_path, capsys, task, outputs, picture, *options, extra_params=""):
    spec = tmp_path / f"{task}.yaml"
    spec.write_text(spec_text(task, outputs, extra_params))
    assert main(["detect", str(spec), str(picture), "--random-weights", "--format", "json", *options]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["image"] == str(picture) and result["task"] == task
    return result


def decoded(rle):
    """COCO's uncompressed RLE (column-major runs, 0 first) as a bool [height, width] mask."""
    height, width = rle["size"]
    values = np.arange(len(rle["counts"])) % 2 == 1
    return np.repeat(values, rle["counts"]).reshape(width, height).T


def test_segment(tmp_path, capsys, picture):
    rng = np.random.default_rng(1)
    output0 = np.concatenate([boxes_rows(rng, 2), rng.normal(0, 1, (32, ANCHORS)).astype(np.float32)])[None]
    output1 = rng.normal(0, 1, (1, 32, 8, 8)).astype(np.float32)
    result = run(tmp_path, capsys, "segment", {"output0": output0, "output1": output1}, picture)
    found = nms.non_max_suppression(torch.from_numpy(output0), 0.25, 0.7, nc=2)[0]  # the predictor's call
    masks = ops.process_mask(torch.from_numpy(output1[0]), found[:, 6:], found[:, :4], INPUT, upsample=True)
    keep = masks.amax((-2, -1)) > 0
    found, masks = found[keep], masks[keep]
    boxes = ops.scale_boxes(INPUT, found[:, :4].clone(), PICTURE)
    masks = (ops.scale_masks(masks[None].float(), PICTURE)[0] > 0.5).numpy()
    detections = result["detections"]
    assert len(detections) == len(found) >= 3
    assert [d["class"] for d in detections] == found[:, 5].int().tolist()
    assert np.allclose([d["score"] for d in detections], found[:, 4].numpy(), atol=1e-5)
    assert np.abs(np.array([d["box"] for d in detections]) - boxes.numpy()).max() <= 0.01  # JSON: 0.01 px
    for detection, mask in zip(detections, masks):
        ours = decoded(detection["mask"])
        assert ours.shape == PICTURE and mask.any()
        assert (ours & mask).sum() / (ours | mask).sum() >= 0.99


def test_pose(tmp_path, capsys, picture):
    rng = np.random.default_rng(2)
    points = np.stack([rng.uniform(-2, 34, (17, ANCHORS)), rng.uniform(-2, 34, (17, ANCHORS)),
                       rng.uniform(0, 1, (17, ANCHORS))], 1).reshape(51, ANCHORS)  # x, y, visibility per keypoint
    output0 = np.concatenate([boxes_rows(rng, 1), points]).astype(np.float32)[None]
    result = run(tmp_path, capsys, "pose", {"output0": output0}, picture)
    found = nms.non_max_suppression(torch.from_numpy(output0), 0.25, 0.7, nc=1)[0]
    boxes = ops.scale_boxes(INPUT, found[:, :4].clone(), PICTURE)
    keypoints = ops.scale_coords(INPUT, found[:, 6:].view(-1, 17, 3).clone(), PICTURE)
    detections = result["detections"]
    assert len(detections) == len(found) >= 3
    assert np.abs(np.array([d["box"] for d in detections]) - boxes.numpy()).max() <= 0.01
    ours = np.array([d["keypoints"] for d in detections])
    assert ours.shape == (len(found), 17, 3)
    assert np.abs(ours[..., :2] - keypoints[..., :2].numpy()).max() <= 0.01
    assert np.abs(ours[..., 2] - keypoints[..., 2].numpy()).max() <= 1e-5
    assert ours[..., 0].min() == 0 and ours[..., 1].max() == PICTURE[0]  # clipped to the picture, as scale_coords


def test_pose_with_its_own_keypoint_shape(tmp_path, capsys, picture):
    """kpt_shape "5,2": five keypoints of x, y, no visibility."""
    rng = np.random.default_rng(3)
    output0 = np.concatenate([boxes_rows(rng, 2), rng.uniform(0, 32, (10, ANCHORS))]).astype(np.float32)[None]
    result = run(tmp_path, capsys, "pose", {"output0": output0}, picture, extra_params=", kpt_shape: '5,2'")
    found = nms.non_max_suppression(torch.from_numpy(output0), 0.25, 0.7, nc=2)[0]
    keypoints = ops.scale_coords(INPUT, found[:, 6:].view(-1, 5, 2).clone(), PICTURE)
    assert [d["class"] for d in result["detections"]] == found[:, 5].int().tolist()
    assert np.abs(np.array([d["keypoints"] for d in result["detections"]]) - keypoints.numpy()).max() <= 0.01


def test_obb(tmp_path, capsys, picture):
    rng = np.random.default_rng(4)
    output0 = np.concatenate([boxes_rows(rng, 3), rng.uniform(-np.pi / 4, 3 * np.pi / 4, (1, ANCHORS))])
    output0 = output0.astype(np.float32)[None]
    result = run(tmp_path, capsys, "obb", {"output0": output0}, picture)
    found = nms.non_max_suppression(torch.from_numpy(output0), 0.25, 0.7, nc=3, rotated=True)[0]
    xywhr = torch.cat([found[:, :4], found[:, -1:]], -1)
    xywhr[:, :4] = ops.scale_boxes(INPUT, xywhr[:, :4], PICTURE, xywh=True)
    corners = ops.xywhr2xyxyxyxy(xywhr).numpy()
    detections = result["detections"]
    assert len(detections) == len(found) >= 3
    assert [d["class"] for d in detections] == found[:, 5].int().tolist()
    ours = np.array([d["xywhr"] for d in detections])
    assert np.abs(ours[:, :4] - xywhr[:, :4].numpy()).max() <= 0.01
    assert np.abs(ours[:, 4] - xywhr[:, 4].numpy()).max() <= 1e-6
    assert np.abs(np.array([d["corners"] for d in detections]) - corners).max() <= 0.01


def test_classify(tmp_path, capsys, picture):
    probabilities = np.random.default_rng(5).dirichlet(np.ones(12)).astype(np.float32)[None]
    result = run(tmp_path, capsys, "classify", {"output0": probabilities}, picture)
    Probs = ultralytics_module("ultralytics.engine.results").Probs
    expected = Probs(torch.from_numpy(probabilities[0]))
    assert [r["class"] for r in result["top5"]] == expected.top5
    assert np.allclose([r["score"] for r in result["top5"]], expected.top5conf.numpy(), atol=1e-6)
    assert [r["name"] for r in result["top5"]] == [str(k) for k in expected.top5]  # 12 classes: numbers


def test_text_and_drawing(tmp_path, capsys, picture):
    """Text lists each detection and --draw writes the picture with them drawn."""
    rng = np.random.default_rng(1)
    output0 = np.concatenate([boxes_rows(rng, 2), rng.normal(0, 1, (32, ANCHORS)).astype(np.float32)])[None]
    output1 = rng.normal(0, 1, (1, 32, 8, 8)).astype(np.float32)
    spec, drawn = tmp_path / "segment.yaml", tmp_path / "drawn.png"
    spec.write_text(spec_text("segment", {"output0": output0, "output1": output1}))
    assert main(["detect", str(spec), str(picture), "--random-weights", "--draw", str(drawn)]) == 0
    out = capsys.readouterr().out
    assert "street.png: 7 detections, the first 5 shown" in out and out.count(" px\n") == 5 and f"wrote {drawn}" in out
    with PIL.open(picture) as image, PIL.open(drawn) as image_drawn:
        assert image_drawn.size == image.size
        assert (np.asarray(image_drawn.convert("RGB")) != np.asarray(image.convert("RGB"))).any()


def drawn(tmp_path, task, found, size=(120, 160)):
    from netdsl.detect_draw import draw_task

    source, output = tmp_path / "gray.png", tmp_path / "drawn.png"
    PIL.fromarray(np.full((*size, 3), 100, np.uint8)).save(source)
    draw_task(str(source), task, found, str(output))
    with PIL.open(output) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def test_drawing_a_mask_blends_it_at_half_opacity(tmp_path):
    from netdsl.detect import PALETTE
    from netdsl.detect_tasks import Instance
    from netdsl.yolo_ops import Mask

    mask = Mask(60, 40, np.ones((40, 50), bool), 120, 160)  # rows 60-99, columns 40-89
    pixels = drawn(tmp_path, "segment", [Instance(2, 0.9, (30.0, 50.0, 100.0, 110.0), mask=mask, name="car")])
    color = np.array(PALETTE[2])
    assert (pixels[70:95, 45:85] == np.round(100 * 0.5 + color * 0.5)).all()  # inside the mask, off the box lines
    assert (pixels[:30, 110:] == 100).all() and (pixels[115:, :] == 100).all()  # away from box and label


def test_drawing_a_skeleton_joins_visible_keypoints_only(tmp_path):
    from netdsl.detect_tasks import Instance

    keypoints = np.zeros((17, 3))
    keypoints[:, 2] = 0.1  # all hidden ...
    keypoints[5] = (40, 40, 0.9)  # ... but the shoulders (keypoints 6 and 7, one limb of the skeleton)
    keypoints[6] = (120, 40, 0.9)
    keypoints[11] = (80, 100, 0.1)  # hidden: its limbs are not drawn
    pixels = drawn(tmp_path, "pose", [Instance(0, 0.9, (10.0, 20.0, 150.0, 115.0), keypoints=keypoints, name="p")])
    assert (pixels[40, 50:110] != 100).any(-1).all()  # the limb between them
    assert (pixels[60:95, 55:105] == 100).all()  # nothing drawn towards the hidden hip


def test_drawing_a_rotated_box_draws_its_corners(tmp_path):
    from netdsl.detect_tasks import Instance, rotated_corners

    xywhr = (80.0, 60.0, 80.0, 30.0, np.pi / 4)
    corners = rotated_corners(xywhr)
    pixels = drawn(tmp_path, "obb", [Instance(1, 0.8, xywhr, corners=corners, name="ship")])
    for x, y in corners.round().astype(int):
        assert (pixels[y - 2:y + 3, x - 2:x + 3] != 100).any()
    assert (pixels[57:63, 77:83] == 100).all()  # the center, inside the outline, untouched
    assert (pixels[:, :20] == 100).all()  # far from it


@pytest.mark.parametrize("task,outputs,message", [
    ("segment", {"output0": np.zeros((1, 38, 8), np.float32)}, "needs output0 and output1"),
    ("pose", {"output0": np.zeros((1, 40, 8), np.float32)}, "has no class scores"),
    ("classify", {"output0": np.zeros((1, 5, 8), np.float32)}, "output `output0` has rank 3"),
    ("tracking", {"output0": np.zeros((1, 6, 8), np.float32)}, "`task` is 'tracking'"),
])
def test_refusals_are_clean(tmp_path, capsys, picture, task, outputs, message):
    spec = tmp_path / "bad.yaml"
    spec.write_text(spec_text(task, outputs))
    assert main(["detect", str(spec), str(picture), "--random-weights"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_task_spec_ending_in_nms_is_refused_with_the_way_out(tmp_path, capsys, picture):
    from test_detect import SPEC

    spec = tmp_path / "pose-nms.yaml"
    spec.write_text(SPEC.replace("params: {nms: false}", "params: {nms: true, task: pose}"))
    assert main(["detect", str(spec), str(picture), "--random-weights"]) == 2
    err = capsys.readouterr().err
    assert "ends in an NMS layer (`nms`, kind nms)" in err and "--set nms=false" in err and "Traceback" not in err
