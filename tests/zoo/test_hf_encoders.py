"""The zoo's Hugging Face encoders against transformers and sentence-transformers (tests/hf_oracle.py):
specs/zoo/bert_base_uncased.yaml (BertModel; `--set preset=all_minilm_l6_v2` for all-MiniLM-L6-v2 with
sentence-transformers' mean pooling and normalisation) and specs/zoo/clip_vit_b_32.yaml (CLIPModel).

Each model's weights come from the transformers model itself (random, no download), saved by netdsl's
own export and bound with --strict: every state_dict name, nothing renamed, nothing left over. The
reference executor then equals the model in float32 at two batch sizes and three sequence lengths with
padding in the attention mask. Tolerance 1e-5 of the output's scale (at least 1): float32 against
float32 with sums in another order, over a few layers of dot products up to 3072 long (measured: about
1e-6); a wrong weight, mask or axis moves outputs by a large fraction of their scale.

The default run uses tiny configurations through the same specs by --set (2 layers, hidden 32 to 64);
the published sizes, their TensorRT-RTX builds at every profile and the evaluator are marked slow."""

import pathlib
import sys

import numpy as np
import pytest

from netdsl import reference, summary
from netdsl.build import bind_weights, build_plan, load_spec, network_for
from netdsl.spec.buildopts import BuildOptions
from netdsl.weights.from_torch import export_weights

torch = pytest.importorskip("torch")
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from hf_oracle import sentence_transformers_module, transformers_module  # noqa: E402

ROOT = HERE.parents[1]
BERT = str(ROOT / "specs" / "zoo" / "bert_base_uncased.yaml")
CLIP = str(ROOT / "specs" / "zoo" / "clip_vit_b_32.yaml")
SLOW = pytest.mark.slow
TOLERANCE = 1e-5

# the issue's figures: BertModel(BertConfig()), BertModel with all-MiniLM-L6-v2's config, CLIPModel(CLIPConfig())
PUBLISHED = {"bert_base_uncased": 109_482_240, "all_minilm_l6_v2": 22_713_216, "clip_vit_b_32": 151_277_313}

TINY_BERT = {"vocab_size": 100, "hidden": 64, "layers": 2, "heads": 4, "intermediate": 128}
TINY_CLIP = {"vocab_size": 1000, "text_hidden": 32, "text_layers": 2, "text_heads": 4, "text_intermediate": 64,
             "vision_hidden": 48, "vision_layers": 2, "vision_heads": 4, "vision_intermediate": 96,
             "projection_dim": 16, "eos_token_id": 999}


def bert_config(params: dict):
    """BertConfig for the spec's --set values (the mapping docs/huggingface.md gives)."""
    t = transformers_module()
    minilm = params.get("preset") == "all_minilm_l6_v2"
    return t.BertConfig(vocab_size=params.get("vocab_size", 30522),
                        hidden_size=params.get("hidden", 384 if minilm else 768),
                        num_hidden_layers=params.get("layers", 6 if minilm else 12),
                        num_attention_heads=params.get("heads", 12),
                        intermediate_size=params.get("intermediate", 1536 if minilm else 3072))


def clip_config(params: dict):
    t = transformers_module()
    if not params:
        return t.CLIPConfig()
    text = {"vocab_size": params["vocab_size"], "hidden_size": params["text_hidden"],
            "num_hidden_layers": params["text_layers"], "num_attention_heads": params["text_heads"],
            "intermediate_size": params["text_intermediate"], "eos_token_id": params["eos_token_id"],
            "bos_token_id": 0, "pad_token_id": 1}
    vision = {"hidden_size": params["vision_hidden"], "num_hidden_layers": params["vision_layers"],
              "num_attention_heads": params["vision_heads"], "intermediate_size": params["vision_intermediate"]}
    return t.CLIPConfig(text_config=text, vision_config=vision, projection_dim=params["projection_dim"])


