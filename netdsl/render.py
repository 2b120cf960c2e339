"""Diagnostics as text (`path:line:col: error[code]: message`, a code frame with a caret, `help:` and
notes) or as JSON records."""

from __future__ import annotations

import os
import sys

from .diagnostics import Diagnostic

_COLORS = {"error": "\033[1;31m", "warning": "\033[1;33m", "note": "\033[1;36m", "help": "\033[1;32m",
           "bold": "\033[1m", "dim": "\033[2m", "reset": "\033[0m"}


def use_color(stream) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class Painter:
    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, style: str, text: str) -> str:
        return f"{_COLORS[style]}{text}{_COLORS['reset']}" if self.enabled else text


def frame(pos, paint: Painter) -> list[str]:
    if pos.source is None or pos.line < 1:
        return []
    text = pos.source.line(pos.line).replace("\t", " ")
    if not text.strip():
        return []
    gutter = " " * len(str(pos.line))
    width = max(1, min(pos.width, len(text) - pos.col + 1))
    return [
        f"{gutter} {paint('dim', '|')}",
        f"{paint('dim', str(pos.line))} {paint('dim', '|')} {text}",
        f"{gutter} {paint('dim', '|')} {' ' * (pos.col - 1)}{paint('error', '^' * width)}",
    ]


def format_diagnostic(diagnostic: Diagnostic, paint: Painter) -> str:
    where = str(diagnostic.pos) if diagnostic.pos.line >= 1 else diagnostic.pos.path  # a whole file: no line
    header = (f"{paint('bold', where)}: {paint(diagnostic.severity, diagnostic.severity)}"
              f"[{diagnostic.code}]: {diagnostic.message}")
    lines = [header, *frame(diagnostic.pos, paint)]
    if diagnostic.expected is not None and diagnostic.found is not None:
        lines.append(f"  = expected {diagnostic.expected}, found {diagnostic.found}")
    if diagnostic.hint:
        lines.append(f"  = {paint('help', 'help')}: {diagnostic.hint}")
    for note in diagnostic.notes:
        lines.append(f"  = {paint('note', 'note')}: {note.pos}: {note.message}")
    return "\n".join(lines)


def print_diagnostics(diagnostics, fmt: str = "text", stream=None) -> None:
    stream = stream or sys.stderr
    if fmt == "json":
        import json

        json.dump([d.to_json() for d in diagnostics], stream, indent=2)
        stream.write("\n")
        return
    paint = Painter(use_color(stream))
    for diagnostic in diagnostics:
        stream.write(format_diagnostic(diagnostic, paint) + "\n\n")
    errors = sum(d.severity == "error" for d in diagnostics)
    if errors:
        stream.write(paint("error", f"{errors} error{'s' if errors != 1 else ''}") + "\n")
