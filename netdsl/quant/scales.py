"""Scales files: the activation ranges a quantized spec is built with, as text that reviews and diffs
well. One tensor a line, sorted by name, the absolute maximum (amax) that maps to the quantized type's
largest value; comment lines say where the numbers came from. Writing the same scales gives the same
bytes.

.. code-block:: text

    # netdsl scales 1
    # amax per tensor; scale = amax / 127 (int8) or amax / 448 (fp8)
    # method: entropy (TensorRT's KL-divergence calibration, 2048 bins); data: 500 samples from calib
    conv2 3.9804688
    data 1.0
    weight conv1.weight 0.61 0.42 0.38 0.55 0.47 0.52

``weight NAME v...`` lines (from quantization-aware training) give a weight's per-channel amax; without
one, a weight's amax is computed from the weight itself. A value is written as the shortest decimal that
reads back as the same float32 when it is one (calibration results), else as the same float64 (ranges
imported from a TensorRT calibration cache, kept exactly so that exporting gives the cache back).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..diagnostics import Diagnostics, Pos, Source, SpecError
from ..files import open_regular

MAGIC = "# netdsl scales 1"
NAME_RE = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*\Z")
META_RE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_ .-]*):\s*(.*)\Z")
HEADER_KEY = "calib.table header"  # a TensorRT calibration cache's first line, kept for export


class ScalesError(SpecError):
    """A malformed scales file."""


@dataclass
class Scales:
    activations: dict = field(default_factory=dict)  # tensor name -> amax (float)
    weights: dict = field(default_factory=dict)  # canonical weight name -> per-channel amax (list of floats)
    meta: dict = field(default_factory=dict)  # comment key -> text (method, data, calib.table header)
    sha256: str | None = None  # of the file it was read from


def canonical(value) -> float:
    """A float32 result as the float its shortest decimal reads back as: what the file will hold."""
    import numpy as np

    return float(str(np.float32(value)))


def show(value: float) -> str:
    import numpy as np

    single = np.float32(value)
    return str(single) if float(str(single)) == value else repr(float(value))


def format_scales(scales: Scales) -> str:
    lines = [MAGIC, "# amax per tensor; scale = amax / 127 (int8) or amax / 448 (fp8)"]
    lines += [f"# {key}: {text}" for key, text in scales.meta.items()]
    lines += [f"{name} {show(amax)}" for name, amax in sorted(scales.activations.items())]
    lines += [f"weight {name} " + " ".join(show(v) for v in values) for name, values in sorted(scales.weights.items())]
    return "\n".join(lines) + "\n"


def write_scales(path: str, scales: Scales) -> None:
    from ..files import write_atomic

    write_atomic(path, format_scales(scales).encode())


def read_scales(path: str) -> Scales:
    try:
        with open_regular(path) as stream:
            data = stream.read(64 << 20)
    except OSError as error:
        from ..diagnostics import UsageError

        raise UsageError(f"cannot read scales file {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    import hashlib

    scales = parse_scales(text, path)
    scales.sha256 = hashlib.sha256(data).hexdigest()
    return scales


RANGE_HINT = ("a range is the largest |value| a tensor takes: a finite number > 0 (calibrate again with `netdsl "
              "calibrate`, or fix the source the range came from)")


def range_problem(token: str, weight: bool = False) -> str | None:
    """Why ``token`` is not a range, else None. An activation's range must be finite and > 0 (a range of 0
    has no scale: every value would quantize to 0); a weight's per-channel range may be 0, for a channel
    of zeros (a pruned channel, as pytorch-quantization writes it), which is checked against the weight
    when the network is built."""
    try:
        value = float(token)
    except ValueError:
        return f"`{token}` is not a number"
    if not math.isfinite(value):
        return f"the range `{token}` is not finite"
    if value < 0 or (value == 0 and not weight):
        return f"the range `{token}` is not positive"
    return None


def parse_scales(text: str | None, path: str = "<scales>") -> Scales:
    """Every problem of the file at once, each with its line."""
    source = Source(path, text or "")
    diagnostics = Diagnostics()

    def error(line: int, message: str, col: int = 1, hint=None):
        diagnostics.error("bad-scales", message, Pos(source, line, col), hint=hint)

    if text is None or not text.startswith(MAGIC):
        error(1, f"{path} is not a netdsl scales file: it must start with `{MAGIC}`",
              hint="write one with `netdsl calibrate`, or import a TensorRT calibration cache with `netdsl scales "
                   "import`")
        raise ScalesError(diagnostics)
    scales = Scales()
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or number == 1:
            continue
        if stripped.startswith("#"):
            match = META_RE.match(stripped)
            if match:
                scales.meta[match.group(1).strip()] = match.group(2).strip()
            continue
        tokens = stripped.split()
        weight = tokens[0] == "weight" and len(tokens) >= 3
        name, values = (tokens[1], tokens[2:]) if weight else (tokens[0], tokens[1:])
        if not NAME_RE.match(name):
            error(number, f"`{name}` is not a tensor name", line.index(name) + 1)
            continue
        if not weight and len(values) != 1:
            error(number, f"`{name}` needs one amax, found {len(values)} values",
                  hint="per-channel weight ranges are written `weight NAME v1 v2 ...`")
            continue
        amaxes = []
        column = line.index(name) + len(name)
        for token in values:
            column = line.index(token, column)
            problem = range_problem(token, weight)
            if problem:
                error(number, f"`{name}`: {problem}", column + 1, hint=RANGE_HINT)
            amaxes.append(float(token) if not problem else math.nan)
            column += len(token)
        key = ("weight " if weight else "") + name
        if key in seen:
            error(number, f"`{name}` is given twice (first on line {seen[key]})")
        seen[key] = number
        if weight:
            scales.weights[name] = amaxes
        elif amaxes:
            scales.activations[name] = amaxes[0]
    if diagnostics.has_errors:
        raise ScalesError(diagnostics)
    return scales


def diff_scales(old_path: str, new_path: str) -> tuple[str, bool]:
    """(the text of `netdsl diff` for two scales files, whether they differ)."""
    old, new = read_scales(old_path), read_scales(new_path)
    lines = [f"--- {old_path}", f"+++ {new_path}"]
    changed = added = removed = 0
    for name in sorted(set(old.activations) | set(new.activations)):
        a, b = old.activations.get(name), new.activations.get(name)
        if a == b:
            continue
        if a is None:
            added += 1
            lines.append(f"  + {name}: {b:.6g}")
        elif b is None:
            removed += 1
            lines.append(f"  - {name}: {a:.6g}")
        else:
            changed += 1
            ratio = f"x{b / a:.3f}" if a else "from 0"
            lines.append(f"  ~ {name}: {a:.6g} -> {b:.6g} ({ratio})")
    for name in sorted(set(old.weights) | set(new.weights)):
        if old.weights.get(name) != new.weights.get(name):
            changed += 1
            lines.append(f"  ~ weight {name}: per-channel ranges changed")
    for key in sorted(set(old.meta) | set(new.meta)):
        if old.meta.get(key) != new.meta.get(key):
            lines.append(f"  {key}: {old.meta.get(key, '(none)')} -> {new.meta.get(key, '(none)')}")
    differ = bool(changed or added or removed)
    summary = (f"scales: {changed} changed, {added} added, {removed} removed" if differ
               else "no differences in the ranges")
    return "\n".join(lines[:2] + [summary] + lines[2:]), differ or len(lines) > 2
