"""Images as network inputs: read with Pillow, fitted to the input's height and width, and laid out as
the input takes them. `netdsl calibrate` and `netdsl detect` read images through it.

Fitting is ultralytics' letterbox by default (its ``LetterBox``, upscaling allowed, centered): the
image is scaled by ``r = min(H / h, W / w)`` to ``round(w * r) x round(h * r)`` pixels (at least 1),
then padded with gray 114, the padding split as ``round(d / 2 - 0.1)`` before and ``round(d / 2 + 0.1)``
after. Padded to H x W, as the predictor does for a model of fixed size; or, given a stride, only to the
next multiple of the stride (ultralytics' ``auto``, its predictor's "minimum rectangle" for a model of
free size: a 2000x1001 picture into 640 becomes 640x320). ``stretch`` resizes to H x W
without keeping the aspect ratio. Resizing is OpenCV's ``INTER_LINEAR`` (``cv2.resize``, which
ultralytics and tensorrtx call) with its fixed-point arithmetic, written in numpy so that netdsl needs
no OpenCV and still gives the same pixels.

Layouts: a uint8 ``[N, H, W, 3]`` input takes the BGR pixels as read (a spec that converts frames in the
engine); a float ``[N, 3, H, W]`` input takes RGB / 255 and ``[N, 1, H, W]`` the luma (Pillow's "L")
/ 255, as ultralytics' predictor prepares images.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .diagnostics import NetdslError, UsageError
from .files import open_regular


class ImageError(NetdslError):
    """A picture that cannot be read (exit 1: the input is wrong)."""

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
GRAY = 114  # ultralytics' padding value
RESIZE_MODES = ("letterbox", "stretch")
_BITS = 11  # OpenCV's INTER_RESIZE_COEF_BITS: resize weights are multiples of 1/2048


def is_image(path: str) -> bool:
    return path.lower().endswith(SUFFIXES)


def _pillow():
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise UsageError("reading images needs Pillow, which is not installed (pip install 'netdsl[images]' or pillow); or convert "
                         "the images to .npy arrays as the network takes them") from None
    return Image, ImageOps


def load(path: str, channels: int = 3) -> np.ndarray:
    """The image in ``path`` as uint8 [H, W, channels]: BGR for 3 channels (OpenCV's order, as
    ultralytics reads images), luma for 1. EXIF orientation is applied, as ``cv2.imread`` does; alpha
    is dropped. Images larger than Pillow's ``MAX_IMAGE_PIXELS`` and unreadable files are refused
    with a message naming the file."""
    Image, ImageOps = _pillow()
    try:
        stream = open_regular(path)  # a FIFO or device is refused at once, never waited on
    except OSError as error:
        raise ImageError(f"{path}: cannot read it: {error.strerror or error}") from None
    try:
        with stream, warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse there too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as image:
                image = ImageOps.exif_transpose(image)
                pixels = _pixels(image, channels)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise ImageError(f"{path}: refused, too large: {error}") from None
    except Exception as error:  # Pillow's decoders raise many types on hostile files: name the file, no traceback
        raise ImageError(f"{path}: not a readable image ({type(error).__name__}: {error})") from None
    return pixels[..., ::-1] if channels == 3 else pixels[..., None]


def _pixels(image, channels: int) -> np.ndarray:
    if image.mode.startswith("I"):  # 16-bit gray: the high byte, as cv2.imread makes 8 bits of it
        gray = (np.asarray(image).astype(np.int64) >> 8).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2) if channels == 3 else gray
    return np.asarray(image.convert("RGB" if channels == 3 else "L"))


class Letterbox(NamedTuple):
    """Where a letterboxed image lies in the network's input (to map boxes back)."""

    scale: float  # network pixels per image pixel
    height: int  # of the resized image, before padding
    width: int
    top: int
    bottom: int
    left: int
    right: int


def letterbox_box(image_shape, size, stride: int | None = None) -> Letterbox:
    """ultralytics' LetterBox.get_params (scaleup=True, center=True) for an image of ``image_shape``
    (height, width) into ``size`` (height, width): padded to ``size`` (auto=False), or with ``stride``
    to the smallest multiple of it (auto=True)."""
    (h, w), (height, width) = image_shape[:2], size
    r = min(height / h, width / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = width - new_w, height - new_h
    if stride is not None:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    return Letterbox(r, new_h, new_w, round(dh - 0.1), round(dh + 0.1), round(dw - 0.1), round(dw + 0.1))


def letterboxed_size(box: Letterbox) -> tuple[int, int]:
    """(height, width) of the letterboxed image."""
    return box.top + box.height + box.bottom, box.left + box.width + box.right


def letterbox(image: np.ndarray, size, value: int = GRAY, stride: int | None = None) -> np.ndarray:
    """``image`` (uint8 [h, w, c]) scaled to fit ``size`` (height, width) and padded with ``value``
    (to ``size``, or with ``stride`` to the next multiple of it)."""
    box = letterbox_box(image.shape, size, stride)
    resized = resize_linear(image, box.height, box.width)
    out = np.full((*letterboxed_size(box), image.shape[2]), value, np.uint8)
    out[box.top:box.top + box.height, box.left:box.left + box.width] = resized
    return out


def stretch(image: np.ndarray, size) -> np.ndarray:
    return resize_linear(image, size[0], size[1])


def resize_linear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 [h, w, c] resized as ``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)``
    computes it: half-pixel centers, weights rounded to 11 bits, a horizontal pass in integers, then a
    vertical pass with OpenCV's vectorized rounding."""
    if image.shape[:2] == (height, width):
        return image
    x0, x1, a0, a1 = _weights(image.shape[1], width, clamp=True)
    y0, y1, b0, b1 = _weights(image.shape[0], height, clamp=False)
    needed, which = np.unique(np.concatenate([y0, y1]), return_inverse=True)  # not every row of a large image
    source = image[needed]
    # gathered as bytes, widened to int32 once, then computed in place: the same integers as
    # (((b0 * (rows0 >> 4)) >> 16) + ((b1 * (rows1 >> 4)) >> 16) + 2) >> 2, rows = x0 pixel * a0 + x1 pixel * a1
    rows = source[:, x0].astype(np.int32)
    rows *= a0[None, :, None]
    right = source[:, x1].astype(np.int32)
    right *= a1[None, :, None]
    rows += right
    rows >>= 4
    top, bottom = rows[which[:height]], rows[which[height:]]
    top *= b0[:, None, None]
    top >>= 16
    bottom *= b1[:, None, None]
    bottom >>= 16
    top += bottom
    top += 2
    top >>= 2
    return top.clip(0, 255).astype(np.uint8)


