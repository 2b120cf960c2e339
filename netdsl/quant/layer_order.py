"""Tensor names of a TensorRT calibration cache matched to a spec's tensors.

TensorRT names a tensor after the layer that makes it: ``conv1_output`` for layer ``conv1``, and
``(Unnamed Layer* 12) [Convolution]_output`` for a layer nobody named (its index in the network and its
type; a second output ends in ``_output (1)``, or ``_output_1`` in older releases). Caches written for
networks built by hand (tensorrtx, NVIDIA's samples) are full of both. A cache name matches:

1. by name: it is a tensor of the spec (``data``, ``prob``);
2. by layer name: it is ``<layer>_output`` for a layer of the spec;
3. by layer order: it is an unnamed layer's output, and the spec has, between the tensors matched by
   1 and 2 around it, a layer that TensorRT makes with a layer of that type (:data:`PRODUCERS`). The
   cache lists tensors in network order, as the spec lists its layers; the alignment keeps both orders
   and matches as many tensors as it can, each to the last fitting TensorRT layer (the output of a
   convolution followed by a separate bias or batch-norm layer is the latter's).

Other names (a tensorrtx name that is not a spec layer's) stay unmatched: their layer type is unknown.
Matches by layer order are guesses the user must review: :class:`Matching` says which they are and
where another layer of the same type could have been meant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

UNNAMED = re.compile(r"\(Unnamed Layer\* (\d+)\) \[([^\]]+)\]_output(?:_(\d+)| \((\d+)\))?")
LAYER_OUTPUT = re.compile(r"(.+)_output(?:_(\d+)| \((\d+)\))?")

# netdsl op module -> the TensorRT layer types (lowercase, no spaces) whose output can be its output: the
# last layer that TensorRT networks, netdsl's own or written by hand, build for it
_ACTIVATION = {"activation", "elementwise", "unary", "parametricrelu", "select"}  # SiLU is x * sigmoid(x)
PRODUCERS = {
    "convolution": {"convolution", "scale", "elementwise"},  # bias or batch norm as layers of their own
    "deconvolution": {"deconvolution", "scale", "elementwise"},
    "fully_connected": {"fullyconnected", "matrixmultiply", "elementwise", "convolution", "scale"},
    "matmul": {"matrixmultiply", "fullyconnected", "elementwise"},
    "batch_norm": {"scale", "elementwise", "normalization"},
    "normalization": {"normalization", "scale", "elementwise"},
    "activations": _ACTIVATION, "activations_smooth": _ACTIVATION, "activations_piecewise": _ACTIVATION,
    "pooling": {"pooling", "reduce"},
    "elementwise": {"elementwise"},
    "unary": {"unary", "elementwise"},
    "concat": {"concatenation"},
    "softmax": {"softmax"},
    "interpolate": {"resize"},
    "reshape": {"shuffle"}, "flatten": {"shuffle"}, "permute": {"shuffle"}, "squeeze": {"shuffle"},
    "pixel_shuffle": {"shuffle"},
    "slice": {"slice"}, "split": {"slice"}, "expand": {"slice"},
    "pad": {"padding", "slice"},
    "lrn": {"lrn"},
    "reduce": {"reduce"},
    "topk": {"topk"},
    "gather": {"gather"},
    "constant": {"constant"},
    "passthrough": {"identity"},
    "cast": {"cast", "identity"},
    "where": {"select"},
    "cumsum": {"cumulative"},
    "einsum": {"einsum"},
}


@dataclass
class Matching:
    """Cache name -> spec tensor, by how each was matched."""

    by_name: dict = field(default_factory=dict)
    by_layer_name: dict = field(default_factory=dict)
    by_order: dict = field(default_factory=dict)
    unmatched: dict = field(default_factory=dict)  # cache name -> why (or None)
    ambiguous: dict = field(default_factory=dict)  # cache name (by order) -> the other names that fitted

    def tensor(self, name: str) -> str | None:
        return self.by_name.get(name) or self.by_layer_name.get(name) or self.by_order.get(name)


@dataclass
class _Unnamed:
    position: int  # line order in the cache
    name: str
    layer_type: str  # as in the name: "Matrix Multiply"
    output: int
    kind: str = field(init=False)  # "matrixmultiply", as PRODUCERS spells it

    def __post_init__(self):
        self.kind = self.layer_type.lower().replace(" ", "")


def output_index(match) -> int:
    """The output number at the end of a name (``_output (1)`` or ``_output_1``), 0 when none."""
    return int(match.group(match.re.groups - 1) or match.group(match.re.groups) or 0)


def spec_tensors(checked) -> list[str]:
    """Every tensor of the spec in graph order (inputs, then each layer's outputs): TensorRT's order."""
    return [i.name for i in checked.graph.inputs] + [name for node in checked.graph.nodes for name in node.outputs]


def match_names(names: list[str], checked) -> Matching:
    """Match the cache's tensor ``names`` (in the cache's order) to ``checked``'s tensors."""
    tensors = spec_tensors(checked)
    rank = {name: index for index, name in enumerate(tensors)}
    nodes = {node.name: node for node in checked.graph.nodes}
    matching, anchors, unnamed = Matching(), [], []
    for position, name in enumerate(names):
        layer, hidden = LAYER_OUTPUT.fullmatch(name), UNNAMED.fullmatch(name)
        if name in rank:
            matching.by_name[name] = name
        elif layer and layer.group(1) in nodes and output_index(layer) < len(nodes[layer.group(1)].outputs):
            matching.by_layer_name[name] = nodes[layer.group(1)].outputs[output_index(layer)]
        elif hidden:
            unnamed.append(_Unnamed(position, name, hidden.group(2), output_index(hidden)))
            continue
        else:
            matching.unmatched[name] = (f"`{layer.group(1)}` is no layer of the spec; a layer of unknown type, so not "
                                        "matched by order" if layer else None)
            continue
        anchors.append((position, rank[matching.tensor(name)], name))
    fits = _fits(checked, tensors)
    bounds = [(-1, -1)] + [(position, index) for position, index, _ in _monotone(anchors, matching)]
    bounds.append((len(names), len(tensors)))
    taken = 0  # unnamed is in cache order: each gap takes the next run of it (linear in the names)
    for (start, first), (end, last) in zip(bounds, bounds[1:]):
        entries = []
        while taken < len(unnamed) and unnamed[taken].position < end:
            entries.append(unnamed[taken])
            taken += 1
        _align_gap(entries, list(range(first + 1, last)), tensors, fits, matching, _place(tensors, first, last))
    return matching


