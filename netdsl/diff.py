"""`netdsl diff OLD NEW`: what a change to a spec means. Layers added, removed, renamed and changed
(parameter by parameter), inputs rewired, output shapes that change, parameter and MAC deltas, and
whether an engine built from OLD can be refit to NEW.

A refit replaces weights only: TensorRT bakes everything else (layers, their parameters and wiring,
input and output shapes, precision, the batch profile) into the engine. So the verdict is yes exactly
when the two specs define the same network, with the weights' names, shapes and dtypes following from
it; weight-file mapping, names and descriptions do not matter.

OLD and NEW are paths, or `REV:path` read from git (`HEAD:specs/lenet.yaml`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from .diagnostics import SpecError, UsageError
from .ops import show_shape
from .spec.buildopts import OPTION_KEYS
from .summary import json_dims, rows
from .yamlnodes import paused_gc


def load_side(reference: str, params: dict | None = None):
    """A checked spec from a path or `REV:path`, with ``params`` for its `params:`; raises SpecError or
    UsageError."""
    from .spec import check, check_text

    if not os.path.exists(reference) and ":" in reference:
        revision, path = reference.split(":", 1)
        if revision.startswith("-"):  # git would take it as an option (`--output=FILE` writes FILE)
            raise UsageError(f"{reference}: not a file, and `{revision}` is not a git revision (it starts with `-`)")
        result = subprocess.run(["git", "show", "--end-of-options", f"{revision}:{path}"], capture_output=True,
                                timeout=60)
        if result.returncode != 0:
            raise UsageError(f"git show {reference} failed: {result.stderr.decode(errors='replace').strip()[:200]}")
        try:
            text = result.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{reference} is not UTF-8 text") from None
        checked, diagnostics = check_text(text, reference, params=params)
    else:
        checked, diagnostics = check(reference, params=params)
    if checked is None:
        raise SpecError(diagnostics)
    return checked


def show_value(value) -> str:
    if isinstance(value, tuple) and len(value) == 4 and value[:2] == value[2:]:
        value = value[:2]  # padding (top, left, bottom, right) written as [h, w]
    if isinstance(value, tuple):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(default)"
    return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class Diff:
    old: str
    new: str
    added: list = field(default_factory=list)  # names
    removed: list = field(default_factory=list)
    renamed: list = field(default_factory=list)  # (old, new)
    changed: list = field(default_factory=list)  # (name, {what: (old, new)})
    shapes: list = field(default_factory=list)  # (name, old shape, new shape)
    weights: list = field(default_factory=list)  # (weight name, old shape or None, new shape or None)
    io: list = field(default_factory=list)  # sentences about inputs, outputs and build options
    quantization: list = field(default_factory=list)  # the `quantization:` section, apart from the architecture
    other: list = field(default_factory=list)  # differences that do not change the network
    profiles: list = field(default_factory=list)  # ranges of named dims that change: a rebuild, not a refit
    per_layer: list = field(default_factory=list)  # (name, params delta, macs delta)
    totals: dict = field(default_factory=dict)
    refit_reasons: list = field(default_factory=list)
    weight_only: dict = field(default_factory=dict)  # layer -> parameters that only change derived weights
    renamed_weights: set = field(default_factory=set)  # renamed layers that have weights (names TensorRT refits by)

    @property
    def identical(self) -> bool:
        return not (self.added or self.removed or self.renamed or self.changed or self.shapes or self.weights
                    or self.io or self.quantization or self.other or self.profiles)

    def to_json(self) -> dict:
        return {
            "old": self.old, "new": self.new, "identical": self.identical,
            "added": self.added, "removed": self.removed,
            "renamed": [{"from": a, "to": b} for a, b in self.renamed],
            "changed": [{"layer": name, "changes": {k: {"old": show_value(a), "new": show_value(b)}
                                                    for k, (a, b) in what.items()}} for name, what in self.changed],
            "shapes": [{"layer": name, "old": json_dims(a), "new": json_dims(b)} for name, a, b in self.shapes],
            "weights": [{"weight": name, "old": a and list(a), "new": b and list(b)} for name, a, b in self.weights],
            "io": self.io, **({"quantization": self.quantization} if self.quantization else {}), "other": self.other,
            **({"profiles": self.profiles} if self.profiles else {}),
            "per_layer": [{"layer": name, "params": p, "macs": m} for name, p, m in self.per_layer],
            "totals": self.totals,
            "refit": {"possible": not self.refit_reasons, "reasons": self.refit_reasons},
        }


def layer_signature(node) -> tuple:
    return node.kind, tuple(sorted((k, repr(v)) for k, v in node.params.items()))


def out_types(checked, node) -> tuple:
    """The types of a layer's outputs (one for most kinds)."""
    return tuple(checked.types[name] for name in node.outputs)


