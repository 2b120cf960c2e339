"""`netdsl weights ls|convert`: weight files (.safetensors, .wts, .npz) on their own."""

from __future__ import annotations

import sys

from .args import EXIT_OK, HelpFormatter, add_format, output_path, print_json


def add_weights_commands(add) -> None:
    weights = add("weights", None, "list or convert weight files",
                  "Weight files: .safetensors, tensorrtx/NVIDIA .wts and .npz.")
    commands = weights.add_subparsers(dest="weights_command", metavar="COMMAND", required=True)
    listed = commands.add_parser("ls", formatter_class=HelpFormatter,
                                 help="names, dtypes, shapes and bytes of every tensor",
                                 description="List every tensor of a weight file: name, dtype, shape "
                                 "(.wts files are flat) and bytes, with totals.")
    listed.set_defaults(handler=cmd_weights_ls)
    listed.add_argument("file", metavar="FILE")
    add_format(listed)
    converted = commands.add_parser(
        "convert", formatter_class=HelpFormatter, help="convert between .safetensors, .wts and .npz",
        description="Convert a weight file; formats follow the extensions. float32 values are kept exactly; "
        "float16/bfloat16 widen to float32 where the target lacks them; a conversion that would round a value "
        "is refused. OUT is written atomically: on failure nothing is written.")
    converted.set_defaults(handler=cmd_weights_convert)
    converted.add_argument("input", metavar="IN")
    converted.add_argument("output", metavar="OUT", type=output_path("the format follows the extension"))


def cmd_weights_ls(args) -> int:
    from ..weights import read_weights
    from ..weights.convert import format_listing, listing

    rows = listing(read_weights(args.file))
    if args.format == "json":
        print_json({"file": args.file, "tensors": rows})
    else:
        print(format_listing(rows))
    return EXIT_OK


def cmd_weights_convert(args) -> int:
    from ..weights.convert import convert

    for note in convert(args.input, args.output):
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.output}")
    return EXIT_OK


COMMANDS = {"weights": add_weights_commands}
