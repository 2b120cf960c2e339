"""Fake quantization in numpy, the way TensorRT's quantize/dequantize pairs compute: symmetric (no
zero point), ``q = saturate(round(x * (1 / scale)))`` then ``q * scale``, in float32.

- INT8: round half to even, saturate to [-128, 127] (TensorRT's IQuantizeLayer range); INT4 (weights
  only) the same in [-8, 7].
- FP8 E4M3 (``float8_e4m3fn``: no infinities, largest 448): round to nearest even E4M3 value,
  saturate to +-448.

``x * (1 / scale)`` (a float32 reciprocal, then a product) is what PyTorch's
``fake_quantize_per_tensor_affine`` and ``..._per_channel_affine`` compute; TensorRT documents
``x / scale``, which can differ from it in the last bit before rounding, so a value within one ulp of a
rounding boundary may land one step apart.

    >>> import numpy as np
    >>> fake_quantize(np.array([0.5, 1.5, 2.5, 300.0], np.float32), np.float32(1.0), "int8").tolist()
    [0.0, 2.0, 2.0, 127.0]
    >>> fake_quantize(np.array([0.3, 500.0], np.float32), np.float32(1.0), "fp8").tolist()
    [0.3125, 448.0]
"""

from __future__ import annotations

import numpy as np

from ..spec.quantization import DTYPES
# the largest magnitude of each quantized type: amax maps to it (scale = amax / QMAX)
QMAX = {"int8": 127.0, "fp8": 448.0, "int4": 7.0}
INT8_RANGE = (-128.0, 127.0)
INT4_RANGE = (-8.0, 7.0)
FP8_MAX = 448.0


def scale_of(amax, dtype: str) -> np.ndarray:
    """float32 scale(s) for absolute maxima: ``amax / QMAX`` computed in float64, rounded to float32
    once. An amax of 0 (a channel of zeros) gets scale 1: every value quantizes to 0 either way, and
    TensorRT needs positive scales."""
    amax = np.asarray(amax, np.float64)
    scale = (amax / QMAX[dtype]).astype(np.float32)
    return np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)


def round_fp8_e4m3(x: np.ndarray) -> np.ndarray:
    """float32 -> the nearest float8_e4m3fn value (ties to even), saturated to +-448, as float32.
    Normal numbers have 3 mantissa bits (a step of 2**(e - 3) in the binade [2**e, 2**(e + 1))),
    subnormals a step of 2**-9 below 2**-6; scaling by a power of two is exact, so np.rint on the
    scaled value rounds exactly."""
    x = np.asarray(x, np.float32)
    _, exponent = np.frexp(np.abs(x))  # |x| = m * 2**exponent, m in [0.5, 1)
    binade = np.maximum(exponent.astype(np.int32) - 1, -6)
    step = np.ldexp(np.float32(1.0), binade - 3).astype(np.float32)
    rounded = (np.rint(x / step) * step).astype(np.float32)
    return np.clip(rounded, -FP8_MAX, FP8_MAX).astype(np.float32)


def fake_quantize(x: np.ndarray, scale, dtype: str, axis: int | None = None) -> np.ndarray:
    """Quantize and dequantize ``x`` with ``scale`` (a scalar, or one per index of ``axis``)."""
    x = np.asarray(x, np.float32)
    scale = np.asarray(scale, np.float32)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        scale = scale.reshape(shape)
    inverse = (np.float32(1.0) / scale).astype(np.float32)
    scaled = (x * inverse).astype(np.float32)
    if dtype == "int8":
        quantized = np.clip(np.rint(scaled), *INT8_RANGE)
    elif dtype == "fp8":
        quantized = round_fp8_e4m3(scaled)
    elif dtype == "int4":
        quantized = np.clip(np.rint(scaled), *INT4_RANGE)
    else:
        raise ValueError(f"unknown quantized dtype {dtype!r}; known: {', '.join(DTYPES)}")
    return (quantized * scale).astype(np.float32)


def weight_amax(array: np.ndarray, axis: int) -> np.ndarray:
    """Per-channel absolute maximum of a weight along ``axis`` (the output channels), float32."""
    array = np.abs(np.asarray(array, np.float32))
    others = tuple(i for i in range(array.ndim) if i != axis)
    return array.max(axis=others).astype(np.float32) if others else array
