"""A Hugging Face checkpoint's config.json as the `--set` values of the zoo spec that computes the same
network: BERT-family encoders (`model_type: bert`) through specs/zoo/bert_base_uncased.yaml, CLIP
through specs/zoo/clip_vit_b_32.yaml. What the spec cannot compute (another activation, relative
positions, another image size) is refused with the key that says so, never ignored.

>>> spec, values = spec_values({"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6,
...                             "intermediate_size": 1536})
>>> spec, values["hidden"], values["layers"], values["heads"]
('bert_base_uncased', 384, 6, 12)
"""

from __future__ import annotations

from .diagnostics import NetdslError

# BertConfig's keys and defaults -> the spec's parameter names
BERT = {"vocab_size": ("vocab_size", 30522), "hidden_size": ("hidden", 768), "num_hidden_layers": ("layers", 12),
        "num_attention_heads": ("heads", 12), "intermediate_size": ("intermediate", 3072),
        "max_position_embeddings": ("max_position", 512), "type_vocab_size": ("type_vocab_size", 2),
        "layer_norm_eps": ("eps", 1e-12)}
BERT_FIXED = {"hidden_act": "gelu", "position_embedding_type": "absolute"}  # what the spec computes

# CLIPTextConfig's and CLIPVisionConfig's keys and defaults -> the spec's parameter names
CLIP_TEXT = {"vocab_size": ("vocab_size", 49408), "hidden_size": ("text_hidden", 512),
             "num_hidden_layers": ("text_layers", 12), "num_attention_heads": ("text_heads", 8),
             "intermediate_size": ("text_intermediate", 2048), "eos_token_id": ("eos_token_id", 49407)}
CLIP_VISION = {"hidden_size": ("vision_hidden", 768), "num_hidden_layers": ("vision_layers", 12),
               "num_attention_heads": ("vision_heads", 12), "intermediate_size": ("vision_intermediate", 3072),
               "patch_size": ("patch_size", 32)}
CLIP_FIXED = {"hidden_act": "quick_gelu", "max_position_embeddings": 77, "image_size": 224, "num_channels": 3}


class ConfigError(NetdslError):
    """A config.json the zoo's specs do not compute (exit code 1)."""


def spec_values(config: dict, source: str = "config.json") -> tuple[str, dict]:
    """(the zoo spec's name, its `--set` values) for a transformers config (config.json as a dict)."""
    kind = config.get("model_type")
    if kind == "bert":
        return "bert_base_uncased", _mapped(config, BERT, BERT_FIXED, source, "")
    if kind == "clip":
        text, vision = config.get("text_config") or {}, config.get("vision_config") or {}
        values = {**_mapped(text, CLIP_TEXT, {**CLIP_FIXED, "image_size": None, "num_channels": None}, source,
                            "text_config."),
                  **_mapped(vision, CLIP_VISION, {**CLIP_FIXED, "max_position_embeddings": None}, source,
                            "vision_config."),
                  "projection_dim": _number(config, "projection_dim", 512, source, ""),
                  "eps": _number(text, "layer_norm_eps", 1e-5, source, "text_config.")}
        if _number(vision, "layer_norm_eps", 1e-5, source, "vision_config.") != values["eps"]:
            raise ConfigError(f"{source}: text_config and vision_config have different layer_norm_eps; "
                              "clip_vit_b_32.yaml takes one")
        if 224 % values["patch_size"]:
            raise ConfigError(f"{source}: vision_config.patch_size {values['patch_size']} does not divide 224")
        return "clip_vit_b_32", values
    raise ConfigError(f"{source}: model_type is {kind!r}; netdsl maps 'bert' (BERT-family encoders: "
                      "bert_base_uncased.yaml) and 'clip' (clip_vit_b_32.yaml)")


def _mapped(config: dict, table: dict, fixed: dict, source: str, where: str) -> dict:
    for key, wanted in fixed.items():
        if wanted is not None and key in config and config[key] != wanted:
            raise ConfigError(f"{source}: {where}{key} is {config[key]!r}; the spec computes {wanted!r}")
    values = {name: _number(config, key, default, source, where) for key, (name, default) in table.items()}
    hidden, heads = values.get("hidden", values.get("text_hidden")), values.get("heads", values.get("text_heads"))
    for size, count in ((hidden, heads), (values.get("vision_hidden"), values.get("vision_heads"))):
        if size is not None and count and size % count:
            raise ConfigError(f"{source}: {where}hidden_size {size} is not a multiple of num_attention_heads {count}")
    return values


def _number(config: dict, key: str, default, source: str, where: str):
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{source}: {where}{key} must be a positive number, found {value!r}")
    return value


def set_arguments(values: dict) -> list[str]:
    """The values as command-line arguments: ['--set', 'hidden=384', ...]."""
    return [word for name, value in values.items() for word in ("--set", f"{name}={value!r}")]
