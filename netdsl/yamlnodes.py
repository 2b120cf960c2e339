"""Safe YAML reading with positions kept.

The subset of YAML that specs are written in is read in Python (:func:`read_subset`, at the end); any
other file, and every file with a mistake, goes to libyaml: its parser (through PyYAML, no Python objects
constructed from tags) produces events, which this module composes into the same :class:`Scalar`,
:class:`Seq` and :class:`Map` nodes, remembering where they stood. Composing here rather than with ``yaml.compose`` buys four things a spec language needs:

- scalars follow the YAML 1.2 core schema (``no`` and ``on`` stay strings; ``1e3`` is a number);
- duplicate keys are errors instead of silently keeping the last one;
- nesting depth and alias expansion are bounded, so a "billion laughs" file or ``[[[[…`` ten
  thousand deep is an error in bounded time (libyaml's own composer overflows the C stack on the latter);
- merge keys (``<<: *base``) work, with their expansion counted in the same budget.
"""

from __future__ import annotations

import gc
import math
import re

from .diagnostics import Diagnostics, Note, Pos, Source

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 1_000_000  # after alias expansion
MAX_NUMBER_CHARS = 64


class Node:
    __slots__ = ("pos",)

    def plain(self):
        """The node as plain Python data (dicts, lists, scalars), positions dropped."""
        raise NotImplementedError


class Scalar(Node):
    __slots__ = ("value", "quoted")

    def __init__(self, value, pos: Pos, quoted: bool = False):
        self.value = value
        self.pos = pos
        self.quoted = quoted

    def plain(self):
        return self.value

    def __repr__(self):
        return f"Scalar({self.value!r})"


class Seq(Node):
    __slots__ = ("items",)

    def __init__(self, pos: Pos):
        self.items: list[Node] = []
        self.pos = pos

    def plain(self):
        return [item.plain() for item in self.items]


class Map(Node):
    __slots__ = ("entries", "key_pos")

    def __init__(self, pos: Pos):
        self.entries: dict[str, Node] = {}
        self.key_pos: dict[str, Pos] = {}
        self.pos = pos

    def plain(self):
        return {key: value.plain() for key, value in self.entries.items()}


def describe(node: Node) -> str:
    """How a node is named in messages: 'a mapping', 'the string "x"', 'the number 3'."""
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return f"a list of {len(node.items)}"
    value = node.value
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    shown = value if len(value) <= 40 else value[:37] + "..."
    return f'the string "{shown}"'


_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_SPECIAL = {
    "null": None, "Null": None, "NULL": None, "~": None, "": None,
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf,
    "+.INF": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
}
_NUMERIC_START = set("0123456789+-.")


def resolve_plain(text: str):
    """YAML 1.2 core schema resolution of a plain scalar. Raises ValueError for over-long numbers."""
    if text in _SPECIAL:
        return _SPECIAL[text]
    if text[0] not in _NUMERIC_START:
        return text
    if _INT.match(text):
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError(f"number has {len(text)} digits")
        return int(text)
    if _FLOAT.match(text):
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError(f"number has {len(text)} characters")
        return float(text)
    if _HEX.match(text) or _OCT.match(text):
        if len(text) > MAX_NUMBER_CHARS:
            raise ValueError(f"number has {len(text)} digits")
        return int(text, 0)
    return text


_TAG_PREFIX = "tag:yaml.org,2002:"


def _tagged(tag: str, text: str):
    name = tag[len(_TAG_PREFIX):] if tag.startswith(_TAG_PREFIX) else None
    if name == "str":
        return text
    if name in ("int", "float", "bool", "null"):
        value = resolve_plain(text) if text else None
        wanted = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[name]
        if isinstance(value, wanted) and not (name != "bool" and isinstance(value, bool)):
            return float(value) if name == "float" else value
        raise ValueError(f"`{text}` is not a valid !!{name}")
    raise KeyError(tag)


