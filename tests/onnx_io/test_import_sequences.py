"""Imports of what transformers' encoders export over a dynamic sequence length: a position table cut to
the sequence (`position_ids[:, :seq_length]` of a [1, max_positions] buffer, a Slice of a constant to a
size known only at run time, imported as a gather at 0 .. sequence - 1) and the split into heads
(`.view(batch, sequence, heads, head_dim)`, which the dynamo exporter writes as a Reshape with
`allowzero=1` to sizes computed from the input's shape), and the heads merged with the batch for a batched
product (`.reshape(-1, sequence, head_dim)`, as the dynamo exporter writes scaled_dot_product_attention's
k: a Reshape to -1 and a run-time size, imported as a flatten of the leading axes, and back to [batch,
heads, ...] after the product, imported as a reshape between two permutations). Both exporters, with named batch and sequence
dimensions, against ONNX Runtime at two sizes. Tolerance 1e-4 of the output's scale, as the other import
tests (float32, two small products)."""

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import run_onnxruntime

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


class Positions(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("position_ids", torch.arange(16).expand((1, -1)), persistent=False)
        self.position_embeddings = torch.nn.Embedding(16, 8)
        self.query = torch.nn.Linear(8, 8)

    def forward(self, x):
        batch, length = x.shape[0], x.shape[1]
        positions = self.position_embeddings(self.position_ids[:, :length])
        heads = self.query(x + positions).view(batch, length, 2, 4).transpose(1, 2)
        return heads.reshape(-1, length, 4)


class Attention(Positions):
    def forward(self, x):
        batch, length = x.shape[0], x.shape[1]
        q = super().forward(x).view(batch, 2, length, 4)
        return torch.nn.functional.scaled_dot_product_attention(q, q * 0.5, q + 1.0).reshape(-1, length, 4)


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize("module", [Positions, Attention])
def test_positions_cut_to_the_sequence_and_heads_split(tmp_path, exporter, module):
    from netdsl.onnx.importer import import_onnx

    model = module().eval()
    path = tmp_path / "model.onnx"
    x = torch.randn(2, 5, 8)
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            dims = {0: torch.export.Dim("batch", max=8), 1: torch.export.Dim("sequence", max=16)}
            torch.onnx.export(model, (x,), str(path), input_names=["x"], dynamic_shapes=({**dims},))
        else:
            torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch", 1: "sequence"}, "y": {0: "merged", 1: "sequence"}})
    from netdsl.onnx.dims import parse

    # (`netdsl import --dim sequence=1:8:16`: the table has 16 positions)
    imported = import_onnx(str(path), str(tmp_path / "model.yaml"), sizes=parse(["sequence=1:8:16"], None))
    [source] = imported.checked.graph.inputs
    assert [getattr(d, "name", d) for d in source.shape] == ["batch", "sequence", 8]
    assert {"gather", "flatten"} <= {n.kind for n in imported.checked.graph.nodes} or exporter == "torchscript"
    for batch, length in ((1, 3), (3, 16)):
        data = np.random.default_rng(length).standard_normal((batch, length, 8)).astype(np.float32)
        [ours] = reference.run(imported.checked, imported.bound, {source.name: data}).values()
        [theirs] = run_onnxruntime(path, {"x": data})
        scale = max(1.0, float(np.abs(theirs).max()))
        assert ours.shape == theirs.shape == (batch * 2, length, 4)
        assert np.abs(ours - theirs).max() <= 1e-4 * scale
