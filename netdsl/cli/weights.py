"""`netdsl weights ls|convert`: weight files (.safetensors, .wts, .npz) on their own."""

from __future__ import annotations

import sys

from .args import EXIT_OK, HelpFormatter, add_format, add_set, output_path, print_json


def add_weights_commands(add) -> None:
    weights = add("weights", None, "list or convert weight files",
                  "Weight files: .safetensors, tensorrtx/NVIDIA .wts and .npz (and PyTorch state_dicts, .pt, to read).")
    commands = weights.add_subparsers(dest="weights_command", metavar="COMMAND", required=True)
    listed = commands.add_parser("ls", formatter_class=HelpFormatter,
                                 help="names, dtypes, shapes and bytes of every tensor",
                                 description="List every tensor of a weight file: name, dtype, shape "
                                 "(.wts files are flat) and bytes, with totals.")
    listed.set_defaults(handler=cmd_weights_ls)
    listed.add_argument("file", metavar="FILE")
    add_format(listed)
    converted = commands.add_parser(
        "convert", formatter_class=HelpFormatter, help="convert between .safetensors, .wts and .npz (or from .pt)",
        description="Convert a weight file; formats follow the extensions. float32 values are kept exactly; "
        "float16/bfloat16 widen to float32 where the target lacks them; a conversion that would round a value "
        "is refused. IN may be a PyTorch state_dict (.pt, .pth, .ckpt; needs torch), read with torch.load's "
        "weights_only=True, which runs no code: an ultralytics checkpoint or a pickled model is refused with the "
        "command that saves its state_dict. .wts files store tensors flat: --spec SPEC binds them to SPEC and "
        "gives each the shape of the layer that reads it. OUT is written atomically: on failure nothing is "
        "written.", usage="netdsl weights convert IN OUT [--spec SPEC [--set NAME=VALUE]]")
    converted.set_defaults(handler=cmd_weights_convert)
    converted.add_argument("input", metavar="IN")
    converted.add_argument("output", metavar="OUT", type=output_path("the format follows the extension"))
    converted.add_argument("--spec", metavar="SPEC", help="bind IN to this spec first (all problems reported, "
                           "nothing written) and restore the shapes of flat (.wts) tensors from its layers")
    add_set(converted)


def cmd_weights_ls(args) -> int:
    from ..weights.convert import format_listing, listing, read_tensors

    tensors, notes = read_tensors(args.file)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    rows = listing(tensors)
    if args.format == "json":
        print_json({"file": args.file, "tensors": rows})
    else:
        print(format_listing(rows))
    return EXIT_OK


def cmd_weights_convert(args) -> int:
    from ..weights.convert import convert

    for note in convert(args.input, args.output, args.spec, args.params):
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.output}")
    return EXIT_OK


COMMANDS = {"weights": add_weights_commands}
