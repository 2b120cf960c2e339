"""README's two opening commands stay true: CI runs the test one verbatim."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def readme_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_two_commands():
    assert len(readme_commands()) == 2


def test_ci_runs_both_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci and readme_commands()[0] in ci


def test_main_command_builds_lenet():
    assert readme_commands()[0].endswith("netdsl build specs/lenet.yaml")
