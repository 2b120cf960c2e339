"""docs/huggingface.md's commands, run as written (each `netdsl` line of its ```sh blocks, through a
shell for the `$(netdsl hf-config ...)`) in a folder holding the checkpoints it names, saved by
transformers' own `save_pretrained` from small random models: all-MiniLM-L6-v2/ a two-layer BertModel,
clip-vit-base-patch32/ a two-layer CLIPModel. Builds take seconds: slow."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "huggingface.md"
sys.path.insert(0, str(ROOT / "tests"))


def commands():
    blocks = re.findall(r"^```sh\n(.*?)^```", PAGE.read_text(), re.S | re.M)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("netdsl ")]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from hf_oracle import transformers_module

    t = transformers_module()
    folder = tmp_path_factory.mktemp("hf")
    t.BertModel(t.BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                             intermediate_size=128)).save_pretrained(folder / "all-MiniLM-L6-v2")
    text = dict(vocab_size=1000, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                eos_token_id=999, bos_token_id=0, pad_token_id=1)
    vision = dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4)
    t.CLIPModel(t.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(
        folder / "clip-vit-base-patch32")
    (folder / "specs").symlink_to(ROOT / "specs")
    return folder


def test_the_page_has_commands():
    assert any(" build " in c for c in commands()) and any("hf-config" in c for c in commands())


@pytest.mark.parametrize("command", [pytest.param(c, marks=pytest.mark.slow if " build " in c else ())
                                     for c in commands()])
def test_command_runs(checkpoints, command):
    netdsl = shutil.which("netdsl", path=os.path.dirname(sys.executable))
    assert netdsl, "the netdsl command is installed beside this python"
    env = {**os.environ, "PATH": os.path.dirname(netdsl) + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(["bash", "-c", "set -o pipefail; " + command], cwd=checkpoints, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    if "hf-config" in command and " --format json" in command:
        import json

        assert json.loads(done.stdout)["params"]["hidden"] == 64
