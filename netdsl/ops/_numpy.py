"""numpy kernels the kinds' ``reference`` methods share (convolution, deconvolution, windows over padded
inputs, erf, a stable sigmoid). They live below the kinds so that no kind reaches up into a pass."""

from __future__ import annotations

import math

import numpy as np


def pad_spatial(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    """x padded on its spatial axes (every axis after N and C) by (begins..., ends...)."""
    half = len(padding) // 2
    return np.pad(x, ((0, 0), (0, 0), *zip(padding[:half], padding[half:])), constant_values=value)


def windows(x: np.ndarray, kernel, stride, dilation, out_sizes) -> np.ndarray:
    """[N, C, *out, *kernel] views of the windows of an already padded x."""
    rank = len(kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(x, spans, axis=tuple(range(2, 2 + rank)))
    view = view[(slice(None), slice(None), *(slice(None, None, s) for s in stride),
                 *(slice(None, None, d) for d in dilation))]
    return view[(slice(None), slice(None), *(slice(None, o) for o in out_sizes))]


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


def convolution(x, weight, bias, padding, stride, dilation, groups, out_sizes) -> np.ndarray:
    n, rank = x.shape[0], x.ndim - 2
    o, cg, *kernel = weight.shape
    patches = windows(pad_spatial(x, padding), kernel, stride, dilation, out_sizes)  # N C *out *kernel
    out_axes, kernel_axes = _letters(rank, "x"), _letters(rank, "i")
    equation = f"nc{out_axes}{kernel_axes},oc{kernel_axes}->no{out_axes}"
    og = o // groups
    out = np.empty((n, o, *out_sizes), np.float32)
    for g in range(groups):
        part = patches[:, g * cg:(g + 1) * cg]
        out[:, g * og:(g + 1) * og] = np.einsum(equation, part, weight[g * og:(g + 1) * og], optimize=True)
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * rank)
    return out


def deconvolution(x, weight, bias, padding, stride, dilation, groups, out_sizes) -> np.ndarray:
    """Transposed convolution: every input pixel scatters its kernel, then the begin padding is cropped;
    an output longer than what the kernels reach (output_padding) reads zeros there."""
    import itertools

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


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (numpy has none): math.erf on every value, in float64."""
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)
