"""Imports of EfficientNet-B0 and ViT-B/16 (torchvision's module names, written in plain PyTorch in
torchvision_models.py) exported by PyTorch with random weights: the specs validate, their reference
outputs equal ONNX Runtime's on the file, their parameter counts equal the models'. The full-size
models are slow (exports of 5 M and 86 M parameters); a small ViT of the same structure runs by
default."""

import pathlib
import sys

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import bound_weights, randomized, run_onnxruntime, torch_export

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import torchvision_models  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "zoo"))


def check_import(model, tmp_path, shape, dynamic=True, tolerance=1e-4):
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "model.onnx"
    torch_export(model, path, shape, dynamic=dynamic)
    imported = import_onnx(str(path), str(tmp_path / "model.yaml"))
    checked = imported.checked
    params = sum(s.count for n in checked.graph.nodes for s in n.weight_slots(checked.types) if s.trainable)
    assert params == sum(p.numel() for p in model.parameters())
    x = np.random.default_rng(7).standard_normal(((2 if dynamic else 1), *shape[1:])).astype(np.float32)
    [ours] = reference.run(checked, bound_weights(imported), {"input": x}).values()
    [theirs] = run_onnxruntime(path.read_bytes(), {"input": x})
    assert np.abs(ours - theirs).max() <= tolerance * max(1.0, float(np.abs(theirs).max()))
    return imported


@pytest.mark.slow
def test_efficientnet_b0(tmp_path):
    model = randomized(torchvision_models.EfficientNetB0())
    imported = check_import(model, tmp_path, (1, 3, 224, 224))
    assert sum(p.numel() for p in model.parameters()) == 5_288_548
    text = imported.text
    assert "{name: features.1.0.block.1.activation, kind: silu}" in text  # x * sigmoid(x) as one layer
    # torchvision's efficientnet_b0 keeps nn.BatchNorm2d's eps, 1e-5: netdsl's default, so never written
    assert "{name: block.1.1, kind: batch_norm}" in text and "eps:" not in text
    # features.N is an nn.Sequential of MBConv blocks: the 15 MBConv with expansion are one block, with:
    assert sum(", block: features_2_0, with: {" in line for line in text.splitlines()) == 15
    assert "{name: add, kind: add, inputs: [block.3.1, x], when: $residual}" in text


def test_vit_structure_small(tmp_path):
    # ViT's class token is expanded to the batch: with a static batch every shape computation folds
    imported = check_import(randomized(torchvision_models.vit_tiny()), tmp_path, (1, 3, 32, 32), dynamic=False)
    kinds = {n.name: n.kind for n in imported.checked.graph.nodes}
    assert kinds["encoder.layers.encoder_layer_0.ln_1"] == "layer_norm"
    assert kinds["encoder.layers.encoder_layer_1.mlp.0"] == "linear"  # MatMul + Add
    assert kinds["encoder.layers.encoder_layer_1.mlp.1"] == "gelu"  # the erf form, one layer
    assert kinds["encoder.pos_embedding"] == "constant" and kinds["heads.head"] == "fully_connected"
    # nn.MultiheadAttention's MatMul -> Softmax -> MatMul (q and k^T each scaled by E^-1/4) is one layer
    assert kinds["encoder.layers.encoder_layer_1.self_attention.attention"] == "scaled_dot_product_attention"
    assert "softmax" not in kinds.values() and "matmul" not in kinds.values()
    # the encoder layers: one block, one line each
    assert "  - {name: encoder.layers.encoder_layer_1, block: encoder_layer_0}" in imported.text.splitlines()


@pytest.mark.slow
def test_vit_b_16(tmp_path):
    model = randomized(torchvision_models.vit_b_16())
    assert sum(p.numel() for p in model.parameters()) == 86_567_656
    check_import(model, tmp_path, (1, 3, 224, 224), dynamic=False)


def assert_equal_at_batches(imported, path, shape, batches, tolerance=1e-4):
    """The imported reference equals ONNX Runtime on the file at each batch size (float32: see check_import)."""
    for batch in batches:
        x = np.random.default_rng(batch).standard_normal((batch, *shape[1:])).astype(np.float32)
        [ours] = reference.run(imported.checked, imported.bound, {"input": x}).values()
        [theirs] = run_onnxruntime(path, {"input": x})
        assert ours.shape == theirs.shape and ours.shape[0] == batch
        assert np.abs(ours - theirs).max() <= tolerance * max(1.0, float(np.abs(theirs).max()))


def test_vit_with_a_dynamic_batch(tmp_path):
    # the class token is expanded to the run-time batch (Expand to a shape computed from the input's) and
    # nn.MultiheadAttention reshapes the batch into its heads ([L, N, E] -> [L, N * heads, E / heads]):
    # the batch is then the named dimension `batch`, and the class token a `where` over a [batch, 1, 1]
    # corner of the patches
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "vit.onnx"
    torch_export(randomized(torchvision_models.vit_tiny()), path, (1, 3, 32, 32), dynamic=True)
    imported = import_onnx(str(path), str(tmp_path / "vit.yaml"))
    assert "  - {name: input, shape: [batch, 3, 32, 32]}" in imported.text
    assert "  batch: {min: 1, opt: 1, max: 32}" in imported.text
    kinds = [n.kind for n in imported.checked.graph.nodes]
    assert "where" in kinds and "expand" not in kinds
    assert_equal_at_batches(imported, path, (1, 3, 32, 32), (1, 3))


@pytest.mark.slow
def test_swin_t_with_a_dynamic_batch(tmp_path):
    # the window partition reshapes ([N, 56, 56, C] -> [N * 64, 49, C] and back) with the batch dynamic
    import torch_models_swin

    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "swin_t.onnx"
    torch_export(randomized(torch_models_swin.SwinT()), path, (1, 3, 224, 224), dynamic=True)
    imported = import_onnx(str(path), str(tmp_path / "swin_t.yaml"))
    assert_equal_at_batches(imported, path, (1, 3, 224, 224), (1, 2))
