"""`netdsl import`: an ONNX model as a readable spec and a safetensors file of its weights.

    read (netdsl/onnx/load.py: sizes and external data checked)
      -> layers (graph_import.py: the table, folding, shape computations, PyTorch's multi-node forms;
         attention.py; dynamic dimensions and their ranges: dims.py)
      -> names (naming.py) -> blocks (blocks.py: chains with repeat; modules.py: other repeated
         modules, with:) -> spec text (here)
      -> checked: the text goes through netdsl's own checker, is read back equal to the layers it was
         written from, and the weights bind strictly, before anything is written

What cannot be expressed is listed, node by node; nothing is written then, unless ``partial`` is
given: the spec then holds what could be expressed, and tensors that a left-out node made become
inputs of the spec (with a comment naming the node).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from ..diagnostics import NetdslError

DEFAULT_BATCH = (1, 1, 32)
EXPORTER_GRAPH_NAMES = {"main_graph", "torch_jit", "torch-jit-export", "tf2onnx", ""}  # names that say nothing
PLAIN = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$-]*$")
RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


class NotImportable(NetdslError):
    """The model has nodes netdsl cannot express (listed), and no partial spec was asked for."""


@dataclass
class Imported:
    text: str  # the spec
    weights: dict  # canonical name -> float32 array
    problems: list[str]  # what could not be expressed
    layers: int
    blocks: int
    checked: object  # the CheckedSpec of the text
    weights_file: str | None = None  # the file the text names
    bound: dict | None = None  # the weights bound to the checked spec (netdsl.weights.bind), ready to run


def import_onnx(path: str, output: str, partial: bool = False, batch=None, sizes=None) -> Imported:
    """Reads ``path`` and writes ``output`` (a spec) and the weights next to it (same stem,
    .safetensors), atomically and together. ``sizes``: ranges of dynamic dimensions other than the
    batch (netdsl.onnx.dims.Sizes). Raises NotImportable or OnnxFileError."""
    from ..files import write_together
    from ..weights.safetensors import safetensors_chunks
    from .load import read_model

    arrays: list = []  # the initializers' values, made from the bytes read_model's checks read
    model = read_model(path, arrays)
    stem = os.path.splitext(os.path.basename(output))[0]
    weights_file = f"{stem}.safetensors"
    imported = import_model(model, output, weights_file, partial, batch, source=os.path.basename(path), sizes=sizes,
                            arrays=arrays)
    files = {output: imported.text.encode()}
    if imported.weights:
        files[os.path.join(os.path.dirname(output), weights_file)] = safetensors_chunks(
            imported.weights, {"source": os.path.basename(path), "netdsl": "import"})
    write_together(files)
    return imported


class TooLarge(Exception):
    """The imported spec is refused only for tensors over netdsl's bound (netdsl.tensors) at the largest
    sizes its ranges allow."""

    def __init__(self, diagnostics):
        super().__init__(unwritten(diagnostics))


def import_model(model, spec_path: str, weights_file: str, partial: bool = False, batch=None,
                 source: str = "", sizes=None, classes: dict | None = None, arrays: list | None = None) -> Imported:
    """The spec text and weights of a ModelProto (nothing written); ``spec_path`` names it in messages;
    ``classes`` (module path -> class name, from netdsl.from_torch) names its blocks; ``arrays``: its
    initializers' values where netdsl.onnx.load.read_model made them.

    Default ranges (sizes up to 1024, a batch up to 32) are narrowed, halving their maxima, sizes first,
    when a tensor would be over netdsl's bound at the largest sizes (an attention over 1024x1024 positions);
    ranges given by the user, or recorded in the file, are kept, and the import is refused saying which to
    make smaller."""
    import dataclasses

    from .dims import DEFAULT_BATCH, DEFAULT_SIZE, Sizes

    sizes = sizes or Sizes()
    user_batch = batch is not None or sizes.batch is not None or "batch" in sizes.named \
        or any(p.key.startswith("netdsl.batch.") for p in model.metadata_props)
    high_size, high_batch = DEFAULT_SIZE[2], DEFAULT_BATCH[2]
    while True:
        tried = dataclasses.replace(sizes, default_high=high_size, batch_is_default=not user_batch)
        try:
            return _import_model(model, spec_path, weights_file, partial, batch if user_batch else
                                 (DEFAULT_BATCH[0], DEFAULT_BATCH[1], high_batch), source, tried, classes, arrays)
        except TooLarge as error:
            if high_size > DEFAULT_SIZE[0]:
                high_size //= 2
            elif not user_batch and high_batch > 1:
                high_batch //= 2
            else:
                raise NotImportable(f"{source or spec_path}: at the largest sizes its ranges allow, a tensor would "
                                    f"be over netdsl's bound; give smaller ranges (--batch MIN,OPT,MAX, --dim "
                                    f"NAME=MIN:OPT:MAX):\n{error}") from None


def _import_model(model, spec_path: str, weights_file: str, partial: bool, batch, source: str, sizes,
                  classes: dict | None, arrays: list | None = None) -> Imported:
    from . import naming
    from .dims import Sizes, recorded, unknown_names
    from .graph_import import NotExpressibleGraph, import_sized
    from .modules import find_blocks

    given = sizes or Sizes()
    sizes = recorded(given, {p.key: p.value for p in model.metadata_props})
    sizes.batch = sizes.batch or batch
    try:
        graph = import_sized(model, partial, sizes, arrays)
    except NotExpressibleGraph as error:
        raise NotImportable(f"{source or spec_path}: {error}") from None
    unknown = unknown_names(given, graph)
    if unknown:
        from ..diagnostics import UsageError

        have = ", ".join(graph.dims) or ("batch" if any(not isinstance(d, int) for i in graph.inputs
                                                       for d in i.type.shape[:1]) else "none")
        raise UsageError(f"--dim {', '.join(unknown)}: {source or 'the model'} has no dynamic dimension of that name "
                         f"(its dynamic dimensions: {have})")
    if graph.problems and not partial:
        raise NotImportable(f"{source or 'the model'}: {len(graph.problems)} thing(s) netdsl cannot express; nothing "
                            "written (--partial writes what can be):\n  " + "\n  ".join(graph.problems))
    taken = {i.name for i in graph.inputs}
    renamed = naming.assign(graph.layers, taken)
    for layer in graph.layers:
        layer.inputs = [naming.rename_tensor(t, renamed) for t in layer.inputs]
    outputs = [(name, naming.rename_tensor(tensor, renamed)) for name, tensor in graph.outputs]
    if not outputs:  # a spec without outputs computes nothing: a partial one too
        raise NotImportable(f"{source or 'the model'}: no output of the graph can be computed" + (
            "; nothing written (a partial spec keeps the outputs that can be):\n  " + "\n  ".join(graph.problems)
            if graph.problems else ""))
    for layer in graph.layers:
        layer.params = simplified(layer.kind, layer.params)
    written = [(layer.name, layer.kind, list(layer.inputs), layer.params) for layer in graph.layers]
    blocks, items, renamed = find_blocks(graph.layers, [tensor for _, tensor in outputs], classes)
    outputs = [(name, renamed.get(tensor, tensor)) for name, tensor in outputs]
    weights = {layer.weight_keys.get(slot, f"{layer.name}.{slot}"): array for layer in graph.layers
               for slot, array in layer.weights.items()}
    stem = os.path.splitext(os.path.basename(spec_path))[0]
    given = model.graph.name if model.graph.name not in EXPORTER_GRAPH_NAMES else ""
    name = naming.clean(given or stem, "imported")
    metadata = {p.key: p.value for p in model.metadata_props}
    text = spec_text(name, graph, blocks, items, outputs, weights_file if weights else None, metadata, batch, source,
                     model)
    checked, bound = check(text, spec_path, weights)
    same_network(checked, written)
    return Imported(text, weights, graph.problems, len(graph.layers), len(blocks), checked,
                    weights_file if weights else None, bound)


def check(text: str, spec_path: str, weights: dict):
    """The written spec through netdsl's checker, its weights bound strictly: an importer that writes
    something netdsl refuses has a bug, said here rather than when the user first runs the spec."""
    from ..diagnostics import InternalError, SpecError
    from ..spec import check_text
    from ..weights import Tensor
    from ..weights.bind import bind

    checked, diagnostics = check_text(text, spec_path)
    errors = [d for d in diagnostics if d.severity == "error"]
    if checked is None and errors and all(d.code == "too-large" for d in errors):
        raise TooLarge(diagnostics)
    if checked is None:
        raise InternalError(f"netdsl import made a spec netdsl refuses (a bug in the importer; nothing written):\n"
                            f"{unwritten(diagnostics)}")
    tensors = {key: Tensor(key, "float32", tuple(array.shape), array) for key, array in weights.items()}
    try:
        return checked, bind(checked, tensors, "<imported weights>", strict=True)
    except SpecError as error:
        if all(d.code == "weight-not-finite" for d in error.diagnostics if d.severity == "error"):
            # the model's constants (ONNX's Mod edge cases divide by inf): its data, which netdsl's weights refuse
            raise NotImportable("the model has constants holding NaN or infinite values, which netdsl's weights refuse; nothing "
                                f"written:\n{unwritten(error.diagnostics)}") from None
        # the importer's own weights do not fit its own spec: netdsl's fault, not the model's
        raise InternalError(f"netdsl import made weights its own spec refuses (a bug in the importer; nothing "
                            f"written):\n{unwritten(error.diagnostics)}") from None


def unwritten(diagnostics) -> str:
    """Diagnostics of a spec that was never written, located by line in the text rather than in a file."""
    return "\n".join(f"  line {d.pos.line}:{d.pos.col}: {d.message}" for d in diagnostics if d.severity == "error")


def same_network(checked, written: list) -> None:
    """The spec as read back (blocks expanded) against the layers it was written from: a block
    written wrongly would pass the checker and compute something else. A difference is a bug here."""
    from ..diagnostics import InternalError
    from .graph_import import checked_params
    from .modules import COMMUTATIVE

    nodes = {node.name: node for node in checked.graph.nodes}
    for name, kind, inputs, params in written:
        node = nodes.get(name)
        # (a block may write the operands of an add the other way round: `when: false` passes the first on)
        swapped = kind in COMMUTATIVE and node is not None and list(node.inputs) == inputs[::-1]
        if node is None or (node.kind, node.params) != (kind, checked_params(kind, params)) or (
                list(node.inputs) != inputs and not swapped):
            found = "nothing" if node is None else f"{node.kind} of {list(node.inputs)} with {node.params}"
            raise InternalError(f"netdsl import wrote layer `{name}` as {found}, not as {kind} of {inputs} "
                                f"with {params} (a bug in the importer)")
    if len(nodes) != len(written):
        raise InternalError(f"netdsl import wrote {len(nodes)} layers for {len(written)} (a bug in the importer)")


def simplified(kind: str, params: dict) -> dict:
    """Parameters as a person writes them: float32 values at their shortest (1e-05, not
    9.999999747378752e-06), one number for a per-axis list of equal values, defaults left out."""
    from ..ops import REGISTRY
    from ..params import REQUIRED, Padding, Pair, Scale, Uniform

    op = REGISTRY[kind]
    result = {}
    for key, value in params.items():
        value = shortest(value)
        spec = op.params[key]
        if isinstance(spec.type, (Pair, Padding, Scale)) and isinstance(value, list) and value \
                and all(v == value[0] for v in value):
            value = value[0]
        default = spec.default
        if default is not REQUIRED:
            if isinstance(default, Uniform) and not isinstance(value, (list, dict)) and value == default[0]:
                continue
            if key == "stride" and default is None and value == result.get("kernel", params.get("kernel")):
                continue  # pooling's stride defaults to the kernel
            if not isinstance(default, Uniform) and type(value) is type(default) and value == default:
                continue
            if default is None and value is None:
                continue
        result[key] = value
    return result


def shortest(value):
    """A float that is a float32 as its shortest float32 spelling (ONNX keeps attributes in float32)."""
    import numpy as np

    if isinstance(value, list):
        return [shortest(v) for v in value]
    if isinstance(value, dict):
        return {k: shortest(v) for k, v in value.items()}
    if isinstance(value, float) and math.isfinite(value) and float(np.float32(value)) == value:
        return float(str(np.float32(value)))
    return value


# -- the text ------------------------------------------------------------------------------------------------


def scalar(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        if math.isnan(value):
            return ".nan"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if PLAIN.match(text) and text.lower() not in RESERVED and not text[0].isdigit():
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def flow(value) -> str:
    """A value in YAML flow style, on one line."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    return scalar(value)


