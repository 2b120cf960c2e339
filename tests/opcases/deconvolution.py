"""Cases of netdsl/ops/deconvolution.py over 1, 2 and 3 spatial axes: padding (cropped per side), output_padding,
dilation, groups."""

import torch.nn.functional as F

from opcases import Case


def deconv(stride=1, padding=(0, 0, 0, 0), dilation=1, groups=1):
    """ConvTranspose2d without padding, then netdsl's (top, left, bottom, right) cropped."""
    top, left, bottom, right = padding

    def oracle(x, w):
        y = F.conv_transpose2d(x, w["weight"], w.get("bias"), stride, 0, 0, groups, dilation)
        return y[:, :, top:y.shape[2] - bottom, left:y.shape[3] - right]
    return oracle


X1, X2, X3 = (3, 4, 11), (2, 4, 7, 9), (2, 2, 5, 6, 7)


def deconv_nd(function, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    return lambda x, w: function(x, w["weight"], w.get("bias"), stride, padding, output_padding, groups, dilation)


CASES = [
    Case("deconvolution", {"out_channels": 3, "kernel": 4, "stride": 2, "padding": 1}, inputs=[(2, 4, 5, 5)],
         torch=deconv(2, (1, 1, 1, 1)), atol=1e-4),
    Case("deconvolution", {"out_channels": 4, "kernel": 3, "stride": 2, "padding": {"top": 0, "bottom": 1, "left": 2,
         "right": 0}}, inputs=[(1, 4, 4, 3)], torch=deconv(2, (0, 2, 1, 0)), atol=1e-4),
    Case("deconvolution", {"out_channels": 6, "kernel": 3, "groups": 2, "dilation": 2, "bias": False},
         inputs=[(2, 4, 4, 4)], torch=deconv(1, (0, 0, 0, 0), 2, 2), atol=1e-4),
    Case("deconvolution", {"out_channels": 4, "kernel": 3, "stride": 2, "padding": 1}, inputs=[X1],
         torch=deconv_nd(F.conv_transpose1d, 2, 1)),
    Case("deconvolution", {"out_channels": 4, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1},
         inputs=[X2], torch=deconv_nd(F.conv_transpose2d, 2, 1, 1), name="output_padding-cropped"),
    # output_padding beyond the end padding: the last row and column see no kernel, only the bias
    Case("deconvolution", {"out_channels": 2, "kernel": [2, 3], "stride": [3, 2], "output_padding": [2, 1]},
         inputs=[X2], torch=deconv_nd(F.conv_transpose2d, (3, 2), 0, (2, 1)), name="output_padding-appended"),
    Case("deconvolution", {"out_channels": 2, "kernel": 2, "stride": 3, "output_padding": 1, "bias": False},
         inputs=[X1], torch=deconv_nd(F.conv_transpose1d, 3, 0, 1), name="output_padding-appended-1d"),
    Case("deconvolution", {"out_channels": 4, "kernel": 2, "stride": 2, "groups": 2}, inputs=[X3],
         torch=deconv_nd(F.conv_transpose3d, 2, groups=2)),
    Case("deconvolution", {"out_channels": 3, "kernel": [3, 2, 2], "stride": [1, 2, 3], "padding": [1, 0, 1],
                           "output_padding": [0, 1, 2], "dilation": [2, 1, 1]}, inputs=[X3],
         torch=deconv_nd(F.conv_transpose3d, (1, 2, 3), (1, 0, 1), (0, 1, 2), (2, 1, 1))),
    Case("deconvolution", {"out_channels": 2, "kernel": 3, "stride": 2, "output_padding": 2}, inputs=[X2],
         error="invalid-value", message="output_padding 2 must be smaller than the stride"),
    Case("deconvolution", {"out_channels": 2, "kernel": 3, "output_padding": [1, 1]}, inputs=[X3],
         error="shape-mismatch", message="`output_padding` gives 2 values"),
]

# Also built with a dynamic batch: output_padding and 1-D windows (lowered through 2-D) then take their batch
# size from a shape tensor
CASES += [
    Case("deconvolution", {"out_channels": 4, "kernel": 4, "stride": 2, "padding": 1}, inputs=[(2, 8, 8, 8)],
         torch=deconv(2, (1, 1, 1, 1)), atol=1e-4, batch_builds=("float32",)),
    Case("deconvolution", {"out_channels": 8, "kernel": 3, "groups": 2, "bias": False, "dilation": 2},
         inputs=[(2, 8, 8, 8)], torch=deconv(1, (0, 0, 0, 0), 2, 2), atol=1e-4,
         batch_builds=("float32", "float16", "bfloat16")),
    Case("deconvolution", {"out_channels": 2, "kernel": 2, "stride": 3, "output_padding": 1}, inputs=[(2, 3, 5, 6)],
         torch=deconv_nd(F.conv_transpose2d, 3, output_padding=1), batch_builds=("float32", "float16")),
    Case("deconvolution", {"out_channels": 2, "kernel": 2, "stride": 2, "dilation": 2}, inputs=[(2, 4, 5)],
         torch=deconv_nd(F.conv_transpose1d, 2, dilation=2), batch_builds=("float32", "float16")),
]
