"""TensorRT calibration caches (`calib.table`), the text files tensorrtx, DeepStream-Yolo and trtexec
users keep: a header line (``TRT-8601-EntropyCalibration2``: TensorRT's version and the calibrator),
then one ``tensor name: hex`` line per tensor, the hex being the bits of the float32 INT8 scale
(amax / 127), written as TensorRT's C++ stream writes them (lowercase, no leading zeros).

Import maps the cache's tensor names to the spec's tensors (netdsl names each TensorRT tensor after
the layer that makes it, so a cache TensorRT wrote for a netdsl-built network matches exactly; caches
of hand-built networks are matched by layer name and order, :mod:`.layer_order`) and reports how each
name was matched and every name that was not. The amax kept is ``scale * 127`` in float64, which is exact,
so exporting gives the same scale bits back.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

from ..diagnostics import Diagnostics, NetdslError, Pos, Source, UsageError, did_you_mean
from .layer_order import match_names, spec_tensors
from .scales import HEADER_KEY, Scales, ScalesError

INT8_MAX = 127.0
SHOWN = 200  # unmatched names listed in the report; the rest are counted
LIMIT = 64 << 20  # bytes: a cache of a million tensors is about 40 MiB


@dataclass
class Table:
    header: str | None
    entries: list  # (name, scale as float, line)


@dataclass
class Report:
    """What an import matched, for the user to review."""

    matched: list = field(default_factory=list)  # spec tensors that got a range
    unmatched: list = field(default_factory=list)  # (name in the file, a reason or suggestion or None)
    missing: list = field(default_factory=list)  # tensors the quantized layers read that got no range
    notes: list = field(default_factory=list)
    by_layer_name: list = field(default_factory=list)  # (name in the file, spec tensor)
    by_order: list = field(default_factory=list)  # (name in the file, spec tensor, other names that fitted)

    def lines(self) -> list[str]:
        named = len(self.matched) - len(self.by_layer_name) - len(self.by_order)
        how = [f"{count} {way}" for count, way in ((named, "by name"), (len(self.by_layer_name), "by layer name"),
                                                   (len(self.by_order), "by layer order")) if count]
        lines = [f"{len(self.matched)} tensor(s) matched" + (f": {', '.join(how)}" if len(how) > 1 else "")]
        if self.by_layer_name:
            lines.append("matched by layer name (TensorRT names a layer's output `<layer>_output`):")
            lines += [f"  {name} -> {tensor}" for name, tensor in self.by_layer_name]
        if self.by_order:
            lines.append("matched by layer order (TensorRT's `(Unnamed Layer* N) [type]` names, placed between the "
                         "tensors matched by name; review these):")
            lines += [f"  {name} -> {tensor}" + (f"  (or was {shown(others, 8)} meant?)" if others else "")
                      for name, tensor, others in self.by_order]
        if self.unmatched:
            lines.append(f"{len(self.unmatched)} name(s) in the file match no tensor of the spec (left out):")
            lines += [f"  {name}" + (f"  ({hint})" if hint else "") for name, hint in self.unmatched[:SHOWN]]
            if len(self.unmatched) > SHOWN:
                lines.append(f"  ... and {len(self.unmatched) - SHOWN:,} more")
        if self.missing:
            lines.append(f"{len(self.missing)} tensor(s) the quantized layers read have no range: "
                         + ", ".join(self.missing))
        return lines + self.notes


def shown(names: list, most: int) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most:,} more" if len(names) > most else "")


def parse_table(text: str, path: str = "calib.table") -> Table:
    source = Source(path, text)
    diagnostics = Diagnostics()
    lines = text.splitlines()
    header = None
    entries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, colon, value = line.rpartition(":")
        if number == 1 and not colon:
            header = line.strip()
            continue
        try:
            bits = int(value.strip(), 16)
            if not colon or not name.strip() or not 0 <= bits < 1 << 32 or len(value.strip()) > 8:
                raise ValueError
        except ValueError:
            diagnostics.error("bad-calib-table", f"expected `tensor name: hex scale`, found `{line.strip()[:80]}`",
                              Pos(source, number, 1))
            continue
        scale = struct.unpack(">f", bits.to_bytes(4, "big"))[0]
        if not (math.isfinite(scale) and scale > 0):
            diagnostics.error("bad-calib-table", f"`{name.strip()}`: the scale {value.strip()} is {scale!r} as a "
                              "float32, not a range (a finite number > 0)",
                              Pos(source, number, len(name) + 2 + len(value) - len(value.lstrip())),
                              hint="TensorRT writes a positive scale for every tensor it calibrated; the file "
                                   "was changed or written by another tool")
            continue
        entries.append((name.strip(), scale, number))
    if diagnostics.has_errors:
        raise ScalesError(diagnostics)
    return Table(header, entries)


def read_table(path: str) -> Table:
    try:
        with open(path, "rb") as stream:
            data = stream.read(LIMIT + 1)
        if len(data) > LIMIT:
            raise NetdslError(f"{path} is too large for a calibration cache (over {LIMIT >> 20} MiB; TensorRT's "
                              "caches hold one short line per tensor)")
        text = data.decode("utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a calibration cache: not UTF-8 text (TensorRT's caches are text)") from None
    return parse_table(text, path)


def import_table(checked, path: str) -> tuple[Scales, Report]:
    from . import placement

    table = read_table(path)
    known = spec_tensors(checked)
    matching = match_names([name for name, _, _ in table.entries], checked)
    scales, report = Scales(), Report()
    for name, scale, _ in table.entries:
        tensor = matching.tensor(name)
        if tensor is None:  # a suggestion only for the names shown: difflib over every name would be quadratic
            hint = matching.unmatched.get(name)
            if hint is None and len(report.unmatched) < SHOWN:
                hint = did_you_mean(name, known)
            report.unmatched.append((name, hint))
            continue
        scales.activations[tensor] = float(scale) * INT8_MAX  # exact in float64: 24 + 7 bits
        report.matched.append(tensor)
        if name in matching.by_layer_name:
            report.by_layer_name.append((name, tensor))
        elif name in matching.by_order:
            report.by_order.append((name, tensor, matching.ambiguous.get(name, [])))
    where = placement(checked)
    if where is not None:
        report.missing = [name for name in where.tensors if name not in scales.activations]
        if where.dtype != "int8":
            report.notes.append(f"note: the spec quantizes to {where.dtype}; a calibration cache holds INT8 ranges, "
                                "used here as amax")
    scales.meta["method"] = f"imported from {path}"
    if table.header:
        scales.meta[HEADER_KEY] = table.header
    return scales, report


def format_table(scales: Scales, checked=None, header: str | None = None) -> str:
    """The cache TensorRT would read: the header (``header``, else the one imported, else a TensorRT 10
    entropy calibrator's), then the tensors in the spec's graph order (sorted without a spec)."""
    header = header or scales.meta.get(HEADER_KEY) or "TRT-100000-EntropyCalibration2"
    order = spec_tensors(checked) if checked is not None else []
    rank = {name: index for index, name in enumerate(order)}
    names = sorted(scales.activations, key=lambda n: (rank.get(n, len(rank)), n))
    lines = [header]
    for name in names:
        scale = struct.pack(">f", float(scales.activations[name]) / INT8_MAX)
        lines.append(f"{name}: {int.from_bytes(scale, 'big'):x}")
    return "\n".join(lines) + "\n"
