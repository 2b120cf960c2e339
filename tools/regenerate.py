"""Rewrite every file generated from the kind registry, or say which are stale.

    python tools/regenerate.py            # rewrite the stale ones
    python tools/regenerate.py --check    # write nothing; list the stale ones, exit 1 if any

The generated files: the index of which op module defines each kind (netdsl/ops/_kinds.py), the layer
reference (docs/layers.md), the JSON Schema of the spec language (schema/netdsl-1.schema.json) and the
kind table of README.md (between its ``<!-- kinds:start -->`` and ``<!-- kinds:end -->`` markers; the
rest of the README is written by hand). Adding a kind: write its op module and its cases, run this.
``--root DIR`` reads and writes the files under DIR instead of this checkout (the test of ``--check``
points it at a copy); what they should hold always comes from the netdsl that Python imports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- kinds:start -->", "<!-- kinds:end -->"


def kind_index(_: str) -> str:
    from netdsl.ops import index_source

    return index_source()


def layer_page(_: str) -> str:
    from netdsl.docs import layer_reference

    return layer_reference()


def schema(_: str) -> str:
    from netdsl.schema import build_schema

    return json.dumps(build_schema(), indent=2) + "\n"


def readme(current: str) -> str:
    """README.md with the text between the markers replaced by the kind table."""
    from netdsl.docs import kind_table

    if current.count(START) != 1 or current.count(END) != 1 or current.index(START) > current.index(END):
        raise SystemExit(f"README.md needs one {START} line and, below it, one {END} line")
    head, rest = current.split(START)
    return head + START + "\n" + kind_table() + END + rest.split(END, 1)[1]


# path under the root -> the file's text from its current text (only the README keeps hand-written parts)
GENERATED: dict[str, Callable[[str], str]] = {
    "netdsl/ops/_kinds.py": kind_index,
    "docs/layers.md": layer_page,
    "schema/netdsl-1.schema.json": schema,
    "README.md": readme,
}


def stale_files(root: Path) -> dict[Path, str]:
    """Each generated file under ``root`` whose text differs from what it should be, with that text."""
    stale = {}
    for relative, generate in GENERATED.items():
        path = root / relative
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        wanted = generate(current)
        if wanted != current:
            stale[path] = wanted
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; print each stale file, exit 1 if any")
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree holding the files (default: this checkout)")
    args = parser.parse_args(argv)
    stale = stale_files(args.root)
    for path, text in stale.items():
        if args.check:
            print(f"stale: {path}")
        else:
            from netdsl.files import write_atomic

            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text.encode())
            print(f"wrote {path}")
    if args.check and stale:
        print("regenerate them: python tools/regenerate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # the checkout's netdsl, also when it is not installed
    sys.exit(main())
