"""Reading a spec's YAML document into a Graph: the version line, the top-level keys, the inputs and
their shapes, the outputs, and the sections read by their own modules (`params:`, `weights:`, `build:`,
`dims:`/`profiles:`, `blocks:` and `layers:`, `quantization:`). Shapes are checked afterwards
(:mod:`netdsl.shapes`); :func:`netdsl.spec.check` runs both.
"""

from __future__ import annotations

import os
import re

from ..diagnostics import Diagnostics, Note, Pos, Source
from ..graph import Graph, Input, Output
from ..ops import BATCH, Dim
from ..tensors import DTYPES, MAX_RANK
from ..params import MAX_DIM
from ..yamlnodes import Map, Node as YamlNode, Scalar, describe
from .blocks import Expander, Scope, read_blocks, substitute_params
from .buildopts import read_build
from .dims import read_profiles
from .weightnames import read_weights_source
from .fields import IDENT_RE, bool_of, check_keys, expect_list, expect_map, int_of, name_of, text_of

TYPE_CHECKING = False  # type checkers take it as typing.TYPE_CHECKING; importing typing costs start-up time
if TYPE_CHECKING:
    from .quantization import Quantization

VERSION = 1
TOP_KEYS = ("netdsl", "name", "description", "params", "weights", "plugins", "build", "quantization", "inputs",
            "dims", "profiles", "blocks", "layers", "outputs")


def read_graph(root: YamlNode, source: Source, diagnostics: Diagnostics, overrides: dict | None = None) -> Graph | None:
    top = expect_map(root, "a spec", diagnostics)
    if top is None:
        return None
    if not read_version(top, source, diagnostics):
        return None
    check_keys(top, TOP_KEYS, "the spec", diagnostics, required=("inputs", "layers"))
    name = text_of(top.entries["name"], "`name`", diagnostics) if "name" in top.entries else None
    spec_params = None
    if "params" in top.entries or overrides:
        from .specparams import read_spec_params

        spec_params = read_spec_params(top.entries.get("params"), overrides, diagnostics, top.pos)
    weights = read_weights_source(top.entries.get("weights"), source.path, diagnostics)
    build = read_build(top.entries.get("build"), source.path, diagnostics)
    plugins = read_plugins(top.entries.get("plugins"), source.path, diagnostics)
    inputs = read_inputs(top.entries.get("inputs"), diagnostics, spec_params or {})
    sized = sections_with_params(top, ("dims", "profiles"), spec_params, diagnostics)
    profiles = read_profiles(sized, inputs, diagnostics) if inputs is not None and sized is not None else None
    blocks = read_blocks(top.entries.get("blocks"), diagnostics)
    layers = top.entries.get("layers")
    if inputs is None or layers is None or profiles is None:
        return None
    layer_list = expect_list(layers, "`layers`", diagnostics)
    if layer_list is None:
        return None
    if not layer_list.items:
        diagnostics.error("invalid-value", "`layers` is empty", layer_list.pos)
        return None
    expander = Expander(blocks, diagnostics, spec_params)
    scope = Scope(prefix="", names={}, defined_later={}, args=spec_params or {})
    for graph_input in inputs:
        if expander.claim(graph_input.name, graph_input.pos):
            scope.names[graph_input.name] = graph_input.name
            scope.positions[graph_input.name] = graph_input.pos
    scope.previous = inputs[0].name if len(inputs) == 1 else None
    expander.expand_list(layer_list.items, scope)
    outputs = read_outputs(top, scope, expander, diagnostics)
    quantization = read_quantization_section(top.entries.get("quantization"), spec_params or {}, source.path,
                                             expander.nodes, diagnostics)
    # Broken layers are already left out, and shape inference skips whatever depends on them, so the
    # partial graph still gets its shapes checked: one run reports every problem.
    return Graph(name or source.path.rsplit("/", 1)[-1].rsplit(".", 1)[0], inputs, expander.nodes, outputs,
                 weights=weights, build=build, quantization=quantization, profiles=profiles,
                 params={key: value.value for key, value in (spec_params or {}).items()}, plugins=plugins)


