"""The evaluator's handler of each TensorRT layer type, on small networks built directly with the
TensorRT-RTX Python API (including the types netdsl's lowering does not emit yet: reduce, slice, gather,
select, topk, einsum, normalization, cumulative, fill, shape, padding, Q/DQ...), against numpy or
PyTorch. TensorRT's own shape inference of each output must match the evaluator's result."""

import numpy as np
import pytest

trt = pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
F = torch.nn.functional
RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 5, 6)).astype(np.float32)


def evaluate(build, *inputs, outputs=1):
    """``build(network, *input tensors, keep)`` adds layers and returns the output tensor(s); evaluated
    on ``inputs`` (numpy arrays). Returns the evaluator's output arrays."""
    from netdsl.trt import make_logger
    from netdsl.trt.evaluate import Evaluator
    from netdsl.trt.lowering import network_flags

    builder = trt.Builder(make_logger(trt))
    network = builder.create_network(network_flags(trt))
    dtypes = {np.dtype(np.float32): trt.float32, np.dtype(np.int32): trt.int32, np.dtype(np.int64): trt.int64,
              np.dtype(bool): trt.bool}
    tensors = [network.add_input(f"x{i}", dtypes[a.dtype], a.shape) for i, a in enumerate(inputs)]
    keep = []
    result = build(network, *tensors, keep)
    results = result if isinstance(result, tuple) else (result,)
    for tensor in results:
        network.mark_output(tensor)
    got = Evaluator(network).run({f"x{i}": a for i, a in enumerate(inputs)})
    arrays = [got[t.name] for t in results]
    for tensor, array in zip(results, arrays):  # -1: a size only the data decides (NMS, non-zero)
        assert len(tensor.shape) == array.ndim and all(t in (-1, a) for t, a in zip(tensor.shape, array.shape)), \
            (tuple(tensor.shape), array.shape)
    return arrays if len(arrays) > 1 else arrays[0]


def const(network, keep, array):
    array = np.array(array, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
    keep.append(array)
    return network.add_constant(array.shape, trt.Weights(array)).get_output(0)


def close(got, want, tol=1e-5):
    want = want.numpy() if hasattr(want, "numpy") else np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max(initial=0))))


@pytest.mark.parametrize("operation,function", [("SUM", np.sum), ("PROD", np.prod), ("MAX", np.max),
                                                 ("MIN", np.min), ("AVG", np.mean)])
def test_reduce(operation, function):
    got = evaluate(lambda n, x, k: n.add_reduce(x, getattr(trt.ReduceOperation, operation), 0b1010, False)
                   .get_output(0), X)
    close(got, function(X, axis=(1, 3)))


@pytest.mark.parametrize("mode", ["WRAP", "CLAMP", "FILL", "REFLECT"])
def test_slice_modes(mode):
    def build(n, x, keep):
        layer = n.add_slice(x, (0, -1, 4, -2), (2, 4, 3, 5), (1, 1, -2, 2))
        layer.mode = getattr(trt.SampleMode, mode)
        return layer.get_output(0)

    got = evaluate(build, X)
    index = [np.arange(2), -1 + np.arange(4), 4 - 2 * np.arange(3), -2 + 2 * np.arange(5)]
    want = X
    for axis, positions in enumerate(index):
        size = X.shape[axis]
        if mode == "WRAP":
            positions = positions % size
        elif mode == "CLAMP":
            positions = np.clip(positions, 0, size - 1)
        elif mode == "REFLECT":
            period = 2 * (size - 1)
            positions = np.abs(positions) % period
            positions = np.where(positions >= size, period - positions, positions)
        taken = np.take(want, np.clip(positions, 0, size - 1), axis=axis)
        if mode == "FILL":
            inside = ((positions >= 0) & (positions < size)).reshape([-1 if a == axis else 1 for a in range(4)])
            taken = np.where(inside, taken, 0)
        want = taken
    close(got, want)


def test_slice_strict_bounds():
    got = evaluate(lambda n, x, k: n.add_slice(x, (1, 0, 1, 0), (1, 3, 2, 3), (1, 1, 2, 2)).get_output(0), X)
    close(got, X[1:2, :, 1:5:2, 0:6:2])


