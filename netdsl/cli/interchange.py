"""Models in and out of netdsl: `netdsl export` (ONNX), `netdsl import` (ONNX, or a PyTorch module)."""

from __future__ import annotations

import sys

from .args import (EXIT_OK, STDOUT, add_format, add_output, add_set, add_weights, network_of,
                   refuse_both_weights)


def need_onnx(command: str) -> None:
    """A clean exit 2 when the optional onnx package is missing."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        from ..diagnostics import UsageError

        raise UsageError(f"netdsl {command} needs the onnx package: pip install 'netdsl[onnx]' (or pip install onnx)") \
            from None


def add_export(add) -> None:
    exporter = add("export", cmd_export, "write the network and its weights as an ONNX model",
                   "Write SPEC with its weights as an ONNX model (opset 21) that Netron, ONNX Runtime and trtexec "
                   "read: tensors keep the spec's names, nodes are named <layer>/<OpType>, weights are initializers "
                   "named <layer>.<slot> (PyTorch's state_dict keys), a dynamic dimension is an ONNX symbolic "
                   "dimension of its name (N). The model passes onnx.checker's full check before it is written; "
                   "nothing is written when a layer has no ONNX form (each one is listed). Needs the onnx package.",
                   usage="netdsl export SPEC -o OUT.onnx [--weights FILE | --random-weights [--seed N]]")
    add_set(exporter)
    exporter.add_argument("spec", metavar="SPEC")
    add_output(exporter, "OUT", "the .onnx file to write", required=True, stream=True)
    add_weights(exporter, strict=False, random="seeded random weights instead of a weight file (as `build "
                "--random-weights`), to look at the graph or time it")
    add_format(exporter)


def cmd_export(args) -> int:
    need_onnx("export")
    refuse_both_weights(args, "exports")
    streamed = args.output == STDOUT  # the model on standard output, what is said about it on standard error
    written = network_of(args).export_onnx(None if streamed else args.output)
    if streamed:
        sys.stdout.buffer.write(written.pop("data"))
        sys.stdout.flush()
        written["path"] = STDOUT
    report = sys.stderr if streamed else sys.stdout
    if args.format == "json":
        import json

        print(json.dumps(written, indent=2), file=report)
    else:
        marked = ", RANDOM WEIGHTS" if args.random_weights else ""
        print(f"wrote {written['path']} ({written['bytes']:,} bytes; {written['nodes']} nodes, "
              f"{written['initializers']} initializers, opset {written['opset']}{marked})", file=report)
    return EXIT_OK


def add_import(add) -> None:
    importer = add("import", cmd_import, "an ONNX model (or a PyTorch module) as a readable spec and its weights",
                   "Read an ONNX model and write a spec (-o, .yaml) and its weights next to it (.safetensors, "
                   "state_dict names). Layer names come from the model's module names (PyTorch's exports keep them), "
                   "batch norm, activations and biases stay layers, shape computations become the plain operation "
                   "they compute, attention is one layer, and repeated modules become blocks (repeat for chains, with: "
                   "per instance otherwise). Dynamic dimensions other than the batch become named dimensions "
                   "(ranges: --dim). The spec is checked by netdsl before it is written. What netdsl cannot express is listed node by node and nothing is written, "
                   "unless --partial. Hostile files (truncated, lying sizes, external data outside the model's "
                   "folder) are refused. --torch MODULE:NAME imports a PyTorch module instead (MODULE looked for in the current "
                   "folder first, as `python -m` does), traced by torch.onnx's TorchScript exporter (torch.jit's "
                   "tracer, dynamo=False) on random inputs of the --shape given; its outputs are named "
                   "output0, output1... or --output-names.",
                   usage="netdsl import MODEL.onnx -o SPEC.yaml [--partial] [--batch MIN,OPT,MAX] "
                         "[--dim NAME=MIN:OPT:MAX]\n"
                         "       netdsl import --torch PACKAGE.MODULE:FACTORY --shape 1x3x224x224 -o SPEC.yaml "
                         "[--output-names A,B]")
    importer.add_argument("model", metavar="MODEL", help="an .onnx file, or with --torch a Python path "
                          "`package.module:callable` (a module class or a function returning a module)")
    add_output(importer, "SPEC", "the spec to write (.yaml); never `-`", required=True,
               stream="the spec and its weights (.safetensors beside it) are written together; name a file")
    importer.add_argument("--partial", action="store_true", help="write what can be expressed; outputs of nodes "
                          "left out become inputs of the spec")
    importer.add_argument("--batch", metavar="MIN,OPT,MAX", help="the range of a dynamic batch (default: the one "
                          "netdsl export recorded, else 1,1,32)")
    importer.add_argument("--dim", action="append", metavar="NAME=MIN:OPT:MAX[:STEP]",
                          help="the range of a named dynamic dimension (ONNX's dim_param, e.g. height=32:224:512; STEP "
                          "sets multiple_of, which the import otherwise finds); repeat for each. Default 32:224:1024")
    importer.add_argument("--torch", action="store_true", help="MODEL is a PyTorch module to trace (torch.onnx's "
                          "TorchScript tracer)")
    importer.add_argument("--shape", action="append", metavar="DIMS", help="with --torch: an example input shape, "
                          "e.g. 1x3x224x224 (N first: a dynamic batch, or --shape=-1x3x224x224); repeat for several "
                          "inputs")
    importer.add_argument("--output-names", metavar="A,B,...", help="with --torch: names of the module's outputs, "
                          "in the order it returns them (default: output0, output1, ...)")


def cmd_import(args) -> int:
    from ..diagnostics import UsageError

    batch = batch_range(args.batch)
    if not args.output.endswith((".yaml", ".yml")):
        raise UsageError(f"-o names the spec to write (.yaml), found {args.output!r}")
    sizes = None
    if args.dim and args.torch:
        raise UsageError("--dim ranges the dynamic dimensions of an ONNX file; --torch traces at the --shape given")
    if args.dim:
        from ..onnx.dims import parse

        try:
            sizes = parse(args.dim, batch)
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.output_names and not args.torch:
        raise UsageError("--output-names names the outputs of a module traced with --torch; an ONNX file keeps its own")
    if args.torch:
        from ..torch_import import import_torch_cli

        names = args.output_names.split(",") if args.output_names else None
        imported = import_torch_cli(args.model, args.output, args.shape, batch, names)
    else:
        need_onnx("import")
        from ..onnx.importer import import_onnx

        imported = import_onnx(args.model, args.output, args.partial, batch, sizes)
    for problem in imported.problems:
        print(f"left out: {problem}", file=sys.stderr)
    stem = args.output.rsplit(".", 1)[0]
    weights = f" and {stem}.safetensors ({len(imported.weights)} tensors)" if imported.weights else ""
    partial = f"; PARTIAL: {len(imported.problems)} thing(s) left out" if imported.problems else ""
    print(f"wrote {args.output} ({imported.layers} layers, {imported.blocks} blocks){weights}{partial}")
    return EXIT_OK


def batch_range(text: str | None) -> tuple[int, int, int] | None:
    """`--batch MIN,OPT,MAX` -> (min, opt, max)."""
    if not text:
        return None
    try:
        batch = tuple(int(v) for v in text.split(","))
    except ValueError:
        batch = ()
    if len(batch) != 3 or not 1 <= batch[0] <= batch[1] <= batch[2]:
        from ..diagnostics import UsageError

        raise UsageError(f"--batch takes MIN,OPT,MAX with 1 <= MIN <= OPT <= MAX, found {text!r}")
    return batch


COMMANDS = {"export": add_export, "import": add_import}
