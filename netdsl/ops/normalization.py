"""Normalizations over a tensor's own statistics at inference: layer, group and instance norm.

Each computes (x - mean) / sqrt(var + eps) over some axes (var biased, as PyTorch's), then a learned
scale and shift. TensorRT has a layer for exactly this (INormalizationLayer), which these lower to; by
TensorRT's documentation it computes in float32 even in a float16 network, so float16 builds keep
float32 statistics as PyTorch does. The reference computes the statistics in float64.
"""

from ..params import MAX_DIM, Bool, Float, Int, Param, ParamType, _fail
from ..yamlnodes import Scalar, Seq
from . import BATCH, Op, ShapeError, WeightSlot, register, reshape_dims, show_shape

GROUP = "normalization"  # its row in the README's kind table (tools/regenerate.py)


class Sizes(ParamType):
    """One positive integer or a list of them (PyTorch's ``normalized_shape``); the value is a tuple."""

    def check(self, node):
        item = Int(1, MAX_DIM)
        if isinstance(node, Seq):
            if not 1 <= len(node.items) <= 8:
                _fail("a list of 1 to 8 positive integers", node)
            return tuple(item.check(child) for child in node.items)
        if isinstance(node, Scalar) and type(node.value) is int:
            return (item.check(node),)
        _fail("a positive integer or a list of them", node)

    def schema(self):
        item = {"type": "integer", "minimum": 1}
        return {"anyOf": [item, {"type": "array", "items": item, "minItems": 1, "maxItems": 8}]}

    def show(self, value):
        return str(value[0]) if len(value) == 1 else "[" + ", ".join(map(str, value)) + "]"


def trailing(p, x):
    """Check that ``normalized_shape`` is the input's last dimensions; returns the normalized axes."""
    wanted = tuple(p["normalized_shape"])
    rank = len(x.shape)
    found = tuple(x.shape[rank - len(wanted):]) if len(wanted) <= rank else x.shape
    if found != wanted:
        raise ShapeError(f"normalized_shape {show_shape(wanted)} must be the last dimensions of the input "
                         f"{show_shape(x.shape)}", "normalized_shape", expected=show_shape(wanted),
                         found=show_shape(found),
                         hint="the dynamic batch cannot be normalized over" if BATCH in found else None)
    return tuple(range(rank - len(wanted), rank))


def channels(x, kind: str) -> int:
    if len(x.shape) < 2 or not isinstance(x.shape[1], int):
        raise ShapeError(f"{kind} needs an input [N, C, ...] with a fixed C, found {show_shape(x.shape)}",
                         expected="[N, C, ...]", found=show_shape(x.shape),
                         code="shape-mismatch" if len(x.shape) < 2 else "dynamic-shape")
    return x.shape[1]


def normalized(x, axes, eps: float):
    """(x - mean) / sqrt(var + eps) over ``axes``, in float64."""
    import numpy as np

    x = x.astype(np.float64)
    centred = x - x.mean(axis=axes, keepdims=True)
    return centred / np.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)


def in_dtype(ctx, tensor, dtype: str):
    """A weight tensor (built in the build precision) cast to the dtype of the tensor it meets, for an
    input declared float16 or bfloat16 in a build of another precision."""
    wanted = ctx.trt_dtype(dtype)
    if tensor.dtype == wanted:
        return tensor
    return ctx.label(ctx.network.add_cast(tensor, wanted), f"weight_to_{dtype}").get_output(0)


def has_v2(network) -> bool:
    """TensorRT 10.15+ and TensorRT-RTX take per-channel scale and bias for group norm
    (add_normalization_v2); earlier versions take one per group."""
    return hasattr(network, "add_normalization_v2")