def read_source(path: str, diagnostics: Diagnostics, max_bytes: int = MAX_FILE_BYTES) -> Source | None:
    """Read a UTF-8 text file with a size bound; problems become diagnostics (about the whole file,
    line 0, when it cannot be opened)."""
    from .files import open_regular

    where = Pos(Source(path, ""), 0, 0)
    try:
        with open_regular(path) as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        diagnostics.error("file-not-found", f"no such file: {path}" + resolved_note(path), where)
        return None
    except IsADirectoryError:
        diagnostics.error("file-not-found", f"{path} is a directory, not a file", where)
        return None
    except OSError as error:
        diagnostics.error("file-unreadable", f"cannot read {path}: {error.strerror}", where)
        return None
    return decode_source(path, data, diagnostics, max_bytes)


def resolved_note(path: str) -> str:
    """` (resolved: /abs/path)` when a relative path was given, so the reader sees where it was looked for."""
    import os

    absolute = os.path.abspath(path)
    return "" if absolute == path else f" (resolved: {absolute})"


def decode_source(path: str, data: bytes, diagnostics: Diagnostics,
                  max_bytes: int = MAX_FILE_BYTES) -> Source | None:
    where = Pos(Source(path, ""), 1, 1)
    if len(data) > max_bytes:
        diagnostics.error(
            "file-too-large", f"file is larger than {max_bytes // (1024 * 1024)} MiB", where,
            hint="specs are small text files; use blocks and `repeat` instead of generated copies")
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        diagnostics.error("bad-encoding", "file is UTF-16; netdsl reads UTF-8 only", where)
        return None
    try:
        # utf-8-sig's decoding (one leading BOM dropped; an error's start counted after it), without importing
        # its codec module at every start-up
        body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:  # its place and byte in the text after the BOM, as an editor shows it
        line = body.count(b"\n", 0, error.start) + 1
        col = error.start - (body.rfind(b"\n", 0, error.start) + 1) + 1
        diagnostics.error("bad-encoding", f"file is not valid UTF-8 (byte 0x{body[error.start]:02x})",
                          Pos(Source(path, ""), line, col), hint="save the file as UTF-8")
        return None
    return Source(path, text)


class _Frame:
    __slots__ = ("node", "anchor", "key", "key_node", "size", "merges")

    def __init__(self, node, anchor):
        self.node = node
        self.anchor = anchor
        self.key = None
        self.key_node = None
        self.size = 1
        self.merges = None


