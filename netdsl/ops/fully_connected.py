"""Fully connected layer, as torch.nn.Linear; inputs of rank above 2 are flattened from dim 1
(torch.flatten(x, 1)), as TensorRT's old fully connected layer and tensorrtx networks do."""

from ..params import Bool, Int, Param
from . import BATCH, Op, ShapeError, TensorType, WeightSlot, per_sample, register, show_shape


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
