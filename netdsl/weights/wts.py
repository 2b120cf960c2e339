"""The `.wts` text format of tensorrtx and NVIDIA's API samples.

Line 1 holds the entry count; each entry is `name count v1 v2 …`, every value the hex bit pattern of a
big-endian float32. Variants read here: two spaces after the count, `0x`-prefixed unpadded hex, and
NVIDIA's typed form `name type count …` (type 0 float32 with 8 hex digits, type 1 float16 with 4).

The common case (fixed-width hex with single spaces) is decoded straight from a memory map of the file,
a bounded piece at a time, without a Python object per value; anything else falls back to parsing the
whole line, token by token where need be. Pages of the map are released once read, so reading a
230 MB file holds little more than the values it returns.
"""

from __future__ import annotations

import mmap
import os

from .stored import Tensor, fail

MAX_NAME = 1024
RELEASE = 16 << 20  # bytes of the map read before they are released
PIECE = 1 << 18  # values decoded at a time: temporaries stay small however long a line is


def _decode_fixed(region: str, count: int, width: int):
    """Values of a region of `count` hex fields of exactly `width` digits separated by single spaces, or
    None when the region is not in that form. The separator check matters: bytes.fromhex alone skips
    white space anywhere between digit pairs and would regroup misaligned digits silently."""
    import numpy as np

    if len(region) != (width + 1) * count - 1 or region[width::width + 1] != " " * (count - 1):
        return None
    try:
        raw = bytes.fromhex(region)
    except ValueError:
        return None
    big_endian = ">f2" if width == 4 else ">f4"
    return np.frombuffer(raw, dtype=big_endian).astype("float16" if width == 4 else "float32")


def _decode_plain(view, begin: int, end: int, count: int):
    """float32 values of ``count`` 8-digit hex fields separated by single spaces in ``view[begin:end]``,
    decoded a piece at a time into the result; None when the region is not in that form."""
    import numpy as np

    if end - begin != 9 * count - 1:
        return None
    values = np.empty(count, dtype=np.float32)
    for first in range(0, count, PIECE):
        last = min(count, first + PIECE)
        piece = _decode_fixed(str(view[begin + 9 * first:begin + 9 * last - 1], "latin-1"), last - first, 8)
        if piece is None:
            return None
        values[first:last] = piece
    return values


def _decode_tokens(path: str, tokens: list[str], width: int, line: int):
    import numpy as np

    values = np.empty(len(tokens), dtype=np.uint32)
    limit = 1 << (4 * width)
    for i, token in enumerate(tokens):
        text = token[2:] if token[:2] in ("0x", "0X") else token
        try:
            value = int(text, 16) if 0 < len(text) <= width and text.isalnum() else -1
        except ValueError:
            value = -1
        if not 0 <= value < limit:
            fail(path, f"value {i + 1} of this entry, `{token[:20]}`, is not a {width}-digit hex number", line)
        values[i] = value
    return values.astype(np.uint16).view(np.float16) if width == 4 else values.view(np.float32)


def _int(token: str):
    return int(token) if token.isdigit() and token.isascii() and len(token) <= 12 else None


def read_wts(path: str) -> dict[str, Tensor]:
    from ..files import open_regular

    with open_regular(path) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            fail(path, "the file is empty; line 1 must be the number of entries")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _read_lines(path, data)


def _lines(data):
    """(line number, start, end) of each line, found with memchr over the mapping: no copy of the file."""
    start, number, size = 0, 1, len(data)
    while start < size:
        end = data.find(b"\n", start)
        if end < 0:
            end = size
        yield number, start, end
        start, number = end + 1, number + 1


