"""Repeated structure in an imported graph, written as blocks with `repeat`.

A group is the layers named `P.0.*`, `P.1.*`, ... `P.<k-1>.*` (k >= 2; PyTorch's nn.Sequential of
modules gives these names), when each instance is a contiguous run of layers fed by the one before
(the first by one tensor from outside) and only its last layer is read from outside. The instances
become one block and one `{name: P, block: ..., repeat: k}` line when:

- all are identical up to weights (same kinds, parameters and wiring), or
- all but the first are, and the first differs in parameter values (those become block parameters
  set by `first:`) and in layers of its own that the others lack, whose removal leaves the others'
  wiring (they get `when: $<name>`, true in `first:`): ResNet's strided first block with its
  downsample path.

Identical blocks found under different prefixes are written once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

BLOCK_INPUT = "x"


@dataclass
class BlockDef:
    name: str
    params: dict  # name -> default
    layers: list  # dicts: name, kind, params (values may be `$param`), inputs, when
    doc: str = ""
    inputs: list = field(default_factory=lambda: [BLOCK_INPUT])


@dataclass
class Instance:
    name: str  # the prefix P
    block: str
    repeat: int | None  # None: one instance, named `P.<layer>` (netdsl/onnx/modules.py)
    inputs: list[str]
    first: dict = field(default_factory=dict)
    layers: list = field(default_factory=list)  # the SpecLayers it stands for
    with_: dict = field(default_factory=dict)  # arguments of a block shared by instances that differ in values


def find_chains(layers, classes: dict) -> tuple[dict[str, BlockDef], list]:
    """(blocks by name, the layer list with instances in place of the chains they stand for)."""
    blocks: dict[str, BlockDef] = {}
    by_text: dict[str, str] = {}
    items: list = list(layers)
    for prefix in candidate_prefixes(layers):
        start, groups = instances_of(items, prefix)
        if groups is None:
            continue
        made = block_for(prefix, groups)
        if made is None:
            continue
        block, first, outside = made
        text = json.dumps([block.params, block.layers], sort_keys=True)
        if text in by_text:
            block.name = by_text[text]
        else:
            block.name = unique_block_name(class_stem(classes, [f"{prefix}.{i}" for i in range(len(groups))])
                                           or prefix, blocks)
            blocks[block.name] = block
            by_text[text] = block.name
        count = sum(len(g) for g in groups)
        instance = Instance(prefix, block.name, len(groups), [outside], first, [l for g in groups for l in g])
        items[start:start + count] = [instance]
    merge_similar(blocks, [item for item in items if isinstance(item, Instance)])
    return blocks, items


def skeleton(block: BlockDef) -> str:
    """A block with its parameter values blanked: blocks of one skeleton differ in values only."""
    layers = [{key: (value if key in ("name", "kind", "inputs", "when") else "?") for key, value in layer.items()}
              for layer in block.layers]
    return json.dumps([sorted(block.params), layers], sort_keys=True)


def merge_similar(blocks: dict, instances: list) -> None:
    """Blocks that differ only in parameter values (ResNet's layer2, layer3, layer4: the channels)
    become one block; each instance gives its values under `with:`."""
    groups: dict[str, list[str]] = {}
    for name, block in blocks.items():
        groups.setdefault(skeleton(block), []).append(name)
    for names in groups.values():
        if len(names) < 2:
            continue
        members = [blocks[n] for n in names]
        first = members[0]
        positions = []  # (layer index, key) whose literal values differ between the blocks
        for index, layer in enumerate(first.layers):
            for key, value in layer.items():
                if key in ("name", "kind", "inputs", "when") or str(value).startswith("$"):
                    continue
                if any(m.layers[index][key] != value for m in members[1:]):
                    positions.append((index, key))
        names_of = {}
        for index, key in positions:
            values = [m.layers[index][key] for m in members]
            alike = all([m.layers[i][k] for m in members] == values for i, k in positions if k == key)
            names_of[(index, key)] = key if alike else layer_parameter(first.layers[index]["name"], key)
        defaults = {param: [m.params[param] for m in members] for param in first.params}
        merged = BlockDef(common_name(names, blocks), {}, [dict(layer) for layer in first.layers])
        for (index, key), param in names_of.items():
            merged.layers[index][key] = f"${param}"
            merged.params.setdefault(param, "required")
        for param, values in defaults.items():
            merged.params[param] = values[0]
        arguments = {n: {} for n in names}
        for (index, key), param in names_of.items():
            for n, m in zip(names, members):
                arguments[n][param] = m.layers[index][key]
        for param, values in defaults.items():
            for n, value in zip(names, values):
                if value != values[0]:
                    arguments[n][param] = value
        for n in names:
            del blocks[n]
        blocks[merged.name] = merged
        for instance in instances:
            if instance.block in arguments:
                instance.with_ = arguments[instance.block]
                instance.block = merged.name


def common_name(names: list[str], blocks: dict) -> str:
    """`layer2`, `layer3`, `layer4` -> `layer`."""
    stems = {re.sub(r"[_\d]+$", "", n) for n in names}
    base = stems.pop() if len(stems) == 1 and "" not in stems else "block"
    return unique_block_name(base, {n: None for n in blocks if n not in names})


def candidate_prefixes(layers) -> list[str]:
    """Prefixes P of names `P.<int>.<rest>`, outermost first."""
    seen = []
    for layer in layers:
        name = layer.name
        for match in re.finditer(r"\.(\d+)\.", name):
            prefix = name[:match.start()]
            if prefix not in seen:
                seen.append(prefix)
    return sorted(seen, key=lambda p: p.count("."))


def instances_of(items: list, prefix: str):
    """(index of the first layer, [layers of instance 0, of instance 1, ...]) when the layers under
    ``prefix`` are contiguous instances 0..k-1 in order, else (0, None)."""
    positions = [i for i, item in enumerate(items) if getattr(item, "name", "").startswith(prefix + ".")]
    if not positions or positions != list(range(positions[0], positions[-1] + 1)):
        return 0, None
    groups: list[list] = []
    for index in positions:
        item = items[index]
        if not hasattr(item, "kind"):  # an instance found under a shorter prefix
            return 0, None
        number, _, tail = item.name[len(prefix) + 1:].partition(".")
        if not number.isdigit() or not tail:
            return 0, None
        if int(number) == len(groups):
            groups.append([])
        elif int(number) != len(groups) - 1:
            return 0, None
        groups[-1].append(item)
    return (positions[0], groups) if len(groups) >= 2 else (0, None)


def local_name(layer, prefix: str, index: int) -> str:
    return layer.name[len(f"{prefix}.{index}."):]


def describe(group, prefix: str, index: int, outside: str | None):
    """The instance as (local name, kind, params, inputs as local names or `x`) per layer, and the
    tensor it reads from outside; None when it is not a self-contained instance."""
    own = f"{prefix}.{index}."
    rows, external = [], outside
    for layer in group:
        inputs = []
        for tensor in layer.inputs:
            if tensor.startswith(own):
                inputs.append(tensor[len(own):])
            elif external is None or tensor == external:
                external = tensor
                inputs.append(BLOCK_INPUT)
            else:
                return None, None
        rows.append((local_name(layer, prefix, index), layer.kind, layer.params, inputs))
    return rows, external


def block_for(prefix: str, groups: list[list]):
    """(BlockDef, first-instance arguments, the tensor the first instance reads) or None."""
    described, outside = [], None
    for index, group in enumerate(groups):
        previous = groups[index - 1][-1].name if index else None
        rows, external = describe(group, prefix, index, previous)
        if rows is None or (index and external != previous):
            return None
        if index == 0:
            outside = external
        described.append(rows)
    if outside is None:
        return None
    rest = described[1:]
    if any(rows != rest[0] for rows in rest):
        return None
    first, others = described[0], rest[0]
    if first == others:
        return BlockDef("", {}, [row_dict(row, previous_of(others, i)) for i, row in enumerate(others)]), {}, outside
    return block_with_first(first, others, outside)


def previous_of(rows, index: int) -> str:
    return rows[index - 1][0] if index else BLOCK_INPUT


def row_dict(row, previous: str, when: str | None = None, params: dict | None = None) -> dict:
    name, kind, values, inputs = row
    entry = {"name": name, "kind": kind}
    if inputs and inputs != [previous]:
        entry["inputs"] = inputs if len(inputs) > 1 else inputs[0]
    if when:
        entry["when"] = when
    entry.update(params if params is not None else values)
    return entry


def written_default(kind: str, key: str, *given: dict):
    """The value a parameter has when a layer leaves it out, as a spec would write it."""
    from ..ops import REGISTRY
    from ..params import Uniform

    default = REGISTRY[kind].params[key].default
    if key == "stride" and default is None:  # pooling: the kernel
        return next((g["kernel"] for g in given if "kernel" in g), None)
    return default[0] if isinstance(default, Uniform) else default


def block_with_first(first, others, outside):
    """The first instance with layers the others lack (passed through when absent) and other parameter
    values; None when the difference is anything else."""
    original_first, others = first, list(others)
    names = [row[0] for row in others]
    extra = [row for row in first if row[0] not in names]
    if [row[0] for row in first if row[0] in names] != names:
        return None
    through = {}  # an extra layer's name -> what it stands for when left out (its first input)
    for row in extra:
        through[row[0]] = through.get(row[3][0], row[3][0]) if row[3] else None
    common = {row[0]: row for row in first if row[0] in names}
    differing: list[tuple[str, str]] = []
    for index, row in enumerate(others):
        mine = common[row[0]]
        inputs = [through.get(i, i) for i in mine[3]]
        if mine[1] != row[1] or inputs != row[3]:
            return None
        # a parameter left at its default on one side: the default is the value it has there
        keys = list(mine[2]) + [key for key in row[2] if key not in mine[2]]
        full = {key: written_default(row[1], key, mine[2], row[2]) for key in keys}
        common[row[0]] = (mine[0], mine[1], {**full, **mine[2]}, mine[3])
        others[index] = row = (row[0], row[1], {**full, **row[2]}, row[3])
        differing += [(row[0], key) for key in keys if common[row[0]][2][key] != row[2][key]]
    for row in extra:
        if through[row[0]] is None:
            return None
    keys = [key for _, key in differing]
    param_names = {(layer, key): key if keys.count(key) == 1 or all(
        common[l][2][k] == common[layer][2][key] and others_value(others, l, k) == others_value(others, layer, key)
        for l, k in differing if k == key) else layer_parameter(layer, key) for layer, key in differing}
    params, first_args = {}, {}
    for (layer, key), param in param_names.items():
        params[param] = others_value(others, layer, key)
        first_args[param] = common[layer][2][key]
    switches = {}
    for row in extra:
        switch = re.sub(r"\W", "_", row[0].split(".")[0])
        switches[row[0]] = switch
        params[switch], first_args[switch] = False, True
    layers = []
    for index, row in enumerate(first):
        row = common.get(row[0], row)
        values = {key: (f"${param_names[(row[0], key)]}" if (row[0], key) in param_names else value)
                  for key, value in row[2].items() if (row[0], key) in param_names or key in dict(
                      next((r for r in original_first if r[0] == row[0]), row)[2])}
        # after a switched layer, `previous` is whatever it passed through: inputs are written out
        previous = None if index and first[index - 1][0] in switches else previous_of(first, index)
        layers.append(row_dict(row, previous, f"${switches[row[0]]}" if row[0] in switches else None, values))
    return BlockDef("", params, layers), first_args, outside


def layer_parameter(layer: str, key: str) -> str:
    """The block parameter for one layer's value: `conv.1` -> `conv_1_stride`; a layer named by its index
    in an nn.Sequential (`3`) -> `out_features_3` (a parameter name cannot start with a digit)."""
    text = re.sub(r"\W", "_", layer)
    return f"{text}_{key}" if re.match(r"[A-Za-z_]", text) else f"{key}_{text}"


def others_value(others, layer: str, key: str):
    return next(row[2][key] for row in others if row[0] == layer)


def class_stem(classes: dict, prefixes: list[str]) -> str | None:
    """`inverted_residual` when every module at ``prefixes`` is an InvertedResidual, else None (and for
    containers, whose class says nothing)."""
    names = {classes.get(prefix) for prefix in prefixes}
    if len(names) != 1 or None in names or names & {"Sequential", "ModuleList", "ModuleDict"}:
        return None
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", names.pop()).lower()


def unique_block_name(prefix: str, blocks: dict) -> str:
    base = re.sub(r"\W", "_", prefix.split(".")[-1]) or "block"
    base = base if re.match(r"[A-Za-z_]", base) else f"block_{base}"
    name, index = base, 2
    while name in blocks:
        name, index = f"{base}_{index}", index + 1
    return name
