"""Non-maximum suppression with fixed-shape, padded outputs (what DeepStream and Triton expect of a
detector with NMS in the engine): ultralytics' ``non_max_suppression`` (best class per box, greedy
suppression in descending score, class-aware by default) lowered to TensorRT's NMS layer.

TensorRT's NMS layer gives the selected (batch, class, box) triples with a data-dependent count; the
lowering turns them into ``num_dets [B, 1]`` and ``boxes [B, K, 4]``, ``scores [B, K]``, ``classes
[B, K]`` with fixed-shape layers (scatter, top-k, gather, select). TensorRT-RTX 1.7 constructs the
network but cannot build it ("no runners" for the NMS layer): `netdsl build` refuses it there, before
building, and full TensorRT (10.x, 11.x) builds it.
"""

from __future__ import annotations

from ..diagnostics import NetdslError
from ..params import Bool, Choice, Float, Int, Param
from ..tensors import FLOAT_DTYPES, TensorType, agree, disagreement, show_type
from . import ShapeError, register
from .primitive import Primitive
from .topk import MAX_K

GROUP = "detection"  # its row in the README's kind table (tools/regenerate.py)

# TensorRT's NMS layer considers at most this many candidates (score above the threshold) per image: its
# topk_box_limit, whose largest allowed value is 5000 (2000 on SM 5.3 and 6.2, which TensorRT 10 does not
# support). ultralytics' max_nms is 30000; the reference keeps TensorRT's limit.
CANDIDATE_LIMIT = 5000
OUTPUTS = ("num_dets", "boxes", "scores", "classes")


