"""specs/zoo/gpt2.yaml against transformers' GPT2LMHeadModel (tests/hf_oracle.py; random weights, nothing
downloaded): the parameter count, safetensors files binding with --strict under the tied lm_head, one step
of decoding (prefill with past 0, one token and several over a cache, left padding) against the model's
forward with its DynamicCache, greedy generation token for token against `generate(do_sample=False)`, and
TensorRT-RTX builds and the TensorRT-semantics evaluator over the same step. The default run uses a tiny
configuration (2 layers, 64 wide, 4 heads, vocabulary 1000) through the same spec by parameters; the
full-size model runs with `pytest -m slow`."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from netdsl import reference
from netdsl.build import bind_weights, build_plan, load_spec, network_for
from netdsl.diagnostics import SpecError
from netdsl.generate import greedy
from netdsl.spec.buildopts import BuildOptions

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from hf_oracle import transformers_module  # noqa: E402

SPEC = str(ROOT / "specs" / "zoo" / "gpt2.yaml")
TINY = {"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 1000}
FULL = {}  # the spec's defaults: GPT2Config()
SLOW = pytest.mark.slow


def hf_model(params: dict, seed: int = 0):
    """GPT2LMHeadModel with the spec's configuration and random weights: embeddings of std 0.1, Conv1D
    products of twice unit scale, layer norms near 1 and 0. Greedy tokens then vary from step to step,
    where the default initialisation (std 0.02) or larger embeddings repeat one token."""
    transformers = transformers_module()
    config = transformers.GPT2Config(**params, bos_token_id=None, eos_token_id=None, pad_token_id=None,
                                     attn_implementation="eager")
    model = transformers.GPT2LMHeadModel(config).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.transformer.state_dict().items():
            noise = torch.randn(tensor.shape, generator=generator)
            if name.startswith(("wte", "wpe")):
                tensor.copy_(noise * 0.1)
            elif tensor.dim() == 2:  # Conv1D: [in, out]
                tensor.copy_(noise * 2 / tensor.shape[0] ** 0.5)
            elif "ln" in name and name.endswith("weight"):
                tensor.copy_(1 + noise * 0.1)
            else:
                tensor.copy_(noise * 0.1)
    assert model.lm_head.weight is model.transformer.wte.weight  # tied
    return model


def saved(model, path) -> str:
    """The weights as safetensors' save_model writes them (one name for the tied pair)."""
    from safetensors.torch import save_model

    save_model(model, str(path))
    return str(path)


def test_parameter_count_is_transformers():
    transformers = transformers_module()
    from netdsl import summary

    with torch.device("meta"):  # counted without allocating 124 M floats
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    expected = sum(p.numel() for p in model.parameters())  # the tied matrix once, as transformers counts
    assert expected == 124_439_808
    assert summary.to_json(load_spec(SPEC))["total_params"] == expected
    tiny = hf_model(TINY)
    assert summary.to_json(load_spec(SPEC, params=TINY))["total_params"] == sum(p.numel() for p in tiny.parameters())


def test_tied_lm_head_binds_strictly_from_every_file_layout(tmp_path):
    from safetensors.torch import save_file

    from netdsl.weights import Tensor
    from netdsl.weights.bind import bind

    model = hf_model(TINY)
    checked = load_spec(SPEC, params=TINY)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert "lm_head.weight" in state and "transformer.wte.weight" in state
    # save_model keeps one name of the tied pair (lm_head.weight); save_pretrained keeps the other
    from safetensors import safe_open

    path = saved(model, tmp_path / "save_model.safetensors")
    with safe_open(path, "np") as stored:
        kept = {"lm_head.weight", "transformer.wte.weight"} & set(stored.keys())
    assert len(kept) == 1
    bound = bind_weights(checked, path, strict=True)
    wte = state["transformer.wte.weight"].numpy()
    assert np.array_equal(bound["transformer.wte.value"].array, wte)
    model.save_pretrained(str(tmp_path / "checkpoint"))  # a Hugging Face checkpoint's model.safetensors
    pretrained = str(tmp_path / "checkpoint" / "model.safetensors")
    with safe_open(pretrained, "np") as stored:
        assert {"lm_head.weight", "transformer.wte.weight"} & set(stored.keys()) == {"transformer.wte.weight"}
    assert np.array_equal(bind_weights(checked, pretrained, strict=True)["transformer.wte.value"].array, wte)
    with pytest.raises(RuntimeError, match="share memory"):  # safetensors' save_file refuses the tied pair
        save_file(model.state_dict(), str(tmp_path / "refused.safetensors"))
    # a whole state_dict holds both names: the copy is checked, not reported unused
    tensors = {k: Tensor(k, "float32", tuple(v.shape), v.numpy()) for k, v in state.items()}
    assert len(bind(checked, tensors, "state_dict", strict=True)) == len(state) - 1
    tensors["lm_head.weight"] = Tensor("lm_head.weight", "float32", tuple(wte.shape), wte + 1)
    with pytest.raises(SpecError) as raised:
        bind(checked, tensors, "state_dict", strict=True)
    assert [d.code for d in raised.value.diagnostics] == ["tied-weight-differs"]
    assert "lm_head.weight" in str(raised.value)


