"""Non-maximum suppression of rotated boxes with fixed-shape, padded outputs: ultralytics'
``non_max_suppression(rotated=True)`` (its OBB models' NMS). Each box keeps its best class; the boxes
above the score threshold, by descending score, at most ``max_candidates`` of them, are compared all
against all by probabilistic IoU (ultralytics' ``batch_probiou``, in float32), and a box is dropped when
any higher-scored one of its class (centers offset by class x 7680, as ultralytics does; every class
when not class aware) overlaps it by more than the IoU threshold, whether that one was kept or not
(``TorchNMS.fast_nms``' upper-triangle matrix form); the first ``max_detections`` of the rest.

No NMS layer: the lowering is top-k, gathers, element-wise layers on the [M, M] matrix and a reduction,
all in float32, which TensorRT-RTX builds as well as full TensorRT."""

from __future__ import annotations

from ..params import Bool, Float, Int, Param
from ..tensors import TensorType, show_type
from . import ShapeError, register
from .nms import Layers, first_best, padded, same_size, top
from .primitive import Primitive
from .topk import MAX_K

GROUP = "detection"  # its row in the README's kind table (tools/regenerate.py)

OUTPUTS = ("num_dets", "boxes", "scores", "classes")
CLASS_OFFSET = 7680  # ultralytics' max_wh: the centers of class c move by c x 7680 pixels


@register
class RotatedNMS(Primitive):
    kind = "rotated_nms"
    torch = "ultralytics.utils.nms.non_max_suppression (rotated=True, multi_label=False)"
    doc = ("Non-maximum suppression of rotated boxes [B, N, 5] (cx, cy, w, h, angle in radians) by scores "
           "[B, N, C], as ultralytics' non_max_suppression(rotated=True): each box keeps its best class (the "
           "first on a tie); of the boxes scoring above score_threshold, the max_candidates best (ultralytics' "
           "max_nms) are compared all against all by probabilistic IoU (batch_probiou, float32), and a box is "
           "dropped when a higher-scored box (of its class when class_aware) overlaps it by more than "
           "iou_threshold, kept or not (fast_nms). Outputs `<layer>.num_dets` [B, 1] int32, `<layer>.boxes` "
           "[B, K, 5] (cx, cy, w, h, angle), `<layer>.scores` [B, K] and `<layer>.classes` [B, K] int32, "
           "K = max_detections, by descending score; rows past num_dets are padding: 0, classes -1. Lowered "
           "with ordinary layers (top-k, gathers, element-wise on [B, M, M], a reduction), in float32: "
           "TensorRT-RTX builds it.")
    params = {
        "score_threshold": Param(Float(0.0, 1.0), 0.25, doc="a box needs a best score above it"),
        "iou_threshold": Param(Float(0.0, 1.0), 0.7, doc="a box overlapping a higher-scored one by more is dropped"),
        "max_detections": Param(Int(1, MAX_K), 300, doc=f"K, the padded length; at most {MAX_K}"),
        "max_candidates": Param(Int(1, MAX_K), 1000,
                                doc="M, the best-scored candidates compared ([M, M] probabilistic IoUs); at most "
                                    f"{MAX_K} (TensorRT's top-k limit; ultralytics' max_nms is 30000)"),
        "class_aware": Param(Bool(), True, doc="suppress only boxes of the same class (ultralytics' default)"),
    }
    min_inputs = max_inputs = 2
    example = {"inputs": [[1, 8400, 5], [1, 8400, 15]]}

    def output_names(self, node):
        return OUTPUTS

    def infer(self, p, boxes, scores):
        if boxes.rank != 3 or boxes.shape[2] != 5:
            raise ShapeError(f"boxes (input 1) must be [B, N, 5] (cx, cy, w, h, angle), found {show_type(boxes)}",
                             expected="[B, N, 5]", found=show_type(boxes))
        if scores.rank != 3 or not isinstance(scores.shape[2], int):
            raise ShapeError(f"scores (input 2) must be [B, N, C] with a fixed number of classes C, found "
                             f"{show_type(scores)}", expected="[B, N, C]", found=show_type(scores))
        if boxes.dtype != scores.dtype:
            raise ShapeError(f"boxes are {boxes.dtype} and scores {scores.dtype}; give them one dtype",
                             code="wrong-dtype", hint="convert one of them (kind: cast)")
        batch = same_size(boxes.shape[0], scores.shape[0], "B")
        same_size(boxes.shape[1], scores.shape[1], "N")
        k = p["max_detections"]
        return (TensorType((batch, 1), "int32"), TensorType((batch, k, 5), boxes.dtype),
                TensorType((batch, k), boxes.dtype), TensorType((batch, k), "int32"))

    def compute(self, p, out, boxes, scores):
        import numpy as np

        batch, k = scores.shape[0], p["max_detections"]
        num = np.zeros((batch, 1), np.int32)
        kept_boxes, kept_scores = np.zeros((batch, k, 5), boxes.dtype), np.zeros((batch, k), scores.dtype)
        kept_classes = np.full((batch, k), -1, np.int32)
        boxes, scores = boxes.astype(np.float32), scores.astype(np.float32)
        best, classes = scores.max(axis=2), scores.argmax(axis=2).astype(np.int32)
        for b in range(batch):
            kept = survivors(boxes[b], best[b], classes[b], p)[:k]
            n = num[b, 0] = len(kept)
            kept_boxes[b, :n], kept_scores[b, :n], kept_classes[b, :n] = boxes[b, kept], best[b, kept], classes[b, kept]
        return num, kept_boxes, kept_scores, kept_classes

    def emit(self, ctx, p, out, boxes, scores):
        layers = Float32Layers(ctx)
        boxes_32, scores_32 = (layers.to_float32(t.data, name) for t, name in ((boxes, "boxes"), (scores, "scores")))
        best = layers.reduce(scores_32, "MAX", 2, "best")  # [B, N, 1]
        positions = layers.const(layers.np.arange(scores.type.shape[2], dtype=layers.np.int32)[None, None], "int32",
                                 part="class_positions")
        klass = layers.flat(first_best(layers, scores_32, best, positions), "class")  # [B, N] int32
        best = layers.flat(best, "score")
        passing = layers.binary(best, layers.const(p["score_threshold"], part="score_threshold"), "GREATER", "passing")
        keyed = layers.select(passing, best, layers.const(-1.0, part="minus_one"), "keyed")
        values, index = top(layers, keyed, boxes.type.shape[1], p["max_candidates"])  # [B, M]
        candidate = layers.binary(values, layers.const(-1.0, part="minus_one"), "GREATER", "candidate")
        index = layers.select(candidate, index, layers.const(0, "int32", part="zero"), "candidate_index")
        ranked = layers.gather(boxes_32, index, "ranked_boxes")  # [B, M, 5]
        if p["class_aware"]:
            ranked = offset_by_class(layers, ranked, layers.gather(klass, index, "ranked_classes"))
        ious = probiou_matrix(layers, ranked)  # [B, M, M]
        kept = unsuppressed(layers, ious, candidate, p)
        keyed = layers.select(kept, values, layers.const(-1.0, part="minus_one"), "kept_scores")
        values, position = top(layers, keyed, p["max_candidates"], p["max_detections"])  # [B, K]
        valid = layers.binary(values, layers.const(-1.0, part="minus_one"), "GREATER", "kept_valid")
        position = layers.select(valid, position, layers.const(0, "int32", part="zero"), "kept_position")
        box_index = layers.gather(index, position, "box_index")
        num, kept_boxes, kept_scores, kept_classes = padded(layers, {"box_format": "corners"}, boxes_32, klass,
                                                            values, box_index)
        dtype = ctx.trt_dtype(boxes.type.dtype)
        return (num, layers.cast(kept_boxes, dtype, "boxes_out"), layers.cast(kept_scores, dtype, "scores_out"),
                kept_classes)


