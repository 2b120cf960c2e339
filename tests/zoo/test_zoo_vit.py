"""The zoo's Vision Transformers against their defining packages (written out in torch_models_vit.py):
parameter and multiply-accumulate counts against the published figures, weights exported from the PyTorch
model by netdsl's own export binding strictly (no renaming, nothing unused), the reference executor
against the model in eval mode on batch 2, and TensorRT-RTX builds in every precision with both
lowerings of the attention. ViT-B/16's reference run and builds take several seconds each: slow."""

import pathlib
import sys

import numpy as np
import pytest

from netdsl import reference, summary
from netdsl.build import bind_weights, build_plan, load_spec, network_for
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions
from netdsl.weights.from_torch import export_weights
from opcases import random_weights

torch = pytest.importorskip("torch")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from torch_models_vit import MODELS  # noqa: E402

ROOT = HERE.parents[1]
SLOW = pytest.mark.slow

# torchvision's model docs: vit_b_16 has 86,567,656 parameters and 17.56 GFLOPS (multiply-accumulates).
# timm's model card for vit_tiny_patch16_224: 5.7 M parameters and 1.1 GMACs; timm's counter leaves out
# the attention products (q @ k^T and the weighted sum of v, which run inside F.scaled_dot_product_attention),
# torchvision's and netdsl's count them.
PUBLISHED = {"vit_b_16": (86_567_656, 17.56), "vit_tiny_patch16_224": (5_717_416, 1.1)}


def spec_path(name):
    return str(ROOT / "specs" / "zoo" / f"{name}.yaml")


def with_attention(name, implementation):
    """The spec with its blocks' attention lowering (the `attention: auto` block default) replaced."""
    text = pathlib.Path(spec_path(name)).read_text()
    assert text.count("attention: auto") == 1
    checked, diagnostics = check_text(text.replace("attention: auto", f"attention: {implementation}"), spec_path(name))
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


def randomized(model, seed):
    """Random weights at the scale training leaves them: products keep unit scale (1 / sqrt(fan-in)),
    layer norms and biases near their initial 1 and 0, tokens and position embeddings O(1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            noise = torch.randn(tensor.shape, generator=generator)
            if name.endswith(("class_token", "cls_token", "pos_embedding", "pos_embed")):
                tensor.copy_(noise * 0.5)
            elif tensor.dim() >= 2:
                tensor.copy_(noise / tensor[0].numel() ** 0.5)
            elif "bias" in name:
                tensor.copy_(noise * 0.1)
            else:  # layer norm weight
                tensor.copy_(1 + noise * 0.1)
    return model.eval()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_counts_match_the_published_figures(name):
    params, giga_macs = PUBLISHED[name]
    table = summary.to_json(load_spec(spec_path(name)))
    assert table["total_params"] == params == sum(p.numel() for p in MODELS[name]().parameters())
    macs = table["total_macs"]
    if name == "vit_b_16":
        assert round(macs / 1e9, 2) == giga_macs
    else:
        attention = sum(layer["macs"] for layer in table["layers"] if layer["kind"] == "scaled_dot_product_attention")
        assert attention == 12 * 2 * 197 * 197 * 192  # 12 blocks, q @ k^T and weights @ v over 197 tokens
        assert round((macs - attention) / 1e9, 1) == giga_macs


@pytest.mark.parametrize("name", [pytest.param("vit_b_16", marks=SLOW), "vit_tiny_patch16_224"])
def test_exported_weights_bind_and_reference_matches_pytorch(tmp_path, name):
    model = randomized(MODELS[name](), 0)
    path = str(tmp_path / f"{name}.safetensors")
    export_weights(model, path)
    checked = load_spec(spec_path(name))
    bound = bind_weights(checked, path, strict=True)  # every weight by its state_dict name, nothing left over
    assert len(bound) == len(model.state_dict())
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    [output] = reference.run(checked, bound, {"input": x}).values()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    # float32 against float32; measured: 2.4e-6 (ViT-Ti) and 2.7e-6 (ViT-B) against outputs up to about 3.6
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(output - expected).max() <= 1e-5 * scale, (np.abs(output - expected).max(), scale)


def builds(name, precision, implementation):
    checked = with_attention(name, implementation)
    bound = random_weights(checked)
    _, network, _ = network_for(checked, bound, BuildOptions(precision=precision))
    # every layer's shape was compared with TensorRT's while lowering; the output's is checked here too
    [output] = [network.get_output(i) for i in range(network.num_outputs)]
    assert tuple(output.shape) == (-1, 1000) and checked.types[checked.graph.outputs[0].source].shape[1:] == (1000,)
    layer_types = {network.get_layer(i).type.name for i in range(network.num_layers)}
    assert any("ATTENTION" in t for t in layer_types) == (implementation != "matmul"), layer_types
    plan = build_plan(checked, bound, BuildOptions(precision=precision))
    assert plan.data.nbytes > 1_000_000


@pytest.mark.parametrize("precision,implementation", [
    ("float32", "fused"), ("float16", "matmul"),
    pytest.param("float32", "matmul", marks=SLOW), pytest.param("float16", "fused", marks=SLOW),
    pytest.param("bfloat16", "fused", marks=SLOW), pytest.param("bfloat16", "matmul", marks=SLOW)])
def test_vit_tiny_builds(precision, implementation):
    pytest.importorskip("tensorrt_rtx")
    builds("vit_tiny_patch16_224", precision, implementation)


@SLOW
@pytest.mark.parametrize("precision,implementation", [
    ("float32", "auto"), ("float32", "matmul"), ("float16", "auto"), ("bfloat16", "auto")])
def test_vit_b_16_builds(precision, implementation):
    pytest.importorskip("tensorrt_rtx")
    builds("vit_b_16", precision, implementation)
