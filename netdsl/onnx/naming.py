"""Layer names for an imported graph, from what the file says about where each node came from.

PyTorch names a node after the module path it ran in, one scope per module (`/layer1/layer1.0/conv1/Conv`,
`/layer1/layer1.0/relu_1/Relu` for the second call of `relu`), and its parameters after the
`state_dict` (`layer1.0.conv1.weight`). netdsl's own exporter writes `layer1.0.conv1/Conv`. So a
layer is named after:

1. the initializer it reads, when that is `<path>.weight` or `<path>.bias` (the module itself);
2. else its node's scope path: the module, when it is the only layer made in that scope
   (`layer1.0.relu_1`), or the module plus the operation for several (`layer1.0.add`, then
   `layer1.0.add_2`: PyTorch's own node numbers count nodes that folding removed);
3. else the operation (`flatten`), for nodes without scopes.

Names are cleaned into netdsl's (letters, digits, `_`, parts joined by `.`) and made unique.

    >>> scope_path("/layer2/layer2.0/downsample/downsample.0/Conv")
    ('layer2.0.downsample.0', 'Conv')
    >>> clean("onnx::Conv_12", "layer")
    'onnx__Conv_12'
"""

from __future__ import annotations

import re

INVALID = re.compile(r"[^A-Za-z0-9_.]")


def scope_path(node_name: str) -> tuple[str, str]:
    """(module path, operation) of a node name; PyTorch's scopes repeat their parent's name
    (`layer1`, then `layer1.0`), netdsl's are the whole path at once."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) < 2:
        return "", parts[0] if parts else ""
    path: list[str] = []
    previous = None
    for scope in parts[:-1]:
        if previous is not None and scope.startswith(previous + "."):
            path.append(scope[len(previous) + 1:])  # `layer1.0` after `layer1`: the child `0`
        else:
            path.extend(scope.split("."))
        previous = scope
    return ".".join(path), parts[-1]


def snake(op: str) -> str:
    """`GlobalAveragePool_1` -> `global_average_pool_1`; `Constant_12_output_0` (a tensor PyTorch names
    after its node) -> `constant_12`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", re.sub(r"_output_0$", "", op)).lower()


def clean(name: str, fallback: str) -> str:
    """A valid netdsl name: invalid characters become `_`, empty parts go."""
    parts = [INVALID.sub("_", part) for part in name.replace(":", "_").replace("/", ".").split(".")]
    parts = [p for p in parts if p]
    return ".".join(parts) or fallback


def assign(layers, taken: set[str]) -> dict[str, str]:
    """Names every layer (``layer.name``); returns provisional tensor name -> final tensor name."""
    candidates = []
    for layer in layers:
        if layer.weight_prefix:
            candidates.append((clean(layer.weight_prefix, "layer"), ""))
            continue
        path, op = scope_path(layer.onnx_name) if "/" in layer.onnx_name else ("", "")
        if not path and layer.onnx_name and "/" not in layer.onnx_name:
            path = layer.onnx_name  # a plain node name (other exporters, hand-made models)
        op = snake(clean(op, ""))
        if op:
            # PyTorch numbers a scope's nodes, folded ones included (`Concat_25`): unique() numbers the
            # layers again; a folded constant is named for what it is, not for the last node folded into it
            op = "constant" if layer.kind == "constant" else re.sub(r"_\d+$", "", op)
        candidates.append((clean(path, ""), op or snake(layer.op_type) or layer.kind))
    per_scope: dict[str, int] = {}
    for path, _ in candidates:
        per_scope[path] = per_scope.get(path, 0) + 1
    # a scope with scopes inside it is a container (a residual block): its own nodes get the operation
    containers = {".".join(path.split(".")[:i]) for path, _ in candidates for i in range(1, path.count(".") + 1)}
    renamed, used = {}, set(taken)
    for layer, (path, op) in zip(layers, candidates):
        if path and ((per_scope[path] == 1 and path not in containers) or not op):
            name = path
        elif path:
            name = f"{path}.{op}"
        else:
            name = op or layer.kind
        name = unique(name, used)
        used.add(name)
        renamed[layer.name] = name
        layer.name = name
    return renamed


def unique(name: str, used: set[str]) -> str:
    if name not in used:
        return name
    index = 2
    while f"{name}_{index}" in used:
        index += 1
    return f"{name}_{index}"


def rename_tensor(tensor: str, renamed: dict[str, str]) -> str:
    """A provisional tensor name (`#3`, `#3.values`) as its layer's final name with the suffix."""
    if not tensor.startswith("#"):
        return tensor
    head, dot, suffix = tensor.partition(".")
    return renamed[head] + (dot + suffix if dot else "")