def randomized(model, seed: int = 0):
    """Random weights at the scale training leaves them: products keep unit scale (1 / sqrt(fan-in)),
    layer norms and biases near their initial 1 and 0, embeddings and CLIP's class token O(1), logit_scale
    as CLIP initialises it (log(1 / 0.07)). transformers' own initialisation (std 0.02) would leave the
    attention almost uniform, which hides a wrong mask."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            noise = torch.randn(tensor.shape, generator=generator)
            if name == "logit_scale":
                continue
            if "embedding" in name:
                tensor.copy_(noise * 0.5)
            elif tensor.dim() >= 2:
                tensor.copy_(noise / tensor[0].numel() ** 0.5)
            elif "bias" in name:
                tensor.copy_(noise * 0.1)
            else:  # layer norm weight
                tensor.copy_(1 + noise * 0.1)
    return model.eval()


def bound_to(model, spec: str, params: dict, tmp_path):
    """The spec with the model's state_dict saved by netdsl's export and bound strictly."""
    path = str(tmp_path / "model.safetensors")
    export_weights(model, path)
    checked = load_spec(spec, params=params)
    bound = bind_weights(checked, path, strict=True)  # every weight by its state_dict name, nothing left over
    assert len(bound) == len(model.state_dict())
    return checked, bound


def padded_mask(batch: int, length: int) -> np.ndarray:
    """Ones, with the last row padded after its first half and (batch > 2) the middle row after 1 token."""
    mask = np.ones((batch, length), np.int32)
    mask[-1, length // 2 + 1:] = 0
    if batch > 2:
        mask[1, 1:] = 0
    return mask


def assert_close(ours, theirs, what):
    scale = max(1.0, float(np.abs(theirs).max()))
    error = float(np.abs(ours - theirs).max())
    assert ours.shape == theirs.shape and error <= TOLERANCE * scale, (what, ours.shape, theirs.shape, error, scale)


def bert_inputs(batch, length, vocab, seed=0):
    rng = np.random.default_rng(seed)
    return {"input_ids": rng.integers(0, vocab, (batch, length)).astype(np.int32),
            "attention_mask": padded_mask(batch, length),
            "token_type_ids": rng.integers(0, 2, (batch, length)).astype(np.int32)}


def torch_inputs(arrays):
    return {name: torch.from_numpy(a).long() if a.dtype.kind == "i" else torch.from_numpy(a)
            for name, a in arrays.items()}


def check_bert(tmp_path, params, lengths):
    model = randomized(transformers_module().BertModel(bert_config(params)))
    checked, bound = bound_to(model, BERT, params, tmp_path)
    minilm = params.get("preset") == "all_minilm_l6_v2"
    if minilm:
        st = sentence_transformers_module("sentence_transformers.sentence_transformer.modules")
        pooling, normalize = st.Pooling(model.config.hidden_size, "mean"), st.Normalize()
    for batch in (1, 3):
        for length in lengths:
            arrays = bert_inputs(batch, length, model.config.vocab_size, seed=batch * 1000 + length)
            ours = reference.run(checked, bound, arrays)
            with torch.no_grad():
                theirs = model(**torch_inputs(arrays))
                assert_close(ours["last_hidden_state"], theirs.last_hidden_state.numpy(), (batch, length))
                assert_close(ours["pooler_output"], theirs.pooler_output.numpy(), (batch, length))
                if minilm:  # sentence-transformers' own modules on the transformer's tokens
                    features = {"token_embeddings": theirs.last_hidden_state,
                                "attention_mask": torch.from_numpy(arrays["attention_mask"]).long()}
                    sentence = normalize(pooling(features))["sentence_embedding"].numpy()
                    assert_close(ours["sentence_embedding"], sentence, ("sentence_embedding", batch, length))
            assert ("sentence_embedding" in ours) == minilm


@pytest.mark.parametrize("preset", [pytest.param("bert_base_uncased", marks=SLOW), "all_minilm_l6_v2"])
def test_tiny_bert_equals_transformers(tmp_path, preset):
    check_bert(tmp_path, {"preset": preset, **TINY_BERT}, (1, 9, 40))


@SLOW
@pytest.mark.parametrize("preset", ["bert_base_uncased", "all_minilm_l6_v2"])
def test_bert_equals_transformers(tmp_path, preset):
    check_bert(tmp_path, {"preset": preset}, (1, 17, 128))


def clip_inputs(batch, length, vocab, eos, seed=0):
    """Ids below the end-of-text token, which ends each row's unpadded part; padding repeats it, as the
    openai tokenizer pads. With eos_token_id 2 (transformers' older configs) the largest id ends a row."""
    rng = np.random.default_rng(seed)
    end = vocab - 1 if eos == 2 else eos
    ids = rng.integers(3, end, (batch, length)).astype(np.int32)
    mask = padded_mask(batch, length)
    for row in range(batch):
        ids[row, int(mask[row].sum()) - 1:] = end
    return {"input_ids": ids, "attention_mask": mask,
            "pixel_values": rng.standard_normal((2, 3, 224, 224)).astype(np.float32)}


CLIP_OUTPUTS = {"text_last_hidden_state": lambda r: r.text_model_output.last_hidden_state,
                "image_last_hidden_state": lambda r: r.vision_model_output.last_hidden_state,
                "text_embeds": lambda r: r.text_embeds, "image_embeds": lambda r: r.image_embeds,
                "logits_per_image": lambda r: r.logits_per_image, "logits_per_text": lambda r: r.logits_per_text}


def check_clip(tmp_path, params, lengths):
    model = randomized(transformers_module().CLIPModel(clip_config(params)))
    checked, bound = bound_to(model, CLIP, params, tmp_path)
    eos, vocab = model.config.text_config.eos_token_id, model.config.text_config.vocab_size
    for batch in (1, 3):
        for length in lengths:
            arrays = clip_inputs(batch, length, vocab, eos, seed=batch * 1000 + length)
            ours = reference.run(checked, bound, arrays)
            with torch.no_grad():
                theirs = model(**torch_inputs(arrays))
            assert list(ours) == list(CLIP_OUTPUTS)
            for name, pick in CLIP_OUTPUTS.items():
                assert_close(ours[name], pick(theirs).numpy(), (name, batch, length))


@pytest.mark.parametrize("eos", [999, pytest.param(2, marks=SLOW)])
def test_tiny_clip_equals_transformers(tmp_path, eos):
    check_clip(tmp_path, {**TINY_CLIP, "eos_token_id": eos}, (1, 9, 77))


@SLOW
def test_clip_equals_transformers(tmp_path):
    check_clip(tmp_path, {}, (1, 9, 77))


@pytest.mark.parametrize("name, spec, params", [
    ("bert_base_uncased", BERT, {}), ("all_minilm_l6_v2", BERT, {"preset": "all_minilm_l6_v2"}),
    ("clip_vit_b_32", CLIP, {})])
def test_parameter_counts(name, spec, params):
    assert summary.to_json(load_spec(spec, params=params))["total_params"] == PUBLISHED[name]


@SLOW
def test_parameter_counts_are_transformers(name=None):
    t = transformers_module()
    assert sum(p.numel() for p in t.BertModel(bert_config({})).parameters()) == PUBLISHED["bert_base_uncased"]
    minilm = t.BertModel(bert_config({"preset": "all_minilm_l6_v2"}))
    assert sum(p.numel() for p in minilm.parameters()) == PUBLISHED["all_minilm_l6_v2"]
    assert sum(p.numel() for p in t.CLIPModel(t.CLIPConfig()).parameters()) == PUBLISHED["clip_vit_b_32"]


@pytest.mark.parametrize("spec, params, model", [
    (BERT, TINY_BERT, lambda: transformers_module().BertModel(bert_config(TINY_BERT))),
    (CLIP, TINY_CLIP, lambda: transformers_module().CLIPModel(clip_config(TINY_CLIP)))], ids=["bert", "clip"])
def test_tiny_parameter_counts_are_transformers(spec, params, model):
    assert summary.to_json(load_spec(spec, params=params))["total_params"] == sum(p.numel() for p in model().parameters())


def test_int64_ids_equal_int32(tmp_path):
    """`--set ids_dtype=int64` declares int64 ids and masks (Hugging Face's exports) and casts them; int64
    arrays given to the int32 spec are converted by netdsl."""
    model = randomized(transformers_module().BertModel(bert_config(TINY_BERT)))
    checked, bound = bound_to(model, BERT, TINY_BERT, tmp_path)
    wide, _ = bound_to(model, BERT, {**TINY_BERT, "ids_dtype": "int64"}, tmp_path)
    assert {i.dtype for i in wide.graph.inputs} == {"int64"} and {i.dtype for i in checked.graph.inputs} == {"int32"}
    arrays = bert_inputs(3, 7, 100)
    expected = reference.run(checked, bound, arrays)
    as_int64 = {name: a.astype(np.int64) for name, a in arrays.items()}
    for spec in (wide, checked):
        got = reference.run(spec, bound, as_int64)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name])