def survivors(boxes, best, classes, p) -> list[int]:
    """Indices of the boxes ultralytics' rotated NMS keeps in one image, by descending score."""
    import numpy as np

    candidates = np.flatnonzero(best > np.float32(p["score_threshold"]))
    order = candidates[np.argsort(-best[candidates], kind="stable")][:p["max_candidates"]]
    ranked = boxes[order].copy()
    if p["class_aware"]:
        ranked[:, :2] += classes[order, None].astype(np.float32) * np.float32(CLASS_OFFSET)
    ious = np.triu(probiou(ranked, ranked), k=1)
    return [int(i) for i in order[~(ious > np.float32(p["iou_threshold"])).any(axis=0)]]


def probiou(a, b):
    """ultralytics' batch_probiou: [N, M] probabilistic IoU of rotated boxes [N, 5] and [M, 5]
    (cx, cy, w, h, angle), in float32 and in its order of operations."""
    import numpy as np

    f = np.float32
    eps = f(1e-7)

    def covariance(boxes):
        a, b, c = boxes[:, 2] ** 2 / f(12), boxes[:, 3] ** 2 / f(12), boxes[:, 4]
        cos, sin = np.cos(c), np.sin(c)
        return a * cos ** 2 + b * sin ** 2, a * sin ** 2 + b * cos ** 2, (a - b) * cos * sin

    x1, y1 = a[:, 0:1], a[:, 1:2]
    x2, y2 = b[None, :, 0], b[None, :, 1]
    a1, b1, c1 = (v[:, None] for v in covariance(a))
    a2, b2, c2 = (v[None] for v in covariance(b))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        denominator = (a1 + a2) * (b1 + b2) - (c1 + c2) ** 2 + eps
        t1 = ((a1 + a2) * (y1 - y2) ** 2 + (b1 + b2) * (x1 - x2) ** 2) / denominator * f(0.25)
        t2 = ((c1 + c2) * (x2 - x1) * (y1 - y2)) / denominator * f(0.5)
        determinants = np.maximum(a1 * b1 - c1 ** 2, f(0)) * np.maximum(a2 * b2 - c2 ** 2, f(0))
        t3 = np.log(((a1 + a2) * (b1 + b2) - (c1 + c2) ** 2) / (f(4) * np.sqrt(determinants) + eps) + eps) * f(0.5)
        distance = np.clip(t1 + t2 + t3, eps, f(100))
        return (f(1) - np.sqrt(f(1) - np.exp(-distance) + eps)).astype(np.float32)