def _read_lines(path: str, data) -> dict[str, Tensor]:
    lines = _lines(data)
    _, start, end = next(lines)
    header = data[start:min(end, start + 64)].decode("latin-1").strip()
    declared = _int(header) if end - start < 64 else None
    if declared is None:
        fail(path, f"line 1 must be the number of entries, found `{header[:30]}`",
             hint="a .wts file starts with a line holding only the entry count")
    view = memoryview(data)
    tensors: dict[str, Tensor] = {}
    released = 0
    try:
        for number, start, end in lines:
            while end > start and data[end - 1] in b"\r \t":
                end -= 1
            if end == start:
                continue
            if len(tensors) == declared:
                fail(path, f"line 1 announces {declared:,} entries but the file holds more", number,
                     hint="the count line is wrong, or two files were joined")
            tensor = _read_plain(view, start, end, number)
            if tensor is None:  # any other form, or a malformed line: the whole line, as latin-1 (never fails)
                tensor = _read_entry(path, str(view[start:end], "latin-1"), number)
            if hasattr(data, "madvise") and end - released >= RELEASE:  # read pages leave the RSS (the file keeps them)
                data.madvise(mmap.MADV_DONTNEED, released, end // mmap.PAGESIZE * mmap.PAGESIZE - released)
                released = end // mmap.PAGESIZE * mmap.PAGESIZE
            if tensor.name in tensors:
                fail(path, f"`{tensor.name}` appears twice (first on line {tensors[tensor.name].line})", number,
                     code="duplicate-weight")
            tensors[tensor.name] = tensor
    finally:
        view.release()
    if len(tensors) != declared:
        fail(path, f"line 1 announces {declared:,} entries but the file holds {len(tensors):,}",
             hint="the file may be truncated, or its count line is wrong")
    return tensors


def _read_plain(view, start: int, end: int, number: int) -> Tensor | None:
    """The plain tensorrtx form, `name count hex…`, read from the line's first bytes and its values
    decoded in place; None for anything else (which :func:`_read_entry` then reads or reports)."""
    head = str(view[start:min(end, start + MAX_NAME + 32)], "latin-1")
    parts = head.split(None, 2)
    count = _int(parts[1]) if len(parts) == 3 else None  # three parts: name and count are whole
    if not count or len(parts[0]) > MAX_NAME or not parts[0].isascii():
        return None
    values = _decode_plain(view, start + len(head) - len(parts[2]), end, count)
    return Tensor(parts[0], "float32", None, values, number) if values is not None else None


def _read_entry(path: str, line: str, number: int) -> Tensor:
    # split(None, 2) also skips the one or two spaces tensorrtx writes after the count.
    parts = line.split(None, 2)
    if len(parts) < 2:
        fail(path, "an entry needs `name count values…`", number)
    raw_name, raw_count = parts[:2]
    rest = parts[2] if len(parts) > 2 else ""
    if len(raw_name) > MAX_NAME:
        fail(path, f"weight name is {len(raw_name):,} bytes long", number)
    try:
        name = raw_name.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        fail(path, "weight name is not valid UTF-8", number)
    count = _int(raw_count)
    if count is None:
        fail(path, f"`{name}`: the value count `{raw_count[:20]}` is not a number", number)
    # Plain tensorrtx form: `name count hex…`.
    values = _decode_fixed(rest, count, 8) if count else None
    if values is not None:
        return Tensor(name, "float32", None, values, number)
    # NVIDIA's typed form: `name type count hex…` (type 0: float32, 1: float16).
    if count in (0, 1):
        typed = rest.split(None, 1)
        region = typed[1] if len(typed) > 1 else ""
        typed_count = _int(typed[0]) if typed else None
        if typed_count is not None and len(region) >= typed_count:
            width = 8 if count == 0 else 4
            values = _decode_fixed(region, typed_count, width) if typed_count else None
            if values is None and typed_count and len(region.split()) == typed_count:
                values = _decode_tokens(path, region.split(), width, number)
            if values is not None:
                return Tensor(name, "float16" if width == 4 else "float32", None, values, number)
    if count > len(rest):  # each value takes at least one character: a lying count fails before allocating
        fail(path, f"`{name}` announces {count:,} values but its line is only {len(line):,} bytes long", number,
             hint="the file may be truncated")
    tokens = rest.split()
    if len(tokens) != count:
        fail(path, f"`{name}` announces {count:,} values but holds {len(tokens):,}", number)
    return Tensor(name, "float32", None, _decode_tokens(path, tokens, 8, number), number)


def wts_chunks(arrays: dict):
    """tensorrtx's format, one chunk per tensor: float32 values as 8 lowercase big-endian hex digits,
    single spaces."""
    import numpy as np

    for name in arrays:
        if any(c.isspace() for c in name):
            raise ValueError(f"weight name {name!r} contains white space, which .wts cannot store")
    yield f"{len(arrays)}\n".encode()
    for name, array in arrays.items():
        flat = np.ascontiguousarray(array, dtype=np.float32).reshape(-1)
        hexed = flat.astype(">f4").tobytes().hex()
        body = " ".join(hexed[i:i + 8] for i in range(0, len(hexed), 8)) if flat.size < 64 else _spaced(hexed)
        yield f"{name} {flat.size} ".encode() + body.encode() + b"\n"


def _spaced(hexed: str) -> str:
    import numpy as np

    chars = np.frombuffer(hexed.encode(), dtype=np.uint8).reshape(-1, 8)
    spaced = np.full((chars.shape[0], 9), 0x20, dtype=np.uint8)
    spaced[:, :8] = chars
    return spaced.tobytes()[:-1].decode()
