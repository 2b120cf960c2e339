"""The classic CNN kinds (written before cases were data), with the awkward cases that decide whether a
lowering asks TensorRT for the right thing: padding modes, the average-pooling divisor in a ceil-mode
overhang window with and without padding counted, deconvolution padding, LRN's alpha scaling, resize
coordinates, fully connected weights with batch > 1."""

import torch
import torch.nn.functional as F

from opcases import Case


def conv(stride=1, padding=0, dilation=1, groups=1):
    return lambda x, w: F.conv2d(x, w["weight"], w.get("bias"), stride, padding, dilation, groups)


def deconv(stride=1, padding=(0, 0, 0, 0), dilation=1, groups=1):
    """ConvTranspose2d without padding, then netdsl's (top, left, bottom, right) cropped."""
    top, left, bottom, right = padding

    def oracle(x, w):
        y = F.conv_transpose2d(x, w["weight"], w.get("bias"), stride, 0, 0, groups, dilation)
        return y[:, :, top:y.shape[2] - bottom, left:y.shape[3] - right]
    return oracle


def bn(eps=1e-5):
    return lambda x, w: F.batch_norm(x, w["running_mean"], w["running_var"], w["weight"], w["bias"], False, 0.0, eps)


def variances(slot, shape, rng):
    import numpy as np

    array = rng.standard_normal(shape) * 0.5
    return np.abs(array) + 0.5 if slot == "running_var" else array


