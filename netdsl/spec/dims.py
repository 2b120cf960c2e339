"""Named dynamic dimensions and optimization profiles: the spec's `dims:` and `profiles:` sections.

.. code-block:: yaml

    inputs:
      - {name: image, shape: [batch, 3, height, width]}
    dims:                       # each name used in a shape: its range (min, opt, max)
      batch: {min: 1, opt: 1, max: 8}
      height: {min: 320, opt: 640, max: 1280, multiple_of: 32}   # only multiples of 32 allowed
      width: {min: 320, opt: 640, max: 1280, multiple_of: 32}
    profiles:                   # optional: one TensorRT optimization profile each; a dim a profile
      - {height: [320, 320, 640], width: [320, 320, 640]}        # leaves out takes its `dims:` range
      - {height: [640, 1280, 1280], width: [640, 1280, 1280]}

A first dimension of -1 with the input's `batch: {min, opt, max}` is the dynamic batch ``N`` (the older
spelling, still read); its range is the same in every profile.
"""

from __future__ import annotations

from ..diagnostics import Diagnostics, Note
from ..params import MAX_DIM
from ..symbolic import Dim, Profile, Size
from ..yamlnodes import Map, Node, Seq
from .fields import check_keys, expect_list, expect_map, int_of

ROLES = ("min", "opt", "max")


def read_range(node: Node, what: str, diagnostics: Diagnostics, steps: dict, name: str,
               declare: bool = False) -> tuple | None:
    """(min, opt, max) from `{min, opt, max}` or `[min, opt, max]`, each a multiple of the dim's step
    (``steps``); None after an error. In `dims:` (``declare``), `multiple_of` sets the step."""
    step = steps.get(name, 1)
    if isinstance(node, Seq):
        if len(node.items) != 3:
            diagnostics.error("invalid-value", f"{what} is [min, opt, max], found {len(node.items)} values", node.pos)
            return None
        items = node.items
    else:
        entry = expect_map(node, what, diagnostics)
        keys = ROLES + ("multiple_of",) if declare else ROLES
        if entry is None or not check_keys(entry, keys, what, diagnostics, required=ROLES):
            return None
        items = [entry.entries[role] for role in ROLES]
        if "multiple_of" in entry.entries:
            step = int_of(entry.entries["multiple_of"], f"{what} multiple_of", diagnostics, 1, MAX_DIM)
            if step is None:
                return None
            steps[name] = step
    # 0 is allowed: an empty tensor (TensorRT takes them), such as a KV cache before the first token
    values = tuple(int_of(item, f"{what} {role}", diagnostics, 0, MAX_DIM) for item, role in zip(items, ROLES))
    if None in values:
        return None
    if not values[0] <= values[1] <= values[2]:
        diagnostics.error("invalid-value", f"{what} needs min <= opt <= max, found {values[0]}, {values[1]}, "
                          f"{values[2]}", node.pos)
        return None
    if any(v % step for v in values):
        diagnostics.error("invalid-value", f"{what}: min, opt and max must be multiples of {step} (`multiple_of` of "
                          f"`{name}`), found {values[0]}, {values[1]}, {values[2]}", node.pos)
        return None
    return values


def read_profiles(top: Map, inputs: list, diagnostics: Diagnostics) -> list[Profile] | None:
    """The optimization profiles (dim name -> (min, opt, max)); None after an error."""
    used = {}  # name -> position of its first use in an input shape
    for graph_input in inputs:
        for dim in graph_input.shape:
            if isinstance(dim, Dim) and not (graph_input.batch and dim.name == "N"):
                used.setdefault(dim.name, graph_input.pos)
            elif isinstance(dim, Size) and not isinstance(dim, Dim):  # `past+sequence`
                for name in sorted(dim.names()):
                    used.setdefault(name, graph_input.pos)
    ok = True
    dims, steps = {}, {}
    node = top.entries.get("dims")
    if node is not None:
        section = expect_map(node, "`dims`", diagnostics)
        ok = section is not None
        for name, value in (section.entries.items() if section else ()):
            if name not in used:
                ok = False
                diagnostics.error("unknown-dim", f"dimension `{name}` is not used in any input's `shape`",
                                  section.key_pos[name], hint=_known(used))
                continue
            dims[name] = read_range(value, f"dimension `{name}`", diagnostics, steps, name, declare=True)
            ok = ok and dims[name] is not None
    profiles = []
    node = top.entries.get("profiles")
    listed = expect_list(node, "`profiles`", diagnostics) if node is not None else None
    if node is not None and (listed is None or not listed.items):
        if listed is not None:
            diagnostics.error("invalid-value", "`profiles` is empty; leave it out for one profile from `dims`",
                              listed.pos)
        return None
    for index, item in enumerate(listed.items if listed else [None]):
        ranges = dict(dims)
        entry = expect_map(item, f"profile {index}", diagnostics) if item is not None else None
        if item is not None and entry is None:
            ok = False
            continue
        for name, value in (entry.entries.items() if entry else ()):
            if name not in used:
                ok = False
                diagnostics.error("unknown-dim", f"profile {index} gives `{name}`, which no input's `shape` uses",
                                  entry.key_pos[name], hint=_known(used))
                continue
            ranges[name] = read_range(value, f"profile {index}: `{name}`", diagnostics, steps, name)
            ok = ok and ranges[name] is not None
        for name, pos in used.items():
            if name not in ranges:
                ok = False
                where = f" in profile {index}" if listed else ""
                diagnostics.error("missing-key", f"dimension `{name}` has no range{where}", (entry or top).pos,
                                  hint=f"add `dims: {{{name}: {{min: 1, opt: 8, max: 32}}}}`, or give it in every "
                                  "profile", notes=[_note(pos, f"`{name}` is used here")])
        profiles.append(Profile(index, {n: r for n, r in ranges.items() if r is not None}, steps))
    if not ok:
        return None
    return [Profile(p.index, {**_batch_range(inputs), **p.ranges}, p.steps) for p in profiles]


def _batch_range(inputs) -> dict:
    """``N``'s range for the -1 batch: the values every such input allows."""
    ranges = [i.batch for i in inputs if i.batch]
    if not ranges:
        return {}
    low, high = max(r[0] for r in ranges), min(r[2] for r in ranges)
    return {"N": (low, min(max(ranges[0][1], low), high), high)} if low <= high else {}


def _known(used: dict) -> str:
    return "dimensions used: " + ", ".join(sorted(used)) if used else "no input shape names a dimension"


def _note(pos, text):
    return Note(pos, text)