@paused_gc()  # several objects per layer: see paused_gc
def compare(old, new, old_name: str = "OLD", new_name: str = "NEW") -> Diff:
    diff = Diff(old_name, new_name)
    old_nodes = {n.name: n for n in old.graph.nodes}
    new_nodes = {n.name: n for n in new.graph.nodes}
    removed = [n for n in old_nodes if n not in new_nodes]
    added = [n for n in new_nodes if n not in old_nodes]
    # A removed and an added layer that match in kind, parameters and output type: a rename. Each removed
    # layer, in order, takes the first such added layer not taken yet.
    candidates: dict[tuple, list[str]] = {}
    for name in added:
        candidates.setdefault((layer_signature(new_nodes[name]), out_types(new, new_nodes[name])), []).append(name)
    untaken = {key: iter(names) for key, names in candidates.items()}
    rename = {}  # old name -> new name
    for name in removed:
        match = next(untaken.get((layer_signature(old_nodes[name]), out_types(old, old_nodes[name])), iter(())), None)
        if match is not None:
            rename[name] = match
    taken = set(rename.values())
    diff.removed = [n for n in removed if n not in rename]
    diff.added = [n for n in added if n not in taken]
    diff.renamed = list(rename.items())
    diff.renamed_weights = {a for a, _ in diff.renamed if slots(old, old_nodes[a])}
    for input_ in old.graph.inputs:
        rename.setdefault(input_.name, input_.name)

    def mapped(name):
        return rename.get(name, name)

    pairs = [(n, n) for n in old_nodes if n in new_nodes] + list(rename.items())
    pairs = [(a, b) for a, b in pairs if a in old_nodes]
    for old_key, new_key in pairs:
        a, b = old_nodes[old_key], new_nodes[new_key]
        what = {}
        if a.kind != b.kind:
            what["kind"] = (a.kind, b.kind)
        else:
            for key in list(a.params) + [k for k in b.params if k not in a.params]:
                if a.params.get(key) != b.params.get(key):
                    what[key] = (a.params.get(key), b.params.get(key))
        old_inputs = [mapped(i) for i in a.inputs]
        if old_inputs != b.inputs:
            what["inputs"] = (", ".join(a.inputs), ", ".join(b.inputs))
        if what:
            diff.changed.append((new_key, what))
            if a.kind == b.kind:
                diff.weight_only[new_key] = b.op.weight_only_params
        if out_types(old, a) != out_types(new, b):
            if len(a.outputs) == len(b.outputs) > 1:  # each output of a split or topk that changed
                diff.shapes += [(b_name, ta.shape, tb.shape) for b_name, ta, tb in zip(
                    b.outputs, out_types(old, a), out_types(new, b)) if ta != tb]
            else:
                diff.shapes.append((new_key, out_types(old, a)[0].shape, out_types(new, b)[0].shape))
        old_slots, new_slots = slots(old, a), slots(new, b)
        for slot in list(old_slots) + [k for k in new_slots if k not in old_slots]:
            if old_slots.get(slot) != new_slots.get(slot):
                diff.weights.append((f"{new_key}.{slot}", old_slots.get(slot), new_slots.get(slot)))
    compare_io(old, new, diff)
    compare_costs(old, new, rename, diff)
    diff.refit_reasons = refit_reasons(diff)
    return diff


def slots(checked, node) -> dict:
    return {s.name: s.shape for s in node.weight_slots(checked.types)}