# -- lowering -----------------------------------------------------------------------------------------


class Float32Layers(Layers):
    """nms' layer helpers with float constants in float32 whatever the build's precision: the class offsets
    (up to 7680 x classes) and the probabilistic IoU need float32, as ultralytics computes them."""

    def __init__(self, ctx):
        super().__init__(ctx, "float32")

    def const(self, value, dtype: str | None = None, rank: int = 2, part: str = "constant"):
        np = self.np
        array = np.full((1,) * rank, value) if np.ndim(value) == 0 else np.asarray(value)
        if dtype not in (None, "float32"):
            return self.ctx.literal(array, dtype, part)
        array = np.ascontiguousarray(array, np.float32)
        self.ctx.literals.append(array)  # kept alive until the build returns: trt.Weights does not copy
        layer = self.ctx.label(self.ctx.network.add_constant(array.shape, self.ctx.trt.Weights(array)), part)
        self.ctx.constant_layers[layer.name] = array
        return layer.get_output(0)

    def cast(self, x, dtype, part: str):
        if x.dtype == dtype:
            return x
        return self.ctx.label(self.ctx.network.add_cast(x, dtype), part).get_output(0)

    def to_float32(self, x, part: str):
        return self.cast(x, self.ctx.trt.float32, f"{part}_float32")

    def unary(self, x, operation: str, part: str):
        layer = self.ctx.network.add_unary(x, getattr(self.ctx.trt.UnaryOperation, operation))
        return self.ctx.label(layer, part).get_output(0)

    def column(self, boxes, i: int, part: str):
        """Column ``i`` of boxes [B, M, 5], as [B, M, 1]."""
        index = self.const(self.np.array([i], self.np.int32), "int32", part=f"{part}_index")
        return self.gather(boxes, index, part, axis=2, batched=False)


def offset_by_class(layers, ranked, classes):
    """(cx + c x 7680, cy + c x 7680, w, h, angle) of boxes [B, M, 5] with classes [B, M] int32."""
    offset = layers.binary(layers.to_float32(layers.shuffle(classes, (0, 0, 1), "class_rows"), "class"),
                           layers.const(CLASS_OFFSET, rank=3, part="class_offset"), "PROD", "offset")
    mask = layers.const(layers.np.array([[[1, 1, 0, 0, 0]]], layers.np.float32), part="offset_columns")
    return layers.binary(ranked, layers.binary(offset, mask, "PROD", "offsets"), "SUM", "offset_boxes")


