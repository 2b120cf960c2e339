"""netdsl/huggingface.py and `netdsl hf-config`: config.json keys to the zoo specs' --set values, checked
against transformers' own configs (their to_dict(), as save_pretrained writes config.json), and every
config the specs do not compute refused with the key (exit 1), an unreadable file with exit 2."""

import json
import subprocess
import sys

import pytest

from netdsl.huggingface import ConfigError, set_arguments, spec_values

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from hf_oracle import transformers_module  # noqa: E402


def test_bert_config_maps_to_bert_spec_values():
    t = transformers_module()
    config = t.BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=128, max_position_embeddings=256, layer_norm_eps=1e-7).to_dict()
    spec, values = spec_values(config)
    assert spec == "bert_base_uncased"
    assert values == {"vocab_size": 100, "hidden": 64, "layers": 2, "heads": 4, "intermediate": 128,
                      "max_position": 256, "type_vocab_size": 2, "eps": 1e-7}
    assert set_arguments({"hidden": 64, "eps": 1e-7}) == ["--set", "hidden=64", "--set", "eps=1e-07"]


def test_clip_config_maps_to_clip_spec_values():
    t = transformers_module()
    spec, values = spec_values(t.CLIPConfig().to_dict())
    assert spec == "clip_vit_b_32"
    assert values == {"vocab_size": 49408, "text_hidden": 512, "text_layers": 12, "text_heads": 8,
                      "text_intermediate": 2048, "eos_token_id": 49407, "vision_hidden": 768, "vision_layers": 12,
                      "vision_heads": 12, "vision_intermediate": 3072, "patch_size": 32, "projection_dim": 512,
                      "eps": 1e-5}


@pytest.mark.parametrize("config, message", [
    ({"model_type": "gpt2"}, "model_type is 'gpt2'"),
    ({"model_type": "bert", "hidden_act": "gelu_new"}, "hidden_act is 'gelu_new'"),
    ({"model_type": "bert", "position_embedding_type": "relative_key"}, "position_embedding_type"),
    ({"model_type": "bert", "hidden_size": 100, "num_attention_heads": 12}, "not a multiple"),
    ({"model_type": "bert", "hidden_size": "768"}, "hidden_size must be a positive number"),
    ({"model_type": "clip", "vision_config": {"image_size": 336}}, "vision_config.image_size is 336"),
    ({"model_type": "clip", "text_config": {"hidden_act": "gelu"}}, "text_config.hidden_act is 'gelu'"),
])
def test_what_the_specs_do_not_compute_is_refused(config, message):
    with pytest.raises(ConfigError, match=message):
        spec_values(config)


def netdsl(*args, cwd):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], cwd=cwd, capture_output=True, text=True)


def test_command_prints_set_arguments_and_refuses_bad_files(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 6}))
    done = netdsl("hf-config", "config.json", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("--set vocab_size=30522 --set hidden=384 --set layers=6")
    assert "specs/zoo/bert_base_uncased.yaml" in done.stderr
    (tmp_path / "gpt2.json").write_text(json.dumps({"model_type": "gpt2"}))
    (tmp_path / "broken.json").write_text("{")
    for name, code, message in (("gpt2.json", 1, "gpt2.json: model_type is 'gpt2'"), ("broken.json", 1, "not JSON"),
                                ("missing.json", 2, "cannot read it")):
        done = netdsl("hf-config", name, cwd=tmp_path)
        assert done.returncode == code and message in done.stderr and "Traceback" not in done.stderr, done.stderr
