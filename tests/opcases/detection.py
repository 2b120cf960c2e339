"""Cases of the kinds that put a YOLO detector's pre- and post-processing inside the engine:
anchor_points (oracle: ultralytics' make_anchors, imported only when a case runs), reshape_as and
image_to_tensor (oracle: PyTorch)."""

import numpy as np
import torch

from opcases import Case


def anchors(stride, offset=0.5):
    """ultralytics.utils.tal.make_anchors on a feature map of x's height and width, transposed as its
    Detect head uses it: ([2, H*W] points, [1, H*W] strides)."""

    def oracle(x):
        from yolo_oracle import ultralytics_module

        feature = torch.zeros((1, 1) + tuple(x.shape[-2:]))
        points, strides = ultralytics_module("ultralytics.utils.tal").make_anchors([feature], [stride], offset)
        return points.T.contiguous(), strides.T.contiguous()

    return oracle


def frames(shape, dtype=np.uint8):
    """Pixels over the whole 0..255 range (the default uint8 inputs stop at 5)."""
    return np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(dtype)


def yolo_preprocess(x):
    return x.permute(0, 3, 1, 2).flip(1).float() / 255


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
PIXEL_MEAN, PIXEL_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)  # the same on 0..255 (mmdetection)


def normalized(x, mean, std):
    return (x - torch.tensor(mean).reshape(1, -1, 1, 1)) / torch.tensor(std).reshape(1, -1, 1, 1)


CASES = [
    # anchor_points: only the input's shape counts, whatever its rank (3 or more) and dtype
    Case("anchor_points", {"stride": 8}, inputs=[(1, 16, 4, 6)], torch=anchors(8)),
    Case("anchor_points", {"stride": 32, "offset": 0.0}, inputs=[(2, 3, 5, 7)], torch=anchors(32, 0.0)),
    Case("anchor_points", {"stride": 2.5, "offset": -0.25}, inputs=[(1, 2, 3, 3)], torch=anchors(2.5, -0.25)),
    Case("anchor_points", {"stride": 16}, inputs=[(3, 5, 4)], torch=anchors(16)),
    Case("anchor_points", {"stride": 4}, inputs=[(1, 2, 3, 4, 5)], torch=anchors(4)),
    Case("anchor_points", {"stride": 8}, inputs=[((1, 2, 3, 2), "uint8")], torch=anchors(8)),
    Case("anchor_points", {"stride": 8}, inputs=[((1, 1, 1, 1), "bool")], torch=anchors(8)),
    Case("anchor_points", {"stride": 8}, inputs=[(1, 64, 80, 80)], torch=anchors(8)),  # YOLO at 640: P3
    Case("anchor_points", {"stride": 8}, inputs=[(2, 7)], error="shape-mismatch", message="rank 3 or more"),
    Case("anchor_points", {"stride": 0}, inputs=[(1, 2, 3, 4)], error="invalid-param", message="> 0"),
    Case("anchor_points", {"stride": -8}, inputs=[(1, 2, 3, 4)], error="invalid-param", message="> 0"),
    Case("anchor_points", {"stride": 8, "offset": "half"}, inputs=[(1, 2, 3, 4)], error="invalid-param"),
    Case("anchor_points", {}, inputs=[(1, 2, 3, 4)], error="missing-param", message="needs `stride`"),
    # reshape_as: the first input in the second's shape; the second's values and dtype do not matter
    Case("reshape_as", inputs=[(2, 12), (2, 3, 4)], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[(1, 64, 400), (1, 64, 20, 20)], torch=lambda x, like: x.view_as(like)),
    Case("reshape_as", inputs=[(2, 3, 4), (24,)], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[(1, 1), ()], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[((6,), "int32"), ((3, 2), "bool")], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[((2, 2), "bool"), ((4, 1), "uint8")], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[(2, 12), (5, 5)], error="shape-mismatch", message="24 elements become 25"),
    Case("reshape_as", inputs=[(2, 12)], error="input-count", message="takes 2 input(s), found 1"),
    # image_to_tensor
    Case("image_to_tensor", {"channels": "bgr"}, inputs=[frames((2, 8, 6, 3))], torch=yolo_preprocess),
    Case("image_to_tensor", {"channels": "rgb"}, inputs=[frames((1, 5, 7, 3))],
         torch=lambda x: x.permute(0, 3, 1, 2).float() / 255),
    Case("image_to_tensor", {"channels": "bgr", "layout": "nchw"}, inputs=[frames((1, 3, 4, 5))],
         torch=lambda x: x.flip(1).float() / 255),
    Case("image_to_tensor", {"channels": "rgb", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
         inputs=[frames((1, 6, 4, 3))], torch=lambda x: normalized(x.permute(0, 3, 1, 2).float() / 255,
                                                                   IMAGENET_MEAN, IMAGENET_STD)),
    Case("image_to_tensor", {"channels": "bgr", "scale": 1, "mean": list(PIXEL_MEAN), "std": list(PIXEL_STD)},
         inputs=[frames((1, 4, 4, 3), np.float32)], name="float-mmdet",
         torch=lambda x: normalized(x.permute(0, 3, 1, 2).flip(1), PIXEL_MEAN, PIXEL_STD)),
    Case("image_to_tensor", {"channels": "rgb", "layout": "nchw", "scale": 0.5, "mean": [0.25]},
         inputs=[((2, 1, 3, 3), "float16")], name="gray-float16",
         torch=lambda x: x.half().float() * 0.5 - 0.25, atol=1e-3, rtol=1e-3),  # float16 input: its rounding
    Case("image_to_tensor", {"channels": "rgb", "mean": [0.5, 0.5, 0.5, 0.5]}, inputs=[frames((1, 2, 2, 4))],
         torch=lambda x: x.permute(0, 3, 1, 2).float() / 255 - 0.5),
    Case("image_to_tensor", {"channels": "bgr"}, inputs=[((8, 6, 3), "uint8")], error="shape-mismatch",
         message="batch of frames [N, H, W, C]"),
    Case("image_to_tensor", {"channels": "bgr"}, inputs=[((1, 8, 6, 3), "int32")], error="wrong-dtype"),
    Case("image_to_tensor", {"channels": "bgr"}, inputs=[((1, 3, 8, 6), "uint8")], error="shape-mismatch",
         message="needs 3 channels"),  # NCHW frames without `layout: nchw`
    Case("image_to_tensor", {"channels": "rgb", "mean": [0.5, 0.5]}, inputs=[((1, 8, 6, 3), "uint8")],
         error="invalid-value", message="2 values for 3 channels"),
    Case("image_to_tensor", {"channels": "rgb", "std": [1, 0, 1]}, inputs=[((1, 8, 6, 3), "uint8")],
         error="invalid-param", message="> 0"),
    Case("image_to_tensor", {"channels": "rgb", "scale": 0}, inputs=[((1, 8, 6, 3), "uint8")],
         error="invalid-param", message="> 0"),
    Case("image_to_tensor", {"channels": "rgb", "mean": []}, inputs=[((1, 8, 6, 3), "uint8")],
         error="invalid-param", message="a list of 1 to"),
    Case("image_to_tensor", {"channels": "bgr", "layout": "hwc"}, inputs=[((1, 8, 6, 3), "uint8")],
         error="invalid-param", message="one of nhwc, nchw"),
    Case("image_to_tensor", {}, inputs=[((1, 8, 6, 3), "uint8")], error="missing-param", message="needs `channels`"),
]
