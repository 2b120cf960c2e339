"""Static shape inference: the first interpreter over the Graph IR. Dynamic dimensions stay symbolic
(:class:`netdsl.symbolic.Dim`, and expressions over them) from the inputs to the outputs; sizes that
must agree are compared over every value the profiles allow. Every tensor (input, output, weight) is
held to :func:`netdsl.tensors.max_tensor_elements` at the largest sizes the profiles allow, so nothing
later allocates more than that for one tensor."""

from __future__ import annotations

from .diagnostics import Diagnostics
from .graph import Graph, Node
from .interpreter import Interpreter
from .ops import ShapeError, TensorType
from .symbolic import SymbolicError, allowed, evaluate
from .tensors import ITEMSIZE, is_static, max_tensor_elements, show_bytes, show_shape, show_type

TOO_LARGE_HINT = ("use smaller sizes; where the machine has the memory, raise the bound with --max-tensor-elements N "
                  "or NETDSL_MAX_TENSOR_ELEMENTS=N")


class ShapeInference(Interpreter):
    method = "infer_shape"

    def __init__(self, graph: Graph, diagnostics: Diagnostics, profiles: list | None = None):
        super().__init__(graph)
        self.diagnostics = diagnostics
        self.largest = largest_sizes(graph, profiles)
        self.limit = max_tensor_elements()
        self.checked: dict = {}  # (shape, dtype) -> too_large's answer: most tensors of a network repeat a few shapes
        self.passed: dict = {}  # (op, its parameters' repr, input types) -> the result of a layer that passed

    def call(self, node: Node, args):
        # A layer's checks and result are a function of its kind, parameters, input types and number of outputs
        # alone, and most layers of a network repeat another's (rtdetr-x: 268 distinct of 1,059): one that
        # passed gives its result again. repr keeps 1, 1.0 and True apart; a failure is not kept, so it is
        # reported each time.
        try:
            key = (node.op, repr(node.params), len(node.outputs), *args)
            result = self.passed.get(key)
        except TypeError:  # an unhashable type
            key = result = None
        if result is not None:
            return result
        try:
            check_dtypes(node, args)
            result = node.op.infer_shape(node, *args)
            if len(node.outputs) > 1 and not (isinstance(result, tuple) and not isinstance(result, TensorType)):
                raise TypeError(f"{node.kind} returned one type for {len(node.outputs)} outputs")
            slots = node.op.weight_slots(node, *args)
            check_static_weights(slots)
            self.check_bounds(node, result, slots)
            if key is not None:
                self.passed[key] = result
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

    def check_bounds(self, node: Node, result, slots) -> None:
        """A ShapeError when an output or a weight (``slots``) of ``node`` would be larger than the bound."""
        outputs = result if len(node.outputs) > 1 else (result,)
        for name, t in zip(node.outputs, outputs):
            problem = self.too_large(t.shape, t.dtype)
            if problem:
                what = "its output" if len(node.outputs) == 1 else f"its output `{name}`"
                raise ShapeError(f"{what} would be {show_type(t)}, {problem}", hint=TOO_LARGE_HINT, code="too-large")
        for slot in slots:
            problem = self.too_large(slot.shape, slot.dtype)
            if problem:
                raise ShapeError(f"its weight `{slot.name}` would be {show_shape(slot.shape)} {slot.dtype}, {problem}",
                                 hint=TOO_LARGE_HINT, code="too-large")

    def too_large(self, shape, dtype: str) -> str | None:
        """What is too large about a tensor of ``shape`` at its largest allowed sizes, else None."""
        key = (tuple(shape), dtype)
        try:
            return self.checked[key]
        except KeyError:
            problem = self.checked[key] = self._too_large(shape, dtype)
            return problem

    def _too_large(self, shape, dtype: str) -> str | None:
        count, point = largest_volume(shape, self.largest)
        if count <= self.limit:
            return None
        itemsize = ITEMSIZE.get(dtype, 4)
        at = ", ".join(f"{name}={value}" for name, value in sorted(point.items()) if any(
            not isinstance(d, int) and name in d.names() for d in shape))
        return (f"{count:,} elements ({show_bytes(count * itemsize)}){' at ' + at if at else ''}; a tensor has at "
                f"most {self.limit:,} elements ({show_bytes(self.limit * itemsize)} of {dtype})")


def infer_shapes(graph: Graph, diagnostics: Diagnostics, profiles: list | None = None) -> dict[str, TensorType]:
    """The type of every tensor; shape errors are added to ``diagnostics``. Symbolic sizes are compared
    over every value the graph's profiles (or ``profiles``, a build's own) allow."""
    with allowed(profiles or graph.profiles or None):
        inference = ShapeInference(graph, diagnostics, profiles or graph.profiles)
        initial = {}
        for i in graph.inputs:
            problem = inference.too_large(i.shape, i.dtype)
            if problem:
                diagnostics.error("too-large", f"input `{i.name}` would be {show_type(TensorType(i.shape, i.dtype))}, "
                                  f"{problem}", i.pos, hint=TOO_LARGE_HINT)
            else:
                initial[i.name] = TensorType(i.shape, i.dtype)
        return inference.run(initial)


def largest_sizes(graph: Graph, profiles: list | None) -> list[dict]:
    """The sizes at which tensors are largest: each profile's max for every dynamic dimension (the -1
    batch's max where no profile gives it), or just the batch's max when there are no profiles."""
    batch = [i.batch[2] for i in graph.inputs if i.batch]
    largest_batch = {"N": min(batch)} if batch else {}
    points = [{**largest_batch, **{name: r[2] for name, r in profile.ranges.items()}}
              for profile in profiles or graph.profiles or ()]
    return points or [largest_batch]


def largest_volume(shape, points: list[dict]) -> tuple[int, dict]:
    """The most elements a tensor of ``shape`` has at any of ``points`` (dim name -> size), and that point
    ({} for a static shape; (0, {}) when no point gives every dynamic size)."""
    best = (0, {})
    for point in points:
        if not all(isinstance(d, int) or d.names() <= point.keys() for d in shape):
            continue
        count = 1
        for d in shape:
            count *= evaluate(d, point)
        if count > best[0]:
            best = (count, point)
    return best


def check_static_weights(slots) -> None:
    """A weight is an array of one size: one whose shape follows a dynamic input size (batch norm over
    dynamic channels, a linear layer over a dynamic last axis) cannot be given."""
    for slot in slots:
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
