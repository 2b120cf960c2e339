"""Cases of netdsl/ops/image.py: image_to_tensor, a YOLO detector's pre-processing inside the engine."""

import numpy as np
import torch

from opcases import Case


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
