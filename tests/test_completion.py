"""Shell completion generated from the parser: bash runs the script and completes subcommands,
options, option values and file names."""

import pathlib
import shutil
import subprocess
import sys

import pytest

from netdsl.cli import build_parser
from netdsl.completion import script

ROOT = pathlib.Path(__file__).resolve().parent.parent


def complete(*words, cwd=ROOT):
    """What bash's completion offers for ``netdsl WORDS...`` (the last word being completed)."""
    program = ("source /dev/stdin; COMP_WORDS=(\"$@\"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _netdsl; "
               "printf '%s\\n' \"${COMPREPLY[@]}\"")
    result = subprocess.run(["bash", "-c", program, "bash", "netdsl", *words], input=script(build_parser(), "bash"),
                            capture_output=True, text=True, cwd=cwd, timeout=30)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line]


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


@needs_bash
@pytest.mark.parametrize("words,expected", [
    (("bu",), ["build"]),
    (("weights", ""), ["ls", "convert"]),
    (("build", "--pre"), ["--precision"]),
    (("build", "--precision", ""), ["float32", "float16", "bfloat16"]),
    (("build", "--format", "j"), ["json"]),
    (("build", "--save"), ["--saveEngine", "--save-engine"]),
    (("weights", "ls", "--f"), ["--format"]),
    (("refit", "x.plan", "--ch"), ["--check"]),
    (("completion", ""), ["bash", "zsh"]),
    (("build", "specs/le"), ["specs/lenet.yaml"]),
    (("build", "-o", "specs/le"), ["specs/lenet.yaml"]),
])
def test_bash_completes(words, expected):
    assert complete(*words) == expected


def test_every_subcommand_and_option_is_in_the_script():
    text = script(build_parser(), "bash")
    for word in ("build", "refit", "validate", "weights", "convert", "--random-weights", "--strict", "--check"):
        assert word in text
    assert "bashcompinit" in script(build_parser(), "zsh") and "bashcompinit" not in text


@needs_bash
def test_command_prints_a_script_bash_accepts(tmp_path):
    result = subprocess.run([sys.executable, "-m", "netdsl", "completion", "bash"], capture_output=True, text=True,
                            cwd=ROOT, timeout=60)
    assert result.returncode == 0
    (tmp_path / "netdsl.bash").write_text(result.stdout)
    check = subprocess.run(["bash", "-c", f"source {tmp_path / 'netdsl.bash'} && complete -p netdsl"],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "_netdsl" in check.stdout
