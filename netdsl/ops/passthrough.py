"""Layers that compute nothing at inference: identity, and dropout (kept so that a PyTorch model's
layer list and indices, such as torchvision's `classifier.0`, can be written as they are)."""

from ..params import Float, Param
from . import Op, register

GROUP = "dtype, constants, no-ops"  # its row in the README's kind table (tools/regenerate.py)


@register
class Identity(Op):
    kind = "identity"
    doc = "Passes its input through (torch.nn.Identity)."

    def infer_shape(self, node, x):
        return x

    def reference(self, node, ctx, x):
        return x

    def lower(self, node, ctx, x):
        return x  # the lowering gives it an identity layer of its own name


@register
class Dropout(Identity):
    kind = "dropout"
    doc = "A no-op at inference (torch.nn.Dropout); `p` is accepted and ignored."
    params = {"p": Param(Float(0.0, 1.0), 0.5)}