def cache_arrays(cache) -> list:
    """[(key, value)] per layer, numpy, from transformers' DynamicCache."""
    return [(layer.keys.numpy(), layer.values.numpy()) for layer in cache.layers]


def hf_step(model, ids, mask, past):
    """transformers' forward over ``ids`` after a cache holding ``past`` ([(key, value)] per layer)."""
    transformers = transformers_module()
    cache = None
    if past[0][0].shape[2]:
        cache = transformers.DynamicCache(config=model.config)
        for index, (key, value) in enumerate(past):
            cache.update(torch.from_numpy(key), torch.from_numpy(value), index)
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(ids).long(), attention_mask=torch.from_numpy(mask).long(),
                    cache=cache, use_cache=True)
    return out.logits.numpy(), cache_arrays(out.cache)


def step_case(model, batch: int, past_length: int, sequence: int, seed: int = 1):
    """Inputs of one step: a cache made by transformers from a prefix (so its keys and values are what a
    real prefix gives), new tokens, and a mask with two padding tokens at the left of row 0."""
    rng = np.random.default_rng(seed)
    vocab, heads = model.config.vocab_size, model.config.n_head
    total = past_length + sequence
    mask = np.ones((batch, total), np.int64)
    mask[0, :2] = 0
    head_dim = model.config.n_embd // heads
    past = [(np.zeros((batch, heads, 0, head_dim), np.float32),) * 2 for _ in range(model.config.n_layer)]
    if past_length:
        prefix = rng.integers(0, vocab, (batch, past_length))
        _, past = hf_step(model, prefix, mask[:, :past_length], past)
    ids = rng.integers(0, vocab, (batch, sequence))
    return ids, mask, past


def feeds(ids, mask, past) -> dict:
    inputs = {"input_ids": ids, "attention_mask": mask}  # int64, as Hugging Face gives: cast to int32
    for index, (key, value) in enumerate(past):
        inputs[f"past_key_values.{index}.key"], inputs[f"past_key_values.{index}.value"] = key, value
    return inputs


def assert_step_matches(outputs, logits, presents, mask, past_length):
    """Logits at the real (unpadded) new tokens, presents at the real positions, within 1e-5 of the
    output's scale (float32 against float32)."""
    real = mask.astype(bool)
    for row in range(mask.shape[0]):
        queries = real[row, past_length:]
        scale = max(1.0, float(np.abs(logits[row]).max()))
        error = np.abs(outputs["logits"][row][queries] - logits[row][queries]).max()
        assert error <= 1e-5 * scale, (row, error, scale)
        for index, (key, value) in enumerate(presents):
            for name, expected in ((f"present.{index}.key", key), (f"present.{index}.value", value)):
                got = outputs[name][row][:, real[row]]
                want = expected[row][:, real[row]]
                assert got.shape == want.shape
                assert np.abs(got - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max())), (name, row)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("past_length,sequence", [(0, 7), (6, 1), (4, 3)])
def test_one_step_matches_transformers(tmp_path, batch, past_length, sequence):
    model = hf_model(TINY)
    checked = load_spec(SPEC, params=TINY)
    bound = bind_weights(checked, saved(model, tmp_path / "gpt2.safetensors"), strict=True)
    ids, mask, past = step_case(model, batch, past_length, sequence)
    logits, presents = hf_step(model, ids, mask, past)
    outputs = reference.run(checked, bound, feeds(ids, mask, past))
    assert outputs["logits"].shape == (batch, sequence, TINY["vocab_size"])
    assert outputs["present.1.key"].shape == (batch, 4, past_length + sequence, 16)
    assert_step_matches(outputs, logits, presents, mask, past_length)


