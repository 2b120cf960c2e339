"""The `netdsl` command: a thin layer over the Python API, one module per command group, each holding its
commands' arguments beside their handlers; argument groups several commands share are in :mod:`.args`.

Exit codes mean one thing each: 0 success, 1 the input is invalid (or differences were found),
2 usage or environment problems, 3 a bug in netdsl, 4 this machine cannot run engines (no GPU, no
cuda-python, or no TensorRT that runs on its GPU).
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..diagnostics import InternalError, NetdslError, SpecError
from .args import (EXIT_BUG, EXIT_OK, EXIT_USAGE, HelpFormatter, RawDescriptionHelpFormatter, apply_plugins,
                   params_of, tensor_bound)

INTRO = "Declarative TensorRT networks: a YAML spec in, checked before TensorRT is touched."
EXIT_CODES = ("exit codes: 0 ok, 1 the input is invalid (verify: outputs differ), 2 usage or environment error,\n"
              "  3 bug in netdsl, 4 this machine cannot run engines")
GROUPS = (  # (module, heading in `netdsl --help`, its commands in the order listed there)
    ("spec_tools", "check and read specs", ("validate", "summary", "diff", "fmt", "graph", "schema")),
    ("build", "build and refit engines", ("build", "refit")),
    ("deploy", "deployment", ("deploy",)),
    ("matrix", "fleets", ("matrix",)),
    ("engines", "run and compare", ("reference", "compare", "inspect", "run", "bench", "verify")),
    ("detect", "detection", ("detect",)),
    ("generate", "text generation", ("generate",)),
    ("quant", "quantization", ("calibrate", "scales")),
    ("weights", "weight files", ("weights",)),
    ("interchange", "ONNX and PyTorch", ("export", "import")),
    ("huggingface", "Hugging Face", ("hf-config",)),
    ("docs", "netdsl itself", ("docs", "completion")),
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. With ``only`` (a command's name), only that command's module is imported and only
    its parser built: building all of them took longer than the rest of `netdsl validate`'s start-up, since
    argparse looks up a translation of every help string. Anything that is not a command gets the whole
    parser."""
    parser = argparse.ArgumentParser(prog="netdsl", description=INTRO, formatter_class=RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"netdsl {__version__}")
    # (help suppressed: the grouped list in the description is the one list of commands)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS)
    summaries = {}

    def add(name, handler, help_text, description=None, usage=None):
        sub = commands.add_parser(name, description=description or help_text, usage=usage,
                                  formatter_class=HelpFormatter)
        sub.set_defaults(handler=handler)
        summaries[name] = help_text
        return sub

    chosen = [group for group in GROUPS if only in group[2]]
    for module_name, _, names in chosen or GROUPS:
        module = _submodule(f"{__name__}.{module_name}")
        for name in (only,) if chosen else names:
            module.COMMANDS[name](add)
    if not chosen:
        parser.description = (f"{INTRO}\n\n{command_list(commands, summaries)}\n\n`netdsl COMMAND -h` for a command's "
                              f"options.\n\n{EXIT_CODES}")
    return parser


def _submodule(name: str):
    """importlib.import_module(name) for an absolute name, without importing importlib (0.16 ms of start-up:
    the interpreter's own import statement needs no package of its own)."""
    __import__(name)
    return sys.modules[name]


def command_list(commands, summaries: dict) -> str:
    """Every command once, by group, with its one-line help (nested commands: each of theirs)."""
    lines = []
    for _, heading, names in GROUPS:
        lines += [""] * bool(lines) + [f"{heading}:"]
        for name in names:
            nested = [action for action in commands.choices[name]._actions
                      if isinstance(action, argparse._SubParsersAction)]
            rows = ([(f"{name} {choice.dest}", choice.help) for choice in nested[0]._choices_actions] if nested
                    else [(name, summaries[name])])
            lines += [f"  {command:<17}{text}" if len(command) < 17 else f"  {command}\n  {'':<17}{text}"
                      for command, text in rows]
    return "\n".join(lines)


def parse(parser: argparse.ArgumentParser, argv):
    """parse_args, except that unknown arguments are reported by the subcommand they were given to (its
    usage, not the top level's), with the netdsl spelling of trtexec and Polygraphy flags."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        from .trtexec import unknown_arguments

        target = parser
        for name in (getattr(args, "command", None), getattr(args, "weights_command", None),
                     getattr(args, "scales_command", None), getattr(args, "deploy_command", None),
                     getattr(args, "matrix_command", None)):
            choices = next((a.choices for a in target._actions if isinstance(a, argparse._SubParsersAction)), {})
            if name in choices:
                target = choices[name]
        target.error(unknown_arguments(target, extra))
    return args


def main(argv=None) -> int:
    if argv is not None:
        return run_command(list(argv))
    import gc

    # Run as the program. Start-up (the imports, the parser) makes thousands of objects that live until exit,
    # and the young-generation collections they trigger walk them again and again: about 1.4 ms of `netdsl
    # validate`'s start-up, over 10% of `python -c pass`. So the collector waits until the command's handler
    # starts; then what start-up made goes to the oldest generation (gc.freeze, then gc.unfreeze, as documented;
    # the young generation's count starts again from zero), where those collections would have moved it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        code = run_command(sys.argv[1:], started=lambda: _collect_again(collecting))
    finally:
        if collecting and not gc.isenabled():  # stopped before the handler: --help, a usage error
            _collect_again(collecting)
    # The program ends next: interpreter shutdown would free every module through one last cyclic collection
    # (about 4 ms of `netdsl validate`'s 40 ms, more than any of its imports). Frozen objects are left to the
    # operating system instead. netdsl keeps no finalizers, and atexit handlers, flushing and the exit code are
    # untouched. Not when called from Python: that process goes on.
    gc.freeze()
    return code


def _collect_again(collecting: bool) -> None:
    """The end of start-up when run as the program: see :func:`main`."""
    import gc

    if collecting:
        if not gc.get_freeze_count():  # unfreeze would release what someone else froze
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def run_command(argv: list, started=None) -> int:
    """The command line in ``argv``, run; its exit code. ``started``: called once start-up is over, right
    before the command's handler runs."""
    parser = build_parser(argv[0] if argv else None)
    args = parse(parser, argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        args.params = params_of(args)  # --set, passed to every spec the command reads
        apply_plugins(args)  # --plugin-library, --plugin-reference
        if started:
            started()
        with tensor_bound(args):
            return args.handler(args)
    except SpecError as error:
        from ..render import print_diagnostics

        print_diagnostics(error.diagnostics, getattr(args, "format", "text"))
        return error.exit_code  # 1 (EXIT_INVALID), or 2 where the machine falls short (build.Unbuildable)
    except NetdslError as error:
        print(f"netdsl: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("netdsl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except (InternalError, Exception):
        import traceback

        traceback.print_exc()
        print("netdsl: internal error: this is a bug in netdsl; please report it with the spec that caused it",
              file=sys.stderr)
        return EXIT_BUG
