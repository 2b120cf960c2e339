"""RMS normalization (torch.nn.RMSNorm): x / sqrt(mean(x^2) + eps) * weight over the last dimensions.

TensorRT's normalization layer always subtracts the mean, so this lowers to its own small graph. The
statistics are computed in float32 whatever the build precision, as PyTorch does for float16 (squares
of activations above 256 overflow float16); only the final product with the weight is in the tensor's
dtype.
"""

from ..params import Bool, Float, Param
from ..tensors import numpy_dtype
from . import register
from .normalization import Normalization, Sizes, in_dtype, trailing

GROUP = "normalization"  # its row in the README's kind table (tools/regenerate.py)


def machine_epsilon(dtype: str) -> float:
    import numpy as np

    return 2.0 ** -7 if dtype == "bfloat16" else float(np.finfo(numpy_dtype(dtype)).eps)


@register
class RmsNorm(Normalization):
    kind = "rms_norm"
    torch = "torch.nn.RMSNorm"
    doc = ("x / sqrt(mean(x^2) + eps) * weight over the last dimensions (normalized_shape). "
           "Weight: weight of normalized_shape (with elementwise_affine).")
    params = {
        "normalized_shape": Param(Sizes(), doc="the last dimensions of the input: one integer or a list"),
        "eps": Param(Float(0.0), None, doc="leave out for the machine epsilon of the input's dtype (PyTorch's default)"),
        "elementwise_affine": Param(Bool(), True, doc="whether the layer has a learned weight"),
    }
    per_channel = False

    def has_bias(self, p):
        return False

    def affine_shape(self, p, x):
        return tuple(p["normalized_shape"]) if p["elementwise_affine"] else None

    def infer_shape(self, node, x):
        trailing(node.params, x)
        return x

    @staticmethod
    def epsilon(p, dtype: str) -> float:
        return machine_epsilon(dtype) if p["eps"] is None else p["eps"]

    def reference(self, node, ctx, x):
        import numpy as np

        t = ctx.types[node.inputs[0]]
        x = x.astype(np.float64)
        mean_square = (x * x).mean(axis=trailing(node.params, t), keepdims=True)
        return self.finish(node, ctx, x / np.sqrt(mean_square + self.epsilon(node.params, t.dtype)))

    def lower(self, node, ctx, x):
        t = ctx.types[node.inputs[0]]
        network, trt = ctx.network, ctx.trt
        operation = trt.ElementWiseOperation
        dtype = x.dtype
        if dtype != trt.float32:
            x = ctx.label(network.add_cast(x, trt.float32), "to_float32").get_output(0)
        mask = sum(1 << axis for axis in trailing(node.params, t))
        square = ctx.label(network.add_elementwise(x, x, operation.PROD), "square").get_output(0)
        mean = ctx.label(network.add_reduce(square, trt.ReduceOperation.AVG, mask, True), "mean").get_output(0)
        eps = self.float32_constant(ctx, self.epsilon(node.params, t.dtype), len(t.shape))
        total = ctx.label(network.add_elementwise(mean, eps, operation.SUM), "plus_eps").get_output(0)
        root = ctx.label(network.add_unary(total, trt.UnaryOperation.SQRT), "sqrt").get_output(0)
        affine = self.affine_shape(node.params, t) is not None
        y = ctx.label(network.add_elementwise(x, root, operation.DIV), "divide" if affine else None).get_output(0)
        if dtype != trt.float32:
            y = ctx.label(network.add_cast(y, dtype), "cast_back" if affine else None).get_output(0)
        if not affine:
            return y
        shape = self.broadcast_shape(node.params["normalized_shape"], len(t.shape))
        weight = in_dtype(ctx, ctx.constant(shape, ctx.array("weight"), f"{node.name}.weight"), t.dtype)
        return ctx.label(network.add_elementwise(y, weight, operation.PROD)).get_output(0)

    @staticmethod
    def float32_constant(ctx, value: float, rank: int):
        """A float32 constant in any build precision (ctx.literal gives float32 tensors the build's)."""
        import numpy as np

        array = np.full((1,) * rank, value, np.float32)
        ctx.literals.append(array)  # trt.Weights does not copy
        return ctx.label(ctx.network.add_constant(array.shape, ctx.trt.Weights(array)), "eps").get_output(0)