class _Composer:
    def __init__(self, source: Source, diagnostics: Diagnostics):
        self.source = source
        self.diagnostics = diagnostics
        self.anchors: dict[str, Node] = {}
        self.open_anchors: set[str] = set()
        self.sizes: dict[int, int] = {}  # id(anchored container) -> expanded node count
        self.expanded = 0

    def pos(self, mark, width: int = 1) -> Pos:
        return Pos(self.source, mark.line + 1, mark.column + 1, width)

    def compose(self, next_event) -> Node | None:
        import yaml

        ScalarEvent, AliasEvent = yaml.ScalarEvent, yaml.AliasEvent
        MapStart, SeqStart = yaml.MappingStartEvent, yaml.SequenceStartEvent
        MapEnd, SeqEnd = yaml.MappingEndEvent, yaml.SequenceEndEvent
        DocStart, StreamEnd = yaml.DocumentStartEvent, yaml.StreamEndEvent
        stack: list[_Frame] = []
        root = None
        documents = 0
        while True:
            event = next_event()
            kind = type(event)
            if kind is ScalarEvent:
                node, size = self.scalar(event, self.source), 1
                self.expanded += 1
            elif kind is MapStart or kind is SeqStart:
                if not self.open_container(event, kind is MapStart, stack):
                    return None
                continue
            elif kind is MapEnd or kind is SeqEnd:
                node, size = self.close_container(stack.pop())
            elif kind is AliasEvent:
                node = self.alias(event)
                if node is None:
                    return None
                size = self.sizes.get(id(node), 1)
                self.expanded += size
            elif kind is DocStart:
                documents += 1
                if documents > 1:
                    self.diagnostics.error("multiple-documents", "a spec file holds one YAML document",
                                           self.pos(event.start_mark), hint="remove the `---` line")
                    return None
                continue
            elif kind is StreamEnd:
                return root
            else:  # stream start, document end
                continue
            if self.expanded > MAX_NODES:
                self.diagnostics.error(
                    "too-many-nodes",
                    f"the document expands to more than {MAX_NODES:,} YAML nodes"
                    + (" through aliases" if self.sizes else ""),
                    self.pos(event.start_mark),
                    hint="anchors and aliases that nest each other grow exponentially")
                return None
            if stack:
                self.attach(stack[-1], node, size)
            else:
                root = node

    def open_container(self, event, is_map: bool, stack: list[_Frame]) -> bool:
        """Push a new map or sequence; False (reported) past MAX_DEPTH."""
        mark = event.start_mark
        if len(stack) >= MAX_DEPTH:
            self.diagnostics.error("too-deep", f"nesting is deeper than {MAX_DEPTH} levels", self.pos(mark))
            return False
        container = (Map if is_map else Seq)(Pos(self.source, mark.line + 1, mark.column + 1))
        if event.tag is not None:
            self.check_tag(event, "map" if is_map else "seq")
        if event.anchor:
            self.open_anchors.add(event.anchor)
        stack.append(_Frame(container, event.anchor))
        self.expanded += 1
        return True

    def close_container(self, frame: _Frame) -> tuple[Node, int]:
        """The finished map or sequence, its `<<` merges applied and its anchor now usable; and its size."""
        node = frame.node
        if frame.merges:
            self.merge(node, frame.merges)
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = node
            self.sizes[id(node)] = frame.size
        return node, frame.size

    def attach(self, frame: _Frame, node: Node, size: int) -> None:
        """Add ``node`` to the open container: an item of a sequence, or a map's key, then its value."""
        frame.size += size
        parent = frame.node
        if type(parent) is Seq:
            parent.items.append(node)
            return
        if frame.key_node is None:
            frame.key_node = node
            frame.key = self.key(node)
            return
        key, key_node = frame.key, frame.key_node
        frame.key = frame.key_node = None
        if key is None:
            return
        if key == "<<" and not key_node.quoted:
            frame.merges = (frame.merges or []) + [node]
        elif key in parent.entries:
            self.diagnostics.error(
                "duplicate-key", f"key `{key}` appears twice in this mapping", key_node.pos,
                notes=[Note(parent.key_pos[key], "first defined here")],
                hint="YAML keeps only one of them; remove or rename the other")
        else:
            parent.entries[key] = node
            parent.key_pos[key] = key_node.pos

    def key(self, node: Node) -> str | None:
        if type(node) is not Scalar:
            self.diagnostics.error("bad-key", "mapping keys must be plain names, not " + describe(node),
                                   node.pos)
            return None
        value = node.value
        return value if type(value) is str else _key_text(value)

    def scalar(self, event, source) -> Scalar:
        text = event.value
        start, end = event.start_mark, event.end_mark
        pos = Pos(source, start.line + 1, start.column + 1,
                  end.column - start.column if end.line == start.line and end.column > start.column else 1)
        style = event.style
        tag = event.tag
        if tag is not None and tag != "!":
            try:
                value = _tagged(tag, text)
            except KeyError:
                self.diagnostics.error("unsupported-tag", f"YAML tag `{tag}` is not supported",
                                       pos, hint="netdsl reads plain YAML data; remove the tag")
                value = text
            except ValueError as error:
                self.diagnostics.error("bad-scalar", str(error), pos)
                value = text
        elif not style:
            try:
                value = resolve_plain(text) if text and (text[0] in _NUMERIC_START or text in _SPECIAL) \
                    else (None if not text else text)
            except ValueError as error:
                self.diagnostics.error("number-too-long", f"{error}; numbers in a spec are short",
                                       pos, found=text[:20] + "...")
                value = text
        else:
            value = text
        node = Scalar(value, pos, bool(style))
        if event.anchor:
            self.anchors[event.anchor] = node
        return node



    def alias(self, event) -> Node | None:
        name = event.anchor
        if name in self.open_anchors:
            self.diagnostics.error("recursive-alias", f"alias `*{name}` refers to a node that contains it",
                                   self.pos(event.start_mark))
            return None
        node = self.anchors.get(name)
        if node is None:
            self.diagnostics.error("unknown-anchor", f"alias `*{name}` names no anchor defined before it",
                                   self.pos(event.start_mark))
            return None
        return node

    def check_tag(self, event, kind: str) -> None:
        if event.tag not in ("!", _TAG_PREFIX + kind):
            self.diagnostics.error("unsupported-tag", f"YAML tag `{event.tag}` is not supported",
                                   self.pos(event.start_mark), hint="netdsl reads plain YAML data; remove the tag")

    def merge(self, node: Node, merges: list[Node]) -> None:
        if not isinstance(node, Map):
            return
        sources: list[Node] = []
        for merged in merges:
            sources.extend(merged.items if isinstance(merged, Seq) else [merged])
        for merged in sources:
            if not isinstance(merged, Map):
                self.diagnostics.error("bad-merge", "a merge key `<<` takes a mapping or a list of mappings, "
                                       f"not {describe(merged)}", merged.pos)
                continue
            for key, value in merged.entries.items():
                if key not in node.entries:
                    node.entries[key] = value
                    node.key_pos[key] = merged.key_pos[key]