@SLOW
@pytest.mark.parametrize("past_length,sequence", [(0, 9), (9, 1)])
def test_full_size_step_matches_transformers(tmp_path, past_length, sequence):
    model = hf_model(FULL)
    checked = load_spec(SPEC)
    bound = bind_weights(checked, saved(model, tmp_path / "gpt2.safetensors"), strict=True)
    ids, mask, past = step_case(model, 2, past_length, sequence)
    logits, presents = hf_step(model, ids, mask, past)
    assert_step_matches(reference.run(checked, bound, feeds(ids, mask, past)), logits, presents, mask, past_length)


def hf_generate(model, prompt, new):
    with torch.no_grad():
        return model.generate(torch.tensor(prompt), attention_mask=torch.ones(np.shape(prompt), dtype=torch.long),
                              max_new_tokens=new, min_new_tokens=new, do_sample=False, num_beams=1).tolist()


@pytest.mark.parametrize("prompt", [[[999, 318, 257]], [[5, 6, 7, 8, 9], [900, 1, 2, 3, 4]]])
def test_greedy_generation_equals_transformers(tmp_path, prompt):
    model = hf_model(TINY)
    checked = load_spec(SPEC, params=TINY)
    bound = bind_weights(checked, saved(model, tmp_path / "gpt2.safetensors"), strict=True)
    ours = greedy(checked, bound, prompt, 16)
    assert ours.ids == hf_generate(model, prompt, 16)
    assert len({tuple(row[len(prompt[0]):]) for row in ours.ids}) == len(prompt)  # rows differ
    assert len(set(ours.new_ids[0])) > 3  # the tokens vary: a real test of the cache