# ---- TensorRT-RTX: builds at every profile, and the evaluator of TensorRT's layer semantics ----

MODELS = {"bert_base_uncased": (BERT, {}), "all_minilm_l6_v2": (BERT, {"preset": "all_minilm_l6_v2"}),
          "clip_vit_b_32": (CLIP, {}), "tiny_bert": (BERT, TINY_BERT),
          "tiny_minilm": (BERT, {"preset": "all_minilm_l6_v2", **TINY_BERT}), "tiny_clip": (CLIP, TINY_CLIP)}


def random_model(name):
    """The transformers model for MODELS[name], randomized."""
    spec, params = MODELS[name]
    t = transformers_module()
    if spec == BERT:
        return randomized(t.BertModel(bert_config(params)))
    return randomized(t.CLIPModel(clip_config(params)))


# int64 ids and masks cast in the engine; CLIP's pooling at the largest id (eos_token_id 2)
VARIANTS = {"tiny_bert_int64": (BERT, {**TINY_BERT, "ids_dtype": "int64"}),
            "tiny_clip_int64_largest_id": (CLIP, {**TINY_CLIP, "ids_dtype": "int64", "eos_token_id": 2})}


@pytest.mark.parametrize("name, precision", [("tiny_bert", "float16")] + [
    pytest.param(name, precision, marks=SLOW) for name in [*MODELS, *VARIANTS] for precision in ("float32", "float16")
    if (name, precision) != ("tiny_bert", "float16")])
