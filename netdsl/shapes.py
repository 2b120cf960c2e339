"""Static shape inference: the first interpreter over the Graph IR. The dynamic batch stays symbolic
(:data:`netdsl.ops.BATCH`) from the inputs to the outputs."""

from __future__ import annotations

from .diagnostics import Diagnostics
from .graph import Graph, Node
from .interpreter import Interpreter
from .ops import ShapeError, TensorType, show_shape


class ShapeInference(Interpreter):
    method = "infer_shape"

    def __init__(self, graph: Graph, diagnostics: Diagnostics):
        super().__init__(graph)
        self.diagnostics = diagnostics

    def call(self, node: Node, args):
        try:
            return node.op.infer_shape(node, *args)
        except ShapeError as error:
            message = f"{node.kind} layer `{node.name}`: {error}"
            if error.code == "shape-mismatch":
                message += " (inputs: " + ", ".join(
                    f"{name} {show_shape(t.shape)}" for name, t in zip(node.inputs, args)) + ")"
            self.diagnostics.error(error.code, message, node.where(error.param), layer=node.name, hint=error.hint,
                                   expected=error.expected, found=error.found, notes=list(node.trace))
            return None


def infer_shapes(graph: Graph, diagnostics: Diagnostics) -> dict[str, TensorType]:
    """The type of every tensor; shape errors are added to ``diagnostics``."""
    initial = {i.name: TensorType(i.shape, i.dtype) for i in graph.inputs}
    return ShapeInference(graph, diagnostics).run(initial)
