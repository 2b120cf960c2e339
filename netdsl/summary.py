"""Per-layer table of a checked spec: kind, inputs, output shape, parameters, multiply-accumulates."""

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

    def to_json(self) -> dict:
        record = {"name": self.name, "kind": self.kind, "inputs": self.inputs,
                  "shape": json_dims(self.shape), "dtype": self.dtype,
                  "params": self.params, "buffers": self.buffers, "macs": self.macs,
                  **({"macs_formula": self.macs_formula} if self.macs_formula else {})}
        if self.outputs:
            record["outputs"] = {name: {"shape": json_dims(t.shape), "dtype": t.dtype}
                                 for name, t in self.outputs.items()}
        return record

    def output_text(self) -> str:
        if self.outputs:
            return "; ".join(f"{name} {show(t.shape, t.dtype)}" for name, t in self.outputs.items())
        return show(self.shape, self.dtype)


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


def rows(checked) -> list[Row]:
    from .symbolic import evaluate, is_symbolic

    opt = opt_sizes(checked.graph)
    table = []
    for node in checked.graph.nodes:
        args = [checked.types[name] for name in node.inputs]
        outs = [checked.types[name] for name in node.outputs]
        out = outs[0]
        slots = node.weight_slots(checked.types)
        extra = {name[len(node.name) + 1:]: t for name, t in zip(node.outputs, outs)} if len(outs) > 1 else {}
        macs = node.op.macs(node, out, *args)
        table.append(Row(node.name, node.kind, list(node.inputs), out.shape, out.dtype,
                         sum(s.count for s in slots if s.trainable), sum(s.count for s in slots if not s.trainable),
                         int(evaluate(macs, opt)), extra, str(macs) if is_symbolic(macs) else None))
    return table


@paused_gc()  # one object or more per layer: see paused_gc
def to_json(checked) -> dict:
    table = rows(checked)
    graph = checked.graph
    return {
        "name": graph.name,
        "inputs": [{"name": i.name, "dtype": i.dtype, "shape": json_dims(i.shape),
                    **({"batch": dict(zip(("min", "opt", "max"), i.batch))} if i.batch else {})}
                   for i in graph.inputs],
        **({"profiles": [{n: dict(zip(("min", "opt", "max"), r)) for n, r in p.ranges.items()}
                         for p in graph.profiles]} if profiles_text(graph) else {}),
        "outputs": [{"name": o.name, "from": o.source,
                     "shape": json_dims(checked.types[o.source].shape), "dtype": checked.types[o.source].dtype}
                    for o in graph.outputs],
        "layers": [row.to_json() for row in table],
        "total_params": sum(r.params for r in table),
        "total_buffers": sum(r.buffers for r in table),
        "total_macs": sum(r.macs for r in table),
    }


@paused_gc()
def format_table(checked) -> str:
    table = rows(checked)
    header = ("layer", "kind", "inputs", "output", "params", "MACs")
    body = [(r.name, r.kind, ", ".join(r.inputs), r.output_text(),
             f"{r.params:,}", f"{r.macs:,}") for r in table]
    total_params = sum(r.params for r in table)
    total_macs = sum(r.macs for r in table)
    footer = ("total", "", "", "", f"{total_params:,}", f"{total_macs:,}")
    widths = [max(len(row[i]) for row in [header, *body, footer]) for i in range(len(header))]
    right = {4, 5}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    graph = checked.graph
    ins = ", ".join(f"{i.name} {show_shape(i.shape)} {i.dtype}" + (
        f" (batch {i.batch[0]}..{i.batch[2]}, opt {i.batch[1]})" if i.batch else "") for i in graph.inputs)
    outs = ", ".join(f"{o.name} {show(checked.types[o.source].shape, checked.types[o.source].dtype)}"
                     for o in graph.outputs)
    buffers = sum(r.buffers for r in table)
    lines = [f"{graph.name}: inputs {ins}; outputs {outs}", "", line(header), rule, *map(line, body), rule,
             line(footer)]
    if buffers:
        lines.append(f"(plus {buffers:,} non-trainable buffer values such as batch norm running statistics)")
    lines.append("MACs: multiply-accumulates of convolutions and fully connected layers, per sample (batch 1).")
    if profiles_text(graph):
        lines.insert(1, f"dynamic sizes: {profiles_text(graph)}")
        if any(r.macs_formula for r in table):
            at = ", ".join(f"{n}={v}" for n, v in opt_sizes(graph).items() if n != "N")
            lines[-1] = lines[-1][:-1] + f", at profile 0's opt ({at})."
    return "\n".join(lines)