def test_builds_at_every_profile(name, precision):
    """Builds with the spec's two optimization profiles; TensorRT's inferred shape of every tensor equals
    netdsl's at each profile's min, opt and max (compared by build_plan, and counted here), and every
    attention is TensorRT's attention layer (the masks are written out to [L, S] so that it takes them)."""
    pytest.importorskip("tensorrt_rtx")
    from netdsl.trt.dims import check_corners

    from opcases import random_weights

    spec, params = {**MODELS, **VARIANTS}[name]
    checked = load_spec(spec, params=params)
    bound = random_weights(checked)
    options = BuildOptions(precision=precision)
    _, network, _ = network_for(checked, bound, options)
    assert len(checked.graph.profiles) == 2
    tensors = sum(1 for i in range(network.num_layers) for j in range(network.get_layer(i).num_outputs)
                  if network.get_layer(i).get_output(j).name in checked.types)
    assert check_corners(network, checked.types, checked.graph.profiles) == 6 * tensors
    attention = sum(network.get_layer(i).type.name == "ATTENTION_OUTPUT" for i in range(network.num_layers))
    assert attention == sum(n.kind == "scaled_dot_product_attention" for n in checked.graph.nodes) > 0
    plan = build_plan(checked, bound, options)
    assert plan.data.nbytes > 1_000_000 and len(plan.profiles) == 2


# float32 1e-4 and float16 1e-2 of the output's scale, tests/trt/test_evaluate_zoo.py's bounds
EVALUATOR_TOLERANCE = {"float32": 1e-4, "float16": 1e-2}


@pytest.mark.parametrize("name", ["tiny_bert"] + [pytest.param(n, marks=SLOW) for n in MODELS if n != "tiny_bert"])
def test_evaluator_agrees_with_reference_and_transformers(tmp_path, name):
    """The network TensorRT would build, evaluated with TensorRT's layer semantics in float32 and
    float16, against the reference and transformers, at a short padded batch in profile 0 and a long
    one in profile 1."""
    pytest.importorskip("tensorrt_rtx")
    sys.path.insert(0, str(ROOT / "tests" / "trt"))
    from evalcommon import relative_error

    from netdsl.trt.evaluate import Evaluator

    spec, params = MODELS[name]
    model = random_model(name)
    checked, bound = bound_to(model, spec, params, tmp_path)
    networks = {precision: network_for(checked, bound, BuildOptions(precision=precision))
                for precision in EVALUATOR_TOLERANCE}
    for batch, length in ((2, 9), (3, 77 if spec == CLIP else 160)):
        if spec == BERT:
            arrays = bert_inputs(batch, length, model.config.vocab_size, seed=length)
        else:
            arrays = clip_inputs(batch, length, model.config.text_config.vocab_size,
                                 model.config.text_config.eos_token_id, seed=length)
        expected = reference.run(checked, bound, arrays)
        with torch.no_grad():
            theirs = model(**torch_inputs(arrays))
        picks = CLIP_OUTPUTS if spec == CLIP else {"last_hidden_state": lambda r: r.last_hidden_state,
                                                   "pooler_output": lambda r: r.pooler_output}
        for precision, (_, network, ctx) in networks.items():
            got = Evaluator(network, ctx).run(arrays)
            for output, pick in picks.items():
                for against in (expected[output], pick(theirs).numpy()):
                    error = relative_error(got[output], against)
                    assert error <= EVALUATOR_TOLERANCE[precision], (precision, output, batch, length, error)