@register
class NMS(Primitive):
    kind = "nms"
    torch = "ultralytics.utils.nms.non_max_suppression (multi_label=False)"
    doc = ("Non-maximum suppression of boxes [B, N, 4] by scores [B, N, C], with fixed-shape outputs "
           "`<layer>.num_dets` [B, 1] int32, `<layer>.boxes` [B, K, 4] (x1, y1, x2, y2), `<layer>.scores` "
           "[B, K] (both in the inputs' float dtype) and `<layer>.classes` [B, K] int32, K = max_detections. As "
           "ultralytics: each box keeps its best class (the first on a tie); boxes scoring above score_threshold "
           "are kept greedily in descending score unless their IoU with a kept box (of the same class when "
           "class_aware) is above iou_threshold; the first K, by descending score. Rows past num_dets are "
           "padding: boxes and scores 0, classes -1. At most the 5000 best candidates per image compete "
           "(TensorRT's largest topk_box_limit; ultralytics' max_nms is 30000). Equal scores come in box order "
           "here; TensorRT leaves their order unspecified. N may be a named size, below K too. Lowered to "
           "TensorRT's NMS layer, which TensorRT-RTX cannot build: `netdsl build` refuses it there (build "
           "without it, or with full TensorRT 10/11). No engine with it has run in netdsl's tests: the "
           "lowering's numbers are checked by netdsl's TensorRT-semantics evaluator (`netdsl compare`), "
           "against this reference and ultralytics. ONNX export: NonMaxSuppression and the same padding, "
           "without the 5000-candidate limit. An optional third input, rows [B, N, E] that travel with the "
           "boxes (YOLO's mask coefficients or keypoints), gives `<layer>.extras` [B, K, E]: the kept boxes' rows "
           "in the same order, padding rows 0.")
    params = {
        "box_format": Param(Choice(("center", "corners")), "center",
                            doc="center: (cx, cy, w, h), as YOLO's output; corners: (x1, y1, x2, y2)"),
        "score_threshold": Param(Float(0.0, 1.0), 0.25, doc="a box needs a best score above it"),
        "iou_threshold": Param(Float(0.0, 1.0), 0.45, doc="a box overlapping a kept one by more is suppressed"),
        "max_detections": Param(Int(1, MAX_K), 100, doc=f"K, the padded length; at most {MAX_K} "
                                "(TensorRT's top-k limit)"),
        "class_aware": Param(Bool(), True, doc="suppress only boxes of the same class (ultralytics' default)"),
    }
    min_inputs, max_inputs = 2, 3
    example = {"inputs": [[1, 8400, 4], [1, 8400, 80]]}
    rtx_unbuildable = ("TensorRT-RTX cannot build TensorRT's NMS layer (its builder has no implementation of it: "
                       "\"no runners\"); build the network without it (the raw boxes and scores, NMS done after the "
                       "engine) or with full TensorRT 10/11")

    def output_names(self, node):
        return OUTPUTS + (("extras",) if len(node.inputs) == 3 else ())

    def infer(self, p, boxes, scores, *extras):
        if boxes.rank != 3 or boxes.shape[2] != 4:
            raise ShapeError(f"boxes (input 1) must be [B, N, 4], found {show_type(boxes)}", expected="[B, N, 4]",
                             found=show_type(boxes))
        if scores.rank != 3 or not isinstance(scores.shape[2], int):
            raise ShapeError(f"scores (input 2) must be [B, N, C] with a fixed number of classes C, found "
                             f"{show_type(scores)}", expected="[B, N, C]", found=show_type(scores))
        if boxes.dtype != scores.dtype:
            raise ShapeError(f"boxes are {boxes.dtype} and scores {scores.dtype}; TensorRT's NMS takes one dtype",
                             code="wrong-dtype", hint="convert one of them (kind: cast)")
        batch, count = (same_size(boxes.shape[i], scores.shape[i], name) for i, name in ((0, "B"), (1, "N")))
        k = p["max_detections"]
        outputs = (TensorType((batch, 1), "int32"), TensorType((batch, k, 4), boxes.dtype),
                   TensorType((batch, k), boxes.dtype), TensorType((batch, k), "int32"))
        return outputs + tuple(extra_rows(batch, count, k, extras[0]) for _ in extras)

    def compute(self, p, out, boxes, scores, *extras):
        import numpy as np

        batch, k = scores.shape[0], p["max_detections"]
        num = np.zeros((batch, 1), np.int32)
        kept_boxes, kept_scores = np.zeros((batch, k, 4), np.float32), np.zeros((batch, k), np.float32)
        kept_classes = np.full((batch, k), -1, np.int32)
        if extras:
            kept_extras = np.zeros((batch, k, extras[0].shape[2]), extras[0].dtype)
        corners = to_corners(boxes.astype(np.float32), p["box_format"])
        best, classes = scores.max(axis=2), scores.argmax(axis=2).astype(np.int32)  # argmax: the first best
        for b in range(batch):
            kept = survivors(corners[b], best[b], classes[b] if p["class_aware"] else None, p)
            n = num[b, 0] = len(kept)
            kept_boxes[b, :n], kept_scores[b, :n] = corners[b, kept], best[b, kept]
            kept_classes[b, :n] = classes[b, kept]
            if extras:
                kept_extras[b, :n] = extras[0][b, kept]
        return (num, kept_boxes, kept_scores, kept_classes) + ((kept_extras,) if extras else ())

    def emit(self, ctx, p, out, boxes, scores, *extras):
        import numpy as np

        layers = Layers(ctx, scores.type.dtype)
        best = layers.reduce(scores.data, "MAX", 2, "best")  # [B, N, 1]
        positions = layers.const(np.arange(scores.type.shape[2], dtype=np.int32)[None, None], "int32",
                                 part="class_positions")  # [1, 1, C]
        klass = first_best(layers, scores.data, best, positions)  # [B, N, 1] int32
        if p["class_aware"]:  # each box competes only for its best class: the others score 0
            one_hot = layers.binary(positions, klass, "EQUAL", "one_hot")
            competing = layers.select(one_hot, scores.data, layers.const(0.0, rank=3, part="zero"), "class_scores")
        else:
            competing = best  # one class column
        selected = nms_layer(ctx, p, boxes, competing, layers)  # [S, 3]: (batch, class, box)
        klass, best = layers.flat(klass, "class"), layers.flat(best, "score")  # [B, N]
        keyed = layers.select(chosen(layers, selected, klass), best, layers.const(-1.0, part="minus_one"), "keyed")
        values, index = top(layers, keyed, boxes.type.shape[1], p["max_detections"])
        return padded(layers, p, boxes.data, klass, values, index, extras[0] if extras else None)


