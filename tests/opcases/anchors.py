"""Cases of netdsl/ops/anchors.py: anchor_points (oracle: ultralytics' make_anchors, imported only when a case runs)."""

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
]
