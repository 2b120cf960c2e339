"""One walk over the Graph IR, shared by every pass (after torch.fx's Interpreter).

A pass subclasses :class:`Interpreter`, names the op method it dispatches to (``infer_shape``,
``reference``, ``lower``…) and may override :meth:`call` to add context or handle errors. Values live
in one environment keyed by tensor name; a node whose inputs are missing (an earlier error) is skipped,
so one mistake is reported once, not again by everything downstream. A node with several outputs
returns a tuple, bound to its output names in order.

With ``keep`` given, a value is dropped from the environment after its last consumer unless its name is
in ``keep`` (the reference executor's memory stays near the largest live set, not the sum).
"""

from __future__ import annotations

from .graph import Graph, Node


class Interpreter:
    method: str = ""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.env: dict[str, object] = {}

    def run(self, initial: dict[str, object], keep: set[str] | None = None) -> dict[str, object]:
        env = self.env
        env.update(initial)
        last_use = self.last_uses() if keep is not None else {}
        for index, node in enumerate(self.graph.nodes):
            args = [env.get(name) for name in node.inputs]
            if any(arg is None for arg in args):
                continue
            result = self.call(node, args)
            if result is not None:
                if len(node.outputs) == 1:
                    env[node.outputs[0]] = result
                else:
                    env.update(zip(node.outputs, result))
            for name in node.inputs:
                if last_use.get(name) == index and name not in keep:
                    env.pop(name, None)
            del args, result
        return env

    def last_uses(self) -> dict[str, int]:
        last = {}
        for index, node in enumerate(self.graph.nodes):
            for name in node.inputs:
                last[name] = index
        return last

    def call(self, node: Node, args: list):
        return getattr(node.op, self.method)(node, *args)