def read_plugins(node: YamlNode | None, spec_path: str, diagnostics: Diagnostics) -> list:
    """`plugins: [lib.so, ...]`: (path relative to the spec's folder, position) for each plugin library,
    loaded into TensorRT's plugin registry only when the network is lowered (never by `validate`)."""
    items = expect_list(node, "`plugins`", diagnostics) if node is not None else None
    libraries = []
    for item in items.items if items else ():
        path = text_of(item, "a plugin library", diagnostics)
        if path:
            folder = os.path.dirname(spec_path) if not spec_path.startswith("<") else ""
            libraries.append((os.path.normpath(os.path.join(folder, os.path.expanduser(path))), item.pos))
    return libraries


def read_quantization_section(node: YamlNode | None, spec_params: dict, spec_path: str, nodes: list,
                              diagnostics: Diagnostics) -> Quantization | None:
    """The `quantization:` section, its `exclude:` checked against the expanded layers ``nodes``."""
    section = quantization_section(node, spec_params, diagnostics)
    if section is None:
        return None
    # imported only by specs that quantize: `netdsl validate` of the others starts without dataclasses
    from .quantization import check_exclusions, read_quantization

    quantization = read_quantization(section, spec_path, diagnostics)
    if quantization is not None:
        check_exclusions(quantization, nodes, diagnostics)
    return quantization


def quantization_section(node: YamlNode | None, spec_params: dict, diagnostics: Diagnostics) -> YamlNode | None:
    """The `quantization:` section with the spec's parameters put in; None when there is none or its
    `when:` leaves it out (`when: "${quantize != 'none'}"`, `dtype: $quantize`: one spec, float or
    quantized by `--set`)."""
    if not isinstance(node, Map):
        return node
    node = substitute_params(node, spec_params, diagnostics)
    if node is None or not included(node, spec_params, diagnostics):
        return None
    if "when" in node.entries:
        copy = Map(node.pos)
        copy.entries = {k: v for k, v in node.entries.items() if k != "when"}
        copy.key_pos = {k: v for k, v in node.key_pos.items() if k != "when"}
        node = copy
    return node


def sections_with_params(top: Map, keys: tuple, spec_params: dict | None, diagnostics: Diagnostics) -> Map | None:
    """``top`` with the spec's parameters put in its sections ``keys`` (`dims:`' `opt: "${224 if task ==
    'classify' else 640}"`); None after a reported error."""
    if not spec_params or not any(key in top.entries for key in keys):
        return top
    copy = Map(top.pos)
    copy.entries, copy.key_pos = dict(top.entries), dict(top.key_pos)
    for key in keys:
        if key in top.entries:
            copy.entries[key] = substitute_params(top.entries[key], spec_params, diagnostics)
            if copy.entries[key] is None:
                return None
    return copy


def read_version(top: Map, source: Source, diagnostics: Diagnostics) -> bool:
    node = top.entries.get("netdsl")
    if node is None:
        diagnostics.error("missing-version", "the spec must start with `netdsl: 1`", Pos(source, 1, 1),
                          hint="the version line lets later netdsl releases read this spec unchanged")
        return False
    if not (isinstance(node, Scalar) and type(node.value) is int):
        diagnostics.error("bad-version", f"`netdsl` is the spec language version, found {describe(node)}",
                          node.pos, expected=str(VERSION))
        return False
    if node.value > VERSION:
        diagnostics.error("bad-version", f"spec language version {node.value} is newer than this netdsl "
                          f"reads (up to {VERSION})", node.pos, hint="upgrade netdsl")
        return False
    if node.value < 1:
        diagnostics.error("bad-version", f"there is no spec language version {node.value}", node.pos,
                          expected=str(VERSION))
        return False
    return True


