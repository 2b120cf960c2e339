"""netdsl's layers point down: a module imports only from its own layer or lower ones, and no modules
import each other in a cycle. Imports are read with `ast`, at module level and inside functions (a lazy
import is still an import), so the test needs none of netdsl's dependencies."""

import ast
import fnmatch
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "netdsl"

# Lowest first. A name ending in `.*` is the package and everything under it. Every module must be placed.
LAYERS = {
    "ground": ["netdsl._version", "netdsl.diagnostics", "netdsl.symbolic", "netdsl.tensors", "netdsl.files",
               "netdsl.yamlnodes", "netdsl.arrays", "netdsl.render", "netdsl.images"],
    "vocabulary": ["netdsl.params", "netdsl.ops.*", "netdsl.graph", "netdsl.interpreter", "netdsl.shapes"],
    "front end": ["netdsl.spec.*"],
    "passes": ["netdsl.reference", "netdsl.trt.*", "netdsl.quant.*", "netdsl.weights.*"],
    "products": ["netdsl.build", "netdsl.refit", "netdsl.runtime", "netdsl.compare", "netdsl.detect",
                 "netdsl.detect_tasks", "netdsl.detect_rtdetr", "netdsl.detect_draw", "netdsl.yolo_ops",
                 "netdsl.diff", "netdsl.summary", "netdsl.fmt", "netdsl.graph_picture", "netdsl.docs",
                 "netdsl.schema", "netdsl.completion", "netdsl.onnx.*", "netdsl.torch_import", "netdsl.deploy.*",
                 "netdsl.fleet.*", "netdsl.generate",
                 "netdsl.huggingface"],
    "api": ["netdsl", "netdsl.api"],
    "command line": ["netdsl.cli.*", "netdsl.__main__"],
}

# (module, imported) edges allowed to point up: none. Add nothing here: a helper that a lower layer needs
# moves down instead.
ALLOWED: set = set()


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str):
    for rank, patterns in enumerate(LAYERS.values()):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and (module == pattern[:-2]
                                                                 or fnmatch.fnmatch(module, pattern))):
                return rank
    return None


def imported(module: str) -> set:
    """The netdsl modules `module` imports anywhere in its text. `from package import name` imports the
    module package.name when there is one, else package itself."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: imported(module) for module in MODULES}


def test_every_module_has_a_layer():
    unplaced = [module for module in MODULES if layer_of(module) is None]
    assert not unplaced, f"place these modules in LAYERS: {unplaced}"


def test_layers_point_down():
    names = list(LAYERS)
    upward = [f"{module} ({names[layer_of(module)]}) imports {target} ({names[layer_of(target)]})"
              for module, targets in GRAPH.items() for target in sorted(targets)
              if layer_of(module) is not None and layer_of(target) is not None
              and layer_of(target) > layer_of(module) and (module, target) not in ALLOWED]
    assert not upward, "lower layers import higher ones:\n" + "\n".join(upward)


def test_allowed_edges_are_between_modules_that_exist():
    stale = [edge for edge in ALLOWED if not set(edge) <= set(MODULES)]
    assert not stale, f"remove these from ALLOWED, their modules are gone: {stale}"


def cycles(graph: dict) -> list:
    """Each strongly connected component of more than one module (Tarjan's algorithm), as one cycle
    through it."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [cycle_through(graph, component) for component in components]


def cycle_through(graph: dict, component: list) -> str:
    """A shortest cycle from the component's first module back to itself, and the component's other
    modules when the cycle does not pass them all."""
    start, members = component[0], set(component)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for target in sorted(graph[path[-1]] & members):
            if target == start:
                others = sorted(members - set(path))
                return " -> ".join(path + [start]) + (f" (also in this knot: {', '.join(others)})" if others else "")
            if target not in seen:
                seen.add(target)
                paths.append(path + [target])
    raise AssertionError(f"no cycle through {component}")


def test_no_import_cycles():
    found = cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_reader_sees_relative_and_lazy_imports():
    assert "netdsl.tensors" in GRAPH["netdsl.ops"]  # `from ..tensors import ...`
    assert "netdsl.ops._kinds" in GRAPH["netdsl.ops"]  # `from ._kinds import ...` inside a method


def test_the_checks_can_fail():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
    assert layer_of("netdsl.trt") == layer_of("netdsl.trt.dims") > layer_of("netdsl.ops._numpy")
    assert layer_of("netdsl.nowhere") is None  # `netdsl` alone is the package, not everything in it
