"""torch.nn.MultiheadAttention at inference, with its own state_dict names (in_proj_weight, in_proj_bias,
out_proj.weight, out_proj.bias), so that a model that holds one (torchvision's ViT, nn.Transformer*)
binds without renaming. It expands into the projections and scaled_dot_product_attention, whose two
lowerings (`implementation`) it passes on."""

from __future__ import annotations

from types import SimpleNamespace

from ..params import Bool, Choice, Int, Param
from ..tensors import show_shape, show_type
from . import REGISTRY, ShapeError, WeightSlot, register
from .primitive import Composite, Value

GROUP = "linear algebra, attention"  # its row in the README's kind table (tools/regenerate.py)


@register
class MultiheadAttention(Composite):
    kind = "multihead_attention"
    torch = "torch.nn.MultiheadAttention"
    example = {"params": {"embed_dim": 16, "num_heads": 4, "batch_first": True}, "inputs": [[2, 8, 16]]}
    doc = ("Multi-head attention (torch.nn.MultiheadAttention in eval mode, need_weights=False): inputs "
           "[query] (self-attention) or [query, key, value], each [L, N, E] ([N, L, E] with batch_first, [L, E] "
           "unbatched); q, k, v are projected by in_proj_weight [3 * E, E] (and in_proj_bias [3 * E]), split "
           "into num_heads heads, attended by scaled_dot_product_attention and projected by out_proj.weight "
           "[E, E] (and out_proj.bias [E]). `implementation` is the attention's.")
    params = {
        "embed_dim": Param(Int(1), doc="E: the features of query, key and value, and of the output"),
        "num_heads": Param(Int(1), doc="heads of E / num_heads features each"),
        "bias": Param(Bool(), True, doc="in_proj_bias and out_proj.bias"),
        "batch_first": Param(Bool(), False, doc="inputs [N, L, E] rather than PyTorch's default [L, N, E]"),
        "implementation": Param(Choice(("auto", "fused", "matmul")), "auto",
                                doc="of the scaled_dot_product_attention inside"),
    }
    min_inputs = 1
    max_inputs = 3

    def check(self, p, *inputs):
        embed, heads = p["embed_dim"], p["num_heads"]
        if embed % heads:
            raise ShapeError(f"embed_dim {embed} does not divide into {heads} heads", "num_heads",
                             code="invalid-value")
        if len(inputs) == 2:
            raise ShapeError("give [query] for self-attention or [query, key, value], found 2 inputs",
                             code="input-count")
        query = inputs[0]
        for name, t in zip(("query", "key", "value"), inputs):
            if t.rank not in (2, 3) or t.shape[-1] != embed:
                raise ShapeError(f"{name} must be [L, N, {embed}] ([N, L, {embed}] with batch_first, [L, {embed}] "
                                 f"unbatched), found {show_shape(t.shape)}", expected=f"last dimension {embed}",
                                 found=show_shape(t.shape))
            if t.rank != query.rank or t.dtype != query.dtype:
                raise ShapeError(f"query, key and value must have one rank and dtype, found {show_type(query)} and "
                                 f"{show_type(t)}")
        if len(inputs) == 3 and inputs[1].shape != inputs[2].shape:
            raise ShapeError(f"key {show_shape(inputs[1].shape)} and value {show_shape(inputs[2].shape)} must have "
                             "one shape")

    def weight_slots(self, node, *inputs):
        embed = node.params["embed_dim"]
        slots = [WeightSlot("in_proj_weight", (3 * embed, embed)), WeightSlot("in_proj_bias", (3 * embed,)),
                 WeightSlot("out_proj.weight", (embed, embed)), WeightSlot("out_proj.bias", (embed,))]
        return [s for s in slots if node.params["bias"] or not s.name.endswith("bias")]  # the state_dict's order

    def expand(self, node, g, *inputs):
        p = node.params
        self.check(p, *(v.type for v in inputs))
        embed, heads = p["embed_dim"], p["num_heads"]
        batched = [self.batch_first(g, p, v) for v in inputs]
        weight, bias = (self.weight(g, p, slot, inputs[0]) for slot in ("in_proj_weight", "in_proj_bias"))
        if len(batched) == 1:  # self-attention: one product with the packed weight, then q, k, v
            q, k, v = g.chunk(self.project(g, batched[0], weight, bias), chunks=3, dim=-1)
        else:  # rows i * E ... (i + 1) * E of the packed weight and bias project input i
            def part(w, i):
                return None if w is None else g.slice(w, dim=0, start=i * embed, end=(i + 1) * embed)

            q, k, v = (self.project(g, x, part(weight, i), part(bias, i)) for i, x in enumerate(batched))
        q, k, v = (g.transpose(g.reshape(t, shape=[0, 0, heads, -1]), dim0=1, dim1=2) for t in (q, k, v))
        attended = self.attend(g, p, q, k, v)
        merged = g.reshape(g.transpose(attended, dim0=1, dim1=2), shape=[0, 0, embed])
        out = self.project(g, merged, *(self.weight(g, p, slot, inputs[0])
                                        for slot in ("out_proj.weight", "out_proj.bias")))
        if inputs[0].type.rank == 2:
            return g.squeeze(out, dim=0)
        return out if p["batch_first"] else g.transpose(out, dim0=0, dim1=1)

    @staticmethod
    def attend(g, p, q, k, v):
        params = {"implementation": p["implementation"]}
        if g.mode != "trt":
            return g.scaled_dot_product_attention(q, k, v, **params)
        # A nested expansion lowers as its expansion (the matmul path): the attention's own lowering
        # chooses TensorRT's attention layer where `implementation` asks for it.
        attention = REGISTRY["scaled_dot_product_attention"]
        node = SimpleNamespace(name=g.node.name, params=attention.with_defaults(params))
        out = attention.infer_shape(node, q.type, k.type, v.type)
        saved, g.ctx.part = g.ctx.part, "attention"
        try:
            return Value(attention.lower_values(node, g.ctx, q, k, v), out)
        finally:
            g.ctx.part = saved

    @staticmethod
    def batch_first(g, p, x):
        """[N, L, E] from the input's layout."""
        if x.type.rank == 2:
            return g.unsqueeze(x, dim=0)
        return x if p["batch_first"] else g.transpose(x, dim0=0, dim1=1)

    @staticmethod
    def weight(g, p, slot, like):
        """Weight ``slot`` in the dtype of the input (None for a bias the layer does not have)."""
        if slot.endswith("bias") and not p["bias"]:
            return None
        w = g.weight(slot)
        return w if w.type.dtype == like.type.dtype else g.cast(w, dtype=like.type.dtype)

    @staticmethod
    def project(g, x, weight, bias):
        y = g.matmul(x, weight, transpose_b=True)
        return y if bias is None else g.add(y, bias)

    def macs(self, node, out, *inputs):
        """Per sample: the three input projections, q @ k^T, the weighted sum of v, the output projection."""
        embed = node.params["embed_dim"]
        axis = 1 if node.params["batch_first"] and inputs[0].rank == 3 else 0  # the sequence axis
        length, source = inputs[0].shape[axis], inputs[-1].shape[axis]
        if not isinstance(length, int) or not isinstance(source, int):
            return 0
        return (length + 2 * source) * embed * embed + 2 * length * source * embed + length * embed * embed