def included(entry: Map, spec_params: dict, diagnostics: Diagnostics) -> bool | None:
    """An input's or output's `when:` (a spec parameter or expression): False leaves it out; None after
    an error."""
    when = entry.entries.get("when")
    if when is None:
        return True
    resolved = substitute_params(when, spec_params, diagnostics)
    return None if resolved is None else bool_of(resolved, "`when`", diagnostics)


def read_inputs(node: YamlNode | None, diagnostics: Diagnostics, spec_params: dict) -> list[Input] | None:
    if node is None:
        return None
    listed = expect_list(node, "`inputs`", diagnostics)
    if listed is None:
        return None
    if not listed.items:
        diagnostics.error("invalid-value", "`inputs` is empty: a network needs at least one input", listed.pos)
        return None
    inputs, left_out = [], 0
    for item in listed.items:
        entry = expect_map(item, "an input", diagnostics)
        if entry is None or not check_keys(entry, ("name", "dtype", "shape", "batch", "when"), "an input",
                                           diagnostics, required=("name", "shape")):
            continue
        wanted = included(entry, spec_params, diagnostics)
        if not wanted:
            left_out += wanted is False
            continue
        name = name_of(entry.entries["name"], "input name", diagnostics)
        dtype = "float32"
        if "dtype" in entry.entries:
            dtype_node = entry.entries["dtype"]
            if not (isinstance(dtype_node, Scalar) and dtype_node.value in DTYPES):
                diagnostics.error("invalid-value", f"input dtype must be one of {', '.join(DTYPES)}, found "
                                  f"{describe(dtype_node)}", dtype_node.pos, expected=", ".join(DTYPES))
                continue
            dtype = dtype_node.value
        # a size may be a spec parameter (`[batch, 3, $height, $width]`: fixed when the spec is used)
        shape_node = substitute_params(entry.entries["shape"], spec_params, diagnostics) if spec_params else \
            entry.entries["shape"]
        shape = None if shape_node is None else read_shape(shape_node, diagnostics)
        batch = read_batch(entry, shape, diagnostics)
        if name is None or shape is None or batch is False:
            continue
        inputs.append(Input(name, dtype, shape, batch, entry.entries["name"].pos))
    if inputs and len(inputs) + left_out == len(listed.items):
        return inputs
    if len(inputs) + left_out == len(listed.items):
        diagnostics.error("invalid-value", "every input is left out by its `when`", listed.pos)
    return None


# compiled (and cached by `re`) when a shape has a dimension that is not a name: not at every start-up
SUM_PATTERN = r"^\s*[A-Za-z_][A-Za-z0-9_]*(\s*\+\s*[A-Za-z_][A-Za-z0-9_]*)+\s*$"


def read_shape(node: YamlNode, diagnostics: Diagnostics) -> tuple | None:
    listed = expect_list(node, "`shape`", diagnostics)
    if listed is None:
        return None
    if not len(listed.items) <= MAX_RANK:
        diagnostics.error("bad-dims", f"an input has 0 to {MAX_RANK} dimensions, found {len(listed.items)}",
                          listed.pos)
        return None
    dims = []
    for index, item in enumerate(listed.items):
        if isinstance(item, Scalar) and isinstance(item.value, str) and IDENT_RE.match(item.value):
            dims.append(Dim(item.value))  # a named dynamic dimension: its range is in `dims:`/`profiles:`
            continue
        if isinstance(item, Scalar) and isinstance(item.value, str) and re.match(SUM_PATTERN, item.value):
            # a sum of named dimensions (`past+sequence`: an attention mask over a KV cache and the new tokens)
            terms = [t.strip() for t in item.value.split("+")]
            dims.append(sum((Dim(t) for t in terms[1:]), Dim(terms[0])))
            continue
        ok = isinstance(item, Scalar) and type(item.value) is int
        if ok and index == 0 and item.value == -1:
            dims.append(BATCH)
            continue
        if not ok or not 1 <= item.value <= MAX_DIM:
            rule = "a positive integer, or a name for a dynamic dimension (or a sum of names)" + (" (-1 for a dynamic batch)" if index == 0
                                                                               else "")
            diagnostics.error("bad-dims", f"dimension {index} must be {rule}, found {describe(item)}", item.pos,
                              expected=rule, found=describe(item),
                              hint="name a dynamic dimension (`height`) and give its range in `dims:`" if (
                                  isinstance(item, Scalar) and item.value == -1) else None)
            return None
        dims.append(item.value)
    return tuple(dims)


