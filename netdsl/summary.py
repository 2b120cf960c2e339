"""Per-layer table of a checked spec: kind, inputs, output shape, parameters, multiply-accumulates."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ops import show_shape


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
    outputs: dict = field(default_factory=dict)  # tensor -> shape, for a layer with several outputs

    def shown(self) -> str:
        if len(self.outputs) > 1:
            return ", ".join(f"{name.rsplit('.', 1)[1]}: {show_shape(shape)}" for name, shape in self.outputs.items())
        return show_shape(self.shape) + ("" if self.dtype == "float32" else f" {self.dtype}")

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "inputs": self.inputs,
                "shape": json_dims(self.shape), "dtype": self.dtype,
                "params": self.params, "buffers": self.buffers, "macs": self.macs,
                **({"outputs": {k: json_dims(v) for k, v in self.outputs.items()}} if len(self.outputs) > 1 else {})}


def rows(checked) -> list[Row]:
    table = []
    for node in checked.graph.nodes:
        args = [checked.types[name] for name in node.inputs]
        outs = [checked.types[name] for name in node.outputs]
        out = outs[0] if len(outs) == 1 else tuple(outs)
        slots = node.weight_slots(checked.types)
        table.append(Row(node.name, node.kind, list(node.inputs), outs[0].shape, outs[0].dtype,
                         sum(s.count for s in slots if s.trainable), sum(s.count for s in slots if not s.trainable),
                         node.op.macs(node, out, *args), {name: t.shape for name, t in zip(node.outputs, outs)}))
    return table


def to_json(checked) -> dict:
    table = rows(checked)
    graph = checked.graph
    return {
        "name": graph.name,
        "inputs": [{"name": i.name, "dtype": i.dtype, "shape": json_dims(i.shape),
                    **({"batch": dict(zip(("min", "opt", "max"), i.batch))} if i.batch else {})}
                   for i in graph.inputs],
        "outputs": [{"name": o.name, "from": o.source,
                     "shape": json_dims(checked.types[o.source].shape)}
                    for o in graph.outputs],
        "layers": [row.to_json() for row in table],
        "total_params": sum(r.params for r in table),
        "total_buffers": sum(r.buffers for r in table),
        "total_macs": sum(r.macs for r in table),
    }


def format_table(checked) -> str:
    table = rows(checked)
    header = ("layer", "kind", "inputs", "output", "params", "MACs")
    body = [(r.name, r.kind, ", ".join(r.inputs), r.shown(),
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
    outs = ", ".join(f"{o.name} {show_shape(checked.types[o.source].shape)}" for o in graph.outputs)
    buffers = sum(r.buffers for r in table)
    lines = [f"{graph.name}: inputs {ins}; outputs {outs}", "", line(header), rule, *map(line, body), rule,
             line(footer)]
    if buffers:
        lines.append(f"(plus {buffers:,} non-trainable buffer values such as batch norm running statistics)")
    lines.append("MACs: multiply-accumulates of convolutions and fully connected layers, per sample (batch 1).")
    return "\n".join(lines)
