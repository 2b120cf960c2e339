"""Batch normalization at inference, as torch.nn.BatchNorm1d/2d/3d in eval mode."""

from ..params import Float, Param
from . import BATCH, Op, ShapeError, WeightSlot, register, show_shape

GROUP = "normalization"  # its row in the README's kind table (tools/regenerate.py)


def fold(gamma, beta, mean, var, eps: float):
    """Batch norm as one multiply-add per channel: (scale, shift) with y = x * scale + shift. Refit
    derives the same weights again with this function."""
    import numpy as np

    scale = (gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps))
    shift = beta.astype(np.float64) - mean.astype(np.float64) * scale
    return scale.astype(np.float32), shift.astype(np.float32)


SLOTS = ("weight", "bias", "running_mean", "running_var")


def folded_into(ctx, layer, batch_norm, has_bias: bool):
    """TensorRT weights of ``layer`` (a convolution whose only consumer is ``batch_norm``) with the batch
    norm folded in: ``(weight * scale, bias * scale + shift)`` per output channel (float32 products),
    named ``<layer>.weight`` and ``<layer>.bias``, derived from both layers' bound weights. Refit lowers
    again and so derives them again with this function."""
    import numpy as np

    scale, shift = fold(*(ctx.bound[f"{batch_norm.name}.{slot}"].array for slot in SLOTS),
                        batch_norm.params["eps"])
    weight = ctx.bound[f"{layer.name}.weight"].array
    bias = shift if not has_bias else np.add(
        np.multiply(ctx.bound[f"{layer.name}.bias"].array, scale, dtype=np.float32), shift, dtype=np.float32)
    sources = (f"{layer.name}.weight", *((f"{layer.name}.bias",) if has_bias else ()),
               *(f"{batch_norm.name}.{slot}" for slot in SLOTS))
    # weight * scale per output channel, a float32 product, made by the build's conversion in the same pass
    return (ctx.trt_weights(weight, f"{layer.name}.weight", sources, row_scale=scale),
            ctx.trt_weights(bias, f"{layer.name}.bias", sources))


@register
class BatchNorm(Op):
    kind = "batch_norm"
    torch = "torch.nn.BatchNorm1d/2d/3d (eval)"
    doc = ("(x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel (dim 1) of an input "
           "[N, C, ...] of any rank from 2 (torch.nn.BatchNorm1d/2d/3d in eval mode). "
           "Weights: weight, bias, running_mean, running_var [C].")
    params = {"eps": Param(Float(0.0, low_open=True), 1e-5)}
    weight_only_params = ("eps",)  # folded into <layer>.scale, which a refit derives again

    def infer_shape(self, node, x):
        if len(x.shape) < 2 or x.shape[1] is BATCH:
            raise ShapeError(f"batch_norm needs an input [N, C, ...], found {show_shape(x.shape)}")
        return x

    def weight_slots(self, node, x):
        c = x.shape[1]
        return [WeightSlot("weight", (c,)), WeightSlot("bias", (c,)),
                WeightSlot("running_mean", (c,), trainable=False), WeightSlot("running_var", (c,), trainable=False)]

    def lower(self, node, ctx, x):
        if node.name in ctx.folded_batch_norms:
            return x  # the preceding convolution's weights carry it (folded_into)
        # The derived weights are in the build's precision (what refit gives again); an input declared in
        # another float dtype is cast to it and back.
        dtype = x.dtype
        if dtype != ctx.dtype:
            x = ctx.label(ctx.network.add_cast(x, ctx.dtype), f"to_{ctx.precision}").get_output(0)
        y = self.scale_shift(node, ctx, x)
        if dtype != ctx.dtype:
            y = ctx.label(ctx.network.add_cast(y, dtype), "cast_back").get_output(0)
        return y

    def scale_shift(self, node, ctx, x):
        # Folded into TensorRT's per-channel scale layer; its weights are derived, named <layer>.scale and
        # <layer>.shift (the four bound weights are not in the engine).
        scale, shift = fold(ctx.array("weight"), ctx.array("bias"), ctx.array("running_mean"),
                            ctx.array("running_var"), node.params["eps"])
        rank = len(ctx.types[node.inputs[0]].shape)
        sources = ("weight", "bias", "running_mean", "running_var")
        if rank >= 3:
            layer = ctx.network.add_scale_nd(x, ctx.trt.ScaleMode.CHANNEL, ctx.derived("shift", shift, sources),
                                             ctx.derived("scale", scale, sources), ctx.empty(), 1)
            return ctx.label(layer).get_output(0)
        shape = (1, scale.size)  # [N, C]: a multiply and an add with broadcast constants
        derived = tuple(f"{node.name}.{s}" for s in sources)
        product = ctx.network.add_elementwise(x, ctx.constant(shape, scale, f"{node.name}.scale", derived),
                                              ctx.trt.ElementWiseOperation.PROD)
        ctx.label(product, "scale")
        total = ctx.network.add_elementwise(product.get_output(0),
                                            ctx.constant(shape, shift, f"{node.name}.shift", derived),
                                            ctx.trt.ElementWiseOperation.SUM)
        return ctx.label(total).get_output(0)

    def reference(self, node, ctx, x):
        import numpy as np

        scale, shift = fold(ctx.array("weight"), ctx.array("bias"), ctx.array("running_mean"),
                            ctx.array("running_var"), node.params["eps"])
        shape = (1, -1) + (1,) * (x.ndim - 2)
        # x * scale + shift, in x's buffer when x dies here (the same float32 operations either way)
        result = np.multiply(x, scale.reshape(shape), out=x if ctx.reusable(0) else None)
        result += shift.reshape(shape)
        return result