def read_batch(entry: Map, shape: tuple | None, diagnostics: Diagnostics):
    """(min, opt, max) for a dynamic batch, None for a static one, False after an error."""
    node = entry.entries.get("batch")
    dynamic = bool(shape) and shape[0] is BATCH
    if node is None:
        if dynamic:
            diagnostics.error("missing-key", "a dynamic batch (-1) needs its range", entry.pos,
                              hint="add `batch: {min: 1, opt: 8, max: 32}` to the input")
            return False
        return None
    batch = expect_map(node, "`batch`", diagnostics)
    if batch is None or not check_keys(batch, ("min", "opt", "max"), "`batch`", diagnostics,
                                       required=("min", "opt", "max")):
        return False
    if shape is not None and not dynamic:
        diagnostics.error("invalid-value", "`batch` is given but the first dimension is not -1", node.pos,
                          hint="write -1 as the first dimension of `shape` to make the batch dynamic")
        return False
    values = [int_of(batch.entries[k], f"batch `{k}`", diagnostics, 1, MAX_DIM) for k in ("min", "opt", "max")]
    if None in values:
        return False
    if not values[0] <= values[1] <= values[2]:
        diagnostics.error("invalid-value", f"batch range needs min <= opt <= max, found {values[0]}, {values[1]}, "
                          f"{values[2]}", node.pos)
        return False
    return tuple(values)


def read_outputs(top: Map, scope: Scope, expander: Expander, diagnostics: Diagnostics) -> list[Output]:
    node = top.entries.get("outputs")
    if node is None:
        last = scope.previous
        if last in expander.multi:  # the last layer has several outputs: the network gives them all
            return [Output(tensor, tensor, top.pos) for tensor in expander.multi[last]]
        return [Output(last, last, top.pos)] if last else []
    listed = expect_list(node, "`outputs`", diagnostics)
    if listed is None:
        return []
    if not listed.items:
        diagnostics.error("invalid-value", "`outputs` is empty", listed.pos)
        return []
    outputs, seen, left_out = [], {}, 0
    for item in listed.items:
        if isinstance(item, Map):
            if not check_keys(item, ("name", "from", "when"), "an output", diagnostics, required=("name", "from")):
                continue
            wanted = included(item, scope.args or {}, diagnostics)
            if not wanted:
                left_out += wanted is False
                continue
            name = name_of(item.entries["name"], "output name", diagnostics)
            source_node = item.entries["from"]
        else:
            name = name_of(item, "output name", diagnostics)
            source_node = item
        if name is None:
            continue
        tensor = expander.resolve(source_node, scope, f"output {name}")
        if tensor is None:
            continue
        if name in seen:
            diagnostics.error("duplicate-name", f"output name `{name}` is used twice", item.pos,
                              notes=[Note(seen[name], "first used here")])
            continue
        clash = expander.tensors.get(name)
        if clash is not None and name != tensor:
            diagnostics.error("duplicate-name", f"output name `{name}` is already the name of another tensor",
                              item.pos, notes=[Note(clash, "defined here")],
                              hint="output tensors need names of their own")
            continue
        seen[name] = item.pos
        outputs.append(Output(name, tensor, item.pos))
    if left_out == len(listed.items):
        diagnostics.error("invalid-value", "every output is left out by its `when`", listed.pos)
    return outputs
