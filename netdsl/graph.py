"""The Graph IR: what a spec means once blocks are expanded and names resolved.

Nodes are in spec order, which is a topological order (a layer can only take inputs from layers above
it). A node produces one tensor named after it, or, for kinds with several outputs (split, topk), one
tensor per output named ``<layer>.<output>``; graph inputs are tensors too.
"""

from __future__ import annotations

from .diagnostics import Note, Pos
from .ops import Op

# Plain slotted classes, not dataclasses: `netdsl validate` would import ``dataclasses`` (and ``inspect``)
# for them, and generate their methods with ``exec``, at every start.


class Input:
    __slots__ = ("name", "dtype", "shape", "batch", "pos")

    def __init__(self, name: str, dtype: str, shape: tuple, batch: tuple[int, int, int] | None, pos: Pos):
        self.name = name
        self.dtype = dtype
        self.shape = shape  # ints and symbolic.Dim (ops.BATCH for a -1 batch, or a name from `dims:`)
        self.batch = batch  # (min, opt, max) when dynamic
        self.pos = pos


class Node:
    __slots__ = ("name", "kind", "op", "params", "inputs", "pos", "param_pos", "trace", "weight_names",
                 "weight_pos", "blocks", "outputs")

    def __init__(self, name: str, kind: str, op: Op, params: dict, inputs: list[str], pos: Pos,
                 param_pos: dict[str, Pos] | None = None, trace: tuple[Note, ...] = (),
                 weight_names: dict[str, str] | None = None, weight_pos: dict[str, Pos] | None = None,
                 blocks: tuple[tuple[str, str], ...] = (), outputs: tuple[str, ...] = ()):
        self.name = name
        self.kind = kind
        self.op = op
        self.params = params
        self.inputs = inputs
        self.pos = pos
        self.param_pos = {} if param_pos is None else param_pos
        self.trace = trace  # the block instantiations this node came from, innermost first
        # slot -> exact file key (the layer's `weights`)
        self.weight_names = {} if weight_names is None else weight_names
        self.weight_pos = {} if weight_pos is None else weight_pos
        self.blocks = blocks  # block instances it is in: (instance name, block name), outermost first
        self.outputs = outputs  # the tensors it produces; set from the op when not given
        if not outputs:
            names = op.output_names(self)
            self.outputs = tuple(f"{name}.{n}" for n in names) if names else (name,)

    def where(self, param: str | None = None) -> Pos:
        return self.param_pos.get(param, self.pos) if param else self.pos

    def weight_slots(self, types: dict) -> list:
        """This layer's weight slots (``ops.WeightSlot``), given the types of its inputs."""
        return self.op.weight_slots(self, *(types[name] for name in self.inputs))


class Output:
    __slots__ = ("name", "source", "pos")

    def __init__(self, name: str, source: str, pos: Pos):
        self.name = name
        self.source = source  # the tensor it exposes
        self.pos = pos


class Graph:
    __slots__ = ("name", "inputs", "nodes", "outputs", "version", "weights", "build", "quantization", "profiles",
                 "params", "plugins")

    def __init__(self, name: str, inputs: list[Input], nodes: list[Node], outputs: list[Output], version: int = 1,
                 weights: object = None, build: object = None, quantization: object = None,
                 profiles: list | None = None, params: dict | None = None, plugins: list | None = None):
        self.name = name
        self.inputs = inputs
        self.nodes = nodes
        self.outputs = outputs
        self.version = version
        self.weights = weights  # spec.weightnames.WeightsSource: default file and name rules
        self.build = build  # spec.buildopts.BuildOptions: the spec's `build:` section
        self.quantization = quantization  # spec.quantization.Quantization: the spec's `quantization:` section
        self.profiles = [] if profiles is None else profiles  # symbolic.Profile: the ranges of the dynamic dims
        self.params = {} if params is None else params  # the spec's `params:` as used (after `--set`)
        self.plugins = [] if plugins is None else plugins  # (library path, Pos): the spec's `plugins:`

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)


def replaced(record, **changes):
    """A shallow copy of a slotted record (Graph, CheckedSpec...) with some attributes changed, as
    ``dataclasses.replace`` did when these were dataclasses."""
    copy = object.__new__(type(record))
    for key in type(record).__slots__:
        setattr(copy, key, changes.pop(key) if key in changes else getattr(record, key))
    if changes:
        raise TypeError(f"{type(record).__name__} has no attribute(s) {', '.join(changes)}")
    return copy
