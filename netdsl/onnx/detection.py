"""Detection post-processing in ONNX: netdsl's nms as ONNX's NonMaxSuppression plus the same fixed-shape
padding the TensorRT lowering makes (netdsl/ops/nms.py). Export only: ONNX's NonMaxSuppression alone
gives a data-dependent list of indices, which no netdsl kind is.

ONNX's NonMaxSuppression has no candidate limit, where TensorRT's NMS layer (and netdsl's reference)
lets the 5000 best candidates per image compete: with more candidates above the score threshold, the
exported model may keep boxes the engine does not."""

from __future__ import annotations

from . import to_onnx


@to_onnx("nms")
def nms(g, node, boxes, scores, *extras):
    import numpy as np

    from .export import ONNX_DTYPES

    p, classes = node.params, scores.type.shape[2]
    best = g.op("ReduceMax", scores, g.ints([2]), keepdims=1)  # [B, N, 1]
    positions = g.initializer(np.arange(classes, dtype=np.int64).reshape(1, 1, classes))
    is_best = g.op("Equal", scores, best)  # the first best class, as torch.max gives it:
    klass = g.op("ReduceMin", g.op("Where", is_best, positions, g.scalar(classes, "int64")), g.ints([2]), keepdims=1)
    competing = best
    if p["class_aware"]:  # each box competes only for its best class: the others score -1, below every threshold
        competing = g.op("Where", g.op("Equal", positions, klass), scores, g.scalar(-1.0, scores.type.dtype))
    competing, boxes_32 = (g.op("Cast", t, to=ONNX_DTYPES["float32"]) for t in (competing, boxes))  # NMS: float
    selected = g.op("NonMaxSuppression", boxes_32, g.op("Transpose", competing, perm=[0, 2, 1]),
                    g.ints([p["max_detections"]]), g.scalar(p["iou_threshold"]), g.scalar(p["score_threshold"]),
                    center_point_box=int(p["box_format"] == "center"))  # [S, 3] (batch, class, box)
    pairs = g.op("Gather", selected, g.ints([0, 2]), axis=1)
    best = g.op("Squeeze", best, g.ints([2]))  # [B, N]
    unkept = g.op("ConstantOfShape", g.op("Shape", best), value=g.tensor(np.array([-1], np.float32)))
    keyed = g.op("ScatterND", g.op("CastLike", unkept, best), pairs, g.op("GatherND", best, pairs))
    k = p["max_detections"]  # padded by K entries of -1, so that top-k has K to choose from
    keyed = g.op("Pad", keyed, g.ints([0, 0, 0, k]), g.scalar(-1.0, scores.type.dtype))
    values, index = g.op("TopK", keyed, g.ints([k]), outputs=2, axis=1, largest=1, sorted=1)
    return padded(g, p, boxes, g.op("Squeeze", klass, g.ints([2])), values, index, *extras)


def padded(g, p, boxes, klass, values, index, *extras):
    """The four outputs (five with extras: their kept rows, padding 0) from the top K of the kept scores (-1
    where not kept) and their box indices."""
    from .export import ONNX_DTYPES

    dtype = g.out[1].dtype
    valid = g.op("Greater", values, g.scalar(-1.0, dtype))
    index = g.op("Unsqueeze", g.op("Where", valid, index, g.scalar(0, "int64")), g.ints([2]))  # padding: box 0
    corners = g.op("GatherND", boxes, index, batch_dims=1)
    if p["box_format"] == "center":
        centers, sizes = g.op("Split", corners, g.ints([2, 2]), outputs=2, axis=2)
        half = g.op("Mul", sizes, g.scalar(0.5, dtype))
        corners = g.op("Concat", g.op("Sub", centers, half), g.op("Add", centers, half), axis=2)
    count = g.op("ReduceSum", g.op("Cast", valid, to=ONNX_DTYPES["int32"]), g.ints([1]), keepdims=1)
    classes = g.op("Cast", g.op("GatherND", klass, index, batch_dims=1), to=ONNX_DTYPES["int32"])
    valid_rows = g.op("Unsqueeze", valid, g.ints([2]))
    outputs = (count, g.op("Where", valid_rows, corners, g.scalar(0.0, dtype)),
               g.op("Where", valid, values, g.scalar(0.0, dtype)), g.op("Where", valid, classes, g.scalar(-1, "int32")))
    return outputs + tuple(g.op("Where", valid_rows, g.op("GatherND", rows, index, batch_dims=1),
                                g.scalar(0.0, g.out[4].dtype)) for rows in extras)
