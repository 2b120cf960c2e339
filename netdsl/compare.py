"""Layer-wise comparison (after Polygraphy's ``run --mark all`` with ``--compare``): every spec layer's
output, or chosen ones, computed by TensorRT and by the reference executor on the same input, with the
maximum and mean absolute and the maximum relative error per tensor and the first layer over tolerance.

Where a GPU runs the engine, the chosen tensors are marked as extra engine outputs (each a graph output
of a copy of the spec, so the build casts them to float32 like any output) and the engine is run.
Without one, TensorRT's side is :mod:`netdsl.trt.evaluate`: the lowered network evaluated with TensorRT's
documented layer semantics; the report says which was compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import UsageError

ENGINE, EVALUATOR = "engine", "evaluator"


@dataclass
class Row:
    layer: str
    kind: str
    tensor: str
    shape: tuple
    max_abs: float
    mean_abs: float
    max_rel: float
    passed: bool

    def to_json(self):
        return {"layer": self.layer, "kind": self.kind, "tensor": self.tensor, "shape": list(self.shape),
                "max_abs": self.max_abs, "mean_abs": self.mean_abs, "max_rel": self.max_rel, "pass": self.passed}


@dataclass
class Comparison:
    against: str  # ENGINE or EVALUATOR
    precision: str
    atol: float
    rtol: float
    rows: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)  # input name -> the shape compared at

    @property
    def first_failure(self) -> Row | None:
        return next((row for row in self.rows if not row.passed), None)

    def to_json(self):
        first = self.first_failure
        return {"compared": self.against, "precision": self.precision, "atol": self.atol, "rtol": self.rtol,
                "inputs": {name: list(shape) for name, shape in self.inputs.items()},
                "first_failure": first.layer if first else None, "rows": [row.to_json() for row in self.rows]}


def chosen_tensors(checked, layers: list[str] | None) -> list[tuple[str, str, str]]:
    """(spec layer, kind, tensor) for every output of the chosen spec layers (all when None), in order."""
    known = {node.name for node in checked.graph.nodes}
    unknown = [name for name in layers or () if name not in known]
    if unknown:
        raise UsageError(f"no layer named {', '.join(f'`{n}`' for n in unknown)} in {checked.path}")
    return [(node.name, node.kind, tensor) for node in checked.graph.nodes
            if layers is None or node.name in layers for tensor in node.outputs]


def row(layer, kind, tensor, got, expected, atol, rtol) -> Row:
    import numpy as np

    got = np.asarray(got).astype(np.float64)
    expected = np.asarray(expected).astype(np.float64)
    if got.shape != expected.shape:
        return Row(layer, kind, tensor, expected.shape, float("inf"), float("inf"), float("inf"), False)
    difference = np.abs(got - expected)
    difference = np.where(np.isnan(got) & np.isnan(expected), 0.0, np.nan_to_num(difference, nan=np.inf))
    relative = difference / np.maximum(np.abs(expected), 1e-6)
    return Row(layer, kind, tensor, expected.shape, float(difference.max(initial=0)),
               float(difference.mean()) if difference.size else 0.0, float(relative.max(initial=0)),
               bool((difference <= atol + rtol * np.abs(expected)).all()))


def compare(checked, bound, inputs: dict, precision: str = "float32", layers: list[str] | None = None,
            use_engine: bool = False) -> Comparison:
    """Per chosen tensor, TensorRT's value against the reference executor's. ``use_engine``: build and run
    an engine (needs a GPU that TensorRT runs on); otherwise evaluate the lowered network."""
    import numpy as np

    from . import reference
    from .runtime import TOLERANCES

    wanted = chosen_tensors(checked, layers)
    expected = reference.run(checked, bound, inputs, keep={tensor for _, _, tensor in wanted})
    got = engine_tensors(checked, bound, inputs, precision, wanted) if use_engine else \
        evaluated_tensors(checked, bound, inputs, precision)
    atol, rtol = TOLERANCES[precision]
    result = Comparison(ENGINE if use_engine else EVALUATOR, precision, atol, rtol,
                        inputs={name: np.shape(array) for name, array in inputs.items()})
    for layer, kind, tensor in wanted:
        result.rows.append(row(layer, kind, tensor, got[tensor], expected[tensor], atol, rtol))
    return result


def evaluated_tensors(checked, bound, inputs: dict, precision: str) -> dict:
    """Every tensor of the lowered network, by the TensorRT-semantics evaluator."""
    from .build import network_for
    from .reference import check_inputs
    from .spec.buildopts import BuildOptions
    from .trt.evaluate import Evaluator

    arrays, _ = check_inputs(checked, inputs)
    _, network, ctx = network_for(checked, bound, BuildOptions(precision=precision), every_tensor=True)
    tensors = Evaluator(network, ctx).run(arrays, keep="all")
    for output in checked.graph.outputs:  # the lowering renames a layer's tensor to the output it feeds
        for name in (f"{output.name}/{precision}", output.source, output.name):
            if name in tensors:
                tensors.setdefault(output.source, tensors[name])
                break
    return tensors


def engine_tensors(checked, bound, inputs: dict, precision: str, wanted) -> dict:
    """The chosen tensors from an engine built with each of them marked as an output (float32 like any
    output) and run on GPU 0. Written against the documented API (mark_output through the spec's own
    outputs, execute_async_v3); not run on this project's machines, which have no GPU TensorRT runs on."""
    from . import runtime
    from .build import build_plan, manifest, options_for
    from .graph import Output, replaced

    runtime.require_gpu(runtime.cuda_runtime())  # before a build that could not be run
    graph = checked.graph
    taken = {o.name for o in graph.outputs} | {i.name for i in graph.inputs}
    extra, names = [], {}
    for _, _, tensor in wanted:
        name = tensor if tensor not in taken else f"{tensor}:compare"
        names[tensor] = name
        taken.add(name)
        extra.append(Output(name, tensor, None))
    marked = replaced(checked, graph=replaced(graph, outputs=list(graph.outputs) + extra))
    plan = build_plan(marked, bound, options_for(marked, precision=precision))
    with runtime.Engine(manifest(plan, "(in memory)"), plan.data) as engine:
        outputs = engine.run(inputs)
    return {tensor: outputs[name] for tensor, name in names.items()}


