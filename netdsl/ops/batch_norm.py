"""Batch normalization at inference, as torch.nn.BatchNorm2d in eval mode."""

from ..params import Float, Param
from . import BATCH, Op, ShapeError, WeightSlot, register, show_shape


@register
class BatchNorm(Op):
    kind = "batch_norm"
    doc = ("(x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel (dim 1) "
           "(torch.nn.BatchNorm1d/2d in eval mode). Weights: weight, bias, running_mean, running_var [C].")
    params = {"eps": Param(Float(0.0, low_open=True), 1e-5)}

    def infer_shape(self, node, x):
        if len(x.shape) < 2 or x.shape[1] is BATCH:
            raise ShapeError(f"batch_norm needs an input [N, C, ...], found {show_shape(x.shape)}")
        return x

    def weight_slots(self, node, x):
        c = x.shape[1]
        return [WeightSlot("weight", (c,)), WeightSlot("bias", (c,)),
                WeightSlot("running_mean", (c,), trainable=False), WeightSlot("running_var", (c,), trainable=False)]

