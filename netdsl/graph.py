"""The Graph IR: what a spec means once blocks are expanded and names resolved.

Nodes are in spec order, which is a topological order (a layer can only take inputs from layers above
it). A node produces one tensor named after it, or, for kinds with several outputs (split, topk), one
tensor per output named ``<layer>.<output>``; graph inputs are tensors too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import Note, Pos
from .ops import Op


@dataclass(slots=True)
class Input:
    name: str
    dtype: str
    shape: tuple  # ints and symbolic.Dim (ops.BATCH for a -1 batch, or a name from `dims:`)
    batch: tuple[int, int, int] | None  # (min, opt, max) when dynamic
    pos: Pos


@dataclass(slots=True)
class Node:
    name: str
    kind: str
    op: Op
    params: dict
    inputs: list[str]
    pos: Pos
    param_pos: dict[str, Pos] = field(default_factory=dict)
    trace: tuple[Note, ...] = ()  # the block instantiations this node came from, innermost first
    weight_names: dict[str, str] = field(default_factory=dict)  # slot -> exact file key (layer's `weights`)
    weight_pos: dict[str, Pos] = field(default_factory=dict)
    blocks: tuple[tuple[str, str], ...] = ()  # block instances it is in: (instance name, block name), outermost first
    outputs: tuple[str, ...] = ()  # the tensors it produces; set from the op when the node is made

    def __post_init__(self):
        if not self.outputs:
            names = self.op.output_names(self)
            self.outputs = tuple(f"{self.name}.{n}" for n in names) if names else (self.name,)

    def where(self, param: str | None = None) -> Pos:
        return self.param_pos.get(param, self.pos) if param else self.pos

    def weight_slots(self, types: dict) -> list:
        """This layer's weight slots (``ops.WeightSlot``), given the types of its inputs."""
        return self.op.weight_slots(self, *(types[name] for name in self.inputs))


@dataclass(slots=True)
class Output:
    name: str
    source: str  # the tensor it exposes
    pos: Pos


@dataclass(slots=True)
class Graph:
    name: str
    inputs: list[Input]
    nodes: list[Node]
    outputs: list[Output]
    version: int = 1
    weights: object = None  # spec.weightnames.WeightsSource: default file and name rules
    build: object = None  # spec.buildopts.BuildOptions: the spec's `build:` section
    quantization: object = None  # quant.section.Quantization: the spec's `quantization:` section, if any
    profiles: list = field(default_factory=list)  # symbolic.Profile: the ranges of the dynamic dims

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)
