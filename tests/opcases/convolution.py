"""Cases of netdsl/ops/convolution.py over 1, 2 and 3 spatial axes: padding modes (`same`, per side), strides,
dilation, groups."""

import torch.nn.functional as F

from opcases import Case


def conv(stride=1, padding=0, dilation=1, groups=1):
    return lambda x, w: F.conv2d(x, w["weight"], w.get("bias"), stride, padding, dilation, groups)


X = (2, 4, 9, 9)


X1, X2, X3 = (3, 4, 11), (2, 4, 7, 9), (2, 2, 5, 6, 7)


def conv_nd(function, stride=1, padding=0, dilation=1, groups=1):
    return lambda x, w: function(x, w["weight"], w.get("bias"), stride, padding, dilation, groups)


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
    Case("convolution", {"out_channels": 6, "kernel": 3}, inputs=[X1], torch=conv_nd(F.conv1d)),
    Case("convolution", {"out_channels": 4, "kernel": [4], "stride": 2, "padding": 2, "dilation": 2, "groups": 2},
         inputs=[X1], torch=conv_nd(F.conv1d, 2, 2, 2, 2)),
    Case("convolution", {"out_channels": 5, "kernel": 3, "padding": "same", "bias": False}, inputs=[(1, 4, 8)],
         torch=conv_nd(F.conv1d, padding="same")),
    Case("convolution", {"out_channels": 3, "kernel": 2, "padding": {"left": 2, "right": 1}}, inputs=[X1],
         torch=lambda x, w: F.conv1d(F.pad(x, (2, 1)), w["weight"], w["bias"])),
    Case("convolution", {"out_channels": 3, "kernel": [3, 1], "stride": [1, 2], "padding": [1, 0]}, inputs=[X2],
         torch=conv_nd(F.conv2d, (1, 2), (1, 0))),
    Case("convolution", {"out_channels": 4, "kernel": 3, "padding": 1}, inputs=[X3], torch=conv_nd(F.conv3d, 1, 1),
         atol=2e-5),  # 54-term sums
    Case("convolution", {"out_channels": 2, "kernel": [2, 3, 1], "stride": [2, 1, 3], "dilation": [1, 2, 1],
                         "groups": 2, "padding": [0, 1, 2]}, inputs=[X3],
         torch=conv_nd(F.conv3d, (2, 1, 3), (0, 1, 2), (1, 2, 1), 2)),
    Case("convolution", {"out_channels": 3, "kernel": 2, "padding": {"front": 1, "right": 1}}, inputs=[X3],
         torch=lambda x, w: F.conv3d(F.pad(x, (0, 1, 0, 0, 1, 0)), w["weight"], w["bias"])),
    Case("convolution", {"out_channels": 4, "kernel": 3, "padding": "same", "dilation": 2}, inputs=[(1, 3, 4, 5, 6)],
         torch=conv_nd(F.conv3d, padding="same", dilation=2)),
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

# Also built with a dynamic batch
CASES += [
    Case("convolution", {"out_channels": 4, "kernel": 3}, inputs=[(2, 8, 16, 16)], torch=conv(), atol=1e-4,
         batch_builds=("float32", "float16", "bfloat16")),
    Case("convolution", {"out_channels": 4, "kernel": [3, 5], "stride": 2, "padding": [1, 2], "bias": False},
         inputs=[(2, 8, 16, 17)], torch=conv(2, (1, 2)), atol=1e-4, batch_builds=("float32",)),
    Case("convolution", {"out_channels": 8, "kernel": 3, "padding": "same", "stride": 2}, inputs=[(2, 8, 15, 16)],
         # same: out = ceil(in / 2); height: total padding 2, width: 1, the odd cell at the end
         torch=lambda x, w: F.conv2d(F.pad(x, (0, 1, 1, 1)), w["weight"], w["bias"], 2), atol=1e-4,
         batch_builds=("float32", "float16", "bfloat16")),
    Case("convolution", {"out_channels": 8, "kernel": 3, "groups": 8, "dilation": 2}, inputs=[(2, 8, 16, 16)],
         torch=conv(dilation=2, groups=8), atol=1e-4, batch_builds=("float32",)),
    Case("convolution", {"out_channels": 4, "kernel": 2, "padding": {"top": 1, "bottom": 0, "left": 0, "right": 1}},
         inputs=[(2, 8, 9, 9)], torch=lambda x, w: F.conv2d(F.pad(x, (0, 1, 1, 0)), w["weight"], w["bias"]),
         atol=1e-4, batch_builds=("float32", "float16", "bfloat16")),
    Case("convolution", {"out_channels": 4, "kernel": 3, "padding": 1}, inputs=[(2, 3, 11)],
         torch=conv_nd(F.conv1d, padding=1), batch_builds=("float32", "float16")),
]