def render(result: Comparison) -> str:
    if result.against == ENGINE:
        header = f"engine (GPU) vs reference executor, {result.precision}"
    else:
        header = (f"TensorRT-semantics evaluator vs reference executor, {result.precision}: no engine was run "
                  "(no GPU that TensorRT runs on, or --evaluator); TensorRT's side is the lowered network evaluated "
                  "with TensorRT's documented layer semantics")
    lines = [header, "inputs: " + ", ".join(f"{name} [{', '.join(map(str, shape))}]"
                                            for name, shape in result.inputs.items()),
             f"tolerance |TensorRT - reference| <= {result.atol:g} + {result.rtol:g} * |reference|", ""]
    width = max([len(r.tensor) for r in result.rows] + [6])
    lines.append(f"{'tensor':<{width}}  {'kind':<16} {'shape':<20} {'max abs':>10} {'mean abs':>10} {'max rel':>10}")
    for r in result.rows:
        shape = "[" + ", ".join(map(str, r.shape)) + "]"
        lines.append(f"{r.tensor:<{width}}  {r.kind:<16} {shape:<20} {r.max_abs:>10.3g} {r.mean_abs:>10.3g} "
                     f"{r.max_rel:>10.3g}" + ("" if r.passed else "  FAIL"))
    first = result.first_failure
    lines.append("")
    lines.append(f"first layer over tolerance: {first.layer} ({first.kind})" if first else
                 f"all {len(result.rows)} tensors within tolerance")
    return "\n".join(lines)
