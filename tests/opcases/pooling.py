"""Cases of netdsl/ops/pooling.py (max_pool, avg_pool, adaptive_avg_pool, adaptive_max_pool, global_avg_pool,
global_max_pool) over 1, 2 and 3 spatial axes, with the cases that decide whether a lowering asks TensorRT for the
right thing: the average-pooling divisor in a ceil-mode overhang window with and without padding counted."""

import torch
import torch.nn.functional as F

from opcases import Case


X = (2, 4, 9, 9)


X1, X2, X3 = (3, 4, 11), (2, 4, 7, 9), (2, 2, 5, 6, 7)


CASES = [
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
    Case("adaptive_avg_pool", {"output_size": 4}, inputs=[(2, 3, 12)], torch=lambda x: F.adaptive_avg_pool1d(x, 4)),
    Case("adaptive_avg_pool", {"output_size": 5}, inputs=[(2, 3, 12)], torch=lambda x: F.adaptive_avg_pool1d(x, 5),
         batch_builds=("float32", "float16")),
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

# Also built with a dynamic batch: the slices of dilated max pooling and adaptive pooling then take their
# batch size from a shape tensor
CASES += [
    Case("global_avg_pool", inputs=[(2, 6, 5, 5)], torch=lambda x: F.adaptive_avg_pool2d(x, 1)),
    Case("global_max_pool", inputs=[(2, 6, 5, 5)], torch=lambda x: F.adaptive_max_pool2d(x, 1)),
    Case("global_avg_pool", inputs=[(2, 8, 7, 7)], torch=lambda x: F.adaptive_avg_pool2d(x, 1),
         batch_builds=("float32",)),
    Case("global_max_pool", inputs=[(2, 8, 7, 7)], torch=lambda x: F.adaptive_max_pool2d(x, 1),
         batch_builds=("float32",)),
    Case("max_pool", {"kernel": 2}, inputs=[(2, 8, 16, 16)], torch=lambda x: F.max_pool2d(x, 2),
         batch_builds=("float32",)),
    Case("max_pool", {"kernel": 3, "stride": 2, "padding": 1}, inputs=[(2, 8, 15, 15)],
         torch=lambda x: F.max_pool2d(x, 3, 2, 1), batch_builds=("float32",)),
    Case("max_pool", {"kernel": 3, "stride": 2, "ceil_mode": True}, inputs=[(2, 8, 16, 16)],
         torch=lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True), batch_builds=("float32",)),
    Case("avg_pool", {"kernel": 3, "stride": 1, "padding": 1, "count_include_pad": False}, inputs=[(2, 8, 16, 16)],
         torch=lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), batch_builds=("float32",)),
    Case("avg_pool", {"kernel": 2, "ceil_mode": True}, inputs=[(2, 8, 15, 15)],
         torch=lambda x: F.avg_pool2d(x, 2, ceil_mode=True), batch_builds=("float32",)),
    Case("max_pool", {"kernel": 2, "stride": 1, "dilation": 2, "padding": 1}, inputs=[(2, 3, 6, 7)],
         torch=lambda x: F.max_pool2d(x, 2, 1, 1, 2), batch_builds=("float32", "float16")),
    Case("avg_pool", {"kernel": 2}, inputs=[(2, 3, 4, 6, 8)], torch=lambda x: F.avg_pool3d(x, 2),
         batch_builds=("float32", "float16")),
    Case("adaptive_max_pool", {"output_size": [3, 2]}, inputs=[(2, 3, 7, 5)],
         torch=lambda x: F.adaptive_max_pool2d(x, (3, 2)), batch_builds=("float32", "float16")),
    Case("global_avg_pool", inputs=[(2, 3, 4, 5, 6)], torch=lambda x: F.adaptive_avg_pool3d(x, 1),
         batch_builds=("float32", "float16")),
]