def test_gather_modes():
    indices = np.array([[2, 0], [-1, 1]], np.int32)
    got = evaluate(lambda n, x, i, k: n.add_gather(x, i, 2).get_output(0), X, indices)
    close(got, np.take(X, indices % 5, axis=2))
    element = RNG.integers(0, 5, (2, 3, 4, 6)).astype(np.int32)

    def build(n, x, i, k):
        layer = n.add_gather_v2(x, i, trt.GatherMode.ELEMENT)
        layer.axis = 2
        return layer.get_output(0)

    close(evaluate(build, X, element), torch.gather(torch.from_numpy(X), 2, torch.from_numpy(element).long()))
    nd = np.array([[[1, 2], [0, 1]]], np.int32)  # [1, 2, 2]: index pairs into axes 0 and 1

    def build_nd(n, x, i, k):
        return n.add_gather_v2(x, i, trt.GatherMode.ND).get_output(0)

    close(evaluate(build_nd, X, nd), np.array([[X[1, 2], X[0, 1]]]))


def test_select_and_comparisons():
    other = RNG.standard_normal(X.shape).astype(np.float32)

    def build(n, a, b, k):
        condition = n.add_elementwise(a, b, trt.ElementWiseOperation.GREATER).get_output(0)
        return n.add_select(condition, a, b).get_output(0)

    close(evaluate(build, X, other), np.maximum(X, other))


@pytest.mark.parametrize("operation", ["MAX", "MIN"])
def test_topk(operation):
    values, indices = evaluate(lambda n, x, k: tuple(
        n.add_topk(x, getattr(trt.TopKOperation, operation), 3, 1 << 3).get_output(i) for i in range(2)), X)
    want = torch.topk(torch.from_numpy(X), 3, dim=3, largest=operation == "MAX")
    close(values, want.values)
    np.testing.assert_array_equal(indices, want.indices.numpy())


def test_einsum_and_matrix_operations():
    a = RNG.standard_normal((2, 4, 3)).astype(np.float32)
    b = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    close(evaluate(lambda n, x, y, k: n.add_einsum([x, y], "bik,bjk->bij").get_output(0), a, b),
          np.einsum("bik,bjk->bij", a, b))
    close(evaluate(lambda n, x, y, k: n.add_matrix_multiply(x, trt.MatrixOperation.NONE, y,
                                                             trt.MatrixOperation.TRANSPOSE).get_output(0), a, b),
          a @ b.transpose(0, 2, 1))
    v = RNG.standard_normal((2, 3)).astype(np.float32)
    close(evaluate(lambda n, x, y, k: n.add_matrix_multiply(x, trt.MatrixOperation.NONE, y,
                                                             trt.MatrixOperation.VECTOR).get_output(0), a, v),
          np.einsum("bik,bk->bi", a, v))


def test_layer_and_group_normalization():
    scale = RNG.standard_normal((1, 1, 1, 6)).astype(np.float32)
    bias = RNG.standard_normal((1, 1, 1, 6)).astype(np.float32)

    def layer_norm(n, x, k):
        return n.add_normalization(x, const(n, k, scale), const(n, k, bias), 1 << 3).get_output(0)

    close(evaluate(layer_norm, X), F.layer_norm(torch.from_numpy(X), (6,), torch.from_numpy(scale.ravel()),
                                                torch.from_numpy(bias.ravel())), 1e-4)
    x = RNG.standard_normal((2, 4, 3, 3)).astype(np.float32)
    gamma = RNG.standard_normal((1, 4, 1, 1)).astype(np.float32)
    beta = RNG.standard_normal((1, 4, 1, 1)).astype(np.float32)

    def group_norm(n, x, k):
        layer = n.add_normalization(x, const(n, k, gamma), const(n, k, beta), 0b1100)
        layer.num_groups = 2
        return layer.get_output(0)

    close(evaluate(group_norm, x), F.group_norm(torch.from_numpy(x), 2, torch.from_numpy(gamma.ravel()),
                                                torch.from_numpy(beta.ravel())), 1e-4)