class Normalization(Op):
    """A normalization with a per-channel (dim 1) or per-element affine; subclasses give the axes."""

    per_channel = True  # weight and bias [C] on dim 1; False: the input's last dimensions

    def affine_shape(self, p, x) -> tuple | None:
        """Shape of ``weight`` and ``bias``; None when the layer has none."""
        raise NotImplementedError

    def weight_slots(self, node, x):
        shape = self.affine_shape(node.params, x)
        if shape is None:
            return []
        slots = [WeightSlot("weight", shape)]
        if self.has_bias(node.params):
            slots.append(WeightSlot("bias", shape))
        return slots

    def has_bias(self, p) -> bool:
        return True

    def broadcast_shape(self, shape, rank):
        if len(shape) == 1 and self.per_channel:
            return (1, shape[0]) + (1,) * (rank - 2)
        return (1,) * (rank - len(shape)) + tuple(shape)

    def finish(self, node, ctx, y):
        """The reference's y * weight + bias (those the layer has), in float32."""
        import numpy as np

        shape = self.affine_shape(node.params, ctx.types[node.inputs[0]])
        if shape is not None:
            broadcast = self.broadcast_shape(shape, y.ndim)
            y = y * ctx.array("weight").reshape(broadcast)
            if self.has_bias(node.params):
                y = y + ctx.array("bias").reshape(broadcast)
        return y.astype(np.float32)

    def scale_and_bias(self, node, ctx, x_type, shape):
        """TensorRT scale and bias tensors of ``shape``: the layer's weights (named <layer>.weight and
        <layer>.bias), or ones and zeros."""
        import numpy as np

        has = self.affine_shape(node.params, x_type) is not None
        if has:
            scale = ctx.constant(shape, ctx.array("weight"), f"{node.name}.weight")
        else:
            scale = ctx.literal(np.ones(shape, np.float32), "float32", "ones")
        if has and self.has_bias(node.params):
            bias = ctx.constant(shape, ctx.array("bias"), f"{node.name}.bias")
        else:
            bias = ctx.literal(np.zeros(shape, np.float32), "float32", "zeros")
        return in_dtype(ctx, scale, x_type.dtype), in_dtype(ctx, bias, x_type.dtype)

    def normalization(self, ctx, x, scale, bias, axes, eps, groups=1):
        add = ctx.network.add_normalization_v2 if has_v2(ctx.network) else ctx.network.add_normalization
        layer = add(x, scale, bias, sum(1 << axis for axis in axes))
        layer.epsilon = eps
        if groups != 1:
            layer.num_groups = groups
        return layer


@register
class LayerNorm(Normalization):
    kind = "layer_norm"
    torch = "torch.nn.LayerNorm"
    doc = ("(x - mean) / sqrt(var + eps) * weight + bias over the last dimensions (normalized_shape). "
           "Weights: weight, bias of normalized_shape (with elementwise_affine; bias only with bias).")
    params = {
        "normalized_shape": Param(Sizes(), doc="the last dimensions of the input: one integer or a list"),
        "eps": Param(Float(0.0, low_open=True), 1e-5),
        "elementwise_affine": Param(Bool(), True, doc="whether the layer has a learned weight (and bias)"),
        "bias": Param(Bool(), True, doc="whether the layer has a learned bias (with elementwise_affine)"),
    }
    per_channel = False

    def has_bias(self, p):
        return p["elementwise_affine"] and p["bias"]

    def infer_shape(self, node, x):
        trailing(node.params, x)
        return x

    def affine_shape(self, p, x):
        return tuple(p["normalized_shape"]) if p["elementwise_affine"] else None

    def reference(self, node, ctx, x):
        axes = trailing(node.params, ctx.types[node.inputs[0]])
        return self.finish(node, ctx, normalized(x, axes, node.params["eps"]))

    def lower(self, node, ctx, x):
        t = ctx.types[node.inputs[0]]
        axes = trailing(node.params, t)
        shape = self.broadcast_shape(node.params["normalized_shape"], len(t.shape))
        scale, bias = self.scale_and_bias(node, ctx, t, shape)
        layer = self.normalization(ctx, x, scale, bias, axes, node.params["eps"])
        return ctx.label(layer).get_output(0)


