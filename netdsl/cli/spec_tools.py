"""Commands that read specs and touch neither weights' values nor TensorRT: validate, summary, diff, fmt,
graph, schema."""

from __future__ import annotations

import sys

from ..diagnostics import SpecError
from .args import EXIT_INVALID, EXIT_OK, add_format, add_output, add_set, print_json, write_or_print

SPEC_DEFAULT = "(the spec's weights file)"


def add_validate(add) -> None:
    validate = add("validate", cmd_validate, "check specs and report every problem",
                   "Check specs (YAML syntax, keys, types, names, block expansion and shapes) and report every "
                   "problem as path:line:col: error[code]: message. Exit 0 when all are valid, 1 otherwise.")
    add_set(validate)
    validate.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (.yaml)")
    add_format(validate)
    validate.add_argument("--weights", metavar="FILE", nargs="?", const=SPEC_DEFAULT,
                          help="also check a weight file (.safetensors, .wts, .npz) against the spec: every missing, "
                          "misshapen, non-finite or unused weight. Without FILE: the spec's own `weights:` file")
    validate.add_argument("--strict", action="store_true", help="with --weights: unused weights are errors")


def cmd_validate(args) -> int:
    from ..render import print_diagnostics
    from ..spec import check

    if args.weights and len(args.specs) != 1:
        from ..diagnostics import UsageError

        raise UsageError("--weights checks one spec at a time")
    records, failed = [], 0
    for path in args.specs:
        weights = args.weights
        if weights:
            from ..weights.bind import check_with_weights

            result = check_with_weights(path, None if weights is SPEC_DEFAULT else weights, args.strict,
                                        params=args.params)
            checked, diagnostics, weights = result.spec, result.diagnostics, result.weights_path
        else:
            checked, diagnostics = check(path, params=args.params)
        failed += checked is None
        if args.format == "json":
            records.append({"file": path, "valid": checked is not None,
                            "diagnostics": [d.to_json() for d in diagnostics]})
        else:
            print_diagnostics(diagnostics)
            if checked is not None:
                layers = len(checked.graph.nodes)
                bound = f", weights {weights} bound" if weights else ""
                print(f"{path}: valid ({layers} layer{'s' if layers != 1 else ''}{bound})")
    if args.format == "json":
        print_json(records if len(records) > 1 else records[0])
    return EXIT_INVALID if failed else EXIT_OK


def add_summary(add) -> None:
    summary = add("summary", cmd_summary, "table of layers, shapes, parameters and MACs",
                  "Print each layer's kind, inputs, output shape, trainable parameters and multiply-accumulates "
                  "per sample, with totals.")
    add_set(summary)
    summary.add_argument("spec", metavar="SPEC")
    add_format(summary)
    summary.add_argument("--textconv", action="store_true", help="for git's textconv: print the file itself when "
                         "it is not a valid spec, and exit 0")


def cmd_summary(args) -> int:
    from .. import summary
    from ..spec import check, load

    if args.textconv:  # for git: always some text, the file itself when it is not a valid spec
        checked, diagnostics = check(args.spec, params=args.params)
        if checked is None:
            with open(args.spec, encoding="utf-8", errors="replace") as stream:
                sys.stdout.write(stream.read())
            print("\n# netdsl: not a valid spec:\n" + "\n".join(f"#   {d.code}: {d.message}" for d in diagnostics))
            return EXIT_OK
    checked = load(args.spec, params=args.params)
    if args.format == "json":
        print_json(summary.to_json(checked))
    else:
        print(summary.format_table(checked))
    return EXIT_OK