# ---- netdsl import of transformers' ONNX exports ----

class Exported(torch.nn.Module):
    """The model with positional inputs and a tuple of the outputs, for torch.onnx.export."""

    def __init__(self, model, names, outputs):
        super().__init__()
        self.model, self.names, self.outputs = model, names, outputs

    def forward(self, input_ids, attention_mask, third):
        result = self.model(**dict(zip(self.names, (input_ids, attention_mask, third))), return_dict=True)
        return tuple(result[name] for name in self.outputs)


@SLOW
@pytest.mark.parametrize("exporter", ["dynamo", "torchscript"])
@pytest.mark.parametrize("name", ["tiny_bert", "tiny_clip"])
def test_export_imports_with_named_dims_and_matches_onnxruntime(tmp_path, name, exporter):
    """torch.onnx.export's default (dynamo) exporter and the TorchScript one (dynamo=False) with a dynamic
    batch and sequence; `netdsl import` keeps both as named dimensions, and its reference equals ONNX
    Runtime on the file at two sizes in two profiles' worth of lengths, with padding (1e-4 of the output's
    scale: tests/onnx_io's bound). The TorchScript export writes the padding mask with -inf fills and a
    flat index over the product of two run-time sizes (tests/onnx_io/test_import_torchscript_masks.py)."""
    import contextlib
    import io
    import warnings

    pytest.importorskip("onnxscript")
    sys.path.insert(0, str(ROOT / "tests" / "onnx_io"))
    from onnx_helpers import run_onnxruntime

    from netdsl.onnx.dims import parse
    from netdsl.onnx.importer import import_onnx

    spec, params = MODELS[name]
    model = random_model(name)
    names = ["input_ids", "attention_mask", "token_type_ids" if spec == BERT else "pixel_values"]
    outputs = ["last_hidden_state", "pooler_output"] if spec == BERT else \
        ["text_embeds", "image_embeds", "logits_per_image", "logits_per_text"]
    vocab = model.config.vocab_size if spec == BERT else model.config.text_config.vocab_size
    arrays = (lambda b, s: bert_inputs(b, s, vocab, seed=s)) if spec == BERT else \
        (lambda b, s: {**clip_inputs(b, s, vocab, model.config.text_config.eos_token_id, seed=s),
                       "pixel_values": np.random.default_rng(s).standard_normal((b, 3, 224, 224)).astype(np.float32)})
    example = arrays(2, 8)
    batch, length = torch.export.Dim("batch", max=32), torch.export.Dim("sequence", max=512 if spec == BERT else 77)
    dims = {"input_ids": {0: batch, 1: length}, "attention_mask": {0: batch, 1: length}, "third": (
        {0: batch, 1: length} if spec == BERT else {0: batch})}
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        args = tuple(torch.from_numpy(example[n]).long() if n != "pixel_values" else torch.from_numpy(example[n])
                     for n in names)
        if exporter == "dynamo":
            torch.onnx.export(Exported(model, names, outputs), args, str(path), input_names=names,
                              output_names=outputs, dynamic_shapes=dims)
        else:
            axes = {n: {axis: ("batch", "sequence")[axis] for axis in d} for n, d in zip(names, dims.values())}
            if spec != BERT:
                axes["pixel_values"] = {0: "image_batch"}
            torch.onnx.export(Exported(model, names, outputs), args, str(path), dynamo=False, input_names=names,
                              output_names=outputs, dynamic_axes=axes)
    imported = import_onnx(str(path), str(tmp_path / "model.yaml"),
                           sizes=parse([f"sequence=1:32:{512 if spec == BERT else 77}"], None))
    checked = imported.checked
    assert [tuple(getattr(d, "name", d) for d in i.shape[:2]) for i in checked.graph.inputs][:2] == \
        [("batch", "sequence")] * 2
    for b, s in ((1, 9), (3, 64 if spec == BERT else 77)):
        feed = {n: a.astype(np.int64) if a.dtype.kind == "i" else a for n, a in arrays(b, s).items()}
        ours = reference.run(checked, imported.bound, {i.name: feed[n] for i, n in zip(checked.graph.inputs, names)})
        theirs = run_onnxruntime(path, feed)
        for (output, got), expected in zip(ours.items(), theirs):
            scale = max(1.0, float(np.abs(expected).max()))
            assert got.shape == expected.shape and np.abs(got - expected).max() <= 1e-4 * scale, (output, b, s)