X = (2, 4, 9, 9)
CASES = [
    Case("convolution", {"out_channels": 5, "kernel": 3, "padding": 1}, inputs=[X], torch=conv(padding=1),
         atol=1e-4),  # 36-term sums of N(0, 1) x N(0, 0.5): float32 rounding reaches ~1e-6 of the largest value
    Case("convolution", {"out_channels": 6, "kernel": 3, "stride": 2, "padding": "same"}, inputs=[(3, 4, 8, 7)],
         # same: out = ceil(in / 2), total padding (out - 1) * 2 + 3 - in, the odd cell at the end
         torch=lambda x, w: F.conv2d(F.pad(x, (1, 1, 0, 1)), w["weight"], w["bias"], 2), atol=1e-4),
    Case("convolution", {"out_channels": 8, "kernel": [3, 2], "groups": 4, "dilation": [2, 1], "bias": False},
         inputs=[X], torch=conv(dilation=(2, 1), groups=4), atol=1e-4),
    Case("convolution", {"out_channels": 3, "kernel": 2, "padding": {"top": 1, "bottom": 0, "left": 0, "right": 2}},
         inputs=[(1, 4, 5, 6)], torch=lambda x, w: F.conv2d(F.pad(x, (0, 2, 1, 0)), w["weight"], w["bias"]), atol=1e-4),
    Case("deconvolution", {"out_channels": 3, "kernel": 4, "stride": 2, "padding": 1}, inputs=[(2, 4, 5, 5)],
         torch=deconv(2, (1, 1, 1, 1)), atol=1e-4),
    Case("deconvolution", {"out_channels": 4, "kernel": 3, "stride": 2, "padding": {"top": 0, "bottom": 1, "left": 2,
         "right": 0}}, inputs=[(1, 4, 4, 3)], torch=deconv(2, (0, 2, 1, 0)), atol=1e-4),
    Case("deconvolution", {"out_channels": 6, "kernel": 3, "groups": 2, "dilation": 2, "bias": False},
         inputs=[(2, 4, 4, 4)], torch=deconv(1, (0, 0, 0, 0), 2, 2), atol=1e-4),
    Case("max_pool", {"kernel": 3, "stride": 2, "padding": 1}, inputs=[X],
         torch=lambda x: F.max_pool2d(x, 3, 2, 1)),
    Case("max_pool", {"kernel": 3, "stride": 2, "ceil_mode": True}, inputs=[(2, 3, 8, 8)],
         torch=lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True)),
    Case("max_pool", {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}, inputs=[(1, 2, 5, 5)],
         torch=lambda x: F.max_pool2d(x, 2, 2, 1, ceil_mode=True)),
    # the divisor of a ceil-mode overhang window: cells past the padding never count; padding counts
    # only with count_include_pad
    Case("avg_pool", {"kernel": 3, "stride": 2, "ceil_mode": True}, inputs=[(2, 3, 8, 8)],
         torch=lambda x: F.avg_pool2d(x, 3, 2, ceil_mode=True)),
    Case("avg_pool", {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}, inputs=[(2, 3, 8, 8)],
         torch=lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)),
    Case("avg_pool", {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
         inputs=[(2, 3, 8, 8)], torch=lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    Case("avg_pool", {"kernel": 3, "stride": 1, "padding": 1, "count_include_pad": False}, inputs=[X],
         torch=lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)),
    Case("avg_pool", {"kernel": [2, 3], "stride": [2, 2], "padding": [1, 1]}, inputs=[(1, 2, 6, 7)],
         torch=lambda x: F.avg_pool2d(x, (2, 3), 2, 1)),
    Case("global_avg_pool", inputs=[(3, 4, 5, 7)], torch=lambda x: F.adaptive_avg_pool2d(x, 1)),
    Case("global_max_pool", inputs=[(3, 4, 5, 7)], torch=lambda x: F.adaptive_max_pool2d(x, 1)),
    Case("batch_norm", {"eps": 1e-3}, inputs=[X], torch=bn(1e-3), weights=variances),
    Case("batch_norm", inputs=[(3, 6)], torch=bn(), weights=variances),
    Case("fully_connected", {"out_features": 7}, inputs=[(3, 4, 2, 3)],
         torch=lambda x, w: F.linear(x.flatten(1), w["weight"], w["bias"]), atol=1e-4),
    Case("fully_connected", {"out_features": 5, "bias": False}, inputs=[(3, 6)],
         torch=lambda x, w: F.linear(x, w["weight"])),
    Case("softmax", inputs=[(3, 10)], torch=lambda x: F.softmax(x, 1)),
    Case("softmax", {"axis": -1}, inputs=[(2, 3, 4, 5)], low=-20, high=20, torch=lambda x: F.softmax(x, -1), name="wide-range"),
    Case("concat", {"axis": -1}, inputs=[(2, 3, 4), (2, 3, 1), (2, 3, 2)], torch=lambda a, b, c: torch.cat([a, b, c], -1)),
    Case("flatten", inputs=[X], torch=lambda x: x.flatten(1)),
    Case("flatten", {"start_dim": 2}, inputs=[X], torch=lambda x: x.flatten(2)),
    Case("reshape", {"shape": [0, -1, 9]}, inputs=[X], torch=lambda x: x.reshape(2, -1, 9)),
    # LRN: TensorRT divides alpha by the window (the operator reference's example), as PyTorch does
    Case("lrn", {"size": 5, "alpha": 0.5, "beta": 0.75, "k": 2.0}, inputs=[(2, 7, 3, 3)],
         torch=lambda x: F.local_response_norm(x, 5, 0.5, 0.75, 2.0)),
    Case("lrn", {"size": 3, "alpha": 1.0, "beta": 1.0, "k": 0.1}, inputs=[(1, 5, 2, 2)],
         torch=lambda x: F.local_response_norm(x, 3, 1.0, 1.0, 0.1)),
    Case("identity", inputs=[(2, 3)], torch=lambda x: x),
    Case("dropout", {"p": 0.2}, inputs=[(2, 3)], torch=lambda x: x),
    Case("upsample", {"scale": 2}, inputs=[(1, 2, 3, 4)], torch=lambda x: F.interpolate(x, scale_factor=2)),
    Case("upsample", {"size": [7, 5]}, inputs=[(1, 2, 3, 4)], torch=lambda x: F.interpolate(x, size=(7, 5))),
    Case("upsample", {"mode": "bilinear", "scale": [2, 3]}, inputs=[(1, 2, 3, 4)],
         torch=lambda x: F.interpolate(x, scale_factor=(2, 3), mode="bilinear")),
    Case("upsample", {"mode": "bilinear", "size": [9, 17]}, inputs=[(1, 2, 5, 5)],
         torch=lambda x: F.interpolate(x, size=(9, 17), mode="bilinear")),
    Case("upsample", {"mode": "bilinear", "size": [9, 17], "align_corners": True}, inputs=[(1, 2, 5, 5)],
         torch=lambda x: F.interpolate(x, size=(9, 17), mode="bilinear", align_corners=True)),
    Case("upsample", {"mode": "bilinear", "scale": 0.5}, inputs=[(1, 2, 6, 6)],
         torch=lambda x: F.interpolate(x, scale_factor=0.5, mode="bilinear")),
    # 5 x 0.5 = 2.5: PyTorch maps output cells back with 1 / scale = 2, TensorRT's resize (documented) with
    # in / out = 2.5: the lowering takes PyTorch's interpolation matrix for such an axis
    Case("upsample", {"mode": "bilinear", "scale": 0.5}, inputs=[(1, 2, 5, 5)],
         torch=lambda x: F.interpolate(x, scale_factor=0.5, mode="bilinear")),
    # TensorRT's LRN fails on rank 3 and normalizes another axis on rank 5: refused, not built wrong
    Case("lrn", {"size": 3}, inputs=[(2, 5, 7)], error="shape-mismatch", message="needs an input [N, C, H, W]"),
    Case("lrn", {"size": 3}, inputs=[(1, 5, 2, 3, 3)], error="shape-mismatch", message="found [1, 5, 2, 3, 3]"),
]