def _weights(size: int, new: int, clamp: bool):
    """Per output pixel: the two source indices and their 11-bit weights. OpenCV computes the source
    position in float32; horizontally it clamps a position outside the image to its edge pixel with
    weight 1; vertically it keeps the fractional weights and clamps only the row indices."""
    scale = 1.0 / (new / size)
    position = ((np.arange(new, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    index = np.floor(position).astype(np.int64)
    fraction = (position - index.astype(np.float32)).astype(np.float32)
    if clamp:
        outside = (index < 0) | (index >= size - 1)
        fraction[outside] = 0
        index = np.where(index < 0, 0, np.where(index >= size - 1, size - 1, index))
    one = np.float32(1 << _BITS)
    first = np.rint((np.float32(1) - fraction) * one).astype(np.int32)
    second = np.rint(fraction * one).astype(np.int32)
    return index.clip(0, size - 1), (index + 1).clip(0, size - 1), first, second


class ImageInput(NamedTuple):
    """How images feed one network input."""

    name: str
    height: int
    width: int
    channels: int  # 3 or 1
    nhwc: bool  # uint8 [N, H, W, 3] as read; else float [N, C, H, W] / 255


def image_input(graph_input, profiles, imgsz=None) -> ImageInput:
    """How images feed ``graph_input`` (a :class:`netdsl.graph.Input`), at ``imgsz`` (height, width)
    where its height or width is dynamic (default: the first profile's opt)."""
    nhwc, channels, dims = image_layout(graph_input)
    height, width = image_size(graph_input.name, dims, profiles, imgsz)
    return ImageInput(graph_input.name, height, width, channels, nhwc)


def image_layout(graph_input):
    """(nhwc, channels, (height dim, width dim)) of an input that takes images; refused otherwise."""
    from .tensors import is_float, show_shape

    shape, dtype = graph_input.shape, graph_input.dtype
    if len(shape) == 4 and dtype == "uint8" and shape[3] == 3:
        return True, 3, (shape[1], shape[2])
    if len(shape) == 4 and is_float(dtype) and isinstance(shape[1], int) and shape[1] in (1, 3):
        return False, shape[1], (shape[2], shape[3])
    raise UsageError(f"input `{graph_input.name}` {show_shape(shape)} {dtype} does not take images: images feed "
                     "a float [N, 3, H, W] input (RGB / 255), a float [N, 1, H, W] input (luma / 255) or a uint8 "
                     "[N, H, W, 3] input (BGR as read)")


def image_size(name: str, dims, profiles, imgsz) -> tuple[int, int]:
    from .symbolic import Dim

    sizes, named = [], {}
    for axis, dim, wanted in zip(("height", "width"), dims, imgsz or (None, None)):
        if isinstance(dim, int):
            if wanted not in (None, dim):
                raise UsageError(f"input `{name}` has a fixed {axis} of {dim}; --imgsz cannot change it")
            sizes.append(dim)
        elif isinstance(dim, Dim):
            size = wanted if wanted is not None else profiles[0].ranges[dim.name][1]
            if named.setdefault(dim.name, size) != size:
                raise UsageError(f"input `{name}` has the same dimension `{dim.name}` as height and width; --imgsz "
                                 "must give one size")
            sizes.append(size)
        else:
            raise UsageError(f"input `{name}` has the {axis} `{dim}`, an expression: images need a fixed size or a "
                             "named dimension")
    if named and profiles and not any(p.allows(named) for p in profiles):
        limits = "; ".join(p.describe(named) for p in profiles)
        shown = ", ".join(f"{n}={v}" for n, v in named.items())
        raise UsageError(f"images of {sizes[0]}x{sizes[1]} ({shown}) fit no optimization profile of the spec "
                         f"({limits})")
    return sizes[0], sizes[1]


def to_input(image: np.ndarray, target: ImageInput) -> np.ndarray:
    """One sample (no batch axis) of ``target`` from a fitted uint8 [H, W, C] image (BGR or luma)."""
    if target.nhwc:
        return image
    planes = image[..., ::-1] if target.channels == 3 else image  # BGR to RGB
    sample = np.ascontiguousarray(planes.transpose(2, 0, 1), dtype=np.float32)
    sample /= np.float32(255)  # in place: no second array
    return sample


def prepare(path: str, target: ImageInput, resize: str = "letterbox") -> np.ndarray:
    """The file at ``path`` as one sample of ``target``."""
    image = load(path, target.channels)
    size = (target.height, target.width)
    fitted = letterbox(image, size) if resize == "letterbox" else stretch(image, size)
    return to_input(fitted, target)
