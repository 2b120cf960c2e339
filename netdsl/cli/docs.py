"""Commands about netdsl itself: `netdsl docs` (the layer-kind reference) and `netdsl completion`."""

from __future__ import annotations

import sys

from .args import EXIT_INVALID, EXIT_OK, STDOUT, add_output


def add_docs(add) -> None:
    docs = add("docs", cmd_docs, "write the reference page of every layer kind (Markdown)",
               "Generate the layer-kind reference (parameters, defaults, the PyTorch operation each kind matches, "
               "an example checked by netdsl) from the layer registry. docs/layers.md is this output.")
    add_output(docs, "FILE", "write to FILE instead of standard output", stream=True)
    docs.add_argument("--check", action="store_true", help="exit 1 if FILE is not up to date")


def cmd_docs(args) -> int:
    from ..docs import layer_reference

    text = layer_reference()
    if args.check:
        if args.output in (None, STDOUT):
            from ..diagnostics import UsageError

            raise UsageError("--check needs -o FILE, the page to compare with")
        with open(args.output, encoding="utf-8") as stream:
            if stream.read() == text:
                return EXIT_OK
        print(f"{args.output} is out of date; regenerate it: netdsl docs -o {args.output}", file=sys.stderr)
        return EXIT_INVALID
    if args.output != STDOUT and args.output:
        from ..files import write_atomic

        write_atomic(args.output, text.encode())
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def add_completion(add) -> None:
    completion = add("completion", cmd_completion, "print a shell completion script (bash, zsh)",
                     "Print a completion script for bash or zsh, generated from netdsl's own options. bash: "
                     "`source <(netdsl completion bash)` (or save it under ~/.local/share/bash-completion/completions/"
                     "netdsl); zsh: `source <(netdsl completion zsh)` in ~/.zshrc.")
    completion.add_argument("shell", choices=("bash", "zsh"))


def cmd_completion(args) -> int:
    from ..completion import script
    from . import build_parser

    sys.stdout.write(script(build_parser(), args.shell))
    return EXIT_OK


COMMANDS = {"docs": add_docs, "completion": add_completion}
