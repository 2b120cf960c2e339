"""Convolution, transposed convolution and pooling over 1, 2 and 3 spatial axes, adaptive and global
pooling, and resizing (interpolate / upsample)."""

import torch
import torch.nn.functional as F

from opcases import Case

X1, X2, X3 = (3, 4, 11), (2, 4, 7, 9), (2, 2, 5, 6, 7)


def conv(function, stride=1, padding=0, dilation=1, groups=1):
    return lambda x, w: function(x, w["weight"], w.get("bias"), stride, padding, dilation, groups)


def deconv(function, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    return lambda x, w: function(x, w["weight"], w.get("bias"), stride, padding, output_padding, groups, dilation)


def interpolate(**kwargs):
    return lambda x: F.interpolate(x, **kwargs)


CONVOLUTION = [
    Case("convolution", {"out_channels": 6, "kernel": 3}, inputs=[X1], torch=conv(F.conv1d)),
    Case("convolution", {"out_channels": 4, "kernel": [4], "stride": 2, "padding": 2, "dilation": 2, "groups": 2},
         inputs=[X1], torch=conv(F.conv1d, 2, 2, 2, 2)),
    Case("convolution", {"out_channels": 5, "kernel": 3, "padding": "same", "bias": False}, inputs=[(1, 4, 8)],
         torch=conv(F.conv1d, padding="same")),
    Case("convolution", {"out_channels": 3, "kernel": 2, "padding": {"left": 2, "right": 1}}, inputs=[X1],
         torch=lambda x, w: F.conv1d(F.pad(x, (2, 1)), w["weight"], w["bias"])),
    Case("convolution", {"out_channels": 3, "kernel": [3, 1], "stride": [1, 2], "padding": [1, 0]}, inputs=[X2],
         torch=conv(F.conv2d, (1, 2), (1, 0))),
    Case("convolution", {"out_channels": 4, "kernel": 3, "padding": 1}, inputs=[X3], torch=conv(F.conv3d, 1, 1),
         atol=2e-5),  # 54-term sums
    Case("convolution", {"out_channels": 2, "kernel": [2, 3, 1], "stride": [2, 1, 3], "dilation": [1, 2, 1],
                         "groups": 2, "padding": [0, 1, 2]}, inputs=[X3],
         torch=conv(F.conv3d, (2, 1, 3), (0, 1, 2), (1, 2, 1), 2)),
    Case("convolution", {"out_channels": 3, "kernel": 2, "padding": {"front": 1, "right": 1}}, inputs=[X3],
         torch=lambda x, w: F.conv3d(F.pad(x, (0, 1, 0, 0, 1, 0)), w["weight"], w["bias"])),
    Case("convolution", {"out_channels": 4, "kernel": 3, "padding": "same", "dilation": 2}, inputs=[(1, 3, 4, 5, 6)],
         torch=conv(F.conv3d, padding="same", dilation=2)),
    Case("convolution", {"out_channels": 2, "kernel": [3, 3]}, inputs=[X1], error="shape-mismatch",
         message="`kernel` gives 2 values but the input has 1 spatial axis"),
    Case("convolution", {"out_channels": 2, "kernel": 3, "padding": [1, 1, 1]}, inputs=[X2],
         error="shape-mismatch", message="`padding` gives 3 values"),
    Case("convolution", {"out_channels": 2, "kernel": 3, "padding": {"top": 1}}, inputs=[X1],
         error="shape-mismatch", message="no `top` or `bottom`"),
    Case("convolution", {"out_channels": 2, "kernel": 3, "padding": {"back": 1}}, inputs=[X2],
         error="shape-mismatch", message="`front` and `back` padding need a 3-D input"),
    Case("convolution", {"out_channels": 2, "kernel": 3}, inputs=[(2, 3, 4, 5, 6, 7)], error="shape-mismatch",
         message="needs a rank-4 input [N, C, H, W] (or rank-3 [N, C, L] or rank-5"),
    Case("convolution", {"out_channels": 2, "kernel": 12}, inputs=[X1], error="shape-mismatch",
         message="larger than the padded input"),
]

DECONVOLUTION = [
    Case("deconvolution", {"out_channels": 4, "kernel": 3, "stride": 2, "padding": 1}, inputs=[X1],
         torch=deconv(F.conv_transpose1d, 2, 1)),
    Case("deconvolution", {"out_channels": 4, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
         inputs=[X2], torch=deconv(F.conv_transpose2d, 2, 1, 1), name="output_padding-cropped"),
    # output_padding beyond the end padding: the last row and column see no kernel, only the bias
    Case("deconvolution", {"out_channels": 2, "kernel": [2, 3], "stride": [3, 2], "output_padding": [2, 1]},
         inputs=[X2], torch=deconv(F.conv_transpose2d, (3, 2), 0, (2, 1)), name="output_padding-appended"),
    Case("deconvolution", {"out_channels": 2, "kernel": 2, "stride": 3, "output_padding": 1, "bias": False},
         inputs=[X1], torch=deconv(F.conv_transpose1d, 3, 0, 1), name="output_padding-appended-1d"),
    Case("deconvolution", {"out_channels": 4, "kernel": 2, "stride": 2, "groups": 2}, inputs=[X3],
         torch=deconv(F.conv_transpose3d, 2, groups=2)),
    Case("deconvolution", {"out_channels": 3, "kernel": [3, 2, 2], "stride": [1, 2, 3], "padding": [1, 0, 1],
                           "output_padding": [0, 1, 2], "dilation": [2, 1, 1]}, inputs=[X3],
         torch=deconv(F.conv_transpose3d, (1, 2, 3), (1, 0, 1), (0, 1, 2), (2, 1, 1))),
    Case("deconvolution", {"out_channels": 2, "kernel": 3, "stride": 2, "output_padding": 2}, inputs=[X2],
         error="invalid-value", message="output_padding 2 must be smaller than the stride"),
    Case("deconvolution", {"out_channels": 2, "kernel": 3, "output_padding": [1, 1]}, inputs=[X3],
         error="shape-mismatch", message="`output_padding` gives 2 values"),
]

POOLING = [
    Case("max_pool", {"kernel": 3, "stride": 2, "padding": 1}, inputs=[X1], torch=lambda x: F.max_pool1d(x, 3, 2, 1)),
    Case("avg_pool", {"kernel": 2, "ceil_mode": True}, inputs=[X1], torch=lambda x: F.avg_pool1d(x, 2, ceil_mode=True)),
    Case("avg_pool", {"kernel": 3, "stride": 1, "padding": 1, "count_include_pad": False}, inputs=[X1],
         torch=lambda x: F.avg_pool1d(x, 3, 1, 1, count_include_pad=False)),
    Case("max_pool", {"kernel": [2, 3, 2], "stride": [1, 2, 2]}, inputs=[X3],
         torch=lambda x: F.max_pool3d(x, (2, 3, 2), (1, 2, 2))),
    Case("avg_pool", {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
         inputs=[(1, 2, 7, 7, 9)], torch=lambda x: F.avg_pool3d(x, 3, 2, 1, True, False)),
    Case("avg_pool", {"kernel": 2, "padding": [1, 0, 1]}, inputs=[X3],
         torch=lambda x: F.avg_pool3d(x, 2, 2, (1, 0, 1))),
    # dilation: TensorRT pooling has none; lowered as strided slices and their maximum
    Case("max_pool", {"kernel": 3, "stride": 1, "dilation": 2}, inputs=[X2],
         torch=lambda x: F.max_pool2d(x, 3, 1, dilation=2)),
    Case("max_pool", {"kernel": [2, 3], "stride": 2, "padding": [1, 1], "dilation": [2, 2], "ceil_mode": True},
         inputs=[(2, 3, 8, 10)], torch=lambda x: F.max_pool2d(x, (2, 3), 2, (1, 1), (2, 2), True)),
    Case("max_pool", {"kernel": 2, "dilation": 3, "padding": 1}, inputs=[X1],
         torch=lambda x: F.max_pool1d(x, 2, 2, 1, 3)),
    Case("max_pool", {"kernel": 2, "stride": 1, "dilation": [1, 2, 2]}, inputs=[X3],
         torch=lambda x: F.max_pool3d(x, 2, 1, 0, (1, 2, 2))),
    # padding above kernel/2: PyTorch's module refuses it, ONNX allows it; its meaning is padding with -inf
    Case("max_pool", {"kernel": 3, "padding": 2}, inputs=[X1],
         torch=lambda x: F.max_pool1d(F.pad(x, (2, 2), value=float("-inf")), 3)),
    Case("avg_pool", {"kernel": 3, "padding": 2, "count_include_pad": False}, inputs=[(2, 3, 7, 6)],
         torch=lambda x: F.avg_pool2d(F.pad(x, (2, 2, 2, 2)), 3) / F.avg_pool2d(
             F.pad(torch.ones_like(x), (2, 2, 2, 2)), 3)),
    Case("avg_pool", {"kernel": [2, 2]}, inputs=[X3], error="shape-mismatch", message="`kernel` gives 2 values"),
    Case("max_pool", {"kernel": 3, "stride": 2, "padding": 1}, inputs=[(2, 3)], error="shape-mismatch",
         message="needs a rank-4 input"),
]

ADAPTIVE = [
    Case("adaptive_avg_pool", {"output_size": 4}, inputs=[(2, 3, 12)], torch=lambda x: F.adaptive_avg_pool1d(x, 4)),
    Case("adaptive_avg_pool", {"output_size": 5}, inputs=[(2, 3, 12)], torch=lambda x: F.adaptive_avg_pool1d(x, 5)),
    Case("adaptive_max_pool", {"output_size": [3, 7]}, inputs=[(2, 3, 6, 14)],
         torch=lambda x: F.adaptive_max_pool2d(x, (3, 7))),
    Case("adaptive_avg_pool", {"output_size": [3, 4]}, inputs=[(3, 2, 7, 10)],
         torch=lambda x: F.adaptive_avg_pool2d(x, (3, 4))),
    Case("adaptive_max_pool", {"output_size": 7}, inputs=[(1, 2, 5, 9)], torch=lambda x: F.adaptive_max_pool2d(x, 7),
         name="larger-than-input"),
    Case("adaptive_max_pool", {"output_size": [2, 3, 3]}, inputs=[X3],
         torch=lambda x: F.adaptive_max_pool3d(x, (2, 3, 3))),
    Case("adaptive_avg_pool", {"output_size": [5, 2, 7]}, inputs=[X3],
         torch=lambda x: F.adaptive_avg_pool3d(x, (5, 2, 7))),
    Case("adaptive_avg_pool", {"output_size": [2, 2]}, inputs=[X1], error="shape-mismatch",
         message="`output_size` gives 2 values"),
    Case("global_avg_pool", inputs=[X1], torch=lambda x: F.adaptive_avg_pool1d(x, 1)),
    Case("global_max_pool", inputs=[X1], torch=lambda x: F.adaptive_max_pool1d(x, 1)),
    Case("global_avg_pool", inputs=[X3], torch=lambda x: F.adaptive_avg_pool3d(x, 1)),
    Case("global_max_pool", inputs=[X3], torch=lambda x: F.adaptive_max_pool3d(x, 1)),
    Case("global_max_pool", inputs=[(2, 3)], error="shape-mismatch", message="needs a rank-4 input"),
]

RESIZE = [
    Case("interpolate", {"size": 17}, inputs=[X1], torch=interpolate(size=17)),
    Case("interpolate", {"scale_factor": 2.5}, inputs=[X1], torch=interpolate(scale_factor=2.5)),
    Case("interpolate", {"mode": "linear", "scale_factor": 1.7}, inputs=[X1],
         torch=interpolate(scale_factor=1.7, mode="linear")),
    Case("interpolate", {"mode": "linear", "size": 4, "align_corners": True}, inputs=[X1],
         torch=interpolate(size=4, mode="linear", align_corners=True)),
    Case("interpolate", {"mode": "bilinear", "scale_factor": [2, 0.5]}, inputs=[X2],
         torch=interpolate(scale_factor=(2, 0.5), mode="bilinear")),
    Case("interpolate", {"mode": "bicubic", "scale_factor": 2}, inputs=[X2],
         torch=interpolate(scale_factor=2, mode="bicubic")),
    Case("interpolate", {"mode": "bicubic", "size": [5, 13], "align_corners": True}, inputs=[X2],
         torch=interpolate(size=(5, 13), mode="bicubic", align_corners=True)),
    Case("interpolate", {"mode": "bicubic", "size": [1, 4]}, inputs=[X2],
         torch=interpolate(size=(1, 4), mode="bicubic"), name="bicubic-one-row"),
    Case("interpolate", {"mode": "bilinear", "size": [1, 1], "align_corners": True}, inputs=[X2],
         torch=interpolate(size=(1, 1), mode="bilinear", align_corners=True), name="bilinear-one-pixel-corners"),
    Case("interpolate", {"mode": "nearest-exact", "size": [10, 4]}, inputs=[X2],
         torch=interpolate(size=(10, 4), mode="nearest-exact")),
    # PyTorch's shortcuts: an unchanged axis is copied, doubling by nearest takes dst // 2, whatever the factor
    Case("interpolate", {"scale_factor": [1.2, 2.1]}, inputs=[(1, 2, 3, 5)], torch=interpolate(scale_factor=(1.2, 2.1)),
         name="nearest-shortcuts"),
    Case("interpolate", {"mode": "bilinear", "scale_factor": [1.2, 1.5]}, inputs=[(1, 2, 3, 5)],
         torch=interpolate(scale_factor=(1.2, 1.5), mode="bilinear"), name="bilinear-unchanged-axis"),
    # ... in the 2-D kernel only: 1-D (and 3-D) nearest maps every axis with 1 / scale_factor
    Case("interpolate", {"scale_factor": 1.3}, inputs=[(1, 2, 2)], torch=interpolate(scale_factor=1.3),
         name="nearest-1d-unchanged-size"),
    Case("interpolate", {"mode": "nearest-exact", "scale_factor": 1.09}, inputs=[(1, 2, 10)],
         torch=interpolate(scale_factor=1.09, mode="nearest-exact"), name="nearest-exact-unchanged-size"),
    # in * scale_factor not whole (10.5, 13.5): TensorRT's resize would map with in / out, PyTorch with 1 / 1.5
    Case("interpolate", {"mode": "bicubic", "scale_factor": 1.5}, inputs=[X2],
         torch=interpolate(scale_factor=1.5, mode="bicubic")),
    Case("interpolate", {"mode": "trilinear", "scale_factor": [2, 1.5, 0.5]}, inputs=[X3],
         torch=interpolate(scale_factor=(2, 1.5, 0.5), mode="trilinear")),
    Case("interpolate", {"mode": "trilinear", "size": [3, 8, 4], "align_corners": True}, inputs=[X3],
         torch=interpolate(size=(3, 8, 4), mode="trilinear", align_corners=True)),
    Case("interpolate", {"size": [4, 9, 3]}, inputs=[X3], torch=interpolate(size=(4, 9, 3))),
    Case("interpolate", {"mode": "area", "size": [3, 4]}, inputs=[X2], torch=interpolate(size=(3, 4), mode="area")),
    Case("interpolate", {"mode": "area", "scale_factor": 0.5}, inputs=[(2, 3, 8, 6)],
         torch=interpolate(scale_factor=0.5, mode="area")),
    Case("upsample", {"scale": 3}, inputs=[X1], torch=interpolate(scale_factor=3)),
    Case("upsample", {"mode": "bilinear", "size": [9, 17], "align_corners": True}, inputs=[X2],
         torch=interpolate(size=(9, 17), mode="bilinear", align_corners=True)),
    Case("upsample", {"mode": "trilinear", "scale": 2}, inputs=[X3],
         torch=interpolate(scale_factor=2, mode="trilinear")),
    Case("interpolate", {"mode": "bilinear", "size": 4}, inputs=[X1], error="invalid-value",
         message="mode bilinear needs a rank-4 input"),
    Case("interpolate", {"size": 4, "align_corners": True}, inputs=[X1], error="invalid-value",
         message="align_corners applies to the linear"),
    Case("interpolate", {"size": 4, "scale_factor": 2}, inputs=[X1], error="invalid-value",
         message="exactly one of `scale_factor` and `size`"),
    Case("interpolate", {"scale_factor": [2, 2]}, inputs=[X3], error="shape-mismatch",
         message="`scale_factor` gives 2 values"),
    Case("interpolate", {"scale_factor": 0.1}, inputs=[X2], error="shape-mismatch", message="turns 7x9 into 0x0"),
]

CASES = CONVOLUTION + DECONVOLUTION + POOLING + ADAPTIVE + RESIZE
