import torch
from torch import nn

from opcases import Case


def mha(embed_dim, num_heads, bias=True, batch_first=False):
    """torch.nn.MultiheadAttention itself, loaded with the layer's weights by their state_dict names."""
    def run(*inputs, w):
        module = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=batch_first).eval()
        module.load_state_dict(w, strict=True)
        query, key, value = inputs if len(inputs) == 3 else inputs * 3
        return module(query, key, value, need_weights=False)[0]
    return run


CASES = [
    # torchvision's ViT: self-attention, batch first, both lowerings of the attention inside
    *(Case("multihead_attention", {"embed_dim": 16, "num_heads": 4, "batch_first": True, "implementation": impl},
           inputs=[(2, 7, 16)], torch=mha(16, 4, batch_first=True)) for impl in ("auto", "fused", "matmul")),
    # PyTorch's default layout [L, N, E]; one head; batch 3
    Case("multihead_attention", {"embed_dim": 6, "num_heads": 1}, inputs=[(5, 3, 6)], torch=mha(6, 1)),
    # unbatched [L, E]; no biases
    Case("multihead_attention", {"embed_dim": 8, "num_heads": 2, "bias": False}, inputs=[(5, 8)],
         torch=mha(8, 2, bias=False)),
    # cross-attention: query, key, value; source length differs from the target's
    *(Case("multihead_attention", {"embed_dim": 12, "num_heads": 3, "batch_first": True, "implementation": impl},
           inputs=[(2, 4, 12), (2, 9, 12), (2, 9, 12)], torch=mha(12, 3, batch_first=True))
      for impl in ("fused", "matmul")),
    Case("multihead_attention", {"embed_dim": 4, "num_heads": 2}, inputs=[(3, 1, 4), (1, 1, 4), (1, 1, 4)],
         torch=mha(4, 2)),
    # errors
    Case("multihead_attention", {"embed_dim": 10, "num_heads": 4}, inputs=[(2, 3, 10)], error="invalid-value",
         message="does not divide"),
    Case("multihead_attention", {"embed_dim": 8, "num_heads": 2}, inputs=[(2, 3, 6)], error="shape-mismatch",
         message="query must be"),
    Case("multihead_attention", {"embed_dim": 8, "num_heads": 2}, inputs=[(2, 2, 3, 8)], error="shape-mismatch",
         message="query must be"),
    Case("multihead_attention", {"embed_dim": 8, "num_heads": 2}, inputs=[(2, 3, 8), (2, 3, 8)],
         error="input-count"),
    Case("multihead_attention", {"embed_dim": 8, "num_heads": 2}, inputs=[(2, 3, 8), (4, 3, 8), (5, 3, 8)],
         error="shape-mismatch", message="must have one shape"),
    Case("multihead_attention", {"embed_dim": 8, "num_heads": 2}, inputs=[(2, 3, 8), (4, 8), (4, 8)],
         error="shape-mismatch", message="one rank and dtype"),
    Case("multihead_attention", {"embed_dim": 8, "num_heads": 0}, inputs=[(2, 3, 8)], error="invalid-param"),
]
