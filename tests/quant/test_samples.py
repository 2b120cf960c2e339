"""Calibration data: images (fitted as ultralytics fits them), mixed folders, and inputs with named
dynamic dimensions (each sample at its own size, sizes outside the profiles refused)."""

import os
import pathlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from netdsl.build import bind_weights, load_spec
from netdsl.cli import main
from netdsl.diagnostics import UsageError
from netdsl.quant.calibrate import calibrate
from netdsl.spec import check_text
from netdsl.weights.synthetic import random_weights
from yolo_oracle import ultralytics_module

LetterBox = ultralytics_module("ultralytics.data.augment").LetterBox

ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET = str(ROOT / "specs/quantized/lenet_int8.yaml")

DYNAMIC = """netdsl: 1
quantization: {dtype: int8}
inputs:
  - {name: image, shape: [batch, 3, height, width]}
dims:
  batch: {min: 1, opt: 2, max: 4}
  height: {min: 32, opt: 64, max: 128, multiple_of: 16}
  width: {min: 32, opt: 64, max: 128, multiple_of: 16}
layers:
  - {name: conv, kind: convolution, out_channels: 4, kernel: 3, stride: 2, padding: 1}
  - {name: act, kind: relu}
  - {name: head, kind: convolution, out_channels: 2, kernel: 1}
"""

FRAMES = """netdsl: 1
quantization: {dtype: int8}
inputs:
  - {name: frame, shape: [-1, 32, 32, 3], dtype: uint8, batch: {min: 1, opt: 1, max: 8}}
layers:
  - {name: pixels, kind: cast, dtype: float32}
  - {name: planes, kind: permute, dims: [0, 3, 1, 2]}
  - {name: conv, kind: convolution, out_channels: 4, kernel: 3}
"""


def spec(text):
    checked, diagnostics = check_text(text, "<test>")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


def picture(height, width, seed, channels=3):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 3.0, y * 2.0, (x + y) * 1.5], -1)[..., :channels] % 256
    return (base + rng.normal(0, 20, base.shape)).clip(0, 255).astype(np.uint8)


def ultralytics_input(path, size, gray=False):
    """What ultralytics' predictor feeds the network: cv2.imread, LetterBox, CHW, RGB, / 255."""
    image = cv2.imread(path, cv2.IMREAD_GRAYSCALE)[..., None] if gray else cv2.imread(path)
    boxed = LetterBox(size, auto=False, stride=32)(image=image)
    tensor = torch.from_numpy(boxed.reshape(*size, -1)).permute(2, 0, 1)
    return (tensor if gray else tensor.flip(0)).float().div_(255).numpy()


def test_lenet_calibrates_from_images_as_from_the_same_arrays(tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    with np.load(ROOT / "weights/lenet_heldout.npz") as archive:
        digits = (archive["images"][:24, 0] * 255).round().astype(np.uint8)
    for k, digit in enumerate(digits):  # 28 x 40: letterboxed into 32 x 32 with gray bars
        Image.fromarray(cv2.resize(digit, (28, 40), interpolation=cv2.INTER_AREA)).save(folder / f"{k:02}.png")
    paths = sorted(str(p) for p in folder.iterdir())
    np.save(tmp_path / "same.npy", np.stack([ultralytics_input(p, (32, 32), gray=True) for p in paths]))
    checked = load_spec(LENET)
    bound = bind_weights(checked)
    from_images = calibrate(checked, bound, str(folder), "entropy", progress=False)
    from_arrays = calibrate(checked, bound, str(tmp_path / "same.npy"), "entropy", progress=False)
    assert from_images.activations == from_arrays.activations
    maxima = calibrate(checked, bound, str(folder), "max", progress=False)
    assert np.float32(maxima.activations["data"]) == np.load(tmp_path / "same.npy").max()
    assert "24 samples" in from_images.meta["data"] and "letterbox to 32x32" in from_images.meta["data"]


def test_stretch_and_batches(tmp_path):
    folder = tmp_path / "digits"
    folder.mkdir()
    for k in range(5):
        Image.fromarray(picture(20 + 9 * k, 30, k, channels=1)[..., 0]).save(folder / f"{k}.png")
    checked = load_spec(LENET)
    bound = bind_weights(checked)
    stretched = calibrate(checked, bound, str(folder), "max", progress=False, resize="stretch", batch=2)
    arrays = np.stack([cv2.resize(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), (32, 32))[None] / np.float32(255)
                       for p in sorted(folder.iterdir())])
    np.save(tmp_path / "stretched.npy", arrays.astype(np.float32))
    expected = calibrate(checked, bound, str(tmp_path / "stretched.npy"), "max", progress=False, batch=2)
    assert stretched.activations == expected.activations
    out = tmp_path / "s.scales"
    assert main(["calibrate", LENET, "--data", str(folder), "--resize", "stretch", "--imgsz", "32", "--batch", "2",
                 "--method", "max", "-o", str(out)]) == 0
    assert "# data: 5 samples from" in out.read_text() and "(stretch to 32x32)" in out.read_text()


