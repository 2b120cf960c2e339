"""Piecewise-linear activations beyond activations.py: prelu (learned slopes), thresholded_relu (a
TensorRT activation), and composites of clip, comparisons and casts for PyTorch's hardtanh, shrinks,
threshold and rrelu (at inference)."""

from ..params import Float, Int, MAX_DIM, Param
from . import BATCH, Op, ShapeError, WeightSlot, register, show_shape
from .activations import Activation
from .primitive import Composite

GROUP = "activations"  # its row in the README's kind table (tools/regenerate.py)


@register
class Prelu(Op):
    kind = "prelu"
    torch = "torch.nn.PReLU"
    doc = ("x if x >= 0 else weight * x, with one learned slope or one per channel (dim 1) "
           "(torch.nn.PReLU). Weight: weight [num_parameters].")
    params = {"num_parameters": Param(Int(1, MAX_DIM), 1, doc="1, or the number of channels (dim 1)")}

    def infer_shape(self, node, x):
        count = node.params["num_parameters"]
        if count != 1 and (len(x.shape) < 2 or x.shape[1] != count):
            channels = "no channel dimension" if len(x.shape) < 2 else (
                "a dynamic channel dimension" if x.shape[1] is BATCH else f"{x.shape[1]} channels")
            raise ShapeError(f"num_parameters {count} must be 1 or the channels (dim 1); the input "
                             f"{show_shape(x.shape)} has {channels}", "num_parameters",
                             expected="1 or the channels", found=str(count))
        return x

    def weight_slots(self, node, x):
        return [WeightSlot("weight", (node.params["num_parameters"],))]

    @staticmethod
    def slope_shape(count, rank):
        return (1,) * rank if count == 1 else (1, count) + (1,) * (rank - 2)

    def reference(self, node, ctx, x):
        import numpy as np

        slope = ctx.array("weight").reshape(self.slope_shape(node.params["num_parameters"], x.ndim))
        return np.where(x >= 0, x, slope * x).astype(np.float32)

    def lower(self, node, ctx, x):
        from .normalization import in_dtype

        t = ctx.types[node.inputs[0]]
        shape = self.slope_shape(node.params["num_parameters"], len(t.shape))
        slope = in_dtype(ctx, ctx.constant(shape, ctx.array("weight"), f"{node.name}.weight"), t.dtype)
        return ctx.label(ctx.network.add_parametric_relu(x, slope)).get_output(0)


@register
class ThresholdedRelu(Activation):
    kind = "thresholded_relu"
    trt_type = "THRESHOLDED_RELU"
    torch = "torch.nn.Threshold(alpha, 0)"
    doc = "x if x > alpha else 0 (ONNX ThresholdedRelu; torch.nn.Threshold(alpha, 0))."
    params = {"alpha": Param(Float(), 1.0)}

    def alpha_beta(self, p):
        return p["alpha"], 0.0

    def compute(self, p, out, x):
        import numpy as np

        return np.where(x > p["alpha"], x, 0).astype(np.float32)


@register
class Threshold(Composite):
    kind = "threshold"
    torch = "torch.nn.Threshold"
    doc = "x if x > threshold else value (torch.nn.Threshold)."
    params = {"threshold": Param(Float()), "value": Param(Float())}

    def expand(self, node, g, x):
        threshold, value = node.params["threshold"], node.params["value"]
        kept = g.thresholded_relu(x, alpha=threshold)
        if value == 0:
            return kept
        dtype = x.type.dtype
        # value * (x <= threshold): a 0/1 mask times a finite number, so an infinite x stays itself
        below = g.cast(g.less_equal(x, g.constant(threshold, dtype)), dtype=dtype)
        return g.add(kept, g.mul(below, g.constant(value, dtype)))


@register
class Hardtanh(Composite):
    kind = "hardtanh"
    torch = "torch.nn.Hardtanh"
    doc = "min(max(x, min_val), max_val) (torch.nn.Hardtanh)."
    params = {"min_val": Param(Float(), -1.0), "max_val": Param(Float(), 1.0)}

    def expand(self, node, g, x):
        low, high = node.params["min_val"], node.params["max_val"]
        if low > high:
            raise ShapeError(f"min_val {low:g} is above max_val {high:g}", "min_val", code="invalid-value")
        return g.clip(x, min=low, max=high)


@register
class Softshrink(Composite):
    kind = "softshrink"
    torch = "torch.nn.Softshrink"
    doc = "x - lambd if x > lambd, x + lambd if x < -lambd, else 0 (torch.nn.Softshrink); x - clip(x, -lambd, lambd)."
    params = {"lambd": Param(Float(0.0), 0.5)}

    def expand(self, node, g, x):
        lambd = node.params["lambd"]
        return g.sub(x, g.clip(x, min=-lambd, max=lambd))


@register
class Hardshrink(Composite):
    kind = "hardshrink"
    torch = "torch.nn.Hardshrink"
    doc = "x if |x| > lambd else 0 (torch.nn.Hardshrink)."
    params = {"lambd": Param(Float(), 0.5)}

    def expand(self, node, g, x):
        dtype = x.type.dtype
        # |x| > lambd holds for infinite x, so the 0/1 mask never multiplies an infinity by 0
        outside = g.cast(g.greater(g.abs(x), g.constant(node.params["lambd"], dtype)), dtype=dtype)
        return g.mul(x, outside)


@register
class Rrelu(Composite):
    kind = "rrelu"
    torch = "torch.nn.RReLU (eval)"
    doc = ("Randomized leaky ReLU at inference: leaky_relu with slope (lower + upper) / 2 "
           "(torch.nn.RReLU in eval mode).")
    params = {"lower": Param(Float(), 1.0 / 8), "upper": Param(Float(), 1.0 / 3)}

    def expand(self, node, g, x):
        lower, upper = node.params["lower"], node.params["upper"]
        if lower > upper:
            raise ShapeError(f"lower {lower:g} is above upper {upper:g}", "lower", code="invalid-value")
        return g.leaky_relu(x, negative_slope=(lower + upper) / 2)
