"""Argument groups more than one command takes, declared once (as Polygraphy's argument groups are), and
the few helpers their handlers share. Nothing here imports more than argparse at start-up: a handler
imports what it needs when it runs."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_BUG, EXIT_CANNOT_RUN = 0, 1, 2, 3, 4
FORMATS = {"choices": ("text", "json"), "default": "text", "help": "output format (default: text)"}


def add_format(command) -> None:
    """--format text|json."""
    command.add_argument("--format", **FORMATS)


def add_set(command) -> None:
    """--set NAME=VALUE, and --max-tensor-elements N, for a command that reads a spec: see :func:`params_of`."""
    command.add_argument("--set", action="append", metavar="NAME=VALUE",
                         help="a value for one of the spec's `params:` (e.g. --set scale=s); repeat for several")
    command.add_argument("--max-tensor-elements", type=positive_count, metavar="N",
                         help="the most elements one tensor may have (default 2^31, or NETDSL_MAX_TENSOR_ELEMENTS)")


def add_plugins(command, library: bool = True, reference: bool = False) -> None:
    """--plugin-library (TensorRT plugin libraries to load) and --plugin-reference (numpy implementations of
    plugin layers for the reference executor); :func:`apply_plugins` acts on them before the handler runs."""
    if library:
        command.add_argument("--plugin-library", action="append", metavar="LIB.so", help="a TensorRT plugin library "
                             "to load before the network is built (repeat for several; the spec's `plugins:` too)")
    if reference:
        command.add_argument("--plugin-reference", action="append", metavar="[NAME=]MODULE:FUNCTION",
                             help="a numpy implementation of the plugin NAME (or of every plugin) for the reference "
                             "executor, called as FUNCTION(*inputs, **fields); MODULE is imported only with this flag")


def apply_plugins(args) -> None:
    """Load --plugin-library libraries and import --plugin-reference functions (commands that take them)."""
    references, libraries = getattr(args, "plugin_reference", None), getattr(args, "plugin_library", None)
    if not references and not libraries:
        return
    from ..ops import plugin

    for text in references or ():
        plugin.use_reference(text)
    if libraries:
        from ..trt import backend

        for path in libraries:
            plugin.load_library(backend().trt, path)


def positive_count(text: str) -> int:
    if not (text.isdigit() and text.isascii() and len(text) <= 20 and int(text) > 0):
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not `{text}`")
    return int(text)


class tensor_bound:
    """--max-tensor-elements for the duration of one command: netdsl.tensors reads the bound from
    NETDSL_MAX_TENSOR_ELEMENTS, which is set here and put back afterwards, so a later command in the same
    process (main() called twice) keeps its own bound. (A class, not ``contextlib.contextmanager``:
    contextlib's import was on every start-up.)"""

    __slots__ = ("args", "name", "before")

    def __init__(self, args):
        self.args = args
        self.name = None

    def __enter__(self):
        if not getattr(self.args, "max_tensor_elements", None):
            return None
        from ..tensors import MAX_TENSOR_ELEMENTS_VARIABLE as name

        self.name, self.before = name, os.environ.get(name)
        os.environ[name] = str(self.args.max_tensor_elements)
        return None

    def __exit__(self, *exception):
        if self.name is None:
            return False
        if self.before is None:
            os.environ.pop(self.name, None)
        else:
            os.environ[self.name] = self.before
        return False


def params_of(args) -> dict:
    """`--set NAME=VALUE...` as the ``params=`` that every spec this command reads is given."""
    from ..spec.specparams import parse_override

    values = {}
    for text in getattr(args, "set", None) or ():
        try:
            name, value = parse_override(text)
        except ValueError as error:
            from ..diagnostics import UsageError

            raise UsageError(f"--set {error}") from None
        values[name] = value
    return values


def add_weights(command, strict: bool = True, random: str | None = None) -> None:
    """--weights, and --strict; with ``random`` (its help), --random-weights and --seed too."""
    command.add_argument("--weights", metavar="FILE", help="weight file (default: the spec's `weights:`)")
    if strict:
        command.add_argument("--strict", action="store_true", help="unused weights are errors")
    if random:
        command.add_argument("--random-weights", action="store_true", help=random)
        command.add_argument("--seed", type=int, default=0, help="with --random-weights: the seed (default 0)")


def refuse_both_weights(args, doing: str) -> None:
    """--weights and --random-weights together are a usage error; ``doing``: what the command does
    without a weight file ("builds", "runs"...)."""
    if getattr(args, "random_weights", False) and args.weights:
        from ..diagnostics import UsageError

        raise UsageError(f"--random-weights {doing} without a weight file; drop --weights or --random-weights")


def network_of(args):
    """The command's spec (with --set) as a :class:`netdsl.api.Network`, bound to `--weights` (or the spec's
    own file; `--strict` where the command has it) or, with `--random-weights`, to seeded random weights."""
    from ..api import load

    refuse_both_weights(args, "runs")
    network = load(args.spec, params=args.params)
    if args.random_weights:
        return network.bind(random_weights=True, seed=args.seed)
    return network.bind(args.weights, strict=getattr(args, "strict", False))


def add_inputs(command, required: bool = True) -> None:
    """--input [NAME=]FILE, repeated."""
    if required:
        command.add_argument("--input", action="append", required=True, metavar="[NAME=]FILE",
                             help="input array (.npy, or .npz by input name); repeat for several inputs")
    else:
        command.add_argument("--input", action="append", metavar="[NAME=]FILE", help="inputs (default: seeded random)")


def add_precision(command, help_text: str, trtexec_flags: bool = True) -> None:
    """--precision P, and (``trtexec_flags``) trtexec's --fp16/--bf16 for the same thing."""
    command.add_argument("--precision", help=help_text)
    if trtexec_flags:
        from .trtexec import add_precision_flags

        add_precision_flags(command)


STDOUT = "-"
ARRAYS = "the format follows the extension (.npy or .npz); name a file"


def add_output(command, metavar: str, help_text: str, required: bool = False, stream: str | None = None,
               flags: tuple = ("-o", "--output")) -> None:
    """-o/--output PATH, checked by :func:`output_path`: never empty; `-` is standard output where ``stream`` is
    True, else refused with ``stream`` as the reason (a plan and its manifest go together...). What the help
    says about `-` is added to ``help_text``."""
    if stream is True:
        help_text = f"{help_text}; `-`: standard output" if help_text else "`-`: standard output"
    command.add_argument(*flags, required=required, metavar=metavar, help=help_text, type=output_path(stream))


def output_path(stream: str | bool | None = None):
    """An argparse ``type`` for a path to write: the empty path is refused (`-o ''` from a script whose variable
    was unset would otherwise fall back to a default name), and so is `-` unless ``stream`` is True (then
    :data:`STDOUT` stands for standard output); a string ``stream`` says why this output cannot be a stream."""

    def checked(text: str) -> str:
        if not text:
            raise argparse.ArgumentTypeError("an empty path; name the file to write")
        if text == STDOUT and stream is not True:
            raise argparse.ArgumentTypeError(f"`-` (standard output) is not taken here: {stream or 'name a file'}")
        return text

    checked.__name__ = "output path"
    return checked


def image_size(text: str) -> tuple[int, int]:
    """`--imgsz 640` (square) or `--imgsz 480,640` (height, width), as ultralytics takes imgsz."""
    parts = text.split(",")
    if len(parts) not in (1, 2) or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size or height,width in pixels (640 or 480,640), not `{text}`")
    sizes = [int(p) for p in parts]
    return sizes[0], sizes[-1]


def print_json(data) -> None:
    import json  # only where JSON is asked for: start-up counts for `netdsl validate`

    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def emit_outputs(path, outputs) -> int:
    """Outputs written to ``path`` (.npy/.npz), else described on standard output."""
    from .. import arrays

    if path:
        arrays.write_outputs(path, outputs)
        print(f"wrote {path}")
    else:
        print(arrays.describe_outputs(outputs))
    return EXIT_OK


def write_or_print(text: str, output: str | None) -> None:
    """``text`` to the file ``output`` (atomically), else (None or `-`) to standard output."""
    if output and output != STDOUT:
        from ..files import write_atomic

        write_atomic(output, text.encode())
    else:
        sys.stdout.write(text)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, told the width that it would ask shutil.get_terminal_size for: importing shutil
    (with bz2, lzma and zlib) took 2 ms of `netdsl validate`'s start-up, as argparse makes a formatter for
    every argument added."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position, terminal_columns() - 2 if width is None else width)


class RawDescriptionHelpFormatter(HelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the width of the terminal on standard output,
    else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80
