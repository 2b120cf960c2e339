"""Blocks for repeated modules that are not a chain (netdsl/onnx/modules.py), on a small model made for
it: sibling modules of one structure that read other tensors, differ in width and in a residual add.
The large cases are MobileNetV2 (test_import.py), EfficientNet-B0 and ViT (test_import_models.py) and
YOLOv8n (test_import_yolo.py)."""

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import randomized, run_onnxruntime, torch_export

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from torch import nn  # noqa: E402


class Branch(nn.Module):
    def __init__(self, cin, cout, residual):
        super().__init__()
        self.conv, self.act, self.residual = nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), residual

    def forward(self, x):
        y = self.act(self.conv(x))
        return x + y if self.residual else y


class Branches(nn.Module):
    """Three branches on one tensor (no chain: each reads the stem), as YOLOv8's head has them."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 1)
        self.branches = nn.ModuleList([Branch(8, 8, True), Branch(8, 4, False), Branch(8, 8, False)])

    def forward(self, x):
        x = self.stem(x)
        return torch.cat([branch(x) for branch in self.branches], 1)


def imported(tmp_path):
    from netdsl.onnx.importer import import_onnx

    torch_export(randomized(Branches()), tmp_path / "branches.onnx", (1, 3, 6, 6))
    return import_onnx(str(tmp_path / "branches.onnx"), str(tmp_path / "branches.yaml"))


def test_siblings_of_one_structure_are_one_block(tmp_path):
    result = imported(tmp_path)
    block = """  branches_0:
    params: {out_channels: 8, residual: false}
    inputs: [x]
    layers:
      - {name: conv, kind: convolution, out_channels: $out_channels, kernel: 3, padding: 1}
      - {name: act, kind: relu}
      - {name: add, kind: add, inputs: [act, x], when: $residual}
"""
    assert block in result.text
    assert """  - {name: branches.0, block: branches_0, with: {residual: true}}
  - {name: branches.1, block: branches_0, inputs: stem, with: {out_channels: 4}}
  - {name: branches.2, block: branches_0, inputs: stem}
  - {name: concat, kind: concat, inputs: [branches.0, branches.1, branches.2]}
""" in result.text
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    [ours] = reference.run(result.checked, result.bound, {"input": x}).values()
    [theirs] = run_onnxruntime((tmp_path / "branches.onnx").read_bytes(), {"input": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_a_block_that_computes_something_else_is_caught(tmp_path, monkeypatch):
    # the written spec, read back, must be the imported layers: here the residual is not switched off
    from netdsl.diagnostics import InternalError
    from netdsl.onnx import modules

    monkeypatch.setattr(modules, "switch_names", lambda rows, present: {})
    with pytest.raises(InternalError, match="netdsl import wrote|netdsl import made"):
        imported(tmp_path)


class Mlp(nn.Sequential):
    """torchvision's MLP of Swin-T and ViT: two linears of different sizes named by their index."""

    def __init__(self, width, ratio):
        super().__init__(nn.Linear(width, ratio * width), nn.GELU(), nn.Dropout(0.0), nn.Linear(ratio * width, width),
                         nn.Dropout(0.0))


class Residual(nn.Module):
    def __init__(self, width, ratio, norm):
        super().__init__()
        self.norm = nn.LayerNorm(width) if norm else nn.ReLU()
        self.mlp = Mlp(width, ratio)

    def forward(self, x):
        return x + self.mlp(self.norm(x))


class SwinLikeStages(nn.Module):
    """Stages of unlike structure (layer norm or ReLU before the MLP), so the MLPs of several sizes are
    the repeated modules, as in Swin-T: one block whose two linears have sizes of their own."""

    def __init__(self):
        super().__init__()
        self.a, self.up = Residual(8, 4, True), nn.Linear(8, 12)
        self.b = Residual(12, 2, False)

    def forward(self, x):
        return self.b(self.up(self.a(x)))


class ChainedStages(nn.Module):
    """Chains of MLPs (`stages.0.0`, `stages.0.1`, ...) in stages of different widths: blocks with repeat
    whose merged parameters are the two linears' sizes."""

    def __init__(self):
        super().__init__()
        self.stages = nn.Sequential(nn.Sequential(Mlp(8, 4), Mlp(8, 4)), nn.Linear(8, 16),
                                    nn.Sequential(Mlp(16, 4), Mlp(16, 4), Mlp(16, 4)))

    def forward(self, x):
        return self.stages(x)


@pytest.mark.parametrize("model", [SwinLikeStages, ChainedStages])
def test_layers_of_one_kind_in_a_repeated_module_keep_their_own_sizes(tmp_path, model):
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "model.onnx"
    torch_export(randomized(model()), path, (1, 5, 8))
    result = import_onnx(str(path), str(tmp_path / "model.yaml"))
    assert result.blocks >= 1
    assert "out_features: $out_features_0}" in result.text and "out_features: $out_features_3}" in result.text
    x = np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32)
    [ours] = reference.run(result.checked, result.bound, {"input": x}).values()
    [theirs] = run_onnxruntime(path.read_bytes(), {"input": x})
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_an_importer_bug_exits_3_and_names_no_unwritten_file(tmp_path, monkeypatch, capsys):
    # the parameter names as they collapsed before (Swin-T's `0` and `3` both `out_features`): the
    # weights no longer fit the importer's own spec, which is netdsl's fault, not the model's
    from netdsl.cli import main
    from netdsl.onnx import modules

    torch_export(randomized(SwinLikeStages()), tmp_path / "model.onnx", (1, 5, 8))
    monkeypatch.setattr(modules, "parameter_names", lambda groups: [group[0][1] for group in groups])
    assert main(["import", str(tmp_path / "model.onnx"), "-o", str(tmp_path / "model.yaml")]) == 3
    err = capsys.readouterr().err
    assert "netdsl: internal error: this is a bug in netdsl" in err
    assert "netdsl import made weights its own spec refuses (a bug in the importer; nothing written)" in err
    assert "model.yaml" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
