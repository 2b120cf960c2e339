"""netdsl.yolo_ops against the ultralytics 8.4.190 and PyTorch functions it follows, on random inputs:
batch_probiou, the rotated NMS of non_max_suppression, F.interpolate's bilinear resize, scale_masks,
and COCO's RLE of a mask (decoded here by its definition)."""

import numpy as np
import pytest

from yolo_oracle import ultralytics_module

torch = pytest.importorskip("torch")
metrics = ultralytics_module("ultralytics.utils.metrics")
nms = ultralytics_module("ultralytics.utils.nms")
ops = ultralytics_module("ultralytics.utils.ops")

from netdsl import yolo_ops  # noqa: E402
from netdsl.detect import Thresholds  # noqa: E402
from netdsl.detect_tasks import mask_rle  # noqa: E402


def rotated_boxes(rng, n):
    centers = rng.uniform(0, 100, (n, 2))
    sizes = rng.uniform(2, 40, (n, 2))
    angles = rng.uniform(-np.pi / 4, 3 * np.pi / 4, (n, 1))
    return np.concatenate([centers, sizes, angles], 1).astype(np.float32)


def test_probiou_equals_batch_probiou():
    rng = np.random.default_rng(0)
    a, b = rotated_boxes(rng, 40), rotated_boxes(rng, 30)
    b[:5] = a[:5]  # identical boxes: IoU near 1
    theirs = metrics.batch_probiou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    difference = np.abs(yolo_ops.probiou(a, b) - theirs)
    # float32 on both sides, but numpy's and torch's cos, log and exp differ by an ulp: 1e-6 where boxes
    # differ; for near-identical boxes 1 - sqrt(1 - exp(-d)) turns an ulp of d (~3e-8 at d ~ 1e-7) into ~5e-5
    assert difference[theirs < 0.99].max() <= 1e-6
    assert difference.max() <= 2e-4


@pytest.mark.parametrize("seed", range(3))
def test_rotated_nms_equals_non_max_suppression(seed):
    """Crowded rotated boxes of three classes: the same rows kept, in the same order."""
    rng = np.random.default_rng(seed)
    n, classes = 300, 3
    boxes = rotated_boxes(rng, n)
    boxes[:, :2] = rng.uniform(0, 60, (n, 2))  # crowded: many overlaps
    scores = rng.uniform(0, 0.3, (n, classes)).astype(np.float32)
    scores[np.arange(n), rng.integers(0, classes, n)] = rng.uniform(0.2, 1, n)
    output = np.concatenate([boxes[:, :4], scores, boxes[:, 4:]], 1).T[None]  # [1, 4 + C + 1, n]
    thresholds = Thresholds(0.25, 0.5, 300)
    theirs = nms.non_max_suppression(torch.from_numpy(output), 0.25, 0.5, nc=classes, rotated=True)[0].numpy()
    ours = yolo_ops.rotated_nms(yolo_ops.candidates(output[0], classes, thresholds), thresholds)
    assert 10 <= len(ours) < n
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("size,new", [((40, 32), (160, 128)), ((7, 13), (20, 9)), ((33, 50), (33, 50)),
                                      ((64, 48), (31, 90))])
def test_resize_bilinear_equals_interpolate(size, new):
    values = np.random.default_rng(1).normal(0, 1, size).astype(np.float32)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(values)[None, None], new, mode="bilinear")[0, 0]
    theirs = theirs.numpy()
    assert np.abs(yolo_ops.resize_bilinear(values, *new) - theirs).max() <= 1e-5
    rows, columns = np.arange(new[0] // 3, new[0] - 1), np.arange(1, new[1] // 2)
    part = yolo_ops.resize_bilinear(values, *new, rows=rows, columns=columns)
    assert np.array_equal(part, yolo_ops.resize_bilinear(values, *new)[rows][:, columns])


@pytest.mark.parametrize("input_size,picture", [((128, 160), (333, 517)), ((160, 96), (701, 389)),
                                                ((64, 64), (64, 64)), ((320, 640), (1001, 2000)),
                                                ((640, 640), (300, 200))])
def test_mask_to_picture_equals_scale_masks(input_size, picture):
    """A mask of the input mapped to the picture, whole or kept as the window around its pixels."""
    rng = np.random.default_rng(2)
    mask = np.zeros(input_size, bool)
    for _ in range(6):  # rectangles and noise
        y, x = rng.integers(0, input_size[0] - 8), rng.integers(0, input_size[1] - 8)
        mask[y:y + rng.integers(1, 40), x:x + rng.integers(1, 40)] = True
    mask ^= rng.uniform(0, 1, input_size) < 0.02
    theirs = (ops.scale_masks(torch.from_numpy(mask)[None, None].float(), picture)[0, 0] > 0.5).numpy()
    rows, columns = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    window = mask[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    for whole in (yolo_ops.Mask(0, 0, mask, *input_size), yolo_ops.Mask(rows[0], columns[0], window, *input_size)):
        ours = yolo_ops.mask_to_picture(whole, picture).array()
        assert ours.shape == picture
        assert (ours != theirs).sum() <= ours.size * 1e-5  # float32 taps at exactly 0.5 may round either way


@pytest.mark.parametrize("box", [(10.3, 5.0, 90.7, 60.2), (0.0, 0.0, 160.0, 128.0), (150.5, 120.5, 170.0, 140.0),
                                 (40.0, 40.0, 40.4, 40.9)])
def test_box_mask_equals_process_mask(box):
    """process_mask(upsample=True) on a 32x40 logit map into a 128x160 input, boxes inside, whole,
    astride the edge and thinner than a pixel."""
    rng = np.random.default_rng(4)
    protos = torch.from_numpy(rng.normal(0, 1, (4, 32, 40)).astype(np.float32))
    coefficients = torch.from_numpy(rng.normal(0, 1, (1, 4)).astype(np.float32))
    boxes = torch.tensor([box], dtype=torch.float32)
    theirs = ops.process_mask(protos, coefficients, boxes, (128, 160), upsample=True)[0].numpy().astype(bool)
    logits = (coefficients @ protos.view(4, -1)).view(32, 40).numpy()
    ours = yolo_ops.box_mask(logits, boxes[0].numpy(), (128, 160))
    if not theirs.any():
        assert ours is None
    else:
        assert np.array_equal(ours.array(), theirs)


@pytest.mark.parametrize("first", [False, True])
def test_mask_rle_decodes_to_the_mask(first):
    mask = np.random.default_rng(3).uniform(0, 1, (7, 5)) < 0.4
    mask[0, 0] = first
    rle = mask_rle(mask)
    assert rle["size"] == [7, 5] and sum(rle["counts"]) == 35 and (rle["counts"][0] == 0) == first
    bits, value = [], False
    for count in rle["counts"]:  # COCO: alternating runs, 0 first, column-major
        bits += [value] * count
        value = not value
    assert np.array_equal(np.array(bits).reshape(5, 7).T, mask)
