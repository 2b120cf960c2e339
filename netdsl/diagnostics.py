"""Positions, diagnostics and the two exception types.

A user mistake becomes a :class:`Diagnostic` (file, line, column, code, message, hint), collected in a
:class:`Diagnostics` list so that one run reports every problem. Code that cannot go on raises
:class:`SpecError` carrying the list. Bugs in netdsl itself are :class:`InternalError`, which the CLI
reports differently (exit code 3, with a traceback).
"""

from __future__ import annotations


class Source:
    """The text of one input file, kept for code frames."""

    __slots__ = ("path", "text", "_lines")

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        self._lines: list[str] | None = None

    def line(self, number: int) -> str:
        if self._lines is None:
            self._lines = self.text.splitlines()
        if 1 <= number <= len(self._lines):
            return self._lines[number - 1]
        return ""


class Pos:
    """A 1-based line and column in a source; ``width`` is how many characters the caret covers.

    A plain slotted class, not a dataclass: the YAML reader makes one per node, and a frozen
    dataclass's constructor is several times slower.
    """

    __slots__ = ("source", "line", "col", "width")

    def __init__(self, source: Source | None, line: int, col: int, width: int = 1):
        self.source = source
        self.line = line
        self.col = col
        self.width = width

    def __eq__(self, other):
        return (isinstance(other, Pos) and self.source is other.source
                and (self.line, self.col) == (other.line, other.col))

    def __hash__(self):
        return hash((self.path, self.line, self.col))

    def __repr__(self):
        return f"Pos({self}, width={self.width})"

    @property
    def path(self) -> str:
        return self.source.path if self.source is not None else "<unknown>"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


NOWHERE = Pos(None, 0, 0)


# Note and Diagnostic are plain slotted classes, like Pos: the command line imports this module first,
# and making them dataclasses took longer than the rest of the module.


class Note:
    __slots__ = ("pos", "message")

    def __init__(self, pos: Pos, message: str):
        self.pos = pos
        self.message = message

    def __repr__(self):
        return f"Note({self.pos}, {self.message!r})"


class Diagnostic:
    __slots__ = ("code", "message", "pos", "layer", "hint", "expected", "found", "notes", "severity", "weight")

    def __init__(self, code: str, message: str, pos: Pos, layer: str | None = None, hint: str | None = None,
                 expected: str | None = None, found: str | None = None, notes: list[Note] | None = None,
                 severity: str = "error", weight: str | None = None):
        self.code = code
        self.message = message
        self.pos = pos
        self.layer = layer
        self.hint = hint
        self.expected = expected
        self.found = found
        self.notes = notes if notes is not None else []
        self.severity = severity
        self.weight = weight  # the weight a weight-file diagnostic is about

    def __repr__(self):
        return f"Diagnostic({self.severity}[{self.code}] at {self.pos}: {self.message!r})"

    def to_json(self) -> dict:
        record = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": self.pos.path,
            "line": self.pos.line,
            "column": self.pos.col,
        }
        for key in ("layer", "weight", "expected", "found", "hint"):
            value = getattr(self, key)
            if value is not None:
                record[key] = value
        if self.notes:
            record["notes"] = [
                {"file": n.pos.path, "line": n.pos.line, "column": n.pos.col, "message": n.message}
                for n in self.notes
            ]
        return record


class Diagnostics(list):
    """An ordered list of diagnostics that drops exact repeats (a block used many times would
    otherwise report one mistake in its definition once per use)."""

    def __init__(self):
        super().__init__()
        self._seen: set = set()

    def error(self, code: str, message: str, pos: Pos, **details) -> Diagnostic:
        diagnostic = Diagnostic(code, message, pos, **details)
        self.add(diagnostic)
        return diagnostic

    def add(self, diagnostic: Diagnostic) -> None:
        key = (diagnostic.code, diagnostic.pos.path, diagnostic.pos.line, diagnostic.pos.col, diagnostic.weight)
        if key not in self._seen:
            self._seen.add(key)
            self.append(diagnostic)

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self)


class NetdslError(Exception):
    """A user-facing error: bad input or environment. The CLI prints it without a traceback."""

    exit_code = 1


class SpecError(NetdslError):
    """A spec or weights file has problems; ``diagnostics`` lists all of them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        summary = f"{first.pos}: {first.message}" if first else "invalid spec"
        more = len(self.diagnostics) - 1
        super().__init__(summary + (f" (and {more} more)" if more > 0 else ""))


class UsageError(NetdslError):
    """Bad command-line usage or a missing environment piece (exit code 2)."""

    exit_code = 2


class CannotRun(NetdslError):
    """This machine cannot run engines: no CUDA GPU, no cuda-python, or no TensorRT that runs here (exit
    code 4). Here, below every pass, so that one that needs a GPU (reading a plan) can say so too."""

    exit_code = 4


class InternalError(Exception):
    """A bug in netdsl, never a user mistake."""


def closest(word: str, candidates, cutoff: float = 0.6) -> str | None:
    """The candidate most similar to ``word``, for "did you mean" hints."""
    import difflib

    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates) -> str | None:
    match = closest(word, candidates)
    return f"did you mean `{match}`?" if match else None
