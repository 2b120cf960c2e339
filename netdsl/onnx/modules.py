"""Repeated modules that are not a chain, written as one block with `with:` per instance:
MobileNetV2's `features.2` ... `features.17` (inverted residuals of varying width, stride and
residual), YOLOv8's `model.N` (Conv, C2f) and its head's `cv2.0` ... `cv3.2`, ViT's encoder layers.

A *unit* is the layers named under one prefix `Q` (a module) when they are contiguous, read the
rest of the network through one or more tensors, and are read from outside at their last layer only.
Units of one structure (local names, kinds and wiring; parameter values may differ) become one block
and one line each, `{name: Q, block: ..., with: {...}}`:

- a value that differs between units is a block parameter, one per distinct series of values
  (`groups` and `out_channels` that always agree are one); a value most units share is its default;
- a unit that lacks layers of another structure joins it when each missing layer would only pass its
  first input on (a residual `add`, whose operands may be swapped): those layers get
  `when: $residual` (the kind for a layer of an nn.Sequential, `$silu`; else the layers' first name
  part, `$downsample`), false by default;
- modules are taken outermost first; a unit whose structure is alone at its depth leaves its
  sub-modules to the next depth, where they may join the blocks found already; a unit made only of
  modules of several layers each (an nn.Sequential of blocks, EfficientNet's `features.2`) is left to
  its modules.

netdsl/onnx/blocks.py finds chains (`P.0` ... `P.k-1`, with `repeat`) first; its instances may sit
inside units here, which makes nested blocks. A block is named after its modules' class where
netdsl.from_torch knows it (`inverted_residual`), else after its first instance (`features_2`). The
importer reads the written spec back and compares it with the imported layers (importer.same_network).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from dataclasses import dataclass, field

from .blocks import BLOCK_INPUT, BlockDef, Instance, class_stem, find_chains, unique_block_name, written_default

COMMUTATIVE = {"add", "mul", "max", "min"}
MAX_SWAPS = 4  # commutative layers a join may try both operand orders of (2**4 tries)


@dataclass
class Row:
    """One item of a unit as the block will hold it: ``block`` is (block, repeat, first) for an
    instance of a chain block, else None; ``params`` its parameter values (an instance's: `with:`)."""

    name: str
    kind: str | None
    block: tuple | None
    params: dict
    inputs: list[str]  # local names of the unit's tensors, or its block inputs (x, or x0, x1, ...)


@dataclass
class Unit:
    name: str
    items: list
    inputs: list[str]  # the tensors it reads from outside
    rows: list[Row]


@dataclass
class Cluster:
    rows: list[Row]  # the structure; values of the members live in their own rows
    members: list[Unit] = field(default_factory=list)
    placed: dict = field(default_factory=dict)  # id(member) -> the Instance that stands for it in the items
    key: str = ""  # structure(rows), kept with them: every unit placed is compared with every cluster

    def __post_init__(self):
        self.key = self.key or structure(self.rows)


def structure(rows) -> str:
    return json.dumps([[r.name, r.kind, r.block, r.inputs] for r in rows])


# -- units ------------------------------------------------------------------------------------------------


def tensors_of(item) -> set[str]:
    """The tensors an item makes: a layer's outputs; an instance's layers' outputs and its own name."""
    if hasattr(item, "kind"):
        return {item.name + (f".{suffix}" if suffix else "") for suffix in item.outputs}
    return {item.name} | {t for layer in item.layers for t in tensors_of(layer)}


def output_of(item) -> str | None:
    if hasattr(item, "kind"):
        return item.name if tuple(item.outputs) == ("",) else None
    return item.name


def unit_at(items: list, start: int, end: int, prefix: str, readers: dict) -> Unit | None:
    """The unit of ``items[start:end]`` (all named under ``prefix``), or None when it is not one."""
    inside = items[start:end]
    if any(key != f"{item.name}.{slot}" for item in inside for slot, key in getattr(item, "weight_keys", {}).items()):
        return None  # a weight under the checkpoint's own key (a class token): a block names weights by layer
    made = set().union(*(tensors_of(item) for item in inside))
    output = output_of(inside[-1])
    if output is None or any(reader not in range(start, end) for t in made - {output} for reader in readers.get(t, ())):
        return None
    own = prefix + "."
    external: list[str] = []
    rows = []
    for item in inside:
        local = []
        for tensor in item.inputs:
            if tensor in made:
                local.append(tensor[len(own):])
            else:
                if tensor not in external:
                    external.append(tensor)
                local.append(external.index(tensor))
        rows.append((item, local))
    if not external:
        return None
    names = input_names(len(external))
    result = []
    for item, local in rows:
        inputs = [names[i] if isinstance(i, int) else i for i in local]
        block = None if hasattr(item, "kind") else [item.block, item.repeat, item.first]
        params = dict(item.params) if hasattr(item, "kind") else dict(item.with_)
        result.append(Row(item.name[len(own):], getattr(item, "kind", None), block, params, inputs))
    return Unit(prefix, inside, external, result)


def input_names(count: int) -> list[str]:
    return [BLOCK_INPUT] if count == 1 else [f"{BLOCK_INPUT}{i}" for i in range(count)]


def units_at_depth(items: list, depth: int, readers: dict) -> list[Unit]:
    """Units whose prefix has ``depth`` name parts, each of two items or more."""
    spans: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        parts = item.name.split(".")
        if len(parts) > depth:
            spans.setdefault(".".join(parts[:depth]), []).append(index)
    units = []
    for prefix, positions in spans.items():
        if len(positions) < 2 or positions != list(range(positions[0], positions[-1] + 1)):
            continue
        if container(items[positions[0]:positions[-1] + 1], depth):
            continue
        unit = unit_at(items, positions[0], positions[-1] + 1, prefix, readers)
        if unit is not None:
            units.append(unit)
    return units


def container(inside: list, depth: int) -> bool:
    """Whether these items are only modules of several items each (an nn.Sequential of blocks, as
    EfficientNet's `features.2`): the modules are the units, one depth further."""
    children = Counter(".".join(item.name.split(".")[:depth + 1]) for item in inside)
    return len(children) >= 2 and all(count >= 2 for count in children.values())


def readers_of(items: list, outputs: list[str]) -> dict[str, list[int]]:
    """Tensor -> indices of the items that read it (-1: a graph output)."""
    readers: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        for tensor in item.inputs:
            readers.setdefault(tensor, []).append(index)
    for tensor in outputs:
        readers.setdefault(tensor, []).append(-1)
    return readers


# -- joining structures -----------------------------------------------------------------------------------


def joined(union: list[Row], rows: list[Row]) -> list[Row] | None:
    """``union`` (operands of commutative layers swapped where that is needed) when ``rows`` is it
    without some layers that each pass their first input on; None when it is not. Operands of
    commutative layers (add, mul...) may come in either order."""
    names = [r.name for r in rows]
    if [r.name for r in union if r.name in set(names)] != names:
        return None
    extra = [i for i, r in enumerate(union) if r.name not in set(names)]
    if any(union[i].kind is None or not union[i].inputs for i in extra):
        return None
    swappable = [i for i in extra if union[i].kind in COMMUTATIVE and len(union[i].inputs) == 2]
    if len(swappable) > MAX_SWAPS:
        swappable = []
    for swaps in itertools.product((False, True), repeat=len(swappable)):
        candidate = [Row(r.name, r.kind, r.block, r.params, list(r.inputs)) for r in union]
        for index, swap in zip(swappable, swaps):
            if swap:
                candidate[index].inputs.reverse()
        if passes_through(candidate, rows, {union[i].name for i in extra}):
            return candidate
    return None


def passes_through(union: list[Row], rows: list[Row], extra: set[str]) -> bool:
    through: dict[str, str] = {}

    def resolve(name: str) -> str:
        while name in through:
            name = through[name]
        return name

    mine = {r.name: r for r in rows}
    for row in union:
        if row.name in extra:
            through[row.name] = row.inputs[0]
            continue
        other = mine[row.name]
        inputs = [resolve(i) for i in row.inputs]
        if (row.kind, row.block) != (other.kind, other.block) or (
                inputs != other.inputs and not (row.kind in COMMUTATIVE and inputs[::-1] == other.inputs)):
            return False
    return resolve(union[-1].name) == rows[-1].name


# -- finding ---------------------------------------------------------------------------------------------


def find_blocks(layers, outputs: list[str], classes: dict | None = None) -> tuple[dict[str, BlockDef], list, dict]:
    """(blocks by name, the layer list with instances in place of the layers they stand for, renamed
    tensors: the last tensor of each instance -> the instance's name, which stands for it). Chains
    first (netdsl/onnx/blocks.py), then repeated modules that are not chains (here). ``classes``: module
    path -> class name, where known (netdsl.from_torch), names the blocks (`inverted_residual`)."""
    blocks, items = find_chains(layers, classes or {})
    renamed = {instance.layers[-1].name: instance.name for instance in items if isinstance(instance, Instance)}
    for item in items:
        item.inputs = [renamed.get(t, t) for t in item.inputs]
    items, more = group_modules(blocks, items, [renamed.get(t, t) for t in outputs], classes or {})
    renamed = {tensor: more.get(name, name) for tensor, name in renamed.items()} | more
    return blocks, items, renamed


def group_modules(blocks: dict, items: list, outputs: list[str], classes: dict) -> tuple[list, dict]:
    """Replaces units of one structure by block instances (adding the blocks to ``blocks``); returns
    the new item list and the renamed tensors (a unit's last tensor -> the instance's name).
    ``classes``: module path -> class name, where known, names the blocks."""
    clusters: list[Cluster] = []
    renamed: dict[str, str] = {}
    depth = 1
    while depth <= max((item.name.count(".") for item in items), default=0):
        readers = readers_of(items, [renamed.get(t, t) for t in outputs])
        for unit in units_at_depth(items, depth, readers):
            place(clusters, unit)
        clusters = [c for c in clusters if len(c.members) >= 2]  # a lone unit leaves its modules to the next depth
        new = {id(unit.items[0]): (unit, cluster) for cluster in clusters for unit in cluster.members
               if id(unit) not in cluster.placed}
        items = substitute(items, new, renamed)
        depth += 1
    for cluster in clusters:
        write_block(cluster, blocks, classes)
    return items, renamed


def place(clusters: list[Cluster], unit: Unit) -> None:
    """Puts a unit in the cluster of its structure, or one it joins either way, or a new one."""
    key = structure(unit.rows)
    for cluster in clusters:
        if cluster.key == key:
            cluster.members.append(unit)
            return
    for cluster in clusters:
        if len(unit.inputs) != len(cluster.members[0].inputs):
            continue
        union = joined(cluster.rows, unit.rows)
        names = {row.name for row in cluster.rows}
        if union is None and all({row.name for row in m.rows} == names for m in cluster.members):
            # the unit has layers the others lack (the others all have the whole structure: a member
            # that lacks layers already was checked against the structure as it is)
            union = joined(unit.rows, cluster.rows)
        if union is not None:
            cluster.rows, cluster.key = union, structure(union)
            cluster.members.append(unit)
            return
    clusters.append(Cluster(unit.rows, [unit], key=key))


def substitute(items: list, new: dict, renamed: dict) -> list:
    """The items with each new unit's items replaced by its instance, and references to a unit's last
    tensor by the instance's name."""
    for unit, _ in new.values():
        renamed[output_of(unit.items[-1])] = unit.name
    result, skip = [], set()
    for item in items:
        if id(item) in skip:
            continue
        if id(item) in new:
            unit, cluster = new[id(item)]
            skip.update(id(i) for i in unit.items)
            instance = Instance(unit.name, "", None, [renamed.get(t, t) for t in unit.inputs],
                                layers=[layer for i in unit.items for layer in getattr(i, "layers", [i])])
            cluster.placed[id(unit)] = instance
            result.append(instance)
            continue
        item.inputs = [renamed.get(t, t) for t in item.inputs]
        result.append(item)
    return result


# -- writing -----------------------------------------------------------------------------------------------


def write_block(cluster: Cluster, blocks: dict, classes: dict) -> None:
    """The block of a cluster and the `with:` of each member's instance."""
    members = cluster.members
    present = [{r.name: r for r in unit.rows} for unit in members]
    values = member_values(cluster.rows, present, blocks)
    series: dict[str, list] = {}  # the values of each block parameter, one distinct series each
    for position, vector in values.items():
        if any(v != vector[0] for v in vector):
            series.setdefault(json.dumps(vector), []).append(position)
    names = parameter_names(list(series.values()))
    params, arguments = {}, [{} for _ in members]
    for (vector_text, group), name in zip(series.items(), names):
        vector = json.loads(vector_text)
        value, count = Counter(json.dumps(v) for v in vector).most_common(1)[0]
        params[name] = json.loads(value) if count * 2 > len(vector) else "required"
        for index, v in enumerate(vector):
            if params[name] == "required" or v != params[name]:
                arguments[index][name] = v
    parameter = {position: name for group, name in zip(series.values(), names) for position in group}
    switches = switch_names(cluster.rows, present)
    for switch, rows in switches.items():
        params[switch] = False
        for index, p in enumerate(present):
            if rows[0] in p:
                arguments[index][switch] = True
    layers = [block_row(row, previous_row(cluster.rows, i, switches), parameter, values, switches, blocks)
              for i, row in enumerate(cluster.rows)]
    name = unique_block_name(class_stem(classes, [m.name for m in members]) or block_stem(members[0].name), blocks)
    blocks[name] = BlockDef(name, params, layers, inputs=input_names(len(members[0].inputs)))
    for unit, args in zip(members, arguments):
        instance = cluster.placed[id(unit)]
        instance.block, instance.with_ = name, args


MISSING = object()


def member_values(rows: list[Row], present: list[dict], blocks: dict) -> dict:
    """(row, parameter) -> the value of each member, defaults written out; a member that lacks the
    row takes the value most members have (it is switched off there)."""
    values = {}
    for row in rows:
        keys = list(dict.fromkeys(key for p in present if row.name in p for key in p[row.name].params))
        for key in keys:
            given = [p[row.name].params.get(key, default(row, key, p[row.name].params, blocks))
                     if row.name in p else MISSING for p in present]
            common = Counter(json.dumps(v) for v in given if v is not MISSING).most_common(1)[0][0]
            values[(row.name, key)] = [json.loads(common) if v is MISSING else v for v in given]
    return values


def default(row: Row, key: str, params: dict, blocks: dict):
    """The value a parameter has where a layer (or a chain instance's `with:`) leaves it out."""
    if row.block is None:
        return written_default(row.kind, key, params)
    return blocks[row.block[0]].params.get(key)


def parameter_names(groups: list[list[tuple]]) -> list[str]:
    """`stride` where one series is a `stride`; `conv_2_out_channels` where several share a key; for
    layers named by their index in an nn.Sequential (`0` and `3`, Swin's MLP), `out_features_0` and
    `out_features_3`: each series keeps a name of its own."""
    keys = [Counter(key for _, key in group).most_common(1)[0][0] for group in groups]
    taken = Counter(keys)
    names = [key if taken[key] == 1 else identifier(f"{group[0][0]}_{key}") for key, group in zip(keys, groups)]
    clashes = Counter(names)
    names = [name if clashes[name] == 1 else identifier(f"{key}_{group[0][0]}")
             for name, key, group in zip(names, keys, groups)]
    return distinct(names)


def distinct(names: list[str]) -> list[str]:
    """The names, a later repeat numbered (`p`, `p_2`): a block's parameters must stay apart."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, number = name, 2
        while candidate in seen:
            candidate, number = f"{name}_{number}", number + 1
        seen.add(candidate)
        result.append(candidate)
    return result


def identifier(text: str) -> str:
    """A block parameter name: `0.block.0.0_out_channels` -> `block_0_0_out_channels`."""
    return re.sub(r"^[\d_]+", "", re.sub(r"\W", "_", text)) or "p"


def switch_names(rows: list[Row], present: list[dict]) -> dict[str, list[str]]:
    """One boolean parameter per pattern of members that lack layers: `residual` for an add, the
    kind for a layer of a Sequential (`silu` for `2`), else the layers' first name part
    (`downsample`)."""
    patterns: dict[tuple, list[Row]] = {}
    for row in rows:
        pattern = tuple(row.name in p for p in present)
        if not all(pattern):
            patterns.setdefault(pattern, []).append(row)
    switches: dict[str, list[str]] = {}
    for group in patterns.values():
        first = group[0]
        part = first.name.split(".")[0]
        if first.kind == "add":
            name = "residual"
        elif part.isdigit() or first.name == part:
            name = first.kind or "block"
        else:
            name = identifier(part)
        if name in switches:
            name = identifier(first.name)
        switches[name] = [row.name for row in group]
    return switches


def previous_row(rows: list[Row], index: int, switches: dict) -> str | None:
    """What a row reads when it names no inputs; None after a switched layer (which may pass its
    input on instead)."""
    if index == 0:
        return BLOCK_INPUT
    switched = {name for names in switches.values() for name in names}
    return None if rows[index - 1].name in switched else rows[index - 1].name


def block_row(row: Row, previous, parameter: dict, values: dict, switches: dict, blocks: dict) -> dict:
    entry = {"name": row.name}
    entry["kind" if row.block is None else "block"] = row.kind if row.block is None else row.block[0]
    if row.inputs and row.inputs != [previous]:
        entry["inputs"] = row.inputs if len(row.inputs) > 1 else row.inputs[0]
    switch = next((name for name, rows in switches.items() if row.name in rows), None)
    if switch:
        entry["when"] = f"${switch}"
    written = {}
    for key in [k for r, k in values if r == row.name]:
        if (row.name, key) in parameter:
            written[key] = f"${parameter[(row.name, key)]}"
            continue
        value = values[(row.name, key)][0]
        if value != default(row, key, {k: v[0] for (r, k), v in values.items() if r == row.name}, blocks):
            written[key] = value
    if row.block is None:
        entry.update(written)
    else:
        if written:
            entry["with"] = written
        if row.block[1] is not None:
            entry["repeat"] = row.block[1]
        if row.block[2]:
            entry["first"] = row.block[2]
    return entry


def block_stem(prefix: str) -> str:
    """Without class names, a block is named after its first instance: `model.2` -> `model_2`,
    `model.22.cv2.0` -> `cv2_0`."""
    parts = prefix.split(".")
    last = max((i for i, part in enumerate(parts) if not part.isdigit()), default=0)
    return "_".join(parts[last:])
