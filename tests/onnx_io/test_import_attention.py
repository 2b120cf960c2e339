"""Attention written by exporters as MatMul -> scale -> Softmax -> MatMul comes back as one
`scaled_dot_product_attention` layer (netdsl/onnx/attention.py), computing what ONNX Runtime computes
on the file. ViT's nn.MultiheadAttention: test_import_models.py."""

import math

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import randomized, run_onnxruntime, torch_export

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from torch import nn  # noqa: E402


class Attention(nn.Module):
    """Heads of attention as timm and hand-written models write it; ``form`` picks the scaling."""

    def __init__(self, form: str, heads: int = 2, dim: int = 16):
        super().__init__()
        self.form, self.heads = form, heads
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if self.form == "sdpa":
            out = nn.functional.scaled_dot_product_attention(q, k, v)
        else:
            scores = q @ k.transpose(-2, -1)
            scores = scores * 0.3 if self.form == "mul" else scores / math.sqrt(c // self.heads)
            if self.form == "masked":  # (divided, as "div")
                scores = scores + torch.triu(torch.full((n, n), -1e4), 1)
            out = scores.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


def imported(tmp_path, form):
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / f"{form}.onnx"
    torch_export(randomized(Attention(form)), path, (1, 5, 16), dynamic=False)
    result = import_onnx(str(path), str(tmp_path / f"{form}.yaml"))
    x = np.random.default_rng(0).standard_normal((1, 5, 16)).astype(np.float32)
    [ours] = reference.run(result.checked, result.bound, {"input": x}).values()
    [theirs] = run_onnxruntime(path.read_bytes(), {"input": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    return result


@pytest.mark.parametrize("form, written", [
    ("mul", "kind: scaled_dot_product_attention, inputs: [squeeze, squeeze_2, squeeze_3], scale: 0.3}"),
    ("div", "kind: scaled_dot_product_attention, inputs: [squeeze, squeeze_2, squeeze_3]}"),  # 1 / sqrt(E): the default
    ("sdpa", "kind: scaled_dot_product_attention, inputs: [squeeze, squeeze_2, squeeze_3]}"),
])
def test_attention_is_one_layer(tmp_path, form, written):
    result = imported(tmp_path, form)
    kinds = [node.kind for node in result.checked.graph.nodes]
    assert kinds.count("scaled_dot_product_attention") == 1 and "softmax" not in kinds, result.text
    assert written in result.text


def test_a_mask_added_to_the_scores_keeps_the_layers(tmp_path):
    kinds = [node.kind for node in imported(tmp_path, "masked").checked.graph.nodes]
    assert "scaled_dot_product_attention" not in kinds and "softmax" in kinds
