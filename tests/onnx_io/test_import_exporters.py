"""Every zoo model through both of torch's ONNX exporters and back: `torch.onnx.export` with torch's
defaults (since torch 2.9 the dynamo exporter, through onnxscript: scalars as initializers, weights in a
`.onnx.data` file beside the model) and the TorchScript exporter (`dynamo=False`). Each imported spec's
reference equals ONNX Runtime on the same file (with a dynamic batch too, at batch 1 and 3); through the
TorchScript exporter its parameter count is the model's (less Swin-T's bias tables, which it folds; the
dynamo one folds batch norm into the convolutions, as its optimizer does by default).

Tolerance: float32 (eps 1.2e-7) with sums in another order than ONNX Runtime's; over a dozen layers of
dot products up to 3072 long the differences seen are about 1e-6 of the output's scale, so 1e-4 of the
scale (the bound tests/onnx_io uses throughout) leaves room for summation order and fails on any wrong
weight, axis or constant, which moves outputs by a large fraction of their scale."""

import pathlib
import sys

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import dynamo_export, randomized, run_onnxruntime, torch_export

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "zoo"))
import torch_models  # noqa: E402
import torch_models_cnn2  # noqa: E402
import torch_models_swin  # noqa: E402
import torch_models_vit  # noqa: E402
import torchvision_models  # noqa: E402

ZOO = {**torch_models.MODELS, **torch_models_cnn2.MODELS, **torch_models_swin.MODELS, **torch_models_vit.MODELS}
FAST = {"mobilenet_v3_small", "resnet18"}  # a few seconds per exporter; the rest are slow
TOLERANCE = 1e-4


def export(model, path, shape, exporter, dynamic):
    if exporter == "dynamo":
        batch = ({0: torch.export.Dim("batch", max=32)},) if dynamic else None
        dynamo_export(model, path, (2, *shape[1:]) if dynamic else shape, dynamic_shapes=batch)
    else:
        torch_export(model, path, shape, dynamic=dynamic)


def assert_import_equals_onnxruntime(model, tmp_path, shape, exporter, dynamic=False):
    """Exported with a static batch, or a dynamic one (then compared at batch 1 and 3)."""
    from netdsl.onnx.importer import import_onnx

    path = tmp_path / "model.onnx"
    export(model, path, shape, exporter, dynamic)
    imported = import_onnx(str(path), str(tmp_path / "model.yaml"))
    checked = imported.checked
    onnx_model = onnx.load(str(path), load_external_data=False)
    if exporter == "torchscript":  # (the dynamo exporter folds batch norm into the convolutions before it)
        # every parameter is a trainable weight, once, but Swin-T's position bias tables: the exporter's
        # constant folding computes table[index] into the bias it adds (a constant, not a parameter)
        folded = {name for name, _ in model.named_parameters() if name.endswith("relative_position_bias_table")}
        parameters = sum(s.count for n in checked.graph.nodes for s in n.weight_slots(checked.types) if s.trainable)
        assert parameters == sum(p.numel() for name, p in model.named_parameters() if name not in folded)
    [onnx_input] = onnx_model.graph.input
    assert isinstance(checked.graph.inputs[0].shape[0], int) != dynamic
    for batch in (1, 3) if dynamic else (shape[0],):
        x = np.random.default_rng(batch).standard_normal((batch, *shape[1:])).astype(np.float32)
        [ours] = reference.run(checked, imported.bound, {checked.graph.inputs[0].name: x}).values()
        [theirs] = run_onnxruntime(path, {onnx_input.name: x})
        assert ours.shape == theirs.shape and ours.shape[0] == batch
        scale = max(1.0, float(np.abs(theirs).max()))
        assert np.abs(ours - theirs).max() <= TOLERANCE * scale, (np.abs(ours - theirs).max(), scale)
    return imported


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in ZOO])
def test_zoo_model_through_each_exporter(tmp_path, name, exporter):
    assert_import_equals_onnxruntime(randomized(ZOO[name]()), tmp_path, (1, 3, 224, 224), exporter)


# with a dynamic batch, the dynamo exporter writes ConvNeXt-T's and Swin-T's pooling as `as_strided`: a Reshape to
# [-1] (the batch merged with the other sizes, which the importer says with the named dimension `batch`) and a
# Gather at the contiguous indices computed from the batch (imported as the reshape back). Nothing is refused now.
REFUSED = {}


@pytest.mark.slow
@pytest.mark.parametrize("name, exporter", [pytest.param(n, e, marks=REFUSED.get((n, e), ())) for n in ZOO
                                            for e in ("dynamo", "torchscript")])
def test_zoo_model_with_a_dynamic_batch(tmp_path, name, exporter):
    assert_import_equals_onnxruntime(randomized(ZOO[name]()), tmp_path, (1, 3, 224, 224), exporter, dynamic=True)


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic_batch"])
@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_small_vit_through_each_exporter(tmp_path, exporter, dynamic):
    # torchvision's ViT structure (class token, GELU's x / sqrt(2), attention) at a size that runs by default
    imported = assert_import_equals_onnxruntime(randomized(torchvision_models.vit_tiny()), tmp_path,
                                                (1, 3, 32, 32), exporter, dynamic)
    assert "gelu" in {n.kind for n in imported.checked.graph.nodes}


@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_a_scalar_constant_is_a_value(tmp_path, exporter):
    # Swin's q * head_dim^-0.5: the dynamo exporter writes the scalar as a rank-0 initializer, which
    # the importer wrote as a constant of `shape: []` (a weight of no dimensions, refused by the spec)
    class Scaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 8)

        def forward(self, x):
            return self.linear(x) * 0.1767766952966369

    imported = assert_import_equals_onnxruntime(randomized(Scaled()), tmp_path, (2, 4, 8), exporter)
    assert "shape: []" not in imported.text
    [scale] = [n for n in imported.checked.graph.nodes if n.kind == "constant"]
    assert scale.params["value"] == pytest.approx(0.1767766952966369)