def same_size(a, b, name: str):
    where = disagreement(a, b)
    if where is not None:
        raise ShapeError(f"boxes and scores disagree on {name}: {a} and {b} ({where})", expected="equal sizes",
                         found=f"{a} vs {b}")
    return agree(a, b)


def extra_rows(batch, count, k: int, extras):
    if extras.rank != 3 or not isinstance(extras.shape[2], int):
        raise ShapeError(f"extras (input 3) must be [B, N, E] with a fixed E, found {show_type(extras)}",
                         expected="[B, N, E]", found=show_type(extras))
    same_size(batch, extras.shape[0], "B")
    same_size(count, extras.shape[1], "N")
    return TensorType((batch, k, extras.shape[2]), extras.dtype)


def to_corners(boxes, box_format: str):
    """(x1, y1, x2, y2) of boxes [..., 4], as ultralytics' xywh2xyxy computes them from centers."""
    import numpy as np

    if box_format == "corners":
        return boxes
    half = boxes[..., 2:] / np.float32(2)
    return np.concatenate([boxes[..., :2] - half, boxes[..., :2] + half], axis=-1)


def survivors(corners, best, classes, p) -> list[int]:
    """Indices of the boxes greedy NMS keeps in one image, by descending score (equal scores in box
    order), at most max_detections: only the first K kept matter, so it stops there."""
    import numpy as np

    # TensorRT takes the thresholds as float32: compared in float32 here too
    score_threshold, iou_threshold = np.float32(p["score_threshold"]), np.float32(p["iou_threshold"])
    candidates = np.flatnonzero(best > score_threshold)
    order = candidates[np.argsort(-best[candidates], kind="stable")][:CANDIDATE_LIMIT]
    x1, y1 = np.minimum(corners[order, 0], corners[order, 2]), np.minimum(corners[order, 1], corners[order, 3])
    x2, y2 = np.maximum(corners[order, 0], corners[order, 2]), np.maximum(corners[order, 1], corners[order, 3])
    area = (x2 - x1) * (y2 - y1)
    alive = np.ones(len(order), bool)
    kept = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        kept.append(int(order[i]))
        if len(kept) == p["max_detections"]:
            break
        rest = slice(i + 1, None)  # IoU in float32 and in ultralytics' order of operations
        width = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), np.float32(0))
        height = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), np.float32(0))
        inter = width * height
        with np.errstate(invalid="ignore", divide="ignore"):
            suppressed = inter / (area[i] + area[rest] - inter) > iou_threshold
        if classes is not None:
            suppressed &= classes[order[rest]] == classes[order[i]]
        alive[rest] &= ~suppressed
    return kept


# -- lowering -----------------------------------------------------------------------------------------


class Layers:
    """The TensorRT calls the lowering makes, each named `<layer>/<part>`; float constants take the
    scores' dtype."""

    def __init__(self, ctx, dtype: str):
        import numpy as np

        self.ctx, self.dtype, self.np = ctx, dtype, np

    def const(self, value, dtype: str | None = None, rank: int = 2, part: str = "constant"):
        """A constant: a number of ``rank`` (1s as dimensions, to broadcast), or an array as it is."""
        array = self.np.full((1,) * rank, value) if self.np.ndim(value) == 0 else self.np.asarray(value)
        return self.ctx.literal(array, dtype or self.dtype, part)

    def binary(self, a, b, operation: str, part: str):
        layer = self.ctx.network.add_elementwise(a, b, getattr(self.ctx.trt.ElementWiseOperation, operation))
        return self.ctx.label(layer, part).get_output(0)

    def select(self, condition, a, b, part: str):
        return self.ctx.label(self.ctx.network.add_select(condition, a, b), part).get_output(0)

    def reduce(self, x, operation: str, axis: int, part: str):
        layer = self.ctx.network.add_reduce(x, getattr(self.ctx.trt.ReduceOperation, operation), 1 << axis, True)
        return self.ctx.label(layer, part).get_output(0)

    def gather(self, data, index, part: str, axis: int = 1, batched: bool = True):
        layer = self.ctx.network.add_gather(data, index, axis)
        layer.num_elementwise_dims = 1 if batched else 0  # per image: data [B, N, ...], index [B, K]
        return self.ctx.label(layer, part).get_output(0)

    def shuffle(self, x, dims, part: str):
        layer = self.ctx.network.add_shuffle(x)
        layer.reshape_dims = dims  # 0 copies the input's dimension
        return self.ctx.label(layer, part).get_output(0)

    def flat(self, x, part: str):
        """[B, N, 1] -> [B, N]."""
        return self.shuffle(x, (0, 0), part)


