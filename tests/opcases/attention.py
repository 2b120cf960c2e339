import numpy as np
import torch.nn.functional as F

from opcases import Case

Q, K, V = (2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 8)


def attention(**kwargs):
    return lambda q, k, v, mask=None: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)


def allowed(shape):
    """A bool mask where every row allows its first position (torch gives NaN for a row with none)."""
    mask = np.random.default_rng(1).random(shape) < 0.5
    mask[..., 0] = True
    return mask


CASES = [
    *(Case("scaled_dot_product_attention", {"implementation": implementation}, inputs=[Q, K, V],
           torch=attention()) for implementation in ("auto", "fused", "matmul")),
    *(Case("scaled_dot_product_attention", {"is_causal": True, "implementation": implementation},
           inputs=[Q, K, V], torch=attention(is_causal=True)) for implementation in ("fused", "matmul")),
    *(Case("scaled_dot_product_attention", {"implementation": implementation}, inputs=[Q, K, V, allowed((2, 1, 5, 6))],
           torch=attention()) for implementation in ("fused", "matmul")),
    *(Case("scaled_dot_product_attention", {"scale": 0.5, "implementation": implementation},
           inputs=[Q, K, V, (1, 3, 5, 6)], torch=attention(scale=0.5)) for implementation in ("fused", "matmul")),
    # multi-query: one head of k and v for every head of q
    Case("scaled_dot_product_attention", {"implementation": "fused"}, inputs=[(1, 4, 3, 16), (1, 1, 7, 16), (1, 1, 7, 16)],
         torch=attention()),
    # shapes only the expansion takes (auto falls back to it): v's features differ, batch broadcast, a 2-D mask
    Case("scaled_dot_product_attention", inputs=[(2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 7)], torch=attention()),
    Case("scaled_dot_product_attention", inputs=[(2, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)], torch=attention()),
    Case("scaled_dot_product_attention", inputs=[Q, K, V, (1, 6)], torch=attention()),
    Case("scaled_dot_product_attention", {"is_causal": True}, inputs=[(1, 1, 6, 4), (1, 1, 3, 4), (1, 1, 3, 4)],
         torch=attention(is_causal=True)),  # L > S: top-left aligned, every row still allows position 0
    # errors
    Case("scaled_dot_product_attention", {"implementation": "fused"}, inputs=[(2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 7)],
         error="invalid-value", message="k and v of one shape"),
    Case("scaled_dot_product_attention", {"implementation": "fused"}, inputs=[Q, K, V, (1, 6)],
         error="invalid-value", message="must end in [L, S]"),
    Case("scaled_dot_product_attention", inputs=[Q, K, V, (6,)], error="shape-mismatch", message="rank 2 to 4"),
    Case("scaled_dot_product_attention", {"is_causal": True}, inputs=[Q, K, V, (5, 6)], error="invalid-value",
         message="not both"),
    Case("scaled_dot_product_attention", inputs=[(3, 5, 8), (3, 6, 8), (3, 6, 8)], error="shape-mismatch",
         message="q must be [B, heads, length, features]"),
    Case("scaled_dot_product_attention", inputs=[Q, (2, 3, 6, 4), V], error="shape-mismatch", message="q's features"),
    Case("scaled_dot_product_attention", inputs=[Q, K, V, ((5, 6), "int32")], error="wrong-dtype",
         message="bool or float32"),
    Case("scaled_dot_product_attention", inputs=[Q, K], error="input-count"),
]