@register
class GroupNorm(Normalization):
    kind = "group_norm"
    torch = "torch.nn.GroupNorm"
    doc = ("The channels (dim 1) in num_groups groups, each normalized over its channels and every "
           "dimension after them, then * weight + bias per channel. Weights: weight, bias [C] (with affine).")
    params = {
        "num_groups": Param(Int(1, MAX_DIM), doc="the number of groups; must divide the channels"),
        "eps": Param(Float(0.0, low_open=True), 1e-5),
        "affine": Param(Bool(), True, doc="whether the layer has a learned weight and bias per channel"),
    }

    def infer_shape(self, node, x):
        c = channels(x, self.kind)
        groups = node.params["num_groups"]
        if c % groups:
            raise ShapeError(f"num_groups {groups} does not divide the {c} channels", "num_groups",
                             expected=f"a divisor of {c}", found=str(groups))
        return x

    def affine_shape(self, p, x):
        return (x.shape[1],) if p["affine"] else None

    def reference(self, node, ctx, x):
        n, groups = x.shape[0], node.params["num_groups"]
        y = normalized(x.reshape(n, groups, -1), (2,), node.params["eps"]).reshape(x.shape)
        return self.finish(node, ctx, y)

    def lower(self, node, ctx, x):
        t = ctx.types[node.inputs[0]]
        rank, c, groups = len(t.shape), t.shape[1], node.params["num_groups"]
        if rank == 2:  # TensorRT needs an axis after the channels to normalize over
            x = self.reshaped(ctx, x, reshape_dims(t.shape) + (1,), "rank3")
        # TensorRT splits the channels into groups only when num_groups != 1 (the operator reference's
        # Normalization); one group is the statistics over the channels as well
        axes = tuple(range(1 if groups == 1 else 2, max(rank, 3)))
        shape = (1, c) + (1,) * (max(rank, 3) - 2)
        if has_v2(ctx.network) or groups in (1, c):
            scale, bias = self.scale_and_bias(node, ctx, t, shape)
            y = ctx.label(self.normalization(ctx, x, scale, bias, axes, node.params["eps"], groups),
                          None if rank > 2 else "normalize").get_output(0)
        else:  # one scale and bias per group in TensorRT before 10.15: ones and zeros, then the affine
            y = self.per_group(node, ctx, x, t, shape, axes, groups)
        return self.reshaped(ctx, y, reshape_dims(t.shape), None) if rank == 2 else y

    def per_group(self, node, ctx, x, t, shape, axes, groups):
        import numpy as np

        unit = (1, groups) + shape[2:]
        ones = in_dtype(ctx, ctx.literal(np.ones(unit, np.float32), "float32", "ones"), t.dtype)
        zeros = in_dtype(ctx, ctx.literal(np.zeros(unit, np.float32), "float32", "zeros"), t.dtype)
        y = ctx.label(self.normalization(ctx, x, ones, zeros, axes, node.params["eps"], groups),
                      "normalize").get_output(0)
        if not node.params["affine"]:
            return y
        scale, bias = self.scale_and_bias(node, ctx, t, shape)
        y = ctx.label(ctx.network.add_elementwise(y, scale, ctx.trt.ElementWiseOperation.PROD), "scale").get_output(0)
        return ctx.label(ctx.network.add_elementwise(y, bias, ctx.trt.ElementWiseOperation.SUM)).get_output(0)

    @staticmethod
    def reshaped(ctx, x, dims, part):
        layer = ctx.network.add_shuffle(x)
        layer.reshape_dims = dims
        return ctx.label(layer, part).get_output(0)


@register
class InstanceNorm(Normalization):
    kind = "instance_norm"
    torch = "torch.nn.InstanceNorm1d/2d/3d"
    doc = ("Each channel of each sample normalized over every dimension after the channels (dim 1), "
           "then * weight + bias per channel with affine (torch.nn.InstanceNorm1d/2d/3d without running "
           "statistics). Weights: weight, bias [C] (with affine).")
    params = {
        "eps": Param(Float(0.0, low_open=True), 1e-5),
        "affine": Param(Bool(), False, doc="whether the layer has a learned weight and bias per channel"),
    }

    def infer_shape(self, node, x):
        channels(x, self.kind)
        if len(x.shape) < 3:
            raise ShapeError(f"instance_norm needs an input [N, C, L, ...] with at least one dimension after "
                             f"the channels, found {show_shape(x.shape)}", expected="rank 3 or more",
                             found=show_shape(x.shape))
        return x

    def affine_shape(self, p, x):
        return (x.shape[1],) if p["affine"] else None

    def reference(self, node, ctx, x):
        y = normalized(x, tuple(range(2, x.ndim)), node.params["eps"])
        return self.finish(node, ctx, y)

    def lower(self, node, ctx, x):
        t = ctx.types[node.inputs[0]]
        rank = len(t.shape)
        scale, bias = self.scale_and_bias(node, ctx, t, (1, t.shape[1]) + (1,) * (rank - 2))
        layer = self.normalization(ctx, x, scale, bias, tuple(range(2, rank)), node.params["eps"])
        return ctx.label(layer).get_output(0)