def _place(tensors: list[str], first: int, last: int) -> str:
    """Where a run of unnamed layers lies: between the spec tensors numbered ``first`` and ``last``."""
    if first >= 0 and last < len(tensors):
        return f"between `{tensors[first]}` and `{tensors[last]}`"
    if first >= 0:
        return f"after `{tensors[first]}`"
    return f"before `{tensors[last]}`" if last < len(tensors) else "anywhere"


def _monotone(anchors, matching: Matching) -> list:
    """The anchors whose spec order follows the cache's order; the others (and second names for one
    tensor) are left unmatched."""
    kept, taken = [], set()
    for position, index, name in anchors:
        tensor = matching.tensor(name)
        if tensor in taken or (kept and index <= kept[-1][1]):
            matching.by_name.pop(name, None)
            matching.by_layer_name.pop(name, None)
            matching.unmatched[name] = (f"`{tensor}` is matched by an earlier name" if tensor in taken
                                        else f"`{tensor}` comes before `{matching.tensor(kept[-1][2])}` in the spec")
            continue
        taken.add(tensor)
        kept.append((position, index, name))
    return kept


def _fits(checked, tensors: list[str]) -> list[tuple[set, int]]:
    """Per spec tensor: the TensorRT layer types that can make it, and its output number."""
    producer = {name: node for node in checked.graph.nodes for name in node.outputs}
    fits = []
    for tensor in tensors:
        node = producer.get(tensor)
        if node is None:  # a network input
            fits.append((set(), 0))
            continue
        group = type(node.op).__module__.rsplit(".", 1)[-1]
        fits.append((PRODUCERS.get(group, set()), node.outputs.index(tensor)))
    return fits


