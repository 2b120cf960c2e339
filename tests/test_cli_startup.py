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


def loaded(code: str, modules: set) -> str:
    """Which of ``modules`` a fresh interpreter has imported after running ``code``."""
    code += f"; import sys; print(sorted(set(sys.modules) & {modules!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr


def test_validate_loads_only_what_validating_needs():
    # Each of the standard library's modules here cost `netdsl validate` a millisecond or more (dataclasses
    # with inspect about 8); benchmarks/startup.py measures the whole.
    unwanted = {"json", "netdsl.diff", "netdsl.fmt", "netdsl.summary", "netdsl.cli.trtexec",
                "netdsl.build", "netdsl.weights", "netdsl.trt", "netdsl.reference", "netdsl.runtime",
                "netdsl.cli.build", "netdsl.cli.engines", "netdsl.cli.quant", "netdsl.cli.interchange",
                "dataclasses", "inspect", "pkgutil", "shutil", "typing", "hashlib", "threading", "numpy", "ast",
                "encodings.utf_8_sig", "netdsl.spec.explain",
                "netdsl.spec.expressions",
                "yaml"}  # PyYAML's import (about 12 ms) only for files outside yamlnodes.read_subset's subset
    assert loaded("from netdsl.cli import main; main(['validate', 'specs/lenet.yaml'])", unwanted) == "[]"
    unwanted.remove("netdsl.spec.expressions")  # `${...}` expressions are evaluated by it
    # a spec with named dimensions, blocks and expressions (typing alone cost it about 8 ms)
    assert loaded("from netdsl.cli import main; main(['validate', 'specs/zoo/yolov8.yaml'])", unwanted) == "[]"


def test_validate_in_a_plain_interpreter_loads_no_more_of_the_standard_library():
    # Without `site` (-S), as an interpreter without this project's editable install starts: its finder, a .pth
    # file, imports importlib, pathlib, typing and more at every start, which hides them from the test above.
    unwanted = {"importlib", "pathlib", "typing", "urllib", "ipaddress", "encodings.utf_8_sig", "dataclasses",
                "inspect", "json", "shutil", "tempfile", "threading", "weakref", "fnmatch", "glob", "contextlib"}
    for spec in ("specs/lenet.yaml", "specs/zoo/yolov8.yaml"):
        code = (f"from netdsl.cli import main; main(['validate', {spec!r}]); import sys; "
                f"print(sorted(set(sys.modules) & {unwanted!r}))")
        result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=ROOT,
                                timeout=60)
        assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout + result.stderr


def test_no_layer_kind_needs_dataclasses():
    """Any spec's `netdsl validate` imports the modules of the kinds it uses: none may bring dataclasses."""
    assert loaded("from netdsl.ops import REGISTRY; REGISTRY.load_all()", {"dataclasses"}) == "[]"


def run_as_program(argv: list) -> list:
    """`netdsl ARGV` run as the program in a fresh interpreter (main() reading sys.argv): how many cyclic
    collections ran from main()'s start until the handler started (until main() ended where no handler ran),
    whether the collector is on at the handler's start (None: no handler ran), and whether it is on after."""
    code = ("import gc, sys\n"
            "from netdsl.cli import main\n"
            "import netdsl.cli.spec_tools as tools\n"
            "seen, at_handler = [], []\n"
            "gc.callbacks.append(lambda phase, info: phase == 'start' and seen.append(info['generation']))\n"
            "handler = tools.cmd_validate\n"
            "tools.cmd_validate = lambda args: at_handler.append((len(seen), gc.isenabled())) or handler(args)\n"
            f"sys.argv = ['netdsl', *{argv!r}]\n"
            "try:\n"
            "    main()\n"
            "except SystemExit:\n"
            "    pass\n"
            "gc.callbacks.clear()\n"
            "count, on = at_handler[0] if at_handler else (len(seen), None)\n"
            "print(count, on, gc.isenabled())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    return result.stdout.strip().splitlines()[-1].split() if result.stdout.strip() else result.stderr


def test_start_up_makes_no_collection_and_leaves_the_collector_on():
    # Start-up's objects live until exit: the collector waits until the handler starts (cli.main), then runs as
    # before; after --help or a usage error it is on again too.
    assert run_as_program(["validate", "specs/zoo/yolov8.yaml"]) == ["0", "True", "True"]
    assert run_as_program(["validate", "--help"]) == ["0", "None", "True"]
    assert run_as_program(["validate", "--no-such-option", "specs/lenet.yaml"]) == ["0", "None", "True"]
