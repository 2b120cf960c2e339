"""Fully connected layer, as torch.nn.Linear; inputs of rank above 2 are flattened from dim 1
(torch.flatten(x, 1)), as TensorRT's old fully connected layer and tensorrtx networks do."""

from ..params import Bool, Int, Param
from . import BATCH, Op, ShapeError, TensorType, WeightSlot, per_sample, register, reshape_dims, show_shape

GROUP = "linear algebra, attention"  # its row in the README's kind table (tools/regenerate.py)


@register
class FullyConnected(Op):
    kind = "fully_connected"
    doc = "Fully connected layer (torch.nn.Linear). Weights: weight [out, in], bias [out]."
    params = {
        "out_features": Param(Int(1), doc="number of outputs"),
        "in_features": Param(Int(1), None, doc="optional check: the flattened input size it must equal"),
        "bias": Param(Bool(), True),
    }

    def infer_shape(self, node, x):
        if len(x.shape) < 2:
            raise ShapeError(f"fully_connected needs an input of rank 2 or more, found {show_shape(x.shape)}")
        if any(dim is BATCH for dim in x.shape[1:]):
            raise ShapeError("only the first dimension may be the dynamic batch")
        features = per_sample(x.shape)
        declared = node.params["in_features"]
        if declared is not None and declared != features:
            raise ShapeError(
                f"in_features is {declared}, but the input {show_shape(x.shape)} flattens to {features} "
                "features per sample", "in_features", expected=str(declared), found=str(features))
        return TensorType((x.shape[0], node.params["out_features"]), x.dtype)

    def weight_slots(self, node, x):
        out = node.params["out_features"]
        slots = [WeightSlot("weight", (out, per_sample(x.shape)))]
        if node.params["bias"]:
            slots.append(WeightSlot("bias", (out,)))
        return slots

    def macs(self, node, out, x):
        return per_sample(x.shape) * node.params["out_features"]

    def lower(self, node, ctx, x):
        # TensorRT 10+ has no fully connected layer: flatten, x @ W^T (W a constant [out, in]), + bias [1, out].
        trt, network = ctx.trt, ctx.network
        x_type = ctx.types[node.inputs[0]]
        features, out = per_sample(x_type.shape), node.params["out_features"]
        if len(x_type.shape) != 2:
            flatten = network.add_shuffle(x)
            flatten.reshape_dims = reshape_dims((x_type.shape[0], features))
            x = ctx.label(flatten, "flatten").get_output(0)
        weight = ctx.constant((out, features), ctx.array("weight"), f"{node.name}.weight")
        product = network.add_matrix_multiply(x, trt.MatrixOperation.NONE, weight, trt.MatrixOperation.TRANSPOSE)
        if not node.params["bias"]:
            return ctx.label(product).get_output(0)
        ctx.label(product, "matmul")
        bias = ctx.constant((1, out), ctx.array("bias"), f"{node.name}.bias")
        total = network.add_elementwise(product.get_output(0), bias, trt.ElementWiseOperation.SUM)
        return ctx.label(total).get_output(0)

    def reference(self, node, ctx, x):
        y = x.reshape(x.shape[0], -1) @ ctx.array("weight").T
        return y + ctx.array("bias") if node.params["bias"] else y
