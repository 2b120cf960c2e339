"""Start-up of the command line: a command's parser built alone is the parser the whole command line has
for it, and `netdsl validate` loads only what validating needs."""

import argparse
import pathlib
import subprocess
import sys

import pytest

from netdsl.cli import build_parser

ROOT = pathlib.Path(__file__).resolve().parent.parent


def commands(parser) -> dict:
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def describe(parser) -> list:
    """Everything a parser does with arguments, its nested commands included."""
    rows = [parser.prog, parser.description, parser.get_default("handler")]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            rows += [(name, describe(child)) for name, child in action.choices.items()]
        else:
            rows.append((type(action).__name__, action.option_strings, action.dest, action.default, action.nargs,
                         action.required, action.choices, action.const, action.help, action.metavar))
    return rows


FULL = build_parser()


@pytest.mark.parametrize("name", list(commands(FULL)))
def test_a_command_built_alone_is_the_same_parser(name):
    alone = commands(build_parser(name))
    assert list(alone) == [name]
    assert describe(alone[name]) == describe(commands(FULL)[name])


@pytest.mark.parametrize("first", [None, "-h", "--version", "valdate", "specs/lenet.yaml"])
def test_anything_but_a_command_gets_every_command(first):
    assert describe(build_parser(first)) == describe(FULL)


def test_validate_loads_only_what_validating_needs():
    unwanted = {"json", "netdsl.diff", "netdsl.fmt", "netdsl.summary",
                "netdsl.build", "netdsl.weights", "netdsl.trt", "netdsl.reference", "netdsl.runtime"}
    code = ("import sys; from netdsl.cli import main; main(['validate', 'specs/lenet.yaml']); "
            f"print(sorted(set(sys.modules) & {unwanted!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr
