"""Reading a spec file into a checked Graph.

    >>> from netdsl.spec import check
    >>> checked, diagnostics = check("specs/lenet.yaml")
    >>> [d.code for d in diagnostics]
    []
    >>> checked.types["fc3"].shape
    (N, 10)
"""

from __future__ import annotations

from ..diagnostics import Diagnostics, Source, SpecError
from ..graph import Graph
from ..ops import TensorType
from ..yamlnodes import Node as YamlNode, compose, paused_gc, read_source
from .read import VERSION, read_graph
from .weightnames import check_layer_weights

__all__ = ["VERSION", "CheckedSpec", "check", "check_text", "check_document", "load"]


class CheckedSpec:
    """A spec that passed every check: its graph and the type (shape, dtype) of every tensor."""

    __slots__ = ("path", "source", "graph", "types", "complete")

    def __init__(self, path: str, source: Source, graph: Graph, types: dict[str, TensorType], complete: bool = True):
        self.path = path
        self.source = source
        self.graph = graph
        self.types = types
        self.complete = complete  # False: a spec with errors, kept by ``check(path, partial=True)``

    def weights_file(self, override: str | None = None) -> str | None:
        """``override`` (a `--weights` given by the user), else the spec's `weights:` file, else None."""
        return override or (self.graph.weights.file if self.graph.weights else None)


@paused_gc()  # many small, long-lived objects: see paused_gc
def check(path: str, partial: bool = False, params: dict | None = None) -> tuple[CheckedSpec | None, Diagnostics]:
    """Read, expand and shape-check a spec; never raises for a user mistake. With ``partial``, a spec
    with errors still comes back (``complete`` False) when its graph could be read: the layers that did
    check can then have their weights checked in the same run. An ONNX model, a checkpoint, a plan or
    a weight file given for a spec raises a UsageError naming the command that takes it."""
    from .foreign import refuse_foreign

    refuse_foreign(path)
    diagnostics = Diagnostics()
    source = read_source(path, diagnostics)
    root = compose(source, diagnostics) if source is not None else None
    if root is None:
        return None, diagnostics
    return check_document(root, source, diagnostics, partial, params)


@paused_gc()
def check_text(text: str, path: str = "<string>", params: dict | None = None) -> tuple[CheckedSpec | None,
                                                                                     Diagnostics]:
    diagnostics = Diagnostics()
    source = Source(path, text)
    root = compose(source, diagnostics)
    if root is None:
        return None, diagnostics
    return check_document(root, source, diagnostics, params=params)


def check_document(root: YamlNode, source: Source, diagnostics: Diagnostics, partial: bool = False,
                   params: dict | None = None):
    from ..shapes import infer_shapes

    graph = read_graph(root, source, diagnostics, params)
    if graph is None:
        return None, diagnostics
    types = infer_shapes(graph, diagnostics)
    check_layer_weights(graph, types, diagnostics)
    if diagnostics.has_errors:
        from .explain import explain_mismatches  # only for a spec with errors

        explain_mismatches(graph, types, diagnostics)
        if not partial:
            return None, diagnostics
    return CheckedSpec(source.path, source, graph, types, complete=not diagnostics.has_errors), diagnostics


def load(path: str, params: dict | None = None) -> CheckedSpec:
    """Like :func:`check`, but raises :class:`SpecError` listing every problem."""
    checked, diagnostics = check(path, params=params)
    if checked is None:
        raise SpecError(diagnostics)
    return checked