@pytest.mark.parametrize("exclusive,reverse", [(False, False), (True, False), (False, True), (True, True)])
def test_cumulative(exclusive, reverse):
    def build(n, x, k):
        axis = const(n, k, np.array(2, np.int32))
        return n.add_cumulative(x, axis, trt.CumulativeOperation.SUM, exclusive, reverse).get_output(0)

    y = np.flip(X, 2) if reverse else X
    total = np.cumsum(y, 2) - (y if exclusive else 0)
    close(evaluate(build, X), np.flip(total, 2) if reverse else total)


def test_fill_linspace_shape_and_padding():
    def build(n, x, k):
        static = n.add_fill((4,), trt.FillOperation.LINSPACE, trt.float32)
        static.alpha, static.beta = 1.5, 0.25
        dynamic = n.add_fill((2, 3), trt.FillOperation.LINSPACE, trt.float32)
        dynamic.set_input(1, const(n, k, np.array(1.5, np.float32)))
        dynamic.set_input(2, const(n, k, np.array([10.0, 0.5], np.float32)))
        return static.get_output(0), dynamic.get_output(0)

    static, dynamic = evaluate(build, X)
    close(static, 1.5 + 0.25 * np.arange(4))
    close(dynamic, 1.5 + 10 * np.arange(2)[:, None] + 0.5 * np.arange(3)[None, :])
    np.testing.assert_array_equal(evaluate(lambda n, x, k: n.add_shape(x).get_output(0), X), [2, 3, 5, 6])
    close(evaluate(lambda n, x, k: n.add_padding_nd(x, (1, -1), (0, 2)).get_output(0), X),
          np.pad(X, [(0, 0), (0, 0), (1, 0), (0, 2)])[:, :, :, 1:])


def test_quantize_dequantize_round_trip():
    def build(n, x, k):
        scale = const(n, k, np.array(0.05, np.float32))
        q = n.add_quantize(x, scale, trt.int8).get_output(0)
        return q, n.add_dequantize(q, scale, trt.float32).get_output(0)

    q, dq = evaluate(build, X * 4)
    want = np.clip(np.round(X * 4 / np.float32(0.05)), -128, 127)
    np.testing.assert_array_equal(q, want.astype(np.int8))
    close(dq, want * np.float32(0.05))


def test_squeeze_unsqueeze_shuffle_and_cast():
    def build(n, x, k):
        axes = const(n, k, np.array([0, 3], np.int64))
        grown = n.add_unsqueeze(x, axes).get_output(0)
        back = n.add_squeeze(grown, axes).get_output(0)
        shuffle = n.add_shuffle(back)
        shuffle.first_transpose = (0, 2, 3, 1)
        shuffle.reshape_dims = (0, -1, 3)
        shuffle.second_transpose = (2, 0, 1)
        return n.add_cast(shuffle.get_output(0), trt.int32).get_output(0)

    want = np.trunc((X * 3).transpose(0, 2, 3, 1).reshape(2, -1, 3).transpose(2, 0, 1)).astype(np.int32)
    np.testing.assert_array_equal(evaluate(build, X * 3), want)


ACTIVATIONS = [
    ("RELU", 0, 0, F.relu), ("SIGMOID", 0, 0, torch.sigmoid), ("TANH", 0, 0, torch.tanh),
    ("LEAKY_RELU", 0.1, 0, lambda x: F.leaky_relu(x, 0.1)), ("ELU", 0.7, 0, lambda x: F.elu(x, 0.7)),
    ("SELU", 1.6732632, 1.050701, F.selu), ("SOFTSIGN", 0, 0, F.softsign),
    ("SOFTPLUS", 1, 1, F.softplus), ("CLIP", -0.5, 0.7, lambda x: torch.clamp(x, -0.5, 0.7)),
    ("HARD_SIGMOID", 0.2, 0.5, lambda x: torch.clamp(0.2 * x + 0.5, 0, 1)),
    ("SCALED_TANH", 1.5, 0.5, lambda x: 1.5 * torch.tanh(0.5 * x)),
    ("THRESHOLDED_RELU", 0.3, 0, lambda x: torch.where(x > 0.3, x, 0)),
    ("GELU_ERF", 0, 0, F.gelu), ("GELU_TANH", 0, 0, lambda x: F.gelu(x, approximate="tanh")),
]