ALIGN_CELLS = 1 << 18  # the most (spec tensors x unnamed names) one gap's alignment may weigh: under a second


def _align_gap(entries: list, spec: list[int], tensors, fits, matching: Matching, place: str) -> None:
    """:func:`_align` on the entries that can matter, in time linear in ``entries``: an entry whose type
    fits no tensor of the gap cannot match; of a run of entries of one type, only the last
    ``len(spec)`` can (an alignment keeping the most matches, and the latest entries, would shift
    them to the run's end). A gap still too large to align is left unmatched, saying so."""
    wanted = {(kind, output) for kinds, output in (fits[i] for i in spec) for kind in kinds}
    kept, run = [], []
    for index, entry in enumerate(entries + [None]):
        key = None if entry is None else (entry.kind, entry.output)
        if run and key == (entries[run[0]].kind, entries[run[0]].output):
            run.append(index)
            continue
        kept += run[max(len(run) - len(spec), 0):]
        run = [index] if key in wanted else []
    if len(kept) * len(spec) > ALIGN_CELLS:
        for entry in entries:
            matching.unmatched[entry.name] = (f"{len(entries):,} unnamed layers {place}, for {len(spec):,} tensor(s) "
                                              "of the spec: too many to match by order")
        return
    _align(entries, kept, spec, tensors, fits, matching, place)


def _align(entries: list, kept: list[int], spec: list[int], tensors, fits, matching: Matching, place: str) -> None:
    """Match the unnamed ``entries`` numbered ``kept`` to the spec tensors numbered ``spec``, keeping
    both orders: the most matches, then the latest entries (the largest sum of positions)."""
    fitting = [{(kind, fits[index][1]) for kind in fits[index][0]} for index in spec]  # per spec tensor

    def fit(i, entry):
        return (entry.kind, entry.output) in fitting[i]

    keys = [(entries[k].kind, entries[k].output) for k in kept]
    best = [[(0, 0)] * (len(kept) + 1) for _ in range(len(spec) + 1)]
    for i in range(1, len(spec) + 1):
        for j in range(1, len(kept) + 1):
            best[i][j] = max(best[i - 1][j], best[i][j - 1])
            if keys[j - 1] in fitting[i - 1]:
                count, late = best[i - 1][j - 1]
                best[i][j] = max(best[i][j], (count + 1, late + kept[j - 1] + 1))
    pairs, i, j = [], len(spec), len(kept)
    while i and j:
        if best[i][j] == best[i - 1][j]:
            i -= 1
        elif best[i][j] == best[i][j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, kept[j - 1]))
            i, j = i - 1, j - 1
    pairs.reverse()
    for k, (i, j) in enumerate(pairs):
        matching.by_order[entries[j].name] = tensors[spec[i]]
        low = pairs[k - 1][1] + 1 if k else 0
        high = pairs[k + 1][1] if k + 1 < len(pairs) else len(entries)
        others = [e.name for e in entries[low:high] if e is not entries[j] and e.kind == entries[j].kind and fit(i, e)]
        if others:
            matching.ambiguous[entries[j].name] = others
    used = {entries[j].name for _, j in pairs}
    wanted = set().union(*fitting)
    for entry in (e for e in entries if e.name not in used):
        weights = entry.kind == "constant" and (entry.kind, entry.output) not in wanted
        matching.unmatched[entry.name] = ("weights, which are quantized from their own values" if weights
                                          else f"no layer of the spec {place} is left for this {entry.layer_type}")