def layer_entry(layer, previous: str | None) -> dict:
    entry = {"name": layer.name, "kind": layer.kind}
    if layer.inputs and layer.inputs != [previous]:
        entry["inputs"] = layer.inputs if len(layer.inputs) > 1 else layer.inputs[0]
    keys = {slot: key for slot, key in layer.weight_keys.items() if key != f"{layer.name}.{slot}"}
    if keys:  # a parameter under its state_dict key (class_token), not <layer>.<slot>
        entry["weights"] = keys
    entry.update(layer.params)
    return entry


def spec_text(name, graph, blocks, items, outputs, weights_file, metadata, batch, source, model) -> str:
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    lines = [f"# Imported from {source or 'an ONNX model'} by `netdsl import` (ONNX opset {graph.opset}"
             + (f", written by {producer}" if producer else "") + ").",
             "netdsl: 1", f"name: {scalar(name)}"]
    if weights_file:
        lines.append(f"weights: {scalar(weights_file)}")
    lines += ["", "inputs:"]
    cut = {entry[0]: entry for entry in graph.cut}
    for graph_input in graph.inputs:
        t = graph_input.type
        named = graph.dims  # every dynamic dimension named (netdsl/onnx/dims.py), else a -1 batch
        entry = {"name": graph_input.name, "shape": [d if isinstance(d, int) else getattr(d, "name", str(d)) if named
                                                     else -1 for d in t.shape]}  # (str: a sum, past+sequence)
        if t.dtype != "float32":
            entry["dtype"] = t.dtype
        notes = []
        if t.shape and not isinstance(t.shape[0], int) and not named:
            low, opt, high = batch or batch_of(metadata, graph_input.onnx_name)
            entry["batch"] = {"min": low, "opt": opt, "max": high}
            if graph_input.dim_names.get(0):
                notes.append(f"dimension 0 is ONNX's `{graph_input.dim_names[0]}`")
        if graph_input.name != graph_input.onnx_name:
            notes.append(f"ONNX input `{graph_input.onnx_name}`")
        if graph_input.name in cut:
            notes.append(f"made by node `{cut[graph_input.name][2]}` ({cut[graph_input.name][3]}), left out")
        lines.append(f"  - {flow(entry)}" + (f"  # {'; '.join(notes)}" if notes else ""))
    if graph.dims:
        from .dims import section

        lines += section(graph.dims, graph.sizes, graph.dim_params)
    if blocks:
        lines += ["", "blocks:"]
        for block in blocks.values():
            lines.append(f"  {block.name}:")
            if block.params:
                lines.append(f"    params: {flow(block.params)}")
            lines.append(f"    inputs: {flow(block.inputs)}")
            lines.append("    layers:")
            lines += [f"      - {flow(entry)}" for entry in block.layers]
    lines += ["", "layers:"]
    previous = graph.inputs[0].name if len(graph.inputs) == 1 else None
    for item in items:
        if hasattr(item, "kind"):
            lines.append(f"  - {flow(layer_entry(item, previous))}")
            previous = item.name if item.outputs == ("",) else None
        else:
            entry = {"name": item.name, "block": item.block}
            if item.inputs != [previous]:
                entry["inputs"] = item.inputs[0] if len(item.inputs) == 1 else item.inputs
            if item.with_:
                entry["with"] = item.with_
            if item.repeat is not None:
                entry["repeat"] = item.repeat
            if item.first:
                entry["first"] = item.first
            lines.append(f"  - {flow(entry)}")
            previous = item.name
    lines += ["", "outputs:"]
    for output, tensor in outputs:
        lines.append(f"  - {flow(output if output == tensor else {'name': output, 'from': tensor})}")
    return "\n".join(lines) + "\n"


def batch_of(metadata: dict, onnx_input: str) -> tuple:
    """The batch range netdsl's exporter recorded, else the default."""
    try:
        values = tuple(int(v) for v in metadata[f"netdsl.batch.{onnx_input}"].split(","))
        if len(values) == 3 and 1 <= values[0] <= values[1] <= values[2]:
            return values
    except (KeyError, ValueError):
        pass
    return DEFAULT_BATCH