@pytest.mark.parametrize("kind,alpha,beta,oracle", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations(kind, alpha, beta, oracle):
    def build(n, x, k):
        layer = n.add_activation(x, getattr(trt.ActivationType, kind))
        layer.alpha, layer.beta = alpha, beta
        return layer.get_output(0)

    close(evaluate(build, X * 3), oracle(torch.from_numpy(X * 3)), 1e-5)


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER"])
def test_pooling_same_modes_and_blend(mode):
    def build(n, x, k):
        layer = n.add_pooling_nd(x, trt.PoolingType.MAX_AVERAGE_BLEND, (2, 3))
        layer.stride_nd = (2, 2)
        layer.padding_mode = getattr(trt.PaddingMode, mode)
        layer.blend_factor = 0.25
        return layer.get_output(0)

    # out = ceil(in / stride); total padding 1 (height) and 1 (width): after (UPPER) or before (LOWER)
    pads = (0, 1, 0, 1) if mode == "SAME_UPPER" else (1, 0, 1, 0)
    t = torch.from_numpy(X)
    maximum = F.max_pool2d(F.pad(t, pads, value=-float("inf")), (2, 3), 2)
    average = F.avg_pool2d(F.pad(t, pads), (2, 3), 2, divisor_override=None)
    cells = F.avg_pool2d(F.pad(torch.ones_like(t), pads), (2, 3), 2)  # average over real cells only
    close(evaluate(build, X), 0.75 * maximum + 0.25 * average / cells)


@pytest.mark.parametrize("rounding", ["FLOOR", "CEIL", "HALF_UP", "HALF_DOWN"])
def test_resize_nearest_rounding(rounding):
    def build(n, x, k):
        layer = n.add_resize(x)
        layer.shape = (2, 3, 7, 4)
        layer.resize_mode = trt.InterpolationMode.NEAREST
        layer.coordinate_transformation = trt.ResizeCoordinateTransformation.HALF_PIXEL
        layer.nearest_rounding = getattr(trt.ResizeRoundMode, rounding)
        return layer.get_output(0)

    def index(size, out):
        source = (np.arange(out) + 0.5) * size / out - 0.5
        rounded = {"FLOOR": np.floor, "CEIL": np.ceil, "HALF_UP": lambda v: np.floor(v + 0.5),
                   "HALF_DOWN": lambda v: np.ceil(v - 0.5)}[rounding](source)
        return np.clip(rounded, 0, size - 1).astype(int)

    close(evaluate(build, X), X[:, :, index(5, 7)][:, :, :, index(6, 4)])


@pytest.mark.parametrize("exclude_outside", [False, True])
def test_resize_cubic(exclude_outside):
    # ONNX's reference Resize with `sizes` (its scale is then out / in, as TensorRT's lengths) and the
    # same cubic_coeff_a and exclude_outside
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    def build(n, x, k):
        layer = n.add_resize(x)
        layer.shape = (2, 3, 9, 4)
        layer.resize_mode = trt.InterpolationMode.CUBIC
        layer.coordinate_transformation = trt.ResizeCoordinateTransformation.HALF_PIXEL
        layer.cubic_coeff = -0.5
        layer.exclude_outside = exclude_outside
        return layer.get_output(0)

    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="cubic", cubic_coeff_a=-0.5,
                            exclude_outside=int(exclude_outside), coordinate_transformation_mode="half_pixel")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, X.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [helper.make_tensor("sizes", TensorProto.INT64, [4], [2, 3, 9, 4])])
    [want] = ReferenceEvaluator(helper.make_model(graph)).run(None, {"x": X})
    close(evaluate(build, X), want)


