"""netdsl.images against ultralytics' own preprocessing (LetterBox, cv2.imread, its predictor's layout),
and hostile files refused with their names."""

import struct
import sys
import zlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from netdsl import images
from netdsl.images import ImageError
from netdsl.diagnostics import UsageError
from yolo_oracle import ultralytics_module

LetterBox = ultralytics_module("ultralytics.data.augment").LetterBox

RNG = np.random.default_rng(0)


def natural(height, width, channels=3, seed=0):
    """A smooth picture with noise and sharp edges, closer to a photo than uniform noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * 255 / max(width - 1, 1)), 128 + 100 * np.sin(y / 7.0), ((x // 9 + y // 5) % 2) * 255.0]
    picture = np.stack(planes[:channels], -1) + rng.normal(0, 12, (height, width, channels))
    return picture.clip(0, 255).astype(np.uint8)


SIZES = [((480, 640), (640, 640)), ((1080, 1920), (640, 640)), ((640, 480), (384, 640)), ((28, 28), (32, 32)),
         ((100, 37), (32, 32)), ((333, 777), (320, 480)), ((640, 640), (320, 320)), ((1, 500), (64, 64)),
         ((17, 3), (640, 640)), ((64, 64), (64, 64))]


@pytest.mark.parametrize("shape,size", SIZES)
@pytest.mark.parametrize("channels", [3, 1])
def test_letterbox_equals_ultralytics_pixel_for_pixel(shape, size, channels):
    image = natural(*shape, channels, seed=shape[0])
    expected = LetterBox(size, auto=False, stride=32)(image=image.copy())
    assert np.array_equal(images.letterbox(image, size), expected.reshape(*size, channels))


def test_resize_equals_opencv_on_random_sizes():
    # uniform noise: every rounding of OpenCV's fixed-point arithmetic shows
    for _ in range(60):
        h, w = RNG.integers(1, 700, 2)
        height, width = RNG.integers(1, 700, 2)
        image = RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected = cv2.resize(image, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
        assert np.array_equal(images.resize_linear(image, height, width), expected), (h, w, height, width)


def test_stretch_is_ultralytics_scale_fill():
    image = natural(300, 500)
    expected = LetterBox((320, 320), auto=False, scale_fill=True)(image=image.copy())
    assert np.array_equal(images.stretch(image, (320, 320)), expected)


def test_letterbox_box_maps_back():
    box = images.letterbox_box((1080, 1920), (640, 640))
    assert (box.height, box.width, box.top, box.bottom, box.left, box.right) == (360, 640, 140, 140, 0, 0)
    assert box.scale == pytest.approx(1 / 3)
    # 21 x 0.64 = 13.44 columns -> 13, and 19 of padding: round(9.4) = 9 left, round(9.6) = 10 right
    odd = images.letterbox_box((50, 21), (32, 32))
    assert (odd.height, odd.width, odd.top, odd.bottom, odd.left, odd.right) == (32, 13, 0, 0, 9, 10)


@pytest.mark.parametrize("name,save", [
    ("photo.jpg", lambda path, a: Image.fromarray(a).save(path, quality=90)),
    ("photo.png", lambda path, a: Image.fromarray(a).save(path)),
    ("photo.bmp", lambda path, a: Image.fromarray(a).save(path)),
    ("alpha.png", lambda path, a: Image.fromarray(np.dstack([a, a[..., :1]])).save(path)),
    ("gray.png", lambda path, a: Image.fromarray(a[..., 0]).save(path)),
    ("palette.png", lambda path, a: Image.fromarray(a).convert("P").save(path)),
    ("deep.png", lambda path, a: cv2.imwrite(path, a[..., 0].astype(np.uint16) * 257 + 3)),
    ("deep-color.png", lambda path, a: cv2.imwrite(path, a.astype(np.uint16) * 251)),
])
def test_load_equals_cv2_imread(tmp_path, name, save):
    path = str(tmp_path / name)
    save(path, natural(60, 90))
    assert np.array_equal(images.load(path), cv2.imread(path))


def test_load_applies_exif_orientation_as_cv2_does(tmp_path):
    path = str(tmp_path / "rotated.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(natural(40, 70)).save(path, exif=exif, quality=95)
    loaded = images.load(path)
    assert loaded.shape == (70, 40, 3)
    assert np.array_equal(loaded, cv2.imread(path))


def test_gray_input_takes_the_luma(tmp_path):
    path = str(tmp_path / "digit.png")
    Image.fromarray(natural(28, 28)[..., 0]).save(path)
    assert np.array_equal(images.load(path, channels=1)[..., 0], cv2.imread(path, cv2.IMREAD_GRAYSCALE))


def test_prepare_equals_ultralytics_predictor(tmp_path):
    path = str(tmp_path / "street.jpg")
    Image.fromarray(natural(360, 500)).save(path, quality=92)
    target = images.ImageInput("images", 640, 640, 3, nhwc=False)
    # ultralytics' predictor: cv2.imread, LetterBox, HWC to CHW, BGR to RGB, float / 255
    boxed = LetterBox((640, 640), auto=False, stride=32)(image=cv2.imread(path))
    expected = torch.from_numpy(boxed).permute(2, 0, 1).flip(0).float().div_(255).numpy()
    assert np.array_equal(images.prepare(path, target), expected)
    frames = images.ImageInput("frames", 640, 640, 3, nhwc=True)  # uint8 NHWC: the BGR pixels as they are
    assert np.array_equal(images.prepare(path, frames), boxed)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels and holds none: a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_hostile_images_are_refused_with_their_names(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(100_000, 100_000))
    with pytest.raises(ImageError, match="bomb.png: refused, too large"):
        images.load(str(bomb))
    # between MAX_IMAGE_PIXELS and twice that Pillow only warns: refused too
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    warned = tmp_path / "warned.png"
    Image.fromarray(natural(40, 60)).save(warned)  # 2400 pixels
    with pytest.raises(ImageError, match="warned.png: refused, too large"):
        images.load(str(warned))
    monkeypatch.undo()
    whole = tmp_path / "whole.jpg"
    Image.fromarray(natural(200, 200)).save(whole, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[:3000])
    with pytest.raises(ImageError, match="cut.jpg: not a readable image"):
        images.load(str(cut))
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    with pytest.raises(ImageError, match="notes.png: not a readable image"):
        images.load(str(text))


def test_pillow_missing_is_a_clean_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(UsageError, match="needs Pillow"):
        images.load(str(tmp_path / "x.png"))
