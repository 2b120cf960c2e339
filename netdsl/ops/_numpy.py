"""numpy kernels the kinds' ``reference`` methods share (convolution, deconvolution, windows over padded
inputs, erf, a stable sigmoid). They live below the kinds so that no kind reaches up into a pass."""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np


def pad_spatial(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    """x padded on its spatial axes (every axis after N and C) by (begins..., ends...)."""
    half = len(padding) // 2
    if not any(padding):
        return x
    padded = np.full((*x.shape[:2], *(size + b + e for size, b, e in zip(x.shape[2:], padding[:half], padding[half:]))),
                     value, x.dtype)
    padded[(slice(None), slice(None), *(slice(b, b + size) for b, size in zip(padding[:half], x.shape[2:])))] = x
    return padded


def windows(x: np.ndarray, kernel, stride, dilation, out_sizes) -> np.ndarray:
    """[N, C, *out, *kernel] views of the windows of an already padded x."""
    rank = len(kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(x, spans, axis=tuple(range(2, 2 + rank)))
    view = view[(slice(None), slice(None), *(slice(None, None, s) for s in stride),
                 *(slice(None, None, d) for d in dilation))]
    return view[(slice(None), slice(None), *(slice(None, o) for o in out_sizes))]


def max_windows(x: np.ndarray, kernel, stride, dilation, out_sizes) -> np.ndarray:
    """The maximum over each window of an already padded x ([N, C, *out]), one spatial axis at a time
    (a box's maximum is the maximum of its rows' maxima; max is exact, so the order does not matter):
    a running np.maximum over the kernel's strided offsets, never a reduction over a window view."""
    result = None
    for axis, (k, s, d, o) in enumerate(zip(kernel, stride, dilation, out_sizes), start=2):
        def tap(offset, source):
            return source[(slice(None),) * axis + (slice(offset * d, offset * d + (o - 1) * s + 1, s),)]

        source = x if result is None else result
        # the first axis's partial maxima go into the reused workspace (when another axis follows)
        first = tap(0, source)
        result = scratch(first.shape) if axis == 2 and len(kernel) > 1 and x.dtype == np.float32 else \
            np.empty(first.shape, x.dtype)
        if k == 1:
            np.copyto(result, first)
            continue
        np.maximum(first, tap(1, source), out=result)
        for offset in range(2, k):
            np.maximum(result, tap(offset, source), out=result)
    return x.copy() if result is None else result


def pad_to_cover(x, padding, kernel, stride, out_sizes, dilation=None, value=0.0):
    """Pad with explicit padding, plus whatever extra at the end the last (ceil-mode) window needs."""
    rank = len(kernel)
    dilation = dilation or (1,) * rank
    ends = list(padding[rank:])
    for axis in range(rank):
        need = (out_sizes[axis] - 1) * stride[axis] + dilation[axis] * (kernel[axis] - 1) + 1
        ends[axis] += max(0, need - (x.shape[2 + axis] + padding[axis] + ends[axis]))
    return pad_spatial(x, tuple(padding[:rank]) + tuple(ends), value)


def _letters(rank: int, first: str) -> str:
    return "".join(chr(ord(first) + i) for i in range(rank))


class _Workspace(threading.local):
    """One float32 buffer for the im2col columns, reused by every convolution of a run (grown when a
    layer needs more, dropped by :func:`release_workspace` when the run ends)."""

    buffer = None


_WORKSPACE = _Workspace()


def scratch(shape) -> np.ndarray:
    size = math.prod(shape)
    if _WORKSPACE.buffer is None or _WORKSPACE.buffer.size < size:
        _WORKSPACE.buffer = None  # free the old one before allocating the larger
        _WORKSPACE.buffer = np.empty(size, np.float32)
    return _WORKSPACE.buffer[:size].reshape(shape)


def release_workspace() -> None:
    _WORKSPACE.buffer = None


def convolution(x, weight, bias, padding, stride, dilation, groups, out_sizes) -> np.ndarray:
    """One matrix product per sample and convolution: the weights [groups, O/groups, C/groups * kernel]
    times the im2col columns [groups, C/groups * kernel, positions] (the input itself for a 1x1 kernel with
    unit stride and no padding, else copies of the sample's windows into the reused workspace, a block of
    output rows at a time: _im2col_product). Depthwise convolutions (one input and one output
    channel per group) take one small product per channel over copies of its taps instead (_depthwise),
    and 3x3 ones at unit stride with enough channels a Winograd product (_winograd)."""
    n, c, rank = x.shape[0], x.shape[1], x.ndim - 2
    o, cg, *kernel = weight.shape
    og, taps, positions = o // groups, math.prod(kernel), math.prod(out_sizes)
    out = np.empty((n, o, *out_sizes), np.float32)
    bias = None if bias is None else bias.reshape((-1,) + (1,) * rank)
    weights = weight.reshape(groups, og, cg * taps)
    if cg == 1 and og == 1 and groups > 1:
        _depthwise(x, weight, padding, stride, dilation, out, bias)
    elif _winograd_fits(x, weight, padding, stride, dilation, groups, out_sizes):
        _winograd(x, weight, padding, out, bias)
    elif taps > 1 or any(padding) or any(s != 1 for s in stride):
        _im2col_product(x, weights, bias, padding, stride, dilation, kernel, out)
    else:  # the input is the columns: one product per sample, in one call
        np.matmul(weights, np.ascontiguousarray(x).reshape(n, groups, cg, positions),
                  out=out.reshape(n, groups, og, positions))
        if bias is not None:
            out += bias
    return out


def _im2col_product(x, weights, bias, padding, stride, dilation, kernel, out) -> None:
    """out = weights [groups, O/groups, C/groups * kernel] times the im2col columns, per sample and block
    of output rows (the first spatial axis): the block's columns are copied into the reused workspace and
    the product written straight into the output's rows; the bias is added per sample."""
    n, c = x.shape[:2]
    groups, og, depth = weights.shape
    out_sizes = out.shape[2:]
    positions = math.prod(out_sizes)
    rest = positions // max(1, out_sizes[0])  # output positions per row of the first spatial axis
    step = max(1, min(out_sizes[0], _IM2COL_BLOCK // max(1, c * math.prod(kernel) * rest)))
    for sample in range(n):
        products = out[sample].reshape(groups, og, positions)
        for first in range(0, out_sizes[0], step):
            rows = min(step, out_sizes[0] - first)
            part, block_padding = _rows_of(x[sample:sample + 1], padding, stride[0], dilation[0], kernel[0],
                                           first, rows)
            columns = scratch((1, c, *kernel, rows, *out_sizes[1:]))
            _im2col(part, block_padding, stride, dilation, columns)
            np.matmul(weights, columns.reshape(groups, depth, rows * rest),
                      out=products[:, :, first * rest:(first + rows) * rest])
        if bias is not None:
            out[sample] += bias


_IM2COL_BLOCK = 1 << 20  # im2col elements of one block of output rows (the columns stay in cache)


def _rows_of(x, padding, stride: int, dilation: int, kernel: int, first: int, rows: int):
    """The input rows (first spatial axis) that output rows first .. first + rows - 1 read, and the
    padding that block needs: its own share of the begin and end padding, the other axes' as given."""
    half, size = len(padding) // 2, x.shape[2]
    start = first * stride - padding[0]
    stop = (first + rows - 1) * stride - padding[0] + dilation * (kernel - 1) + 1
    part = x[:, :, max(0, start):max(0, min(size, stop))]
    block_padding = list(padding)
    block_padding[0], block_padding[half] = max(0, -start), max(0, stop - max(size, start))
    return part, tuple(block_padding)


def _im2col(x, padding, stride, dilation, columns) -> None:
    """columns [N, C, *kernel, *out] = the (zero-padded) input under each kernel tap, one copy per tap
    straight from x: the positions whose tap falls in the padding are zeroed, no padded copy is made."""
    rank = x.ndim - 2
    kernel, out_sizes = columns.shape[2:2 + rank], columns.shape[2 + rank:]
    for offset in itertools.product(*(range(k) for k in kernel)):
        target = columns[(slice(None), slice(None), *offset)]
        inside, source = [], []
        for axis, (i, s, d, begin, o, size) in enumerate(zip(offset, stride, dilation, padding, out_sizes, x.shape[2:])):
            shift = i * d - begin  # input index of output position y: y * s + shift
            first = min(o, max(0, -(shift // s) if shift < 0 else 0))
            last = max(first, min(o, (size - 1 - shift) // s + 1 if size - 1 - shift >= 0 else 0))
            inside.append(slice(first, last))
            source.append(slice(first * s + shift, (last - 1) * s + shift + 1, s) if last > first else slice(0, 0))
            lead = (slice(None),) * (2 + axis)
            target[lead + (slice(None, first),)] = 0
            target[lead + (slice(last, None),)] = 0
        if all(part.stop > part.start for part in inside):
            target[(slice(None), slice(None), *inside)] = x[(slice(None), slice(None), *source)]


# Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2015): each
# 2x2 block of outputs is A^T [(G g G^T) * (B^T d B)] A over the 4x4 input tile d under it, so a 3x3
# convolution is 16 matrix products [K, C] @ [C, tiles] (4 multiplications per output and channel pair
# instead of 9) between cheap transforms made of additions. G's entries are 1 and 1/2 (exact in float32),
# B's and A's are 0 and +-1: the results differ from the im2col product by float32 rounding of the sums
# in another order (tests/ops/test_numpy_kernels.py measures it against float64).
_WINOGRAD_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float32)
_WINOGRAD_MIN_CHANNELS = 32  # below, the transforms cost more than the products save
_WINOGRAD_BLOCK = 1 << 18  # transformed input elements per block of tile rows (stays in cache)


def _winograd_fits(x, weight, padding, stride, dilation, groups, out_sizes) -> bool:
    return (x.ndim == 4 and weight.shape[2:] == (3, 3) and groups == 1 and stride == (1, 1)
            and dilation == (1, 1) and min(x.shape[1], weight.shape[0]) >= _WINOGRAD_MIN_CHANNELS
            and all(size % 2 == 0 and size > 0 for size in out_sizes) and x.dtype == np.float32)


def _winograd(x, weight, padding, out, bias) -> None:
    """out = the 3x3, stride 1 convolution of x (even output sizes) plus bias (None or [K, 1, 1]), by
    Winograd F(2x2, 3x3), one sample and a block of tile rows at a time so that the transformed tiles stay
    in cache (the bias is added there too)."""
    n, c, height, width = x.shape
    k = weight.shape[0]
    rows, columns = out.shape[2] // 2, out.shape[3] // 2  # tiles
    top, left = padding[0], padding[1]
    u = np.kron(_WINOGRAD_G, _WINOGRAD_G) @ weight.reshape(k * c, 9).T  # [16, K * C]: G g G^T per filter
    u = u.reshape(16, k, c)
    padded = np.zeros((c, 2 * rows + 2, 2 * columns + 2), np.float32)
    inner = (slice(None), slice(top, top + height), slice(left, left + width))
    step = max(1, min(rows, _WINOGRAD_BLOCK // (16 * c * columns)))
    spaces = [np.empty(16 * c * step * columns, np.float32), np.empty(16 * k * step * columns, np.float32),
              np.empty(c * step * (2 * columns + 2), np.float32), np.empty(8 * k * step * columns, np.float32)]
    for sample in range(n):
        padded[inner] = x[sample]  # (the padding stays zero)
        for first in range(0, rows, step):
            count = min(step, rows - first)
            v, m, line, half = (space[:math.prod(shape)].reshape(shape) for space, shape in zip(spaces, (
                (4, 4, c, count, columns), (16, k, count * columns), (c, count, 2 * columns + 2),
                (2, 4, k, count, columns))))
            target = out[sample, :, 2 * first:2 * (first + count)]
            _winograd_block(padded[:, 2 * first:2 * (first + count) + 2], u, v, m, line, half, target)
            if bias is not None:
                target += bias


def _winograd_block(tiles, u, v, m, line, half, target) -> None:
    """One block of tile rows: tiles [C, 2 * rows + 2, 2 * columns + 2] of the padded input -> target
    [K, 2 * rows, 2 * columns]; v, m, line and half are workspaces of the block's size."""
    c, rows, columns = v.shape[2:]
    row = [tiles[:, offset:offset + 2 * rows:2] for offset in range(4)]  # B^T d: over the tile's rows
    for a, (first, second, subtract) in enumerate(((0, 2, True), (1, 2, False), (2, 1, True), (1, 3, True))):
        (np.subtract if subtract else np.add)(row[first], row[second], out=line)
        column = [line[..., offset:offset + 2 * columns:2] for offset in range(4)]  # (B^T d) B
        np.subtract(column[0], column[2], out=v[a, 0])
        np.add(column[1], column[2], out=v[a, 1])
        np.subtract(column[2], column[1], out=v[a, 2])
        np.subtract(column[1], column[3], out=v[a, 3])
    np.matmul(u, v.reshape(16, c, rows * columns), out=m)
    m = m.reshape(4, 4, -1, rows, columns)
    for b in range(4):  # A^T m: over the tile's rows
        np.add(m[0, b], m[1, b], out=half[0, b])
        half[0, b] += m[2, b]
        np.subtract(m[1, b], m[2, b], out=half[1, b])
        half[1, b] -= m[3, b]
    for a in range(2):  # (A^T m) A, into the outputs' rows a and columns 0 and 1 of each 2x2 block
        even, odd = target[:, a::2, 0::2], target[:, a::2, 1::2]
        np.add(half[a, 0], half[a, 1], out=even)
        even += half[a, 2]
        np.subtract(half[a, 1], half[a, 2], out=odd)
        odd -= half[a, 3]


_DEPTHWISE_BLOCK = 32768  # elements of one sample's output processed together (stays in L2 cache)


def _depthwise(x, weight, padding, stride, dilation, out, bias=None) -> None:
    """out[n, c] = sum over taps of weight[c, tap] * the input shifted by that tap, as one small matrix
    product per channel: the taps' shifted inputs are copied into columns [channels, taps, positions] and
    each channel's weights [1, taps] multiply its columns (one copy per tap and one product, rather than a
    multiply and an add pass per tap). The passes go over one sample and a block of channels at a time,
    so the columns stay in cache; the bias (None or [C, 1, ...]) is added to each block there."""
    kernel = weight.shape[2:]
    padded = pad_spatial(x, padding)
    if all(s == 1 for s in stride) and all(size - d * (k - 1) == o for size, d, k, o in
                                           zip(padded.shape[2:], dilation, kernel, out.shape[2:])):
        return _depthwise_flat(padded, weight, dilation, out, bias)
    patches = windows(padded, kernel, stride, dilation, out.shape[2:])  # N C *out *kernel
    offsets = list(itertools.product(*(range(k) for k in kernel)))
    channels, area = out.shape[1], math.prod(out.shape[2:])
    block = max(1, min(channels, _DEPTHWISE_BLOCK // max(area, 1)))
    columns = np.empty((block, len(offsets), *out.shape[2:]), np.float32)
    taps = weight.reshape(channels, 1, len(offsets))
    for first in range(0, channels, block):
        last = min(first + block, channels)
        part = columns[:last - first]
        for n in range(out.shape[0]):
            window = patches[n, first:last]
            for index, offset in enumerate(offsets):
                part[:, index] = window[(Ellipsis, *offset)]
            np.matmul(taps[first:last], part.reshape(last - first, len(offsets), area),
                      out=out[n, first:last].reshape(last - first, 1, area))
            if bias is not None:
                out[n, first:last] += bias[first:last]


def _depthwise_flat(padded, weight, dilation, out, bias) -> None:
    """_depthwise at unit stride, on the padded input flattened per channel: each tap is one contiguous
    slice (its offset in the flattened input), so the copies run over long rows rather than the output's
    width; positions that fall in the padding columns are computed and dropped."""
    rank = padded.ndim - 2
    sizes, kernel = padded.shape[2:], weight.shape[2:]
    steps = [math.prod(sizes[axis + 1:]) for axis in range(rank)]  # flattened stride of each spatial axis
    area = math.prod(sizes)
    length = sum((o - 1) * step for o, step in zip(out.shape[2:], steps)) + 1
    offsets = [sum(i * d * step for i, d, step in zip(offset, dilation, steps))
               for offset in itertools.product(*(range(k) for k in kernel))]
    taps = weight.reshape(weight.shape[0], 1, len(offsets))
    flat = padded.reshape(padded.shape[0], padded.shape[1], area)
    channels = out.shape[1]
    block = max(1, min(channels, _DEPTHWISE_BLOCK // area))
    total = np.empty((block, 1, area), np.float32)
    columns = np.empty((block, len(offsets), length), np.float32)
    valid = (slice(None), *(slice(None, o) for o in out.shape[2:]))
    for first in range(0, channels, block):
        last = min(first + block, channels)
        part, sums = columns[:last - first], total[:last - first]
        for n in range(out.shape[0]):
            rows = flat[n, first:last]
            for index, offset in enumerate(offsets):
                part[:, index] = rows[:, offset:offset + length]
            np.matmul(taps[first:last], part, out=sums[:, :, :length])
            out[n, first:last] = sums.reshape(last - first, *sizes)[valid]
            if bias is not None:
                out[n, first:last] += bias[first:last]


def deconvolution(x, weight, bias, padding, stride, dilation, groups, out_sizes) -> np.ndarray:
    """Transposed convolution: every input pixel scatters its kernel, then the begin padding is cropped;
    an output longer than what the kernels reach (output_padding) reads zeros there."""
    n, c, *sizes = x.shape
    rank = len(sizes)
    _, og, *kernel = weight.shape
    full_sizes = [(size - 1) * s + d * (k - 1) + 1 for size, s, d, k in zip(sizes, stride, dilation, kernel)]
    reach = [max(full, begin + out) for full, begin, out in zip(full_sizes, padding, out_sizes)]
    full = np.zeros((n, og * groups, *reach), np.float32)
    cg = c // groups
    in_axes, kernel_axes = _letters(rank, "x"), _letters(rank, "i")
    for g in range(groups):
        contribution = np.einsum(f"nc{in_axes},co{kernel_axes}->no{kernel_axes}{in_axes}",
                                 x[:, g * cg:(g + 1) * cg], weight[g * cg:(g + 1) * cg], optimize=True)
        for offset in itertools.product(*(range(k) for k in kernel)):
            target = tuple(slice(i * d, i * d + (size - 1) * s + 1, s)
                           for i, d, size, s in zip(offset, dilation, sizes, stride))
            full[(slice(None), slice(g * og, (g + 1) * og), *target)] += contribution[(slice(None), slice(None),
                                                                                         *offset)]
    out = full[(slice(None), slice(None), *(slice(b, b + o) for b, o in zip(padding, out_sizes)))]
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * rank)
    return out


_ERF_BELOW_2 = None  # power series in u = x * x / 2 - 1 of erf(x) / x, |x| < 2
_ERFC_2_TO_4 = None  # power series in u = |x| - 3 of erfc(x) * exp(x * x), 2 <= |x| < 4


def _interpolant(f, begin: float, end: float, degree: int) -> np.ndarray:
    """Power-series coefficients (in u on [-1, 1]) of f's Chebyshev interpolant on [begin, end]."""
    from numpy.polynomial import chebyshev

    nodes = np.cos(np.pi * (np.arange(degree + 1) + 0.5) / (degree + 1))
    values = [f(begin + (end - begin) * (u + 1) / 2) for u in nodes]
    return chebyshev.cheb2poly(chebyshev.chebfit(nodes, values, degree))


def _horner(coefficients, u: np.ndarray) -> np.ndarray:
    result = np.full_like(u, coefficients[-1])
    for coefficient in coefficients[-2::-1]:
        result *= u
        result += coefficient
    return result


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (numpy has none), vectorised: polynomials evaluated in float64 and rounded to
    float32, interpolating math.erf at Chebyshev nodes: erf(x) / x in x * x for |x| < 2, and
    1 - exp(-x * x) * p(|x|) for 2 <= |x| < 4; float32's erf is 1 from 3.9 on. Against math.erf rounded
    to float32 the error is at most 1 ulp (tests/ops/test_numpy_kernels.py; no difference was found)."""
    global _ERF_BELOW_2, _ERFC_2_TO_4
    if _ERF_BELOW_2 is None:
        _ERF_BELOW_2 = _interpolant(lambda t: math.erf(math.sqrt(t)) / math.sqrt(t) if t else 2 / math.sqrt(math.pi),
                                    0.0, 4.0, 14)
        _ERFC_2_TO_4 = _interpolant(lambda x: math.erfc(x) * math.exp(x * x), 2.0, 4.0, 12)
    x = np.asarray(x)
    flat = x.reshape(-1)
    result = np.empty(x.shape, np.float32)
    out = result.reshape(-1)
    for begin in range(0, flat.size, _ERF_BLOCK):  # float64 temporaries that stay in cache
        _erf_block(flat[begin:begin + _ERF_BLOCK], out[begin:begin + _ERF_BLOCK])
    return result


_ERF_BLOCK = 32768


def _erf_block(x: np.ndarray, out: np.ndarray) -> None:
    """erf of one block into ``out`` (float32). The |x| < 2 polynomial is evaluated on every element
    (the same operations on the same values as on the selected ones), the tail only where needed."""
    wide = x.astype(np.float64)
    magnitude = np.abs(wide)
    square = wide * wide
    square *= 0.5
    square -= 1
    with np.errstate(invalid="ignore", over="ignore"):
        result = _horner(_ERF_BELOW_2, square)
        result *= wide
    far = magnitude >= 2
    if far.any():
        with np.errstate(invalid="ignore", over="ignore"):
            tail = magnitude[far]
            complement = np.exp(-tail * tail) * _horner(_ERFC_2_TO_4, tail - 3)
            result[far] = np.copysign(np.where(tail >= 4, 1.0, 1 - complement), wide[far])
    np.copyto(out, result, casting="same_kind")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) in place in one float32 buffer. exp(-x) overflows to inf below x = -88.7,
    where the result is 0 (the exact value is below float32's smallest normal number)."""
    result = np.negative(x, dtype=np.float32)
    with np.errstate(over="ignore"):
        np.exp(result, out=result)
    result += 1
    return np.reciprocal(result, out=result)


_SILU_BLOCK = 16384


def silu_in_place(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x) written into x (a float32 array the caller may overwrite), a cache-sized block at a
    time: the same operations on each element as ``x * sigmoid(x)``, with no full-size temporary."""
    flat = x.reshape(-1)
    term = np.empty(min(flat.size, _SILU_BLOCK), np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # -inf * 0 is nan, as in x * sigmoid(x)
        for begin in range(0, flat.size, _SILU_BLOCK):
            part = flat[begin:begin + _SILU_BLOCK]
            s = term[:part.size]
            np.negative(part, out=s)
            np.exp(s, out=s)
            s += 1
            np.reciprocal(s, out=s)
            part *= s
    return x