def compare_io(old, new, diff: Diff) -> None:
    def describe_input(i):
        batch = f" batch {i.batch[0]}..{i.batch[2]} (opt {i.batch[1]})" if i.batch else ""
        return f"{show_shape(i.shape)} {i.dtype}{batch}"

    old_inputs = {i.name: i for i in old.graph.inputs}
    new_inputs = {i.name: i for i in new.graph.inputs}
    for name in list(old_inputs) + [n for n in new_inputs if n not in old_inputs]:
        a, b = old_inputs.get(name), new_inputs.get(name)
        if a is None or b is None:
            diff.io.append(f"input `{name}` {'added' if a is None else 'removed'}")
        elif describe_input(a) != describe_input(b):
            diff.io.append(f"input `{name}`: {describe_input(a)} -> {describe_input(b)}")
    old_outputs = {o.name: (o.source, old.types[o.source].shape) for o in old.graph.outputs}
    new_outputs = {o.name: (o.source, new.types[o.source].shape) for o in new.graph.outputs}
    for name in list(old_outputs) + [n for n in new_outputs if n not in old_outputs]:
        a, b = old_outputs.get(name), new_outputs.get(name)
        if a is None or b is None:
            diff.io.append(f"output `{name}` {'added' if a is None else 'removed'}")
        elif a[1] != b[1]:
            diff.io.append(f"output `{name}`: {show_shape(a[1])} -> {show_shape(b[1])}")
        elif a[0] != b[0] and (a[0], b[0]) not in diff.renamed:
            diff.io.append(f"output `{name}`: from `{a[0]}` -> from `{b[0]}`")
    diff.profiles += compare_profiles(old.graph.profiles, new.graph.profiles)
    old_build, new_build = old.graph.build, new.graph.build
    for key in OPTION_KEYS + ("batch",):  # precision and batch are baked into engines; the rest is not
        a, b = getattr(old_build, key, None), getattr(new_build, key, None)
        if a != b:
            (diff.io if key in ("precision", "batch") else diff.other).append(
                f"build {key}: {show_value(a)} -> {show_value(b)}")
    old_quant, new_quant = old.graph.quantization, new.graph.quantization
    if new_quant is not None:
        diff.quantization += new_quant.changes(old_quant)
    elif old_quant is not None:
        diff.quantization.append("quantization removed")
    if old.graph.name != new.graph.name:
        diff.other.append(f"name: {old.graph.name} -> {new.graph.name}")
    old_weights, new_weights = old.graph.weights, new.graph.weights
    if (old_weights and (old_weights.prefix, [(r.old, r.new) for r in old_weights.rename])) != (
            new_weights and (new_weights.prefix, [(r.old, r.new) for r in new_weights.rename])):
        diff.other.append("weight-file name mapping (`weights:` prefix/rename) changed")
    old_maps = {n.name: n.weight_names for n in old.graph.nodes}
    for node in new.graph.nodes:
        if node.name in old_maps and old_maps[node.name] != node.weight_names:
            diff.other.append(f"layer `{node.name}`: weight-file names changed")


def compare_profiles(old: list, new: list) -> list[str]:
    """Sentences for the ranges of named dimensions that differ, profile by profile (the -1 batch's range
    is an input difference, reported there)."""
    def ranges(profile):
        return {n: r for n, r in profile.ranges.items() if n != "N"} if profile else {}

    def shown(name, r, steps):
        step = steps.get(name, 1) if r else 1
        return f"{r[0]}..{r[2]} (opt {r[1]}" + (f", multiples of {step})" if step > 1 else ")") if r else "(none)"

    sentences = []
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else None
        b = new[index] if index < len(new) else None
        if a is None or b is None:
            if ranges(a) or ranges(b):
                sentences.append(f"profile {index} {'added' if a is None else 'removed'}")
            continue
        for name in list(ranges(a)) + [n for n in ranges(b) if n not in ranges(a)]:
            before, after = shown(name, ranges(a).get(name), a.steps), shown(name, ranges(b).get(name), b.steps)
            if before != after:
                sentences.append(f"profile {index} `{name}`: {before} -> {after}")
    return sentences


def compare_costs(old, new, rename: dict, diff: Diff) -> None:
    old_rows = {r.name: r for r in rows(old)}
    new_rows = {r.name: r for r in rows(new)}
    back = {b: a for a, b in rename.items()}
    for name, row in new_rows.items():
        before = old_rows.get(back.get(name, name))
        dp = row.params - (before.params if before else 0)
        dm = row.macs - (before.macs if before else 0)
        if dp or dm or before is None:
            diff.per_layer.append((name, dp, dm))
    for name in diff.removed:
        diff.per_layer.append((name, -old_rows[name].params, -old_rows[name].macs))
    diff.totals = {"params": {"old": sum(r.params for r in old_rows.values()),
                              "new": sum(r.params for r in new_rows.values())},
                   "macs": {"old": sum(r.macs for r in old_rows.values()), "new": sum(r.macs for r in new_rows.values())}}
    for entry in diff.totals.values():
        entry["delta"] = entry["new"] - entry["old"]


