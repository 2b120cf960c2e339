"""Static shape inference: the first interpreter over the Graph IR. Dynamic dimensions stay symbolic
(:class:`netdsl.symbolic.Dim`, and expressions over them) from the inputs to the outputs; sizes that
must agree are compared over every value the profiles allow."""

from __future__ import annotations

from .diagnostics import Diagnostics
from .graph import Graph, Node
from .interpreter import Interpreter
from .ops import ShapeError, TensorType
from .symbolic import SymbolicError, allowed
from .tensors import is_static, show_shape, show_type


class ShapeInference(Interpreter):
    method = "infer_shape"

    def __init__(self, graph: Graph, diagnostics: Diagnostics):
        super().__init__(graph)
        self.diagnostics = diagnostics

    def call(self, node: Node, args):
        try:
            check_dtypes(node, args)
            result = node.op.infer_shape(node, *args)
            if len(node.outputs) > 1 and not (isinstance(result, tuple) and not isinstance(result, TensorType)):
                raise TypeError(f"{node.kind} returned one type for {len(node.outputs)} outputs")
            check_static_weights(node, args)
            return result
        except SymbolicError as error:
            dynamic = sorted({str(d) for t in args for d in t.shape if not isinstance(d, int)})
            self.diagnostics.error("dynamic-shape", f"{node.kind} layer `{node.name}` cannot work on the dynamic "
                                   f"size(s) {', '.join(dynamic)} of its input ({error})", node.pos,
                                   layer=node.name, notes=list(node.trace),
                                   hint="give those dimensions fixed sizes, or compute this part in another kind")
            return None
        except ShapeError as error:
            message = f"{node.kind} layer `{node.name}`: {error}"
            if error.code == "shape-mismatch":
                message += " (inputs: " + ", ".join(
                    f"{name} {show_type(t)}" for name, t in zip(node.inputs, args)) + ")"
            self.diagnostics.error(error.code, message, node.where(error.param), layer=node.name, hint=error.hint,
                                   expected=error.expected, found=error.found, notes=list(node.trace))
            return None


def infer_shapes(graph: Graph, diagnostics: Diagnostics, profiles: list | None = None) -> dict[str, TensorType]:
    """The type of every tensor; shape errors are added to ``diagnostics``. Symbolic sizes are compared
    over every value the graph's profiles (or ``profiles``, a build's own) allow."""
    initial = {i.name: TensorType(i.shape, i.dtype) for i in graph.inputs}
    with allowed(profiles or graph.profiles or None):
        return ShapeInference(graph, diagnostics).run(initial)


def check_static_weights(node: Node, args) -> None:
    """A weight is an array of one size: one whose shape follows a dynamic input size (batch norm over
    dynamic channels, a linear layer over a dynamic last axis) cannot be given."""
    for slot in node.op.weight_slots(node, *args):
        if not is_static(slot.shape):
            raise SymbolicError(f"its weight `{slot.name}` would have the shape {show_shape(slot.shape)}")


def check_dtypes(node: Node, args) -> None:
    allowed = node.op.dtypes
    if allowed is None:
        return
    for name, t in zip(node.inputs, args):
        if t.dtype not in allowed:
            raise ShapeError(f"input `{name}` is {t.dtype}; {node.kind} takes {', '.join(allowed)}",
                             hint=f"convert it first: {{kind: cast, dtype: {allowed[0]}}}", code="wrong-dtype",
                             expected=", ".join(allowed), found=t.dtype)
