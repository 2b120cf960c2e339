"""Per-layer table of a checked spec: kind, inputs, output shape, parameters, multiply-accumulates.

Shapes in named dimensions (`height`, `width` of `dims:`) show as numbers at the first profile's opt
sizes, with the shape in the dims beside them, simplified under each dim's `multiple_of` and range
(``(height+15)//16`` is ``height//16`` when every height is a multiple of 32); a shape too long for the
table is listed below it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ops import show_shape
from .yamlnodes import paused_gc


def json_dims(shape) -> list:
    """Dimensions for JSON: integers, and "N" for the dynamic batch."""
    return [d if isinstance(d, int) else str(d) for d in shape]


@dataclass
class Row:
    name: str
    kind: str
    inputs: list[str]
    shape: tuple
    dtype: str
    params: int  # trainable parameters (PyTorch's count: buffers such as running statistics excluded)
    buffers: int  # non-trainable weights
    macs: int  # per sample
    outputs: dict = field(default_factory=dict)  # output name -> type, for layers with several outputs
    macs_formula: str | None = None  # MACs in the named dims, when they depend on them (``macs`` is at opt)
    # shapes in named dims only (None otherwise): each output at the first profile's opt, and simplified
    at_opt: list | None = None  # of shapes, one per output
    simplified: list | None = None

    def to_json(self) -> dict:
        record = {"name": self.name, "kind": self.kind, "inputs": self.inputs,
                  "shape": json_dims(self.shape), "dtype": self.dtype,
                  "params": self.params, "buffers": self.buffers, "macs": self.macs,
                  **({"macs_formula": self.macs_formula} if self.macs_formula else {})}
        if self.at_opt:
            record.update(shape_at_opt=list(self.at_opt[0]), shape_simplified=json_dims(self.simplified[0]))
        if self.outputs:
            record["outputs"] = {name: {"shape": json_dims(t.shape), "dtype": t.dtype}
                                 for name, t in self.outputs.items()}
            for index, entry in enumerate(record["outputs"].values() if self.at_opt else ()):
                entry.update(shape_at_opt=list(self.at_opt[index]),
                             shape_simplified=json_dims(self.simplified[index]))
        return record

    def output_text(self) -> str:
        """The output's type; for a shape in named dims, its numbers at the first profile's opt."""
        shapes = self.at_opt or [t.shape for t in self.outputs.values()] or [self.shape]
        dtypes = [t.dtype for t in self.outputs.values()] or [self.dtype]
        return self.labelled([show(shape, dtype) for shape, dtype in zip(shapes, dtypes)])

    def symbolic_text(self) -> str:
        """The simplified shape in named dims ('' for a shape without)."""
        return self.labelled([show_shape(shape) for shape in self.simplified]) if self.simplified else ""

    def labelled(self, texts: list[str]) -> str:
        if self.outputs:
            return "; ".join(f"{name} {text}" for name, text in zip(self.outputs, texts))
        return texts[0]


def show(shape, dtype: str) -> str:
    """A type as the tables show it: the dtype only where it is not float32."""
    return show_shape(shape) + ("" if dtype == "float32" else f" {dtype}")


def opt_sizes(graph) -> dict:
    """Named dim -> its opt in the first profile: where MACs that depend on a dynamic size are counted."""
    return {name: r[1] for name, r in graph.profiles[0].ranges.items()} if graph.profiles else {}


def profiles_text(graph) -> str:
    """'profile 0: height 64..256 (opt 128), width ...; profile 1: ...' for the named dims ('' if none)."""
    named = [{n: r for n, r in p.ranges.items() if n != "N"} for p in graph.profiles]
    return "; ".join(f"profile {i}: " + ", ".join(f"{n} {r[0]}..{r[2]} (opt {r[1]})" for n, r in ranges.items())
                     for i, ranges in enumerate(named) if ranges)


class Shapes:
    """Shapes in named dims at the first profile's opt and simplified under the profiles (remembered:
    most layers repeat a handful of sizes)."""

    def __init__(self, graph):
        self.profiles = graph.profiles
        self.opt = opt_sizes(graph)
        self.simpler: dict = {}

    def at_opt(self, shape) -> tuple:
        from .symbolic import evaluate

        return tuple(int(evaluate(dim, self.opt)) for dim in shape)

    def simplified(self, shape) -> tuple:
        from .symbolic import simplify

        for dim in shape:
            if dim not in self.simpler:
                self.simpler[dim] = simplify(dim, self.profiles)
        return tuple(self.simpler[dim] for dim in shape)


def rows(checked) -> list[Row]:
    from .symbolic import evaluate, has_named_dims, is_symbolic

    shapes = Shapes(checked.graph)
    table = []
    for node in checked.graph.nodes:
        args = [checked.types[name] for name in node.inputs]
        outs = [checked.types[name] for name in node.outputs]
        out = outs[0]
        slots = node.weight_slots(checked.types)
        extra = {name[len(node.name) + 1:]: t for name, t in zip(node.outputs, outs)} if len(outs) > 1 else {}
        macs = node.op.macs(node, out, *args)
        named = any(has_named_dims(t.shape) for t in outs)
        table.append(Row(node.name, node.kind, list(node.inputs), out.shape, out.dtype,
                         sum(s.count for s in slots if s.trainable), sum(s.count for s in slots if not s.trainable),
                         int(evaluate(macs, shapes.opt)), extra, str(macs) if is_symbolic(macs) else None,
                         [shapes.at_opt(t.shape) for t in outs] if named else None,
                         [shapes.simplified(t.shape) for t in outs] if named else None))
    return table


@paused_gc()  # one object or more per layer: see paused_gc
def to_json(checked) -> dict:
    table = rows(checked)
    graph = checked.graph
    shapes = Shapes(graph)
    return {
        "name": graph.name,
        "inputs": [{"name": i.name, "dtype": i.dtype, "shape": json_dims(i.shape),
                    **({"batch": dict(zip(("min", "opt", "max"), i.batch))} if i.batch else {})}
                   for i in graph.inputs],
        **({"profiles": [{n: dict(zip(("min", "opt", "max"), r)) for n, r in p.ranges.items()}
                         for p in graph.profiles]} if profiles_text(graph) else {}),
        "outputs": [output_json(checked, o, shapes) for o in graph.outputs],
        "layers": [row.to_json() for row in table],
        "total_params": sum(r.params for r in table),
        "total_buffers": sum(r.buffers for r in table),
        "total_macs": sum(r.macs for r in table),
    }


def output_json(checked, output, shapes: Shapes) -> dict:
    from .symbolic import has_named_dims

    tensor = checked.types[output.source]
    record = {"name": output.name, "from": output.source, "shape": json_dims(tensor.shape), "dtype": tensor.dtype}
    if has_named_dims(tensor.shape):
        record.update(shape_at_opt=list(shapes.at_opt(tensor.shape)),
                      shape_simplified=json_dims(shapes.simplified(tensor.shape)))
    return record


SYMBOLIC_WIDTH = 48  # a simplified shape longer than this is listed below the table, not beside its numbers


@paused_gc()
def format_table(checked) -> str:
    table = rows(checked)
    graph = checked.graph
    named = any(r.simplified for r in table)
    header = ("layer", "kind", "inputs", "output at opt" if named else "output", *(("in named dims",) if named else ()),
              "params", "MACs")
    long_shapes = [(r.name, r.symbolic_text()) for r in table if len(r.symbolic_text()) > SYMBOLIC_WIDTH]
    body = [(r.name, r.kind, ", ".join(r.inputs), r.output_text(),
             *((r.symbolic_text() if len(r.symbolic_text()) <= SYMBOLIC_WIDTH else "(below)",) if named else ()),
             f"{r.params:,}", f"{r.macs:,}") for r in table]
    total_params = sum(r.params for r in table)
    total_macs = sum(r.macs for r in table)
    footer = ("total", "", "", "", *(("",) if named else ()), f"{total_params:,}", f"{total_macs:,}")
    lines = [header_line(checked), "", *aligned([header, *body, footer], right={len(header) - 2, len(header) - 1})]
    if long_shapes:
        lines += ["", "Output shapes in named dims:", *(f"  {name}: {text}" for name, text in long_shapes)]
    buffers = sum(r.buffers for r in table)
    if buffers:
        lines.append(f"(plus {buffers:,} non-trainable buffer values such as batch norm running statistics)")
    at = None
    if profiles_text(graph):
        lines.insert(1, f"dynamic sizes: {profiles_text(graph)}")
        if any(r.macs_formula for r in table):
            at = ", ".join(f"{n}={v}" for n, v in opt_sizes(graph).items() if n != "N")
    lines.append(macs_note(table, at))
    return "\n".join(lines)


def aligned(cells: list[tuple], right: set[int]) -> list[str]:
    """Rows of cells in columns (``right``: the right-aligned ones), a rule under the first row and above
    the last."""
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(cells[0]), rule, *map(line, cells[1:-1]), rule, line(cells[-1])]


def header_line(checked) -> str:
    """'<name>: inputs ...; outputs ...', an output in named dims simplified, with its numbers at opt."""
    from .symbolic import has_named_dims

    graph = checked.graph
    shapes = Shapes(graph)
    ins = ", ".join(f"{i.name} {show_shape(i.shape)} {i.dtype}" + (
        f" (batch {i.batch[0]}..{i.batch[2]}, opt {i.batch[1]})" if i.batch else "") for i in graph.inputs)
    outs = []
    for output in graph.outputs:
        tensor = checked.types[output.source]
        if has_named_dims(tensor.shape):
            outs.append(f"{output.name} {show(shapes.simplified(tensor.shape), tensor.dtype)} "
                        f"({show_shape(shapes.at_opt(tensor.shape))} at opt)")
        else:
            outs.append(f"{output.name} {show(tensor.shape, tensor.dtype)}")
    return f"{graph.name}: inputs {ins}; outputs {', '.join(outs)}"


def macs_note(table: list[Row], at: str | None = None) -> str:
    """What the MACs column counts: the kinds of this spec that multiply and accumulate (``at``: the
    sizes they are counted at, for MACs that depend on named dims)."""
    per_sample = "multiply-accumulates per sample (batch 1)" + (f", at profile 0's opt ({at})" if at else "")
    kinds = sorted({r.kind for r in table if r.macs})
    if not kinds:
        return (f"MACs: {per_sample}; no layer here has any (convolutions, fully connected layers, matrix "
                "products, einsum and attention do).")
    listed = ", ".join(kinds[:-1]) + (" and " if len(kinds) > 1 else "") + kinds[-1]
    return (f"MACs: {per_sample}, of the {listed} layers; the other kinds (elementwise, normalization, "
            "pooling, reshaping) are not counted.")
