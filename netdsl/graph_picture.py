"""`netdsl graph SPEC -o net.svg|net.png|net.dot`: the network as a Graphviz picture. Layers are boxes
with their kind and parameter count, edges carry the tensor shapes, block instances are drawn as
(nested) clusters. `.dot` needs nothing installed; `.svg` and `.png` run Graphviz's `dot`
(Debian: apt install graphviz).
"""

from __future__ import annotations

import shutil
import subprocess

from .diagnostics import UsageError
from .ops import show_shape

FORMATS = ("dot", "svg", "png")


def quote(text: str) -> str:
    """A DOT string; line breaks become DOT's centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(checked) -> str:
    from .summary import rows

    graph, types = checked.graph, checked.types
    params = {row.name: row.params for row in rows(checked)}
    lines = [f"digraph {quote(graph.name)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    for graph_input in graph.inputs:
        label = f"{graph_input.name}\n{show_shape(graph_input.shape)} {graph_input.dtype}"
        lines.append(f'  {quote("in:" + graph_input.name)} [label={quote(label)}, shape=ellipse, fillcolor="#dff0d8"];')
    tree: dict = {}  # nested clusters: instance -> (block, children dict, nodes list)
    top_nodes = []
    for node in graph.nodes:
        label = f"{node.name}\n{node.kind}" + (f"\n{params[node.name]:,} params" if params[node.name] else "")
        statement = f"{quote(node.name)} [label={quote(label)}];"
        level, children = None, tree
        for instance, block in node.blocks:
            level = children.setdefault(instance, [block, {}, []])
            children = level[1]
        (level[2] if level else top_nodes).append(statement)

    def emit(children: dict, depth: int) -> None:
        for instance, (block, nested, statements) in children.items():
            pad = "  " * depth
            lines.append(f"{pad}subgraph {quote('cluster_' + instance)} {{")
            lines.append(f'{pad}  label={quote(f"{instance} ({block})")}; style="rounded,dashed"; color="#8899aa";')
            lines.extend(f"{pad}  {s}" for s in statements)
            emit(nested, depth + 1)
            lines.append(f"{pad}}}")

    lines.extend(f"  {s}" for s in top_nodes)
    emit(tree, 1)
    producer = {i.name: "in:" + i.name for i in graph.inputs}
    producer.update((tensor, node.name) for node in graph.nodes for tensor in node.outputs)
    for node in graph.nodes:
        for source in node.inputs:
            shape = show_shape(types[source].shape)
            lines.append(f"  {quote(producer.get(source, source))} -> {quote(node.name)} [label={quote(shape)}];")
    for output in graph.outputs:
        lines.append(f'  {quote("out:" + output.name)} [label={quote(output.name)}, shape=ellipse, fillcolor="#fcf3cf"];')
        lines.append(f"  {quote(producer.get(output.source, output.source))} -> {quote('out:' + output.name)} "
                     f"[label={quote(show_shape(types[output.source].shape))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(checked, path: str) -> None:
    """Write the picture; the format follows the extension."""
    from .files import write_atomic

    extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if extension not in FORMATS:
        raise UsageError(f"{path}: the picture's format follows its extension: .dot, .svg or .png")
    text = to_dot(checked)
    if extension == "dot":
        write_atomic(path, text.encode())
        return
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError("drawing .svg or .png needs Graphviz's `dot` (Debian: apt install graphviz); "
                         "write .dot to need nothing")
    result = subprocess.run([dot, f"-T{extension}"], input=text.encode(), capture_output=True, timeout=300)
    if result.returncode != 0:
        raise UsageError("Graphviz failed: " + result.stderr.decode(errors="replace").strip()[:300])
    write_atomic(path, result.stdout)