def add_diff(add) -> None:
    differ = add("diff", cmd_diff, "what a spec change means (exit 1 when the specs differ)",
                 "Compare two specs: layers added, removed, renamed and changed (parameter by parameter), rewired "
                 "inputs, output shapes that change, parameter and MAC deltas, and whether an engine built from OLD "
                 "can be refit to NEW. OLD and NEW are paths or REV:path (read with git show). Exit 0 when the "
                 "specs define the same network and nothing else differs, 1 when they differ, like diff.\n\n"
                 "git: `git config difftool.netdsl.cmd 'netdsl diff \"$LOCAL\" \"$REMOTE\"'` then "
                 "`git difftool -t netdsl`; for `git diff`, `git config diff.netdsl.textconv 'netdsl summary "
                 "--textconv'` and `*.yaml diff=netdsl` in .gitattributes.")
    add_set(differ)
    differ.add_argument("old", metavar="OLD")
    differ.add_argument("new", metavar="NEW")
    add_format(differ)


def cmd_diff(args) -> int:
    from .. import diff
    from ..render import Painter, use_color

    if args.old.endswith(".scales") or args.new.endswith(".scales"):
        from ..quant.scales import diff_scales

        text, differ = diff_scales(args.old, args.new)
        print(text)
        return EXIT_INVALID if differ else EXIT_OK
    old, new = (diff.load_side(side, params=args.params) for side in (args.old, args.new))
    result = diff.compare(old, new, args.old, args.new)
    if args.format == "json":
        print_json(result.to_json())
    else:
        print(diff.format_text(result, Painter(use_color(sys.stdout))))
    return EXIT_OK if result.identical else EXIT_INVALID


def add_fmt(add) -> None:
    formatter = add("fmt", cmd_fmt, "rewrite specs in the canonical layout",
                    "Rewrite specs in place in one canonical layout (top-level key order, one line per input and "
                    "layer with keys in a fixed order, blank lines between sections), keeping every comment and "
                    "each scalar's spelling. The result is checked to mean exactly what the original means. With "
                    "--check nothing is written, and the exit code is 1 when a file would change (for CI).")
    formatter.add_argument("specs", nargs="+", metavar="SPEC")
    formatter.add_argument("--check", action="store_true", help="only report files that would change; exit 1 if any")


def cmd_fmt(args) -> int:
    from ..diagnostics import Diagnostics
    from ..files import write_atomic
    from ..fmt import format_text
    from ..yamlnodes import read_source

    changed = 0
    for path in args.specs:
        diagnostics = Diagnostics()
        source = read_source(path, diagnostics)
        if source is None:
            raise SpecError(diagnostics)
        formatted = format_text(source.text, path)
        if formatted == source.text:
            continue
        changed += 1
        if args.check:
            print(f"{path}: would be reformatted")
        else:
            write_atomic(path, formatted.encode("utf-8"))
            print(f"{path}: reformatted")
    return EXIT_INVALID if args.check and changed else EXIT_OK


def add_graph(add) -> None:
    picture = add("graph", cmd_graph, "draw the network (Graphviz)",
                  "Draw the network: layers with kind and parameter count, edges with tensor shapes, block instances "
                  "as clusters. The format follows -o's extension: .dot (nothing needed), .svg or .png (needs "
                  "Graphviz's `dot`: apt install graphviz).")
    add_set(picture)
    picture.add_argument("spec", metavar="SPEC")
    add_output(picture, "FILE", "net.dot, net.svg or net.png", required=True,
               stream="the format follows the extension (.dot, .svg or .png)")


def cmd_graph(args) -> int:
    from ..graph_picture import render
    from ..spec import load

    render(load(args.spec, params=args.params), args.output)
    print(f"wrote {args.output}")
    return EXIT_OK


def add_schema(add) -> None:
    schema = add("schema", cmd_schema, "print the JSON Schema of the spec language",
                 "Print a JSON Schema of the spec language. Point yaml-language-server at it with a first line "
                 "`# yaml-language-server: $schema=<path to the schema>` in a spec.")
    add_output(schema, "FILE", "write to FILE instead of standard output", stream=True)


def cmd_schema(args) -> int:
    import json

    from ..schema import build_schema

    write_or_print(json.dumps(build_schema(), indent=2) + "\n", args.output)
    return EXIT_OK


COMMANDS = {"validate": add_validate, "summary": add_summary, "diff": add_diff, "fmt": add_fmt, "graph": add_graph,
            "schema": add_schema}
