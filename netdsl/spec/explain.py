"""Where a disagreeing size comes from. A residual `add` whose inputs disagree on their channels is
reported at the add, but the mistake is usually upstream: a convolution whose `out_channels` was edited.
For every shape mismatch between the inputs of one layer, this names, as notes, the layer that gave each
input its size on the disputed axis, walking back through layers that keep that size (batch norm,
activations, pooling of the spatial axes...)."""

from __future__ import annotations

from ..diagnostics import Diagnostics, Note


def explain_mismatches(graph, types: dict, diagnostics: Diagnostics) -> None:
    nodes = {node.name: node for node in graph.nodes}
    made_by = {tensor: node for node in graph.nodes for tensor in node.outputs}  # `anchors.points` -> anchors
    for diagnostic in diagnostics:
        node = nodes.get(diagnostic.layer or "")
        if diagnostic.code != "shape-mismatch" or node is None or len(node.inputs) < 2:
            continue
        shapes = [types[name].shape if name in types else None for name in node.inputs]
        if None in shapes or len({len(shape) for shape in shapes}) != 1:
            continue
        for axis in range(len(shapes[0])):
            if len({shape[axis] for shape in shapes} - {1}) < 2:
                continue
            for name in dict.fromkeys(node.inputs):
                note = _origin_note(made_by, types, graph, name, axis)
                if note is not None:
                    diagnostic.notes.append(note)


def _origin_note(made_by, types, graph, tensor: str, axis: int) -> Note | None:
    """The layer that gave ``tensor`` its size on ``axis``: the nearest one up the chain of first inputs
    whose input had another size there (or another rank); None where the chain ends at nothing the spec
    names (a layer without inputs that keeps the size)."""
    size = types[tensor].shape[axis]
    start = tensor
    while tensor in made_by:
        node = made_by[tensor]
        first = node.inputs[0] if node.inputs else None
        before = types[first].shape if first in types else None
        if before is None or len(before) != len(types[tensor].shape) or before[axis] != size:
            where = next((node.param_pos[key] for key, value in node.params.items()
                          if value == size and key in node.param_pos), node.pos)
            via = "" if tensor == start else f" (through to `{start}`)"
            return Note(where, f"{node.kind} layer `{node.name}` makes axis {axis} {size}{via}")
        tensor = first
    graph_input = next((i for i in graph.inputs if i.name == tensor), None)
    if graph_input is None:
        return None
    via = "" if tensor == start else f" (through to `{start}`)"
    return Note(graph_input.pos, f"input `{tensor}` has axis {axis} {size}{via}")