@pytest.mark.parametrize("causal", ["NONE", "UPPER_LEFT", "LOWER_RIGHT"])
def test_attention(causal):
    # grouped heads (4 query heads over 2 key/value heads), no scale inside the layer
    q = RNG.standard_normal((2, 4, 3, 8)).astype(np.float32)
    kv = RNG.standard_normal((2, 2, 5, 8)).astype(np.float32)
    v = RNG.standard_normal((2, 2, 5, 8)).astype(np.float32)

    def build(n, q, k, v, keep):
        layer = n.add_attention_v2(q, k, v, trt.AttentionNormalizationOp.SOFTMAX, getattr(trt.CausalMaskKind, causal))
        layer.decomposable = True
        return layer.get_output(0)

    allowed = np.arange(5)[None, :] <= np.arange(3)[:, None] + {"UPPER_LEFT": 0, "LOWER_RIGHT": 2}.get(causal, 5)
    want = F.scaled_dot_product_attention(torch.from_numpy(q), torch.from_numpy(kv).repeat_interleave(2, 1),
                                          torch.from_numpy(v).repeat_interleave(2, 1),
                                          attn_mask=torch.from_numpy(allowed), scale=1.0)
    close(evaluate(build, q, kv, v), want, 1e-4)


def test_attention_masks():
    q, k, v = (RNG.standard_normal((1, 2, 3, 4)).astype(np.float32) for _ in range(3))
    added = RNG.standard_normal((1, 1, 3, 3)).astype(np.float32)
    allowed = np.array([[True, False, True], [False, True, True], [True, True, False]])

    def build(operation):
        def add(n, q, k, v, m, keep):
            layer = n.add_attention_v2(q, k, v, operation, trt.CausalMaskKind.NONE)
            layer.decomposable = True
            layer.mask = m
            return layer.get_output(0)
        return add

    t = [torch.from_numpy(a) for a in (q, k, v)]
    close(evaluate(build(trt.AttentionNormalizationOp.SOFTMAX), q, k, v, added),
          F.scaled_dot_product_attention(*t, attn_mask=torch.from_numpy(added), scale=1.0), 1e-4)
    close(evaluate(build(trt.AttentionNormalizationOp.SOFTMAX), q, k, v, allowed[None, None]),
          F.scaled_dot_product_attention(*t, attn_mask=torch.from_numpy(allowed), scale=1.0), 1e-4)
    close(evaluate(build(trt.AttentionNormalizationOp.NONE), q, k, v, added),
          (t[0] @ t[1].transpose(-1, -2) + torch.from_numpy(added)) @ t[2], 1e-4)


def test_scatter_nd_and_element():
    data = RNG.standard_normal((3, 4, 2)).astype(np.float32)
    pairs = np.array([[0, 1], [2, 3], [1, 0]], np.int32)
    updates = RNG.standard_normal((3, 2)).astype(np.float32)
    got = evaluate(lambda n, x, i, u, k: n.add_scatter(x, i, u, trt.ScatterMode.ND).get_output(0), data, pairs, updates)
    want = torch.from_numpy(data.copy()).index_put_(tuple(torch.from_numpy(pairs.T).long()), torch.from_numpy(updates))
    close(got, want)
    index = np.array([[[3, 0], [1, 2]], [[0, 0], [2, 1]], [[1, 3], [0, 2]]], np.int32)  # along axis 1, no repeats

    def build(n, x, i, u, k):
        layer = n.add_scatter(x, i, u, trt.ScatterMode.ELEMENT)
        layer.axis = 1
        return layer.get_output(0)

    values = RNG.standard_normal(index.shape).astype(np.float32)
    want = torch.from_numpy(data.copy()).scatter_(1, torch.from_numpy(index).long(), torch.from_numpy(values))
    close(evaluate(build, data, index, values), want)


def test_gather_per_item_of_the_leading_axis():
    data = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    index = np.array([[4, 0, 4, 1], [2, 3, 0, 0]], np.int32)

    def build(n, x, i, k):
        layer = n.add_gather(x, i, 1)
        layer.num_elementwise_dims = 1
        return layer.get_output(0)

    want = torch.from_numpy(data)[torch.arange(2)[:, None], torch.from_numpy(index).long()]
    close(evaluate(build, data, index), want)


