"""Cases of netdsl/ops/interpolate.py (interpolate, upsample) over 1, 2 and 3 spatial axes: every mode, scale_factor or
size, align_corners, and the coordinates that decide whether a lowering asks TensorRT for the right thing."""

import torch.nn.functional as F

from opcases import Case


X1, X2, X3 = (3, 4, 11), (2, 4, 7, 9), (2, 2, 5, 6, 7)


def interpolate(**kwargs):
    return lambda x: F.interpolate(x, **kwargs)


CASES = [
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

# Also built with a dynamic batch
CASES += [
    Case("upsample", {"scale": 2}, inputs=[(2, 6, 5, 5)], torch=interpolate(scale_factor=2, mode="nearest")),
    Case("upsample", {"size": [13, 7]}, inputs=[(2, 6, 5, 5)], torch=interpolate(size=(13, 7), mode="nearest")),
    Case("upsample", {"mode": "bilinear", "scale": [2, 3]}, inputs=[(2, 6, 5, 5)],
         torch=interpolate(scale_factor=(2, 3), mode="bilinear")),
    Case("upsample", {"mode": "bilinear", "size": [9, 17]}, inputs=[(2, 6, 5, 5)],
         torch=interpolate(size=(9, 17), mode="bilinear")),
    Case("upsample", {"mode": "bilinear", "size": [9, 17], "align_corners": True}, inputs=[(2, 6, 5, 5)],
         torch=interpolate(size=(9, 17), mode="bilinear", align_corners=True)),
    Case("upsample", {"mode": "bilinear", "scale": 0.5}, inputs=[(2, 6, 5, 5)],
         torch=interpolate(scale_factor=0.5, mode="bilinear")),
    Case("upsample", {"scale": 2}, inputs=[(2, 8, 5, 5)], torch=interpolate(scale_factor=2, mode="nearest"),
         batch_builds=("float32",)),
    Case("upsample", {"mode": "bilinear", "size": [11, 7]}, inputs=[(2, 8, 5, 5)],
         torch=interpolate(size=(11, 7), mode="bilinear"), batch_builds=("float32",)),
    Case("upsample", {"mode": "bilinear", "scale": [2, 3], "align_corners": True}, inputs=[(2, 8, 5, 5)],
         torch=interpolate(scale_factor=(2, 3), mode="bilinear", align_corners=True), batch_builds=("float32",)),
    Case("interpolate", {"mode": "bicubic", "scale_factor": 1.5}, inputs=[(2, 3, 4, 6)],
         batch_builds=("float32", "float16")),
    Case("interpolate", {"mode": "area", "size": 3}, inputs=[(2, 3, 7)], torch=interpolate(size=3, mode="area"),
         batch_builds=("float32", "float16")),
]