def _key_text(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class paused_gc:
    """Run a block with Python's cyclic garbage collector paused (and restore its state after); also a
    decorator (``@paused_gc()``) that runs each call so.

    Reading a spec builds hundreds of thousands of small objects that live on and hold no cycles.
    Each collection the allocations trigger walks all of them again, so with the collector on, a
    10k-layer spec costs twice per layer what a 1k-layer one does. Reference counting still frees
    everything as usual; only cycles wait for the collector's next run after the block.

    After the block, what it built goes straight to the oldest generation (``gc.freeze`` then
    ``gc.unfreeze`` does that, as documented), instead of being walked by the next two young
    collections; not when the program has frozen objects of its own, which unfreeze would release.

    A class, not ``contextlib.contextmanager``: contextlib's import (about 0.5 ms) was on every start-up.
    """

    __slots__ = ("enabled",)

    def __enter__(self):
        self.enabled = gc.isenabled()
        gc.disable()
        return None

    def __exit__(self, *exception):
        if self.enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()
        return False

    def __call__(self, function):
        import functools  # already imported: re imports it

        @functools.wraps(function)
        def paused(*args, **kwargs):
            with paused_gc():  # one per call: calls may nest
                return function(*args, **kwargs)

        return paused


def compose(source: Source, diagnostics: Diagnostics) -> Node | None:
    """Compose the one YAML document in ``source``; None (with diagnostics) when it cannot be read."""
    with paused_gc():
        root = read_subset(source)  # the common case, without importing PyYAML: see read_subset
    if root is not None:
        return root
    import yaml

    loader_class = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    loader = loader_class(source.text)
    composer = _Composer(source, diagnostics)

    try:
        with paused_gc():
            root = composer.compose(loader.get_event)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        pos = Pos(source, mark.line + 1, mark.column + 1) if mark else Pos(source, 1, 1)
        problem = error.problem or error.context or "invalid YAML"
        notes = []
        if error.context and error.context_mark and error.problem_mark:
            cm = error.context_mark
            notes.append(Note(Pos(source, cm.line + 1, cm.column + 1), error.context))
        diagnostics.error("yaml-syntax", f"YAML syntax error: {problem}", pos, notes=notes,
                          hint=_syntax_hint(problem, source, pos))
        return None
    except yaml.YAMLError as error:
        diagnostics.error("yaml-syntax", f"YAML syntax error: {error}", Pos(source, 1, 1))
        return None
    finally:
        loader.dispose()
    if root is None and not diagnostics.has_errors:
        diagnostics.error("empty-file", "the file holds no YAML document", Pos(source, 1, 1))
    return root


def _syntax_hint(problem: str, source: Source, pos: Pos) -> str | None:
    line = source.line(pos.line)
    if "\t" in line[: max(pos.col, 1)] or "tab" in problem:
        return "YAML indentation uses spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "a `:` inside a value needs quotes, or the line is indented wrongly"
    return None


# The subset of YAML that specs are written in, read in Python.
#
# Importing PyYAML takes longer than reading a whole zoo spec: its package loads the emitter, the
# constructor, the resolver and the pure-Python reader, and compiles their regular expressions, even when
# only libyaml's event parser is used (about 12 ms, half of an interpreter's start). So `compose` first
# tries this reader, which takes the common case: block mappings and sequences, flow collections on one
# line, plain and quoted scalars on one line, comments. On anything else it gives up (returns None) and
# the file is composed from libyaml's events as before, so every message about a file stays libyaml's and
# `_Composer`'s: anchors, aliases, tags, merge keys, block scalars, anything but a block spanning lines,
# tabs, CR, document markers and directives, a duplicate key, a number too long, any syntax error. What it
# accepts, it reads as libyaml and `_Composer` do: the same nodes, values, quoting and positions
# (tests/test_yamlsubset.py compares the two on every YAML file of the repository and on mutations of them).

# `key:` then the rest of the line. Keys are plain names (libyaml reads more, but specs use these).
_KEY = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_.\-/]*):(?: +|\Z)")
_FLOW_PLAIN_END = re.compile(r"[,\[\]{}:#?]")
# Characters that may not start a plain scalar (or start something this reader does not take).
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")


