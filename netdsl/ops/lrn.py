"""Local response normalization across channels (torch.nn.LocalResponseNorm)."""

from ..params import Float, Int, Param
from . import Op, ShapeError, register, show_shape

GROUP = "convolution, pooling"  # its row in the README's kind table (tools/regenerate.py)


@register
class LRN(Op):
    kind = "lrn"
    doc = ("Local response normalization across `size` neighbouring channels (torch.nn.LocalResponseNorm): "
           "x / (k + alpha / size * sum(x^2)) ^ beta.")
    # TensorRT accepts windows of 1 to 15 channels, odd sizes only, beta in [0.01, 1e5], k in [1e-5, 1e10].
    params = {
        "size": Param(Int(1, 15), doc="channels in the window: odd, 1 to 15"),
        "alpha": Param(Float(-1e20, 1e20), 1e-4),
        "beta": Param(Float(0.01, 1e5), 0.75),
        "k": Param(Float(1e-5, 1e10), 1.0),
    }

    def infer_shape(self, node, x):
        if node.params["size"] % 2 == 0:
            raise ShapeError(f"size {node.params['size']} is even; TensorRT needs an odd window", "size",
                             code="invalid-value")
        if len(x.shape) != 4:
            # TensorRT's LRN fails to build on rank 3 ("Could not get tensor shape"), and on rank 5 it
            # normalizes over the third axis from the end, where PyTorch uses the channels (axis 1)
            raise ShapeError(f"lrn needs an input [N, C, H, W], found {show_shape(x.shape)}",
                             hint="TensorRT's LRN layer normalizes across the channels of a rank-4 tensor only; "
                             "reshape to [N, C, H, W] first", expected="rank 4", found=f"rank {len(x.shape)}")
        return x

    def lower(self, node, ctx, x):
        p = node.params
        return ctx.label(ctx.network.add_lrn(x, p["size"], p["alpha"], p["beta"], p["k"])).get_output(0)

    def reference(self, node, ctx, x):
        # Across channels, the window centred on each one (size // 2 before, (size - 1) // 2 after).
        import numpy as np

        p = node.params
        squared = np.pad(x * x, ((0, 0), (p["size"] // 2, (p["size"] - 1) // 2)) + ((0, 0),) * (x.ndim - 2))
        total = sum(squared[:, i:i + x.shape[1]] for i in range(p["size"]))
        return x / (p["k"] + p["alpha"] / p["size"] * total) ** p["beta"]
