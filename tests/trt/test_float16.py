"""netdsl.trt.float16 against numpy's own float32 -> float16 cast, bit for bit: every float16 value with
its rounding neighbours (halfway ties to even, one float32 ulp either side), float32 subnormals, a
strided sweep over every float32 bit pattern within float16's range, and the refusals. (The whole range,
all 2.4e9 patterns with |x| <= 65504, was compared once when the conversion was written: no difference.)"""

import numpy as np
import pytest

from netdsl.trt.float16 import BLOCK, SMALL, to_float16


def same_bits(values, row_scale=None):
    values = np.ascontiguousarray(values, np.float32)
    expected = values if row_scale is None else np.multiply(
        values, row_scale.reshape((-1,) + (1,) * (values.ndim - 1)), dtype=np.float32)
    got = to_float16(values, row_scale)
    assert got is not None and got.dtype == np.float16 and got.shape == values.shape
    expected = expected.astype(np.float16).view(np.uint16)
    wrong = np.flatnonzero(got.view(np.uint16) != expected)
    assert wrong.size == 0, [hex(b) for b in values.reshape(-1)[wrong[:5]].view(np.uint32)]


def in_range(bits):
    values = bits.astype(np.uint32).view(np.float32)
    return values[np.abs(values) <= 65504]


def test_every_float16_and_its_rounding_neighbours():
    halves = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    centres = halves[np.isfinite(halves)].astype(np.float32).view(np.uint32).astype(np.int64)
    # float32 patterns around each float16 value: the value, and around the halfway points to its neighbours
    # in the float32 unit of that exponent (for float16 subnormals the halfway point is coarser: also swept)
    offsets = np.array([0, 1, -1, 0xFFF, 0x1000, 0x1001, -0xFFF, -0x1000, -0x1001, 0x1FFF, 0x2000, 0x3FFF,
                        0x4000, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x1FFFF, 0x20000])
    bits = (centres[:, None] + offsets[None, :]).reshape(-1)
    bits = bits[(bits >= 0) & (bits < 1 << 32)]
    values = in_range(bits)
    assert values.size > 1_000_000 > SMALL  # through the block path, not numpy's cast
    same_bits(values)


def test_float32_subnormals_zeros_and_a_sweep_of_every_pattern():
    subnormal = np.arange(0, 1 << 23, 97, dtype=np.uint32)
    same_bits(in_range(np.concatenate([subnormal, subnormal | 0x80000000])))
    same_bits(in_range(np.arange(0, 1 << 32, 4099, dtype=np.uint64)))  # about 1 M patterns, both signs
    same_bits(np.array([0.0, -0.0, 65504.0, -65504.0, 65503.99, 2.0 ** -25, -(2.0 ** -25), 2.0 ** -24], np.float32))


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, BLOCK + 3, 3 * BLOCK])
def test_sizes_shapes_and_small_arrays(size):
    values = np.random.default_rng(size).standard_normal(size).astype(np.float32) * 300
    same_bits(values)
    if size:
        same_bits(values.reshape(size, 1, 1))


@pytest.mark.parametrize("shape", [(64, 3, 7, 7), (512, 4608), (3, 70_000), (1000, 1)])
def test_row_scale_is_the_float32_product(shape):
    rng = np.random.default_rng(1)
    weight = rng.standard_normal(shape).astype(np.float32)
    scale = (rng.random(shape[0]) * 50).astype(np.float32)
    same_bits(weight, scale)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 65504.01, -65520.0, 1e30])
def test_refuses_what_float16_cannot_hold(bad):
    for size in (5, 3 * BLOCK):
        values = np.ones(size, np.float32)
        values[size // 2] = bad
        assert to_float16(values) is None
    assert to_float16(np.ones((4, 3), np.float32), np.array([1, 1, bad, 1], np.float32)) is None
