"""One walk over the Graph IR, shared by every pass (after torch.fx's Interpreter).

A pass subclasses :class:`Interpreter`, names the op method it dispatches to (``infer_shape``,
``reference``, ``lower``…) and may override :meth:`call` to add context or handle errors. Values live
in one environment keyed by tensor name; a node whose inputs are missing (an earlier error) is skipped,
so one mistake is reported once, not again by everything downstream.
"""

from __future__ import annotations

from .graph import Graph, Node


class Interpreter:
    method: str = ""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.env: dict[str, object] = {}

    def run(self, initial: dict[str, object]) -> dict[str, object]:
        env = self.env
        env.update(initial)
        for node in self.graph.nodes:
            args = [env.get(name) for name in node.inputs]
            if any(arg is None for arg in args):
                continue
            result = self.call(node, args)
            if result is not None:
                env[node.name] = result
        return env

    def call(self, node: Node, args: list):
        return getattr(node.op, self.method)(node, *args)