def test_mixed_folders_and_wrong_inputs_are_refused(tmp_path, capsys):
    Image.fromarray(picture(32, 32, 0)).save(tmp_path / "a.png")
    np.save(tmp_path / "b.npy", np.zeros((1, 32, 32), np.float32))
    assert main(["calibrate", LENET, "--data", str(tmp_path), "-o", str(tmp_path / "s.scales")]) == 2
    assert "holds both arrays (1 .npy/.npz, e.g. b.npy) and images (1, e.g. a.png)" in capsys.readouterr().err
    os.remove(tmp_path / "b.npy")
    assert main(["calibrate", LENET, "--data", str(tmp_path), "--imgsz", "64", "-o", str(tmp_path / "s")]) == 2
    assert "fixed height of 32; --imgsz cannot change it" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["calibrate", LENET, "--data", str(tmp_path), "--imgsz", "big"])
    checked = spec(DYNAMIC.replace("[batch, 3, height, width]", "[batch, 4, height, width]"))
    with pytest.raises(UsageError, match=r"input `image` \[batch, 4, height, width\] float32 does not take images"):
        calibrate(checked, random_weights(checked), str(tmp_path), progress=False)
    np.save(tmp_path.parent / "x.npy", np.zeros((1, 32, 32), np.float32))
    with pytest.raises(UsageError, match="--imgsz and --resize apply to images"):
        calibrate(load_spec(LENET), None, str(tmp_path.parent / "x.npy"), imgsz=(32, 32), progress=False)


def torch_relu_conv(bound, x):
    weight, bias = (torch.from_numpy(bound[f"conv.{s}"].array) for s in ("weight", "bias"))
    return torch.relu(torch.nn.functional.conv2d(torch.from_numpy(x), weight, bias, stride=2, padding=1)).numpy()


def test_named_dynamic_sizes_run_at_the_data_size(tmp_path):
    checked = spec(DYNAMIC)
    bound = random_weights(checked, seed=1)
    rng = np.random.default_rng(0)
    samples = {"a.npy": rng.normal(0, 1, (3, 3, 64, 64)), "b.npy": rng.normal(0, 2, (2, 3, 48, 80)),
               "c.npy": rng.normal(0, 1, (3, 32, 32)),  # one sample without the batch axis
               "d.npy": rng.normal(0, 1, (6, 3, 32, 32))}  # more than a run takes (batch max 4)
    for name, array in samples.items():
        np.save(tmp_path / name, array.astype(np.float32))
    scales = calibrate(checked, bound, str(tmp_path), "max", batch=4, progress=False)
    arrays = [a.astype(np.float32).reshape(-1, *a.shape[-3:]) for a in samples.values()]
    assert np.float32(scales.activations["image"]) == max(np.abs(a).max() for a in arrays)
    expected = max(float(torch_relu_conv(bound, a).max()) for a in arrays)
    assert scales.activations["act"] == pytest.approx(expected, rel=1e-6)  # float32 sums in another order
    assert scales.meta["data"].startswith("12 samples")
    np.save(tmp_path / "e.npy", np.zeros((1, 3, 40, 64), np.float32))  # 40: not a multiple of 16
    with pytest.raises(UsageError, match=r"e\.npy: the inputs' sizes height=40, width=64 fit no optimization"):
        calibrate(checked, bound, str(tmp_path), "max", progress=False)


def test_images_for_dynamic_sizes(tmp_path):
    checked = spec(DYNAMIC)
    bound = random_weights(checked, seed=2)
    for k, shape in enumerate([(90, 160), (200, 120)]):
        Image.fromarray(picture(*shape, seed=k)).save(tmp_path / f"{k}.jpg", quality=90)
    paths = sorted(str(p) for p in tmp_path.iterdir())
    for imgsz, size in ((None, (64, 64)), ((48, 96), (48, 96))):
        scales = calibrate(checked, bound, str(tmp_path), "max", progress=False, imgsz=imgsz)
        inputs = np.stack([ultralytics_input(p, size) for p in paths])
        assert np.float32(scales.activations["image"]) == inputs.max()
        assert scales.activations["act"] == pytest.approx(float(torch_relu_conv(bound, inputs).max()), rel=1e-6)
        assert f"letterbox to {size[0]}x{size[1]}" in scales.meta["data"]
    with pytest.raises(UsageError, match=r"images of 40x40 \(height=40, width=40\) fit no optimization profile"):
        calibrate(checked, bound, str(tmp_path), "max", progress=False, imgsz=(40, 40))


def test_uint8_frames_take_the_bgr_pixels(tmp_path):
    checked = spec(FRAMES)
    bound = random_weights(checked, seed=3)
    for k in range(3):
        Image.fromarray(picture(24 + 10 * k, 40, seed=k)).save(tmp_path / f"{k}.png")
    scales = calibrate(checked, bound, str(tmp_path), "max", progress=False)
    boxed = [LetterBox((32, 32), auto=False)(image=cv2.imread(str(p))) for p in sorted(tmp_path.iterdir())]
    assert list(scales.activations) == ["planes"]
    assert scales.activations["planes"] == float(max(b.max() for b in boxed))