class _Unsupported(Exception):
    """Outside the subset: the caller reads the file with libyaml."""


def read_subset(source: Source) -> Node | None:
    """The document's root node, or None when the text is outside the subset (then read it with libyaml)."""
    text = source.text
    if "\t" in text or "\r" in text or not _printable(text):
        return None
    try:
        return _SubsetReader(source, text).document()
    except _Unsupported:
        return None


def _printable(text: str) -> bool:
    """Only characters that libyaml reads as printable and that are not line breaks besides LF (NEL, LS and
    PS are breaks in YAML 1.1; a BOM inside the text is refused by the reader)."""
    if text.isascii():
        return not any(character < " " and character != "\n" or character == "\x7f" for character in set(text))
    for character in set(text):
        code = ord(character)
        if code < 0x20 and character != "\n" or 0x7F <= code < 0xA0 or code in (0x2028, 0x2029, 0xFEFF) \
                or 0xD800 <= code < 0xE000 or code in (0xFFFE, 0xFFFF):
            return False
    return True


class _SubsetReader:
    def __init__(self, source: Source, text: str):
        self.source = source
        # content lines: (line index, indent, text without the indent); blank and comment lines dropped
        lines = []
        for number, line in enumerate(text.split("\n")):
            content = line.lstrip(" ")
            if not content or content[0] == "#":
                continue
            if line.startswith(("---", "...", "%")):
                raise _Unsupported
            lines.append((number, len(line) - len(content), content))
        self.lines = lines
        self.index = 0
        self.nodes = 0

    def document(self) -> Node | None:
        if not self.lines:
            return None  # an empty file: libyaml's path reports it
        root = self.block(self.lines[0][1], 0)
        if self.index != len(self.lines):
            raise _Unsupported  # a line less indented than the root
        return root

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Unsupported

    def block(self, indent: int, depth: int) -> Node:
        """The block node whose first line is the current one, at ``indent``. A first line that is neither an
        item nor a key gives an empty mapping and stays unread, more indented than its caller's lines: the
        caller then refuses the text."""
        content = self.lines[self.index][2]
        if content[0] == "-" and (len(content) == 1 or content[1] == " "):
            return self.sequence(indent, depth)
        return self.mapping(indent, depth)

    def opened(self, kind, indent: int, depth: int):
        """An empty block Map or Seq starting on the current line at ``indent``, counted."""
        if depth >= MAX_DEPTH - 1:
            raise _Unsupported
        node = kind(Pos(self.source, self.lines[self.index][0] + 1, indent + 1))
        self.count()
        return node

    def mapping(self, indent: int, depth: int) -> Map:
        node = self.opened(Map, indent, depth)
        lines, source = self.lines, self.source
        entries, key_pos = node.entries, node.key_pos
        while self.index < len(lines):
            number, line_indent, content = lines[self.index]
            if line_indent != indent:
                if line_indent > indent:
                    raise _Unsupported
                break
            match = _KEY.match(content)
            if match is None:
                break  # the end of an indentless sequence's item, or not a key: the caller decides
            text = match.group(1)
            key = self.key(text)
            if key in entries or key == "<<":
                raise _Unsupported
            key_pos[key] = Pos(source, number + 1, indent + 1, len(text))
            self.count()
            rest = content[match.end():]
            if rest and rest[0] != "#":
                entries[key] = self.inline(rest, number, indent + match.end(), depth + 1)
                self.index += 1
                continue
            self.index += 1
            colon = indent + len(text)
            following = lines[self.index] if self.index < len(lines) else None
            if following is not None and (following[1] > indent or following[1] == indent and (
                    following[2][0] == "-" and (len(following[2]) == 1 or following[2][1] == " "))):
                entries[key] = self.block(following[1], depth + 1)
            else:  # `key:` and nothing under it: an empty (null) scalar right after the colon
                entries[key] = Scalar(None, Pos(source, number + 1, colon + 2))
                self.count()
        return node

    def sequence(self, indent: int, depth: int) -> Seq:
        node = self.opened(Seq, indent, depth)
        lines, source = self.lines, self.source
        items = node.items
        while self.index < len(lines):
            number, line_indent, content = lines[self.index]
            if line_indent != indent or content[0] != "-" or (len(content) > 1 and content[1] != " "):
                if line_indent > indent:
                    raise _Unsupported
                break
            rest = content[1:].lstrip(" ")
            column = indent + len(content) - len(rest)
            if not rest or rest[0] == "#" or (rest[0] == "-" and (len(rest) == 1 or rest[1] == " ")):
                raise _Unsupported  # an empty item, or a sequence in a sequence on one line
            if _KEY.match(rest):  # `- key: value`: a mapping whose lines start at the key's column
                lines[self.index] = (number, column, rest)
                items.append(self.mapping(column, depth + 1))
                continue
            items.append(self.inline(rest, number, column, depth + 1))
            self.index += 1
        return node

    def key(self, text: str) -> str:
        if len(text) > 1000:
            raise _Unsupported  # libyaml takes keys of at most 1024 characters
        if text[0] not in _NUMERIC_START and text not in _SPECIAL:
            return text
        try:
            value = resolve_plain(text)
        except ValueError:
            raise _Unsupported from None
        return value if type(value) is str else _key_text(value)

    def inline(self, rest: str, number: int, column: int, depth: int) -> Node:
        """A value that starts at ``column`` of line ``number`` and ends on it; ``rest`` is the line from there."""
        first = rest[0]
        if first == "[" or first == "{":
            node, end = self.flow(rest, 0, number, column, depth)
        elif first == '"' or first == "'":
            node, end = self.quoted(rest, 0, number, column)
        else:
            if first in _INDICATORS and not (first == "-" and len(rest) > 1 and rest[1] != " "):
                raise _Unsupported
            comment = rest.find(" #")
            text = (rest if comment < 0 else rest[:comment]).rstrip(" ")
            if ": " in text or text.endswith(":") or "#" in text:
                raise _Unsupported
            return self.plain(text, number, column)
        tail = rest[end:]
        if tail and (tail[0] != " " or tail.lstrip(" ")[:1] not in ("", "#")):
            raise _Unsupported
        return node

    def plain(self, text: str, number: int, column: int) -> Scalar:
        if text[0] in _NUMERIC_START or text in _SPECIAL:
            try:
                value = resolve_plain(text)
            except ValueError:
                raise _Unsupported from None
        else:
            value = text
        self.count()
        return Scalar(value, Pos(self.source, number + 1, column + 1, len(text)))

    def quoted(self, line: str, start: int, number: int, column: int) -> tuple[Scalar, int]:
        """A quoted scalar at ``line[start]``; the node and the index after its closing quote."""
        quote = line[start]
        if quote == "'":
            parts, position = [], start + 1
            while True:
                end = line.find("'", position)
                if end < 0:
                    raise _Unsupported
                if line[end + 1:end + 2] != "'":
                    break
                parts.append(line[position:end + 1])  # '' is one quote
                position = end + 2
            value = "".join(parts) + line[position:end]
        else:
            end = line.find('"', start + 1)
            if end < 0 or "\\" in line[start + 1:end]:
                raise _Unsupported
            value = line[start + 1:end]
        self.count()
        return Scalar(value, Pos(self.source, number + 1, column + start + 1, end + 1 - start), True), end + 1

    def flow(self, line: str, start: int, number: int, column: int, depth: int) -> tuple[Node, int]:
        """A flow sequence or mapping at ``line[start]`` that closes on the same line; the node and the index
        after its closing bracket. ``column`` is the column of ``line[0]``."""
        if depth >= MAX_DEPTH - 1:
            raise _Unsupported
        is_map = line[start] == "{"
        close = "}" if is_map else "]"
        node = (Map if is_map else Seq)(Pos(self.source, number + 1, column + start + 1))
        self.count()
        index = start + 1
        length = len(line)
        while True:
            while index < length and line[index] == " ":
                index += 1
            if index >= length:
                raise _Unsupported  # continues on the next line
            if line[index] == close:  # only reached before the first item: after a comma it is refused
                return node, index + 1
            if is_map:
                match = _KEY.match(line, index)
                if match is None or match.end() == length or line[match.end() - 1] != " ":
                    raise _Unsupported
                text = match.group(1)
                key = self.key(text)
                if key in node.entries or key == "<<":
                    raise _Unsupported
                node.key_pos[key] = Pos(self.source, number + 1, column + index + 1, len(text))
                self.count()
                index = match.end()
                while index < length and line[index] == " ":
                    index += 1
                value, index = self.flow_item(line, index, number, column, depth)
                node.entries[key] = value
            else:
                value, index = self.flow_item(line, index, number, column, depth)
                node.items.append(value)
            while index < length and line[index] == " ":
                index += 1
            if index >= length:
                raise _Unsupported
            if line[index] == close:
                return node, index + 1
            if line[index] != ",":
                raise _Unsupported
            index += 1
            while index < length and line[index] == " ":
                index += 1
            if index >= length or line[index] == close:
                raise _Unsupported  # a trailing comma, or the collection goes on on the next line

    def flow_item(self, line: str, index: int, number: int, column: int, depth: int) -> tuple[Node, int]:
        if index >= len(line):
            raise _Unsupported
        first = line[index]
        if first == "[" or first == "{":
            return self.flow(line, index, number, column, depth + 1)
        if first == '"' or first == "'":
            return self.quoted(line, index, number, column)
        if first in _INDICATORS and not (first == "-" and line[index + 1:index + 2] not in ("", " ")):
            raise _Unsupported
        stop = _FLOW_PLAIN_END.search(line, index)
        if stop is None or line[stop.start()] in ":#?":
            raise _Unsupported
        text = line[index:stop.start()].rstrip(" ")
        return self.plain(text, number, column + index), index + len(text)
