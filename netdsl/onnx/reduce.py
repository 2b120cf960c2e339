"""Reductions, arg-reductions, top-k and cumulative sums."""

from . import Layer, NotExpressible, constant, ints, one_or_list, onnx_op, present, scalar

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


for _op_type, (_kind, _since) in REDUCTIONS.items():
    onnx_op(_op_type, _kind, ("axes", "keepdims", "noop_with_empty_axes"))(reduction(_kind, _since))


def arg_reduction(kind: str):
    def convert(node, attrs, inputs):
        if attrs.get("select_last_index", 0):
            raise NotExpressible("select_last_index (PyTorch returns the first of equal values)")
        return Layer(kind, {"dim": attrs.get("axis", 0), "keepdim": bool(attrs.get("keepdims", 1))})
    return convert


onnx_op("ArgMax", "argmax", ("axis", "keepdims", "select_last_index"))(arg_reduction("argmax"))
onnx_op("ArgMin", "argmin", ("axis", "keepdims", "select_last_index"))(arg_reduction("argmin"))


@onnx_op("TopK", "topk", ("axis", "largest", "sorted", "k"))
def TopK(node, attrs, inputs):
    k = int(scalar(constant(inputs, 1, "K"))) if node.opset >= 10 else attrs["k"]
    params = {"k": k, "dim": attrs.get("axis", -1), "largest": bool(attrs.get("largest", 1)),
              "sorted": bool(attrs.get("sorted", 1))}
    return Layer("topk", params, outputs=["values", "indices"])


@onnx_op("CumSum", "cumsum", ("exclusive", "reverse"))
def CumSum(node, attrs, inputs):
    if attrs.get("exclusive", 0) or attrs.get("reverse", 0):
        raise NotExpressible("CumSum exclusive or reversed (torch.cumsum is neither)")
    return Layer("cumsum", {"dim": int(scalar(constant(inputs, 1, "axis")))})