def probiou_matrix(layers, boxes):
    """batch_probiou(boxes, boxes) [B, M, M] in ultralytics' order of operations: rows i, columns j."""
    b = layers.binary
    x, y, w, h, angle = (layers.column(boxes, i, n) for i, n in enumerate(("x", "y", "w", "h", "angle")))
    twelve = layers.const(12.0, rank=3, part="twelve")
    a = b(b(w, w, "PROD", "w2"), twelve, "DIV", "a")
    bb = b(b(h, h, "PROD", "h2"), twelve, "DIV", "b")
    cos, sin = layers.unary(angle, "COS", "cos"), layers.unary(angle, "SIN", "sin")
    cos2, sin2 = b(cos, cos, "PROD", "cos2"), b(sin, sin, "PROD", "sin2")
    ca = b(b(a, cos2, "PROD", "a_cos2"), b(bb, sin2, "PROD", "b_sin2"), "SUM", "cov_a")
    cb = b(b(a, sin2, "PROD", "a_sin2"), b(bb, cos2, "PROD", "b_cos2"), "SUM", "cov_b")
    cc = b(b(b(a, bb, "SUB", "a_minus_b"), cos, "PROD", "ab_cos"), sin, "PROD", "cov_c")

    def across(t, part):  # [B, M, 1] -> [B, 1, M]: the column boxes j
        return layers.shuffle(t, (0, 1, -1), part)

    x2, y2, a2, b2, c2 = (across(t, f"{n}_j") for t, n in ((x, "x"), (y, "y"), (ca, "cov_a"), (cb, "cov_b"),
                                                             (cc, "cov_c")))
    eps, zero = layers.const(1e-7, rank=3, part="eps"), layers.const(0.0, rank=3, part="zero_f")
    sa, sb, sc = b(ca, a2, "SUM", "sum_a"), b(cb, b2, "SUM", "sum_b"), b(cc, c2, "SUM", "sum_c")
    dx, dy = b(x, x2, "SUB", "dx"), b(y, y2, "SUB", "dy")  # x1 - x2, y1 - y2
    spread = b(b(sa, sb, "PROD", "ab"), b(sc, sc, "PROD", "c2"), "SUB", "spread")
    denominator = b(spread, eps, "SUM", "denominator")
    t1 = b(b(b(b(sa, b(dy, dy, "PROD", "dy2"), "PROD", "a_dy2"), b(sb, b(dx, dx, "PROD", "dx2"), "PROD", "b_dx2"),
               "SUM", "t1_top"), denominator, "DIV", "t1_ratio"), layers.const(0.25, rank=3, part="quarter"),
           "PROD", "t1")
    x2_minus_x1 = b(x2, x, "SUB", "x2_minus_x1")
    t2 = b(b(b(b(sc, x2_minus_x1, "PROD", "c_dx"), dy, "PROD", "c_dx_dy"), denominator, "DIV", "t2_ratio"),
           layers.const(0.5, rank=3, part="half"), "PROD", "t2")
    det1 = b(b(b(ca, cb, "PROD", "ab1"), b(cc, cc, "PROD", "cc1"), "SUB", "det1_raw"), zero, "MAX", "det1")
    det2 = b(b(b(a2, b2, "PROD", "ab2"), b(c2, c2, "PROD", "cc2"), "SUB", "det2_raw"), zero, "MAX", "det2")
    root = layers.unary(b(det1, det2, "PROD", "dets"), "SQRT", "root")
    four_root = b(b(layers.const(4.0, rank=3, part="four"), root, "PROD", "four_root"), eps, "SUM", "t3_bottom")
    t3 = b(layers.unary(b(b(spread, four_root, "DIV", "t3_ratio"), eps, "SUM", "t3_inner"), "LOG", "t3_log"),
           layers.const(0.5, rank=3, part="half3"), "PROD", "t3")
    distance = b(b(b(b(t1, t2, "SUM", "t12"), t3, "SUM", "t123"), eps, "MAX", "clip_low"),
                 layers.const(100.0, rank=3, part="hundred"), "MIN", "distance")
    one = layers.const(1.0, rank=3, part="one_f")
    decay = layers.unary(layers.unary(distance, "NEG", "minus_distance"), "EXP", "decay")
    hd = layers.unary(b(b(one, decay, "SUB", "one_minus_decay"), eps, "SUM", "hd_inner"), "SQRT", "hd")
    return b(one, hd, "SUB", "probiou")


def upper_triangle(layers, m: int):
    """[1, M, M] bool: i < j (the upper triangle, fast_nms' triu(diagonal=1))."""
    np = layers.np
    upper = np.triu(np.ones((m, m), np.int32), k=1)[None]
    return layers.binary(layers.const(upper, "int32", part="upper_int"), layers.const(1, "int32", rank=3,
                                                                                       part="one_i"), "EQUAL", "upper")


def unsuppressed(layers, ious, candidate, p):
    """[B, M] bool: a candidate that no higher-ranked candidate overlaps by more than the threshold."""
    over = layers.binary(ious, layers.const(p["iou_threshold"], rank=3, part="iou_threshold"), "GREATER", "over")
    rows = layers.shuffle(candidate, (0, 0, 1), "candidate_rows")  # [B, M, 1]: box i counts only if a candidate
    over = layers.binary(layers.binary(over, upper_triangle(layers, p["max_candidates"]), "AND", "over_upper"),
                         rows, "AND", "over_candidates")
    hits = layers.ctx.label(layers.ctx.network.add_cast(over, layers.ctx.trt.int32), "over_int").get_output(0)
    suppressed = layers.shuffle(layers.reduce(hits, "MAX", 1, "suppressed_rows"), (0, -1), "suppressed_any")  # [B, M]
    free = layers.binary(suppressed, layers.const(0, "int32", part="zero_i"), "EQUAL", "unsuppressed")
    return layers.binary(free, candidate, "AND", "kept")