def padded(layers, p, boxes, klass, values, index, extras=None):
    """The four outputs (five with ``extras``) from the top K of the kept scores (-1 where not kept) and their
    box indices."""
    ctx = layers.ctx
    valid = layers.binary(values, layers.const(-1.0, part="minus_one"), "GREATER", "valid")  # kept: score >= 0
    index = layers.select(valid, index, layers.const(0, "int32", part="zero"), "index")  # padding reads box 0
    corners = layers.gather(boxes, index, "boxes")
    if p["box_format"] == "center":
        corners = center_to_corners(layers, corners)
    valid_rows = layers.shuffle(valid, (0, 0, 1), "valid_rows")
    count = ctx.label(ctx.network.add_cast(valid, ctx.trt.int32), "valid_int").get_output(0)
    classes = layers.gather(klass, index, "classes")
    outputs = (layers.reduce(count, "SUM", 1, "num_dets"),
               layers.select(valid_rows, corners, layers.const(0.0, rank=3, part="zero"), "padded_boxes"),
               layers.select(valid, values, layers.const(0.0, part="zero"), "padded_scores"),
               layers.select(valid, classes, layers.const(-1, "int32", part="minus_one"), "padded_classes"))
    if extras is None:
        return outputs
    rows = layers.gather(extras.data, index, "extras")  # extras: a Value, its netdsl dtype for the zero
    zero = layers.const(0.0, extras.type.dtype, rank=3, part="extras_zero")
    return outputs + (layers.select(valid_rows, rows, zero, "padded_extras"),)


def first_best(layers, scores, best, positions):
    """The index of each box's first best class [B, N, 1] (int32): the smallest class index whose score
    equals the maximum, as torch.max and numpy.argmax give (TensorRT's top-k leaves ties unspecified)."""
    is_best = layers.binary(scores, best, "EQUAL", "is_best")
    past = layers.const(positions.shape[2], "int32", rank=3, part="past_classes")  # above every class index
    candidates = layers.select(is_best, positions, past, "best_positions")
    return layers.reduce(candidates, "MIN", 2, "best_class")


def nms_layer(ctx, p, boxes, scores, layers):
    """TensorRT's NMS layer; its selected (batch, class, box) indices [S, 3] int32. The thresholds are
    float32 scalars whatever the network's precision; its inputs float32 or float16."""
    boxes, trt = boxes.data, ctx.trt
    if not hasattr(ctx.network, "add_nms"):
        raise NetdslError(f"nms layer `{ctx.node.name}`: this TensorRT ({trt.__version__}) has no NMS layer; "
                          "TensorRT 10 and 11 have it")
    if boxes.dtype == trt.bfloat16:  # the NMS layer takes float32 and float16 only
        boxes, scores = (ctx.label(ctx.network.add_cast(t, trt.float32), f"{n}_float32").get_output(0)
                         for t, n in ((boxes, "boxes"), (scores, "scores")))
    limit = layers.const(p["max_detections"], "int32", rank=0, part="max_per_class")
    layer = ctx.label(ctx.network.add_nms(boxes, scores, limit), "nms")
    layer.bounding_box_format = getattr(trt.BoundingBoxFormat, "CENTER_SIZES" if p["box_format"] == "center"
                                        else "CORNER_PAIRS")
    layer.topk_box_limit = CANDIDATE_LIMIT
    for index, name in ((3, "iou_threshold"), (4, "score_threshold")):
        layer.set_input(index, float32_scalar(ctx, p[name], name))
    return layer.get_output(0)