def test_generate_command_checks_against_transformers(tmp_path, capsys):
    from netdsl.cli import main

    model = hf_model(TINY)
    path = saved(model, tmp_path / "gpt2.safetensors")
    sets = [f"--set={name}={value}" for name, value in TINY.items()]
    code = main(["generate", SPEC, *sets, "--weights", path, "--ids", "999,318,257", "--max-new", "10", "--check",
                 "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    expected = hf_generate(model, [[999, 318, 257]], 10)[0]
    assert report["ids"] == expected == report["check"]["transformers_ids"] and report["check"]["equal"]
    assert report["new_ids"] == expected[3:]
    assert len(report["check"]["steps"]) == 10
    assert max(step["relative"] for step in report["check"]["steps"]) <= 1e-5
    assert main(["generate", SPEC, *sets, "--weights", path, "--ids", "999,318", "--max-new", "3"]) == 0
    assert capsys.readouterr().out.strip() == ",".join(map(str, hf_generate(model, [[999, 318]], 3)[0][2:]))


def test_generate_refuses_what_no_profile_allows(tmp_path, capsys):
    from netdsl.cli import main

    sets = [f"--set={name}={value}" for name, value in TINY.items()]
    code = main(["generate", SPEC, *sets, "--random-weights", "--ids", "1,2", "--max-new", "1024"])
    assert code == 2
    assert "past=1024, which no profile allows" in capsys.readouterr().err
    assert main(["generate", SPEC, *sets, "--random-weights", "--ids", "1000"]) == 2
    assert "outside the vocabulary (0..999)" in capsys.readouterr().err
    assert main(["generate", str(ROOT / "specs" / "lenet.yaml"), "--random-weights", "--ids", "1"]) == 2
    assert "needs a decoder spec" in capsys.readouterr().err


# -- TensorRT ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_tiny_builds_at_every_profile(tmp_path, precision):
    pytest.importorskip("tensorrt_rtx")
    from netdsl import runtime
    from netdsl.build import save
    from opcases import random_weights

    checked = load_spec(SPEC, params=TINY)
    bound = random_weights(checked)
    # build_plan compares TensorRT's inferred shape of every tensor with netdsl's at each profile's min, opt
    # and max (profile 0's min has past = 0: empty cache inputs)
    plan = build_plan(checked, bound, BuildOptions(precision=precision))
    assert plan.data.nbytes > 100_000
    assert [(p["past"]["min"], p["past"]["max"]) for p in plan.profiles] == [(0, 0), (0, 1023), (0, 960)]
    assert [p["sequence"]["max"] + p["past"]["max"] for p in plan.profiles] == [1024, 1024, 1024]
    # what `bench` and `verify` feed such an engine: attention_mask sized past + sequence from the manifest
    save(plan, str(tmp_path / "gpt2.plan"))
    manifest = runtime.read_manifest(str(tmp_path / "gpt2.plan"))[0]
    for profile, (sequence, past) in enumerate([(128, 0), (1, 128), (16, 256)]):
        inputs = runtime.bench_inputs(manifest, None, profile)
        assert inputs.profile == profile and inputs.arrays["input_ids"].shape == (1, sequence)
        assert inputs.arrays["attention_mask"].shape == (1, past + sequence)
        assert inputs.arrays["past_key_values.1.value"].shape == (1, 4, past, 16)
    declared = runtime.declared_inputs(manifest)
    assert runtime.sample_inputs(declared)["attention_mask"].shape == (8, 1024)  # profile 0: sequence 1024, past 0


@SLOW
@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_full_size_builds(precision):
    pytest.importorskip("tensorrt_rtx")
    from opcases import random_weights

    checked = load_spec(SPEC)
    assert build_plan(checked, random_weights(checked), BuildOptions(precision=precision)).data.nbytes > 100_000_000


# float32: the reference's own 1e-5 (a few matmuls of 64); float16: the evaluator rounds every tensor to
# half precision through 2 layers (measured about 1e-3 of the largest logit): `netdsl verify`'s 1e-2
TOLERANCE = {"float32": 1e-5, "float16": 1e-2}


@pytest.mark.parametrize("past_length,sequence", [(0, 5), (4, 1), (3, 2)])
def test_evaluator_agrees_with_the_reference(tmp_path, past_length, sequence):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.trt.evaluate import Evaluator

    model = hf_model(TINY)
    checked = load_spec(SPEC, params=TINY)
    bound = bind_weights(checked, saved(model, tmp_path / "gpt2.safetensors"), strict=True)
    inputs = feeds(*step_case(model, 2, past_length, sequence))
    inputs = {name: a.astype(np.int32) if a.dtype == np.int64 else a for name, a in inputs.items()}
    expected = reference.run(checked, bound, inputs)
    for precision, tolerance in TOLERANCE.items():
        _, network, ctx = network_for(checked, bound, BuildOptions(precision=precision))
        got = Evaluator(network, ctx).run(inputs)
        for name, want in expected.items():
            error = float(np.abs(got[name] - want).max()) / max(1.0, float(np.abs(want).max()))
            assert error <= tolerance, (precision, name, error)


# -- ONNX --------------------------------------------------------------------------------------------------


def test_onnx_export_runs_in_onnxruntime_and_imports_back(tmp_path):
    """netdsl's ONNX export of the spec (named dims as dim_params, `past+sequence` included) computes in
    ONNX Runtime what the reference computes, with an empty cache too; `netdsl import` reads it back with
    the same named dims (past from 0, by --dim) and equals ONNX Runtime. (Torch's exports of transformers'
    GPT-2 do not import: docs/gpt2.md says why.)"""
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    sys.path.insert(0, str(ROOT / "tests" / "onnx_io"))
    from onnx_helpers import run_onnxruntime

    import netdsl

    model = hf_model(TINY)
    network = netdsl.load(SPEC, params=TINY).bind(saved(model, tmp_path / "gpt2.safetensors"), strict=True)
    path = str(tmp_path / "gpt2.onnx")
    network.export_onnx(path)
    names = [o.name for o in onnx.load(path).graph.output]
    from netdsl.onnx.dims import parse

    sizes = parse(["past=0:16:64", "sequence=1:4:64"], None)  # (ONNX carries no ranges: --dim's)
    imported = netdsl.import_onnx(path, str(tmp_path / "imported.yaml"), sizes=sizes)
    shapes = {i["name"]: i["shape"] for i in imported.inputs}
    assert shapes["attention_mask"] == ["batch", "past+sequence"] and shapes["past_key_values.1.key"][2] == "past"
    for past_length, sequence in ((0, 5), (6, 1), (4, 3)):
        inputs = feeds(*step_case(model, 2, past_length, sequence))
        inputs = {name: a.astype(np.int32) if a.dtype == np.int64 else a for name, a in inputs.items()}
        theirs = dict(zip(names, run_onnxruntime(path, inputs)))
        for ours in (network.reference(inputs), imported.reference(inputs)):
            for name, want in theirs.items():
                assert np.abs(ours[name] - want).max() <= 1e-5 * max(1.0, float(np.abs(want).max())), name


def test_compare_command_runs_the_evaluator_on_random_tokens(capsys):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.cli import main

    sets = [f"--set={name}={value}" for name, value in TINY.items()]
    # random inputs at profile 0's opt: 128 token ids and mask entries of 0 and 1, an empty cache
    assert main(["compare", SPEC, *sets, "--random-weights"]) == 0
    output = capsys.readouterr().out
    assert "lm_head" in output and "tensors within tolerance" in output
