"""Greedy text generation over a one-step decoder spec with a key/value cache (specs/zoo/gpt2.yaml), on the
reference executor: the prompt runs with an empty cache (past 0), then one token at a time, each step's
`present.<i>.key`/`.value` fed back as the next step's `past_key_values.<i>.key`/`.value`, the next token
the argmax of the last position's logits (transformers' ``generate(do_sample=False)``).

The spec's interface, as Hugging Face's ONNX exports name it: inputs `input_ids` [batch, sequence], an
optional `attention_mask` [batch, past+sequence], `past_key_values.<i>.key`/`.value` [batch, heads, past,
head_dim]; outputs `logits` [batch, sequence, vocab] and `present.<i>.key`/`.value`.

:func:`check_with_transformers` runs transformers' GPT2LMHeadModel on the same weights (imported only there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .diagnostics import UsageError

CACHE_INPUT = re.compile(r"^past_key_values\.(\d+)\.(key|value)$")


@dataclass
class Generation:
    """The prompt and generated tokens of each row (``ids``), and each step's logits at the last position
    ([batch, vocab] float32 arrays, prefill first)."""

    ids: list[list[int]]
    prompt_length: int
    step_logits: list = field(default_factory=list)

    @property
    def new_ids(self) -> list[list[int]]:
        return [row[self.prompt_length:] for row in self.ids]


def cache_inputs(checked) -> list[tuple[str, tuple]]:
    """(name, declared shape) of the cache inputs, in layer order; UsageError where the spec is not a
    one-step decoder with a cache."""
    names = {i.name: i for i in checked.graph.inputs}
    outputs = {o.name for o in checked.graph.outputs}
    if "input_ids" not in names or "logits" not in outputs:
        raise UsageError(f"{checked.path}: `generate` needs a decoder spec with input `input_ids` and output `logits` "
                         "(specs/zoo/gpt2.yaml)")
    cache = sorted(((int(m.group(1)), m.group(2) == "value"), name) for name in names
                   if (m := CACHE_INPUT.match(name)))
    if not cache:
        raise UsageError(f"{checked.path}: no `past_key_values.<i>.key` inputs; `generate` feeds each step's "
                         "`present.<i>.key`/`.value` back through them")
    missing = [f"present.{name.split('.', 1)[1]}" for _, name in cache
               if f"present.{name.split('.', 1)[1]}" not in outputs]
    if missing:
        raise UsageError(f"{checked.path}: outputs {', '.join(missing)} are missing (each cache input needs its "
                         "present)")
    result = []
    for _, name in cache:
        shape = names[name].shape
        if len(shape) != 4 or not all(isinstance(d, int) for d in (shape[1], shape[3])):
            raise UsageError(f"{checked.path}: cache input `{name}` must be [batch, heads, past, head_dim] with "
                             "static heads and head_dim")
        result.append((name, shape))
    return result


def greedy(checked, bound: dict, ids, max_new: int, eos: int | None = None) -> Generation:
    """Greedy decoding of ``max_new`` tokens after the prompt ``ids`` ([batch, length] integers, every
    token real), stopping early once every row has produced ``eos``; rows that have get ``eos`` again
    (transformers' padding with pad_token_id = eos)."""
    import numpy as np

    from . import reference

    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.shape[1] < 1 or ids.dtype.kind not in "iu":
        raise UsageError(f"the prompt must be integer token ids [batch, length], found {ids.dtype} {list(ids.shape)}")
    if max_new < 0:
        raise UsageError(f"--max-new must be 0 or more, found {max_new}")
    cache = cache_inputs(checked)
    check_length(checked, cache, ids.shape, max_new)
    with_mask = any(i.name == "attention_mask" for i in checked.graph.inputs)
    batch = ids.shape[0]
    past = {name: np.zeros((batch, shape[1], 0, shape[3]), np.float32) for name, shape in cache}
    rows, step_logits = ids.astype(np.int64), []
    feed, done = rows, np.zeros(batch, bool)
    for _ in range(max_new):
        inputs = {"input_ids": feed.astype(np.int32), **past}
        if with_mask:
            inputs["attention_mask"] = np.ones((batch, rows.shape[1]), np.int32)
        outputs = reference.run(checked, bound, inputs)
        last = np.asarray(outputs["logits"][:, -1, :], np.float32)
        step_logits.append(last)
        chosen = last.argmax(axis=-1)
        if eos is not None:
            chosen = np.where(done, eos, chosen)
            done |= chosen == eos
        feed = chosen[:, None].astype(np.int64)
        rows = np.concatenate([rows, feed], axis=1)
        past = {name: outputs["present." + name.split(".", 1)[1]] for name, _ in cache}
        if eos is not None and done.all():
            break
    return Generation(rows.tolist(), ids.shape[1], step_logits)


def check_length(checked, cache, prompt_shape, max_new: int) -> None:
    """UsageError before the first step where the prompt or the last step would fit no profile."""
    from .arrays import fitting_profile

    ids_shape = next(i.shape for i in checked.graph.inputs if i.name == "input_ids")
    names = [getattr(size, "name", None) for size in (ids_shape[0], ids_shape[1], cache[0][1][2])]
    steps = [(prompt_shape[1], 0)] + ([(1, prompt_shape[1] + max_new - 2)] if max_new > 1 else [])
    for sequence, past in steps:
        sizes = {n: v for n, v in zip(names, (prompt_shape[0], sequence, past)) if n is not None}
        if checked.graph.profiles and fitting_profile(checked.graph.profiles, sizes) is None:
            limits = "; ".join(p.describe(sizes) for p in checked.graph.profiles)
            given = ", ".join(f"{n}={v}" for n, v in sizes.items())
            raise UsageError(f"a prompt of {prompt_shape[1]} tokens and {max_new} new ones need {given}, which no "
                             f"profile allows ({limits})")


def check_with_transformers(checked, bound: dict, generation: Generation, eos: int | None = None) -> dict:
    """transformers' GPT2LMHeadModel, built from the spec's parameters (n_layer, n_embd, n_head,
    vocab_size, n_positions, eps) with the bound weights, generating greedily from the same prompt: its
    ids, whether they equal ``generation``'s, and each step's largest logit difference (also relative to
    the largest |logit|)."""
    import numpy as np

    try:
        import torch
        from transformers import GPT2Config, GPT2LMHeadModel
    except (ImportError, RuntimeError) as error:  # (transformers imports its models lazily: errors come here)
        raise UsageError(f"--check needs transformers and torch, which could not load GPT2LMHeadModel "
                         f"({str(error).splitlines()[0][:200]})") from None
    params = checked.graph.params
    needed = ("n_layer", "n_embd", "n_head", "vocab_size", "n_positions")
    missing = [p for p in needed if p not in params]
    if missing:
        raise UsageError(f"--check builds GPT2LMHeadModel from the spec's parameters; {checked.path} has no "
                         + ", ".join(missing))
    config = GPT2Config(**{p: int(params[p]) for p in needed},
                                     layer_norm_epsilon=float(params.get("eps", 1e-5)),
                                     bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    model = GPT2LMHeadModel(config).eval()
    keys = file_keys(checked)
    state = {keys.get(name, name): torch.from_numpy(np.array(weight.array, np.float32))
             for name, weight in bound.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)  # lm_head.weight: tied to transformer.wte
    if [m for m in missing if m != "lm_head.weight"] or unexpected:
        raise UsageError(f"--check: the weights do not fit GPT2LMHeadModel (missing {missing[:3]}, unexpected "
                         f"{unexpected[:3]})")
    prompt = torch.tensor([row[:generation.prompt_length] for row in generation.ids])
    new = len(generation.ids[0]) - generation.prompt_length
    with torch.no_grad():
        result = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new,
                                min_new_tokens=new if eos is None else 0, do_sample=False, num_beams=1,
                                output_logits=True, return_dict_in_generate=True)
    theirs = result.sequences.tolist()
    errors = []
    for ours, logits in zip(generation.step_logits, result.logits):
        expected = logits.float().numpy()
        difference = float(np.abs(ours - expected).max())
        errors.append({"max_error": difference, "relative": difference / max(float(np.abs(expected).max()), 1e-30)})
    return {"ids": theirs, "equal": theirs == generation.ids, "steps": errors}


def file_keys(checked) -> dict[str, str]:
    """Canonical weight name (<layer>.<slot>) -> the weight file's key for it, as binding looks it up."""
    from .spec.weightnames import WeightsSource

    rules = checked.graph.weights or WeightsSource(None)
    return {f"{node.name}.{slot.name}": node.weight_names.get(slot.name) or rules.file_key(f"{node.name}.{slot.name}")
            for node in checked.graph.nodes for slot in node.weight_slots(checked.types)}
