"""Scaled dot-product attention (torch.nn.functional.scaled_dot_product_attention) on [B, heads, L, E]
tensors. Its expansion (scale, matmul, mask, softmax, matmul) is the reference and the default
lowering; TensorRT's attention layer (fused kernels where the GPU has them) is the other lowering."""

from __future__ import annotations

import math

from ..params import Bool, Choice, Float, Param
from ..tensors import FLOAT_DTYPES, TensorType, show_shape, show_type
from . import ShapeError, register
from .matmul import product_macs
from .primitive import Builder, Composite, Value

GROUP = "linear algebra, attention"  # its row in the README's kind table (tools/regenerate.py)

# What masked positions get before the softmax: float16's lowest value, which every float type holds
# (-inf cannot be a float16 weight here), and whose exp() is exactly 0 next to any allowed score. A row
# with every position masked comes out uniform, where torch gives NaN.
MASKED = -65504.0


@register
class ScaledDotProductAttention(Composite):
    kind = "scaled_dot_product_attention"
    torch = "torch.nn.functional.scaled_dot_product_attention"
    doc = ("softmax(q @ k^T * scale + mask) @ v over inputs [q, k, v] or [q, k, v, attn_mask], q [B, heads, L, E], "
           "k [B, heads, S, E], v [B, heads, S, Ev]. A bool mask marks the positions that may be attended; a float "
           "mask is added. implementation: matmul (the expansion), fused (TensorRT's attention layer), auto "
           "(fused where the TensorRT has it and the shapes allow).")
    params = {
        "is_causal": Param(Bool(), False, doc="position i attends positions up to i (top-left aligned, as torch)"),
        "scale": Param(Float(), None, doc="the factor on q @ k^T; default 1 / sqrt(E)"),
        "implementation": Param(Choice(("auto", "fused", "matmul")), "auto"),
    }
    min_inputs = 3
    max_inputs = 4
    dtypes = None

    def check(self, p, q, k, v, mask=None) -> None:
        for name, t in (("q", q), ("k", k), ("v", v)):
            if t.rank != 4:
                raise ShapeError(f"{name} must be [B, heads, length, features], found {show_shape(t.shape)}")
            if t.dtype != q.dtype or t.dtype not in FLOAT_DTYPES:
                raise ShapeError(f"q, k and v must have one float dtype, found {show_type(q)}, {show_type(k)}, "
                                 f"{show_type(v)}", code="wrong-dtype")
        if k.shape[3] != q.shape[3] or k.shape[2] != v.shape[2]:
            raise ShapeError(f"k {show_shape(k.shape)} must have q's features ({q.shape[3]}) and v's length "
                             f"({v.shape[2]})", expected=f"[.., .., {v.shape[2]}, {q.shape[3]}]", found=show_shape(k.shape))
        if mask is not None:
            if mask.dtype not in ("bool", q.dtype):
                raise ShapeError(f"attn_mask must be bool or {q.dtype} like q, found {show_type(mask)}", code="wrong-dtype")
            if not 2 <= mask.rank <= 4:
                raise ShapeError(f"attn_mask must have rank 2 to 4 (it broadcasts to [B, heads, L, S]), found "
                                 f"{show_shape(mask.shape)}")
            if p["is_causal"]:
                raise ShapeError("give attn_mask or is_causal, not both (as torch)", "is_causal", code="invalid-value")

    def expand(self, node, g, q, k, v, mask=None):
        p = node.params
        self.check(p, q.type, k.type, v.type, mask.type if mask is not None else None)
        scaled = g.mul(q, g.constant(self.scale(p, q.type), q.type.dtype))
        scores = g.matmul(scaled, k, transpose_b=True)
        length, source = q.type.shape[2], k.type.shape[2]
        if p["is_causal"]:
            import numpy as np

            mask = g.constant(np.tril(np.ones((length, source), bool)), "bool")
        if mask is not None and mask.type.dtype == "bool":
            scores = g.where(mask, scores, g.constant(MASKED, q.type.dtype))
        elif mask is not None:
            scores = g.add(scores, mask)
        return g.matmul(g.softmax(scores, axis=-1), v)

    @staticmethod
    def scale(p, q: TensorType) -> float:
        return p["scale"] if p["scale"] is not None else 1.0 / math.sqrt(q.shape[3])

    def not_fusable(self, q, k, v, mask=None) -> str | None:
        """Why TensorRT's attention layer cannot compute this (None: it can)."""
        if k.shape != v.shape:
            return f"it needs k and v of one shape, found {show_shape(k.shape)} and {show_shape(v.shape)}"
        if k.shape[0] != q.shape[0]:
            return "it does not broadcast the batch dimension of q, k and v"
        if k.shape[1] not in (q.shape[1], 1):
            return f"k and v need q's {q.shape[1]} heads or 1, found {k.shape[1]}"
        if mask is not None and (mask.rank > 4 or tuple(mask.shape[-2:]) != (q.shape[2], k.shape[2])):
            return f"its mask must end in [L, S] = [{q.shape[2]}, {k.shape[2]}], found {show_shape(mask.shape)}"
        return None

    def infer_shape(self, node, *inputs):
        out = super().infer_shape(node, *inputs)
        reason = self.not_fusable(*inputs)
        if node.params["implementation"] == "fused" and reason:
            raise ShapeError(f"implementation fused: TensorRT's attention layer cannot take these inputs: {reason}",
                             "implementation", code="invalid-value", hint="use implementation: matmul or auto")
        return out

    def lower(self, node, ctx, *tensors):
        return self.lower_values(node, ctx, *map(Value, tensors, (ctx.types[name] for name in node.inputs)))

    def lower_values(self, node, ctx, *values):
        """The lowering on Values: also for kinds that expand into attention (multihead_attention), whose
        nested expansion would otherwise always take the matmul path."""
        types = [v.type for v in values]
        has_layer = hasattr(ctx.network, "add_attention_v2") or hasattr(ctx.network, "add_attention")
        wanted = node.params["implementation"]
        if wanted == "fused" and not has_layer:
            from ..diagnostics import NetdslError

            raise NetdslError(f"layer `{node.name}`: implementation fused needs TensorRT's attention layer, which "
                              "this TensorRT does not have; use implementation: matmul or auto")
        if wanted == "matmul" or not has_layer or self.not_fusable(*types):
            return self.expand(node, Builder("trt", node, ctx), *values).data
        return self.fused(node, ctx, [v.data for v in values], types)

    def fused(self, node, ctx, tensors, types):
        trt, network = ctx.trt, ctx.network
        g = Builder("trt", node, ctx)
        q = g.mul(Value(tensors[0], types[0]), g.constant(self.scale(node.params, types[0]), types[0].dtype))
        softmax = trt.AttentionNormalizationOp.SOFTMAX
        if hasattr(network, "add_attention_v2"):
            kind = trt.CausalMaskKind.UPPER_LEFT if node.params["is_causal"] else trt.CausalMaskKind.NONE
            layer = network.add_attention_v2(q.data, tensors[1], tensors[2], softmax, kind)
        else:
            layer = network.add_attention(q.data, tensors[1], tensors[2], softmax, node.params["is_causal"])
        layer.decomposable = True  # where no fused kernel fits (or none is targeted), TensorRT may split it
        if len(tensors) == 4:
            layer.mask = ctx.expand_rank(tensors[3], types[3], 4)
        ctx.label(layer, "attention")
        return layer.get_output(0)

    def macs(self, node, out, q, k, v, *mask):
        scores = TensorType(out.shape[:3] + (k.shape[2],), out.dtype)
        return product_macs(scores, q.shape[3]) + product_macs(out, k.shape[2])
