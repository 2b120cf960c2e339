"""Reductions, arg-reductions, top-k and cumulative sums."""

from . import Layer, NotExpressible, constant, ints, one_or_list, onnx_op, present, scalar, to_onnx

REDUCTIONS = {"ReduceSum": ("reduce_sum", 13), "ReduceMean": ("reduce_mean", 18), "ReduceMax": ("reduce_max", 18),
              "ReduceMin": ("reduce_min", 18), "ReduceProd": ("reduce_prod", 18)}  # opset: axes became an input


def reduction(kind: str, axes_input_since: int):
    def convert(node, attrs, inputs):
        if node.opset >= axes_input_since:
            axes = ints(constant(inputs, 1, "axes")) if present(inputs, 1) else []
        else:
            axes = list(attrs.get("axes", []))
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return Layer("identity")
            axes = list(range(len(inputs[0].type.shape)))
        return Layer(kind, {"dim": one_or_list(axes), "keepdim": bool(attrs.get("keepdims", 1))})
    return convert


def dims_of(p) -> list[int] | None:
    dim = p["dim"]
    return None if dim is None else list(dim) if isinstance(dim, (list, tuple)) else [dim]


def reduce_to_onnx(op_type: str):
    def export(g, node, x):
        dims = dims_of(node.params)  # no axes input: every axis, as dim null
        axes = [g.ints(dims)] if dims is not None else []
        return g.op(op_type, x, *axes, keepdims=int(node.params["keepdim"]))
    return export


for _op_type, (_kind, _since) in REDUCTIONS.items():
    onnx_op(_op_type, _kind, ("axes", "keepdims", "noop_with_empty_axes"))(reduction(_kind, _since))
    to_onnx(_kind)(reduce_to_onnx(_op_type))


def arg_reduction(kind: str):
    def convert(node, attrs, inputs):
        if attrs.get("select_last_index", 0):
            raise NotExpressible("select_last_index (PyTorch returns the first of equal values)")
        return Layer(kind, {"dim": attrs.get("axis", 0), "keepdim": bool(attrs.get("keepdims", 1))})
    return convert


onnx_op("ArgMax", "argmax", ("axis", "keepdims", "select_last_index"))(arg_reduction("argmax"))
onnx_op("ArgMin", "argmin", ("axis", "keepdims", "select_last_index"))(arg_reduction("argmin"))


def index_dtype(g, indices, t):
    """ONNX's int64 indices in the dtype netdsl gives them (int32, TensorRT's)."""
    from .export import ONNX_DTYPES

    return g.op("Cast", indices, to=ONNX_DTYPES[t.dtype]) if t.dtype != "int64" else indices


def arg_to_onnx(op_type: str):
    def export(g, node, x):
        dim, keepdim = node.params["dim"], int(node.params["keepdim"])
        if dim is None:  # the index into the flattened input, of the input's rank with keepdim
            flat = g.op(op_type, g.op("Reshape", x, g.ints([-1])), axis=0, keepdims=keepdim)
            return index_dtype(g, g.op("Reshape", flat, g.ints(g.out.shape)) if keepdim else flat, g.out)
        return index_dtype(g, g.op(op_type, x, axis=dims_of({"dim": dim})[0], keepdims=keepdim), g.out)
    return export


to_onnx("argmax")(arg_to_onnx("ArgMax"))
to_onnx("argmin")(arg_to_onnx("ArgMin"))


@onnx_op("TopK", "topk", ("axis", "largest", "sorted", "k"))
def TopK(node, attrs, inputs):
    k = int(scalar(constant(inputs, 1, "K"))) if node.opset >= 10 else attrs["k"]
    params = {"k": k, "dim": attrs.get("axis", -1), "largest": bool(attrs.get("largest", 1)),
              "sorted": bool(attrs.get("sorted", 1))}
    return Layer("topk", params, outputs=["values", "indices"])


@to_onnx("topk")
def topk(g, node, x):
    p = node.params
    values, indices = g.op("TopK", x, g.ints([p["k"]]), outputs=2, axis=p["dim"], largest=int(p["largest"]),
                           sorted=1)
    return values, index_dtype(g, indices, g.out[1])


@onnx_op("CumSum", "cumsum", ("exclusive", "reverse"))
def CumSum(node, attrs, inputs):
    if attrs.get("exclusive", 0) or attrs.get("reverse", 0):
        raise NotExpressible("CumSum exclusive or reversed (torch.cumsum is neither)")
    return Layer("cumsum", {"dim": int(scalar(constant(inputs, 1, "axis")))})


to_onnx("cumsum")(lambda g, node, x: g.op("CumSum", x, g.scalar(node.params["dim"], "int64")))