def refit_reasons(diff: Diff) -> list[str]:
    reasons = [f"layer `{n}` is added: the engine has no such layer" for n in diff.added]
    reasons += [f"layer `{n}` is removed: the engine would keep computing it" for n in diff.removed]
    reasons += [f"layer `{a}` is renamed to `{b}`: its weights' names change, and TensorRT refits by name"
                for a, b in diff.renamed if a in diff.renamed_weights]
    for name, what in diff.changed:
        for key, (a, b) in what.items():
            if key in diff.weight_only.get(name, ()):
                continue  # folded into weights that a refit derives again
            reasons.append(f"layer `{name}`: {key} {show_value(a)} -> {show_value(b)}: TensorRT bakes "
                           + ("the wiring" if key == "inputs" else "layer parameters") + " into the engine")
    reasons += [f"weight `{name}`: {show_shape(a) if a else '(none)'} -> {show_shape(b) if b else '(none)'}: a refit "
                "keeps every weight's shape" for name, a, b in diff.weights]
    reasons += [f"{item}: fixed when the engine is built" for item in diff.io + diff.quantization]
    return reasons


@paused_gc()
def format_text(diff: Diff, paint=None) -> str:
    from .render import Painter

    paint = paint or Painter(False)
    lines = [paint("bold", f"--- {diff.old}"), paint("bold", f"+++ {diff.new}")]
    if diff.identical:
        lines.append("no differences: the two specs define the same network")
        return "\n".join(lines)
    counts = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.renamed)} renamed, {len(diff.changed)} changed"
    lines.append(f"layers: {counts}")
    lines += [paint("help", f"  + {name}") for name in diff.added]
    lines += [paint("error", f"  - {name}") for name in diff.removed]
    lines += [paint("note", f"  > {a} renamed to {b}") for a, b in diff.renamed]
    for name, what in diff.changed:
        changes = "; ".join(f"{k} {show_value(a)} -> {show_value(b)}" + (
            " (folded into weights a refit derives again)" if k in diff.weight_only.get(name, ()) else "")
            for k, (a, b) in what.items())
        lines.append(paint("warning", f"  ~ {name}: {changes}"))
    if diff.shapes:
        lines.append("output shapes:")
        lines += [f"  {name}: {show_shape(a)} -> {show_shape(b)}" for name, a, b in diff.shapes]
    if diff.weights:
        lines.append("weight shapes:")
        lines += [f"  {name}: {show_shape(a) if a else '(none)'} -> {show_shape(b) if b else '(none)'}"
                  for name, a, b in diff.weights]
    if diff.io:
        lines.append("inputs, outputs, build:")
        lines += [f"  {item}" for item in diff.io]
    if diff.quantization:
        lines.append("quantization:")
        lines += [f"  {item}" for item in diff.quantization]
    if diff.profiles:
        lines.append("optimization profiles (an engine serves the ranges it was built with: rebuild for NEW's; "
                     "its weights refit as before):")
        lines += [f"  {item}" for item in diff.profiles]
    if diff.other:
        lines.append("other (no effect on the network):")
        lines += [f"  {item}" for item in diff.other]
    if diff.per_layer:
        lines.append("cost per layer (params, MACs per sample):")
        width = max(len(name) for name, _, _ in diff.per_layer)
        lines += [f"  {name.ljust(width)}  {p:+,}  {m:+,}" for name, p, m in diff.per_layer]
    p, m = diff.totals["params"], diff.totals["macs"]
    lines.append(f"total params {p['old']:,} -> {p['new']:,} ({p['delta']:+,}); "
                 f"MACs {m['old']:,} -> {m['new']:,} ({m['delta']:+,})")
    if diff.refit_reasons:
        lines.append(paint("error", "refit: an engine built from OLD cannot be refit to NEW:"))
        lines += [f"  - {reason}" for reason in diff.refit_reasons]
    else:
        lines.append(paint("help", "refit: an engine built from OLD can be refit to NEW (same network and weight layout)"))
    return "\n".join(lines)