def float32_scalar(ctx, value: float, part: str):
    import numpy as np

    array = np.array(value, np.float32)
    ctx.literals.append(array)  # kept alive until the build returns: trt.Weights does not copy
    layer = ctx.label(ctx.network.add_constant((), ctx.trt.Weights(array)), part)
    ctx.constant_layers[layer.name] = array
    return layer.get_output(0)


def chosen(layers, selected, klass):
    """Whether NMS kept each box, [B, N] bool: 1s scattered at the selected (batch, box) pairs into zeros
    shaped like ``klass``."""
    import numpy as np

    pairs = layers.gather(selected, layers.const(np.array([0, 2], np.int32), "int32", part="batch_box"),
                          "pairs", batched=False)
    column = layers.gather(selected, layers.const(0, "int32", rank=0, part="first"), "column",
                           batched=False)  # [S]: only its shape matters
    zero_per_pair = layers.binary(column, layers.const(0, "int32", rank=1, part="zero"), "PROD", "zero_per_pair")
    ones = layers.binary(zero_per_pair, layers.const(1, "int32", rank=1, part="one"), "SUM", "one_per_pair")
    zeros = layers.binary(klass, layers.const(0, "int32", part="zero"), "PROD", "zero_per_box")
    layer = layers.ctx.network.add_scatter(zeros, pairs, ones, layers.ctx.trt.ScatterMode.ND)
    marks = layers.ctx.label(layer, "mark_kept").get_output(0)
    return layers.binary(marks, layers.const(1, "int32", part="one"), "EQUAL", "kept")


def top(layers, keyed, count, k: int):
    """The K best of ``keyed`` [B, N] (values, int32 indices); when N may be below K, K entries of -1 are
    appended first (a slice that fills), so that top-k always has K to choose from."""
    import numpy as np

    ctx = layers.ctx
    if not (isinstance(count, int) and count >= k):
        shape = ctx.label(ctx.network.add_shape(keyed), "size").get_output(0)
        size = layers.binary(shape, layers.const(np.array([0, k], np.int64), "int64", part="padding"), "SUM",
                             "padded_size")
        layer = ctx.network.add_slice(keyed, (0, 0), (1, 1), (1, 1))
        layer.set_input(2, size)
        layer.mode = ctx.trt.SampleMode.FILL
        layer.set_input(4, layers.const(-1.0, rank=0, part="fill"))
        keyed = ctx.label(layer, "padded").get_output(0)
    layer = ctx.label(ctx.network.add_topk(keyed, ctx.trt.TopKOperation.MAX, k, 1 << 1), "topk")
    return layer.get_output(0), layer.get_output(1)


def center_to_corners(layers, boxes):
    """(cx, cy, w, h) -> (cx - w/2, cy - h/2, cx + w/2, cy + h/2) of [B, K, 4], by gathers and element-wise
    layers (a matrix product could run in TF32, too coarse for pixel coordinates)."""
    import numpy as np

    ctx = layers.ctx
    centers, sizes = (layers.gather(boxes, layers.const(np.array(i, np.int32), "int32", part=f"{n}_index"), n,
                                    axis=2, batched=False) for i, n in (([0, 1], "centers"), ([2, 3], "sizes")))
    half = layers.binary(sizes, layers.const(0.5, rank=3, part="half"), "PROD", "half_sizes")
    low, high = layers.binary(centers, half, "SUB", "low"), layers.binary(centers, half, "SUM", "high")
    layer = ctx.network.add_concatenation([low, high])
    layer.axis = 2
    return ctx.label(layer, "corners").get_output(0)
