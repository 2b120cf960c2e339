"""`netdsl import` of torch.onnx.export(GPT2LMHeadModel) (transformers 5.25, torch 2.13, tests/hf_oracle.py;
the tiny configuration of tests/zoo/test_gpt2.py, random weights), with torch's default (dynamo) exporter
and the TorchScript one (`dynamo=False`), for the prompt alone (no cache inputs) and for a step over
the cache (`past_key_values.<i>.key`/`.value` inputs [batch, heads, past, head_dim], `present.<i>.*`
outputs): the inputs keep `batch`, `sequence` and `past` as named dimensions, and the import's reference
equals ONNX Runtime on the file at two batch sizes and two lengths, an empty cache (past 0) among them,
with left padding in the attention mask. Tolerance 1e-5 of the output's scale: float32 against float32
over two blocks of products 64 and 256 long (measured: about 3e-7).

The dynamo exporter names the mask's length with a symbol of its own (`s53`), though the model computes
it as past + sequence; the test names it `past + sequence` in the file before importing, as its present
outputs are named (docs/gpt2.md)."""

import contextlib
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import run_onnxruntime

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hf_oracle import transformers_module  # noqa: E402

TINY = {"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 1000}
HEADS, HEAD_DIM = 4, 16


def random_gpt2():
    """GPT2LMHeadModel at the tiny configuration with weights of unit-scale products (transformers' std 0.02
    would leave the attention almost uniform, hiding a wrong mask)."""
    transformers = transformers_module()
    config = transformers.GPT2Config(**TINY, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    model = transformers.GPT2LMHeadModel(config).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.transformer.state_dict().items():
            noise = torch.randn(tensor.shape, generator=generator)
            scale = 0.1 if name.startswith(("wte", "wpe")) or tensor.dim() == 1 else 2 / tensor.shape[0] ** 0.5
            tensor.copy_(1 + noise * 0.1 if "ln" in name and name.endswith("weight") else noise * scale)
    return model


class Step(torch.nn.Module):
    """One step: the ids, the mask over past + sequence and (with ``cache``) each block's key and value."""

    def __init__(self, model, cache: bool):
        super().__init__()
        self.model, self.cache = model, cache

    def forward(self, input_ids, attention_mask, *past):
        cache = None
        if self.cache:
            cache = transformers_module().DynamicCache(config=self.model.config)
            for index in range(len(past) // 2):
                cache.update(past[2 * index], past[2 * index + 1], index)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache,
                         use_cache=self.cache)
        presents = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)] if self.cache \
            else []
        return (out.logits, *presents)


@pytest.mark.slow
@pytest.mark.parametrize("cache", [False, True], ids=["prompt", "cache"])
@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
def test_gpt2_export_imports_with_named_dims_and_matches_onnxruntime(tmp_path, exporter, cache):
    from netdsl.onnx.dims import parse
    from netdsl.onnx.importer import import_onnx

    blocks = TINY["n_layer"]
    past_names = [f"past_key_values.{i}.{k}" for i in range(blocks) for k in ("key", "value")] if cache else []
    names = ["input_ids", "attention_mask"] + past_names
    outputs = ["logits"] + ([f"present.{i}.{k}" for i in range(blocks) for k in ("key", "value")] if cache else [])
    batch, length, past = 2, 5, 3 if cache else 0
    example = (torch.randint(0, TINY["vocab_size"], (batch, length)), torch.ones(batch, length + past,
               dtype=torch.long), *[torch.randn(batch, HEADS, past, HEAD_DIM) for _ in past_names])
    path = tmp_path / "gpt2.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            b, s, p = (torch.export.Dim(n, max=m) for n, m in (("batch", 8), ("sequence", 32), ("past", 31)))
            dims = [{0: b, 1: s}, {0: b, 1: torch.export.Dim.DYNAMIC if cache else s}] + (
                [tuple({0: b, 2: p} for _ in past_names)] if cache else [])
            torch.onnx.export(Step(random_gpt2(), cache), example, str(path), input_names=names,
                              output_names=outputs, dynamic_shapes=dims)
        else:
            axes = {"input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "past + sequence" if cache else "sequence"},
                    **{n: {0: "batch", 2: "past"} for n in past_names}}
            torch.onnx.export(Step(random_gpt2(), cache), example, str(path), dynamo=False, input_names=names,
                              output_names=outputs, dynamic_axes=axes)
    if exporter == "dynamo" and cache:  # the exporter's own symbol for the mask's length, named as the outputs
        exported = onnx.load(str(path))
        exported.graph.input[1].type.tensor_type.shape.dim[1].dim_param = "past + sequence"
        onnx.save(exported, str(path))
    imported = import_onnx(str(path), str(tmp_path / "gpt2.yaml"),
                           sizes=parse(["sequence=1:8:32"] + (["past=0:8:31"] if cache else []), None))
    checked = imported.checked
    shown = [[str(getattr(d, "name", d)) for d in i.shape] for i in checked.graph.inputs]
    assert shown[:2] == [["batch", "sequence"], ["batch", "past+sequence" if cache else "sequence"]]
    assert all(s == ["batch", str(HEADS), "past", str(HEAD_DIM)] for s in shown[2:]) and len(shown) == len(names)
    for batch, length, past in ((1, 3, 0), (3, 7, 5)):
        past = past if cache else 0
        rng = np.random.default_rng(length)
        feed = {"input_ids": rng.integers(0, TINY["vocab_size"], (batch, length)).astype(np.int64),
                "attention_mask": np.ones((batch, past + length), np.int64)}
        feed["attention_mask"][-1, :2] = 0  # left padding in the last row
        feed.update({n: rng.standard_normal((batch, HEADS, past, HEAD_DIM)).astype(np.float32) for n in past_names})
        ours = reference.run(checked, imported.bound, {i.name: feed[n] for i, n in zip(checked.graph.inputs, names)})
        theirs = run_onnxruntime(path, feed)
        assert len(ours) == len(theirs) == len(outputs)
        for (output, got), expected in zip(ours.items(), theirs):
            scale = max(1.0, float(np.abs(expected).max()))
            assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-5 * scale, \
                (output, batch, length, past, float(np.abs(got - expected).max()))