def nms_inputs(batch=2, count=60, classes=3, seed=3):
    """Integer centers and sizes, crowded, and distinct scores for every (box, class) pair (see
    tests/opcases/nms.py for why)."""
    rng = np.random.default_rng(seed)
    boxes = np.concatenate([rng.integers(0, 80, (batch, count, 2)), rng.integers(6, 30, (batch, count, 2))], -1)
    scores = rng.permutation(batch * count * classes).reshape(batch, count, classes) / (batch * count * classes)
    return boxes.astype(np.float32), scores.astype(np.float32)


def run_nms(boxes, scores, per_class, candidates=5000, box_format="CENTER_SIZES", iou=0.45, score=0.25):
    def build(n, b, s, k):
        layer = n.add_nms(b, s, const(n, k, np.array(per_class, np.int32)))
        layer.bounding_box_format = getattr(trt.BoundingBoxFormat, box_format)
        layer.topk_box_limit = candidates
        layer.set_input(3, const(n, k, np.array(iou, np.float32)))
        layer.set_input(4, const(n, k, np.array(score, np.float32)))
        return layer.get_output(0), layer.get_output(1)

    selected, count = evaluate(build, boxes, scores)
    assert selected.dtype == np.int32 and count == len(selected)
    return selected


@pytest.mark.parametrize("per_class,candidates", [(1000, 5000), (2, 5000), (1000, 25)])
def test_nms_against_ultralytics_per_class(per_class, candidates):
    """INMSLayer (every class of every box a candidate, suppression within a class) is ultralytics'
    multi-label NMS; at most per_class per class, and topk_box_limit is ultralytics' max_nms."""
    from opcases.nms import ultralytics_non_max_suppression

    non_max_suppression = ultralytics_non_max_suppression()
    boxes, scores = nms_inputs()
    selected = run_nms(boxes, scores, per_class, candidates)
    prediction = torch.from_numpy(np.concatenate([boxes, scores], -1).transpose(0, 2, 1).copy())
    found = non_max_suppression(prediction, 0.25, 0.45, multi_label=True, max_det=10000, max_nms=candidates)
    for b, rows in enumerate(found):
        ours = selected[selected[:, 0] == b]
        counts = {}
        keep = [counts.setdefault(int(c), []).append(1) or len(counts[int(c)]) <= per_class for c in rows[:, 5]]
        rows = rows[torch.tensor(keep, dtype=torch.bool)].numpy()
        assert len(ours) == len(rows) > 0
        np.testing.assert_array_equal(ours[:, 1], rows[:, 5].astype(np.int32))
        np.testing.assert_array_equal(scores[b, ours[:, 2], ours[:, 1]], rows[:, 4])
        center, size = boxes[b, ours[:, 2], :2], boxes[b, ours[:, 2], 2:] / 2
        np.testing.assert_array_equal(np.concatenate([center - size, center + size], 1), rows[:, :4])


def test_nms_box_formats_and_thresholds():
    boxes, scores = nms_inputs(batch=1, seed=4)
    half = boxes[..., 2:] / 2
    corners = np.concatenate([boxes[..., :2] + half, boxes[..., :2] - half], -1)  # the other two corners
    centered = run_nms(boxes, scores, 50)
    np.testing.assert_array_equal(run_nms(corners, scores, 50, box_format="CORNER_PAIRS"), centered)
    assert len(run_nms(boxes, scores, 50, iou=1.0)) == (scores > 0.25).sum()  # no IoU is above 1
    assert len(run_nms(boxes, scores, 50, score=1.0)) == 0
    assert len(centered) < (scores > 0.25).sum()


def test_unknown_layer_type_is_named():
    from netdsl.trt.evaluate import Unsupported

    def build(n, x, k):
        return n.add_reverse_sequence(x, const(n, k, np.array([3, 2], np.int32))).get_output(0)

    with pytest.raises(Unsupported, match="REVERSE_SEQUENCE"):
        evaluate(build, RNG.standard_normal((4, 2, 3)).astype(np.float32))
