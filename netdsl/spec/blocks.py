"""Expanding the `layers` list, with its block instances, into Graph nodes.

Names resolve in scopes: the top level sees the graph inputs and every layer above; a block instance
sees its own inputs and the layers above it in the block, never the names around it. A layer whose
`when` is false is left out and its name passes its first input through, so optional layers (a
ResNet downsample path) need no special wiring; another layer of the same name may take its place (one
model's layer `model.9` is SPPF or a classification head, as a parameter chooses).
"""

from __future__ import annotations

from ..diagnostics import Diagnostics, Note, Pos, did_you_mean
from ..graph import Node
from ..ops import REGISTRY
from ..params import ParamError
from ..yamlnodes import Map, Node as YamlNode, Scalar, Seq, describe
from .weightnames import read_layer_weights
from .fields import IDENT_RE, PARAM_REF_RE, bool_of, check_keys, expect_list, expect_map, int_of, name_of
from .specparams import FAILED, is_expression

LAYER_KEYS = ("name", "kind", "inputs", "when", "weights")
INSTANCE_KEYS = ("name", "block", "inputs", "when", "with", "repeat", "first")
BLOCK_KEYS = ("params", "inputs", "layers", "output", "doc")
MAX_LAYERS = 100_000  # after block expansion, graph inputs not counted; far above any CNN, and bounds the
# time a `repeat` blow-up can take (`netdsl validate` of a 100k-layer chain takes about 2 s)
MAX_REPEAT = 10_000
REQUIRED_ARG = "required"


class Block:
    __slots__ = ("name", "params", "inputs", "layers", "output", "pos")

    def __init__(self, name: str, params: dict[str, YamlNode | None], inputs: list[str], layers: list[YamlNode],
                 output: YamlNode | None, pos: Pos):
        self.name = name
        self.params = params  # None: required
        self.inputs = inputs
        self.layers = layers
        self.output = output
        self.pos = pos


class Scope:
    __slots__ = ("prefix", "names", "defined_later", "args", "block", "trace", "previous", "positions", "blocks",
                 "values")

    def __init__(self, prefix: str, names: dict[str, str], defined_later: dict[str, Pos],
                 args: dict[str, YamlNode] | None = None, block: Block | None = None, trace: tuple[Note, ...] = (),
                 previous: str | None = None, positions: dict[str, Pos] | None = None,
                 blocks: tuple[tuple[str, str], ...] = ()):
        self.prefix = prefix  # "" at the top, "layer1.0." inside an instance
        self.names = names  # local name -> tensor name
        self.defined_later = defined_later
        self.args = args  # block arguments; None at the top level
        self.block = block
        self.trace = trace
        self.previous = previous  # tensor consumed by a layer that names no inputs
        self.positions = {} if positions is None else positions
        self.blocks = blocks  # (instance name, block name), outermost first
        self.values: dict | None = None  # the arguments' plain values, for expressions (see Expander.evaluate)


def read_blocks(node: YamlNode | None, diagnostics: Diagnostics) -> dict[str, Block]:
    blocks: dict[str, Block] = {}
    if node is None:
        return blocks
    mapping = expect_map(node, "`blocks`", diagnostics)
    if mapping is None:
        return blocks
    for name, body in mapping.entries.items():
        where = mapping.key_pos[name]
        if not IDENT_RE.match(name):
            diagnostics.error("bad-name", f"`{name}` is not a valid block name", where,
                              hint="block names are letters, digits and `_`, not starting with a digit")
            continue
        body = expect_map(body, f"block `{name}`", diagnostics)
        if body is None or not check_keys(body, BLOCK_KEYS, f"block `{name}`", diagnostics, required=("layers",)):
            continue
        params: dict[str, YamlNode | None] = {}
        if "params" in body.entries:
            declared = expect_map(body.entries["params"], f"`params` of block `{name}`", diagnostics)
            for pname, default in (declared.entries.items() if declared else ()):
                if not IDENT_RE.match(pname):
                    diagnostics.error("bad-name", f"`{pname}` is not a valid parameter name", declared.key_pos[pname])
                    continue
                is_required = isinstance(default, Scalar) and default.value == REQUIRED_ARG and not default.quoted
                params[pname] = None if is_required else default
        inputs = ["input"]
        if "inputs" in body.entries:
            listed = expect_list(body.entries["inputs"], f"`inputs` of block `{name}`", diagnostics)
            if listed is not None:
                inputs = [name_of(item, "block input name", diagnostics) for item in listed.items]
                if None in inputs:
                    continue
                if not inputs:
                    diagnostics.error("invalid-value", f"block `{name}` needs at least one input", listed.pos)
                    continue
        layers = expect_list(body.entries["layers"], f"`layers` of block `{name}`", diagnostics)
        if layers is None:
            continue
        if not layers.items:
            diagnostics.error("invalid-value", f"block `{name}` has no layers", layers.pos)
            continue
        blocks[name] = Block(name, params, inputs, layers.items, body.entries.get("output"), where)
    return blocks


def substitute_params(node: YamlNode, params: dict, diagnostics: Diagnostics) -> YamlNode | None:
    """``node`` with the spec's parameters put in (`$name`, `${...}`), outside any layer: an input's or
    output's `when:`, the `quantization:` section. None after a reported error."""
    return Expander({}, diagnostics, params).substitute_node(node, Scope("", {}, {}, args=params))


class Expander:
    def __init__(self, blocks: dict[str, Block], diagnostics: Diagnostics, spec_params: dict | None = None):
        self.blocks = blocks
        self.spec_params = spec_params or {}  # the spec's `params:`, seen in every block unless shadowed
        self.passed_through: set[str] = set()  # tensors standing for a layer left out by `when`
        self.left_out: set[str] = set()  # names of layers left out by `when`, free for another layer to take
        self.diagnostics = diagnostics
        self.nodes: list[Node] = []
        self.tensors: dict[str, Pos] = {}  # every tensor name defined so far -> where
        self.block_stack: list[str] = []
        self.layers = 0  # layers named so far; graph inputs are not layers
        self.too_many = False
        self.multi: dict[str, tuple[str, ...]] = {}  # layer with several outputs -> its output tensors

    # -- scopes -------------------------------------------------------------------------------------

    def expand_list(self, items: list[YamlNode], scope: Scope) -> None:
        scope.defined_later = {}
        for item in items:
            if isinstance(item, Map):
                named = item.entries.get("name")
                if isinstance(named, Scalar) and isinstance(named.value, (str, int)):
                    scope.defined_later.setdefault(str(named.value), named.pos)
        for item in items:
            if self.too_many:
                return
            self.expand_item(item, scope)

    def expand_item(self, item: YamlNode, scope: Scope) -> None:
        layer = expect_map(item, "a layer", self.diagnostics)
        if layer is None:
            return
        if scope.args is not None:
            substituted = self.substitute(layer, scope)
            if substituted is None:
                named = layer.entries.get("name")  # still defined, so that its users add no second report
                if isinstance(named, Scalar) and isinstance(named.value, (str, int)):
                    scope.names.setdefault(str(named.value), scope.prefix + str(named.value))
                return
            layer = substituted
        entries = layer.entries
        local = name_of(entries.get("name"), "layer name", self.diagnostics)
        if "name" not in entries:
            self.diagnostics.error("missing-key", "a layer needs a `name`", layer.pos)
        if local is None:
            return
        scope.defined_later.pop(local, None)
        full = scope.prefix + local
        when = entries.get("when")
        enabled = None if when is None else bool_of(when, "`when`", self.diagnostics, layer=full)
        if local in scope.names and full not in self.left_out:
            if enabled is False:  # the layer of this name that runs is another one
                return
            first = scope.positions.get(local)
            self.diagnostics.error("duplicate-name", f"name `{local}` is already used", entries["name"].pos,
                                   layer=full, notes=[Note(first, "first used here")] if first else [],
                                   hint="layer names must be unique: they name TensorRT layers and weights")
            return
        kind = entries.get("kind")
        takes_none = (isinstance(kind, Scalar) and isinstance(kind.value, str) and kind.value in REGISTRY
                      and REGISTRY[kind.value].max_inputs == 0 and "inputs" not in entries)
        if enabled is False:
            self.leave_out(layer, scope, local, full, takes_none)
            self.left_out.add(full)  # its name is free for a later layer of the same name (SPPF or Classify)
            return
        self.left_out.discard(full)
        inputs = [] if takes_none else self.resolve_inputs(layer, scope, full)
        if "block" in entries:
            self.expand_instance(layer, scope, local, full, inputs)
        else:
            self.add_layer(layer, scope, local, full, inputs)

    def leave_out(self, layer: Map, scope: Scope, local: str, full: str, takes_none: bool) -> None:
        """A layer whose `when` is false: its name passes its first input on. Only that input is resolved,
        and quietly: a left-out layer may read inputs left out by their own `when` (GPT-2's
        `attention_mask`, the cache inputs of layers a smaller model does not have); a later layer that
        uses its name then finds nothing there, and that is reported."""
        references = layer.entries.get("inputs")
        if takes_none or (isinstance(references, Seq) and not references.items):
            return
        quiet = layer
        if references is not None:
            first = Seq(references.pos)
            first.items = references.items[:1] if isinstance(references, Seq) else [references]
            quiet = Map(layer.pos)
            quiet.entries, quiet.key_pos = {**layer.entries, "inputs": first}, layer.key_pos
        reported, self.diagnostics = self.diagnostics, Diagnostics()
        try:
            inputs = self.resolve_inputs(quiet, scope, full)
        finally:
            self.diagnostics = reported
        if inputs:
            self.define(scope, local, inputs[0], layer.entries["name"].pos)
            self.passed_through.add(inputs[0])

    def define(self, scope: Scope, local: str, tensor: str, pos: Pos) -> None:
        scope.names[local] = tensor
        scope.positions[local] = pos
        scope.previous = tensor

    def resolve_inputs(self, layer: Map, scope: Scope, full: str, first_only: bool = False) -> list[str] | None:
        """Tensor names the layer consumes (only the first with ``first_only``); None when a reference is
        broken (already reported)."""
        node = layer.entries.get("inputs")
        if node is None:
            if scope.previous is None:
                self.diagnostics.error("missing-key", f"layer `{full}` must name its `inputs`: nothing comes "
                                       "before it and the network has several inputs", layer.pos, layer=full)
                return None
            if scope.previous in self.multi:
                self.several_outputs(scope.previous, layer.pos, full)
                return None
            return [scope.previous]
        references = node.items if isinstance(node, Seq) else [node]
        if first_only:
            references = references[:1]
        if isinstance(node, Seq) and not references:
            self.diagnostics.error("invalid-value", "`inputs` is empty", node.pos, layer=full)
            return None
        tensors = []
        for reference in references:
            if isinstance(reference, Scalar) and isinstance(reference.value, str) and reference.value.endswith(".*"):
                repeated = self.repetitions(reference, scope, full)
                if repeated is None:
                    return None
                tensors.extend(repeated)
                continue
            tensor = self.resolve(reference, scope, full)
            if tensor is None:
                return None
            tensors.append(tensor)
        return tensors

    def repetitions(self, reference: Scalar, scope: Scope, full: str) -> list[str] | None:
        """`m.*`: the outputs of every repetition of the repeated instance `m`, in order (C2f's concat of
        all its bottlenecks)."""
        prefix = reference.value[:-2]
        found = []
        while f"{prefix}.{len(found)}" in scope.names:
            found.append(scope.names[f"{prefix}.{len(found)}"])
        if not found:
            self.diagnostics.error("unknown-input", f"layer `{full}` takes `{reference.value}`, but `{prefix}` is "
                                   "not a block instance with `repeat` defined above it", reference.pos, layer=full,
                                   hint="`name.*` stands for the outputs of each repetition of `name`")
            return None
        return found

    def resolve(self, reference: YamlNode, scope: Scope, full: str) -> str | None:
        if not (isinstance(reference, Scalar) and isinstance(reference.value, (str, int))
                and not isinstance(reference.value, bool)):
            self.diagnostics.error("wrong-type", f"an input must be a layer or input name, found "
                                   f"{describe(reference)}", reference.pos, layer=full)
            return None
        name = str(reference.value)
        tensor = scope.names.get(name)
        if tensor is None and "." in name:  # `parts.0` of a layer left out by `when`: passed through as well
            owner = scope.names.get(name.rpartition(".")[0])
            tensor = owner if owner in self.passed_through and owner not in self.multi else None
        if tensor in self.multi:
            self.several_outputs(tensor, reference.pos, full)
            return None
        if tensor is not None:
            return tensor
        if name == full[len(scope.prefix):]:
            self.diagnostics.error("cycle", f"layer `{full}` takes its own output as input", reference.pos,
                                   layer=full, hint="a layer's inputs must come from layers above it")
        elif name in scope.defined_later:
            self.diagnostics.error(
                "cycle", f"layer `{full}` takes `{name}`, which is defined below it", reference.pos, layer=full,
                notes=[Note(scope.defined_later[name], f"`{name}` is defined here")],
                hint="layers run in the order written: move the layer up, which also rules out cycles")
        else:
            known = [n for n in scope.names if "." not in n or n.count(".") <= name.count(".")]
            where = "in this block" if scope.block else "among the inputs and layers above"
            self.diagnostics.error("unknown-input", f"layer `{full}` takes `{name}`, which is not defined {where}",
                                   reference.pos, layer=full, hint=did_you_mean(name, known),
                                   notes=list(scope.trace[:1]))
        return None

    def several_outputs(self, tensor: str, pos: Pos, full: str) -> None:
        outputs = self.multi[tensor]
        self.diagnostics.error("several-outputs", f"layer `{tensor}` has {len(outputs)} outputs; layer `{full}` "
                               "must name the one it takes", pos, layer=full,
                               hint="its outputs: " + ", ".join(f"`{o}`" for o in outputs))

    # -- plain layers --------------------------------------------------------------------------------

    def add_layer(self, layer: Map, scope: Scope, local: str, full: str, inputs: list[str] | None) -> None:
        entries = layer.entries
        op = self.layer_kind(layer, scope, local, full)
        if op is None:
            return
        weight_names = (read_layer_weights(entries["weights"], full, self.diagnostics, scope.prefix)
                        if "weights" in entries else ({}, {}))
        params, param_pos, ok = self.layer_params(layer, op, scope, full)
        ok = self.check_input_count(layer, op, inputs, full) and ok and weight_names is not None
        pos = entries["name"].pos
        self.define(scope, local, full, pos)
        if not self.claim(full, pos) or not self.count_layer(full, pos, scope):
            return
        if not ok or inputs is None:
            return
        node = Node(full, op.kind, op, params, inputs, layer.pos, param_pos, scope.trace, *weight_names,
                    blocks=scope.blocks)
        if node.outputs != (full,) and not self.define_outputs(node, scope, local, pos):
            return
        self.nodes.append(node)

    def layer_kind(self, layer: Map, scope: Scope, local: str, full: str):
        """The op of the layer's `kind`; None (reported) when it has none or an unknown one."""
        kind_node = layer.entries.get("kind")
        if kind_node is None:
            self.diagnostics.error("missing-key", f"layer `{full}` needs a `kind` (or a `block`)", layer.pos,
                                   layer=full)
            return None
        kind = kind_node.value if isinstance(kind_node, Scalar) else None
        op = REGISTRY.get(kind) if isinstance(kind, str) else None
        if op is None:
            hint = did_you_mean(str(kind), REGISTRY)
            if kind in self.blocks:
                hint = f"`{kind}` is a block: write `block: {kind}`"
            self.diagnostics.error("unknown-kind", f"unknown layer kind `{kind}` in layer `{full}`",
                                   kind_node.pos, layer=full,
                                   hint=hint or "known kinds: " + ", ".join(sorted(REGISTRY)))
            self.define(scope, local, full, layer.entries["name"].pos)  # defined but unusable: no cascade
        return op

    def layer_params(self, layer: Map, op, scope: Scope, full: str) -> tuple[dict, dict, bool]:
        """The layer's parameters checked against its kind, defaults filled in; their positions; and
        False when any was wrong (reported)."""
        params, param_pos, ok = {}, {}, True
        for key, value in layer.entries.items():
            if key in LAYER_KEYS:
                continue
            spec = op.params.get(key)
            if spec is None:
                ok = False
                self.unknown_layer_param(layer, op, key, scope, full)
                continue
            try:
                params[key] = spec.type.check(value)
            except ParamError as error:
                ok = False
                hint = error.hint
                if isinstance(value, Scalar) and isinstance(value.value, str) and value.value.startswith("$"):
                    hint = ("`$name` is a block parameter inside a block, or a spec parameter declared under "
                            "`params:`")
                self.diagnostics.error("invalid-param", f"`{key}` of {op.kind} layer `{full}`: {error}",
                                       (error.node or value).pos, layer=full, expected=error.expected,
                                       found=error.found, hint=hint, notes=list(scope.trace))
                continue
            param_pos[key] = value.pos
        for key, spec in op.params.items():
            if key in params or key in param_pos:
                continue
            if not spec.required:
                params[key] = spec.default
            elif key not in layer.entries:
                ok = False
                self.diagnostics.error("missing-param", f"{op.kind} layer `{full}` needs `{key}`",
                                       layer.pos, layer=full, hint=spec.doc or None, notes=list(scope.trace))
        return params, param_pos, ok

    def unknown_layer_param(self, layer: Map, op, key: str, scope: Scope, full: str) -> None:
        if key in INSTANCE_KEYS:
            message = f"`{key}` belongs to block instances, not to layers of a kind"
        else:
            message = f"unknown parameter `{key}` for {op.kind} layer `{full}`"
        hint = did_you_mean(key, op.params) or (
            "parameters: " + ", ".join(op.params) if op.params else f"{op.kind} takes no parameters")
        self.diagnostics.error("unknown-param", message, layer.key_pos[key], layer=full, hint=hint,
                               notes=list(scope.trace))

    def check_input_count(self, layer: Map, op, inputs: list[str] | None, full: str) -> bool:
        """False (reported) when the layer has fewer or more inputs than its kind takes."""
        if inputs is None:
            return True
        count = len(inputs)
        if count >= op.min_inputs and (op.max_inputs is None or count <= op.max_inputs):
            return True
        wanted = (f"{op.min_inputs}" if op.max_inputs == op.min_inputs else
                  f"at least {op.min_inputs}" if op.max_inputs is None else
                  f"{op.min_inputs} to {op.max_inputs}")
        self.diagnostics.error(
            "input-count", f"{op.kind} layer `{full}` takes {wanted} input(s), found {count}",
            layer.entries.get("inputs", layer).pos, layer=full, expected=wanted, found=str(count),
            hint=None if "inputs" in layer.entries else "name them with `inputs: [a, b]`")
        return False

    def count_layer(self, full: str, pos: Pos, scope: Scope) -> bool:
        """One more layer; False (reported) past MAX_LAYERS, which stops the expansion."""
        self.layers += 1
        if self.layers <= MAX_LAYERS:
            return True
        self.too_many = True
        self.diagnostics.error("too-many-layers", f"the network expands to more than {MAX_LAYERS:,} layers",
                               pos, layer=full, hint="check `repeat` counts" if scope.blocks else None)
        return False

    def define_outputs(self, node: Node, scope: Scope, local: str, pos: Pos) -> bool:
        """Names for each output of a layer with several (`split.0`, `split.1`); False when one is taken."""
        self.multi[node.name] = node.outputs
        for tensor in node.outputs:
            if not self.claim(tensor, pos):
                return False
            scope.names[local + tensor[len(node.name):]] = tensor
            scope.positions[local + tensor[len(node.name):]] = pos
        return True

    def claim(self, full: str, pos: Pos) -> bool:
        """Register a global tensor name; False (reported) when another layer already has it."""
        first = self.tensors.get(full)
        if first is not None:
            self.diagnostics.error("duplicate-name", f"name `{full}` is already used", pos, layer=full,
                                   notes=[Note(first, "first used here")])
            return False
        self.tensors[full] = pos
        return True

    # -- block instances ------------------------------------------------------------------------------

    def expand_instance(self, layer: Map, scope: Scope, local: str, full: str, inputs: list[str] | None) -> None:
        entries = layer.entries
        if not check_keys(layer, INSTANCE_KEYS, f"block instance `{full}`", self.diagnostics, layer=full):
            return
        block_node = entries["block"]
        block = self.blocks.get(block_node.value) if isinstance(block_node, Scalar) and isinstance(
            block_node.value, str) else None
        if block is None:
            kind_hint = f"`{block_node.value}` is a layer kind: write `kind: {block_node.value}`" if (
                isinstance(block_node, Scalar) and block_node.value in REGISTRY) else None
            self.diagnostics.error("unknown-block", f"no block named `{getattr(block_node, 'value', '?')}`",
                                   block_node.pos, layer=full,
                                   hint=kind_hint or did_you_mean(str(getattr(block_node, "value", "")), self.blocks)
                                   or ("defined blocks: " + ", ".join(self.blocks) if self.blocks
                                       else "define it under `blocks:`"))
            self.define(scope, local, full, entries["name"].pos)
            return
        if block.name in self.block_stack:
            chain = " -> ".join(self.block_stack + [block.name])
            self.diagnostics.error("recursive-block", f"block `{block.name}` uses itself ({chain})",
                                   block_node.pos, layer=full)
            return
        args = self.block_args(layer, block, full, "with")
        first_args = self.block_args(layer, block, full, "first") if "first" in entries else {}
        repeat = None
        if "repeat" in entries:
            repeat = int_of(entries["repeat"], "`repeat`", self.diagnostics, 1, MAX_REPEAT)
            if repeat is None:
                return
        elif "first" in entries:
            self.diagnostics.error("invalid-value", "`first` needs `repeat`", layer.key_pos["first"], layer=full)
            return
        if args is None or first_args is None or inputs is None:
            self.define(scope, local, full, entries["name"].pos)
            return
        missing = [p for p, default in block.params.items() if default is None and p not in args
                   and not (repeat and p in first_args and repeat == 1)]
        if missing:
            self.diagnostics.error("missing-block-param", f"block `{block.name}` needs "
                                   + ", ".join(f"`{m}`" for m in missing) + f" (instance `{full}`)",
                                   layer.pos, layer=full, hint="give them under `with:`")
            self.define(scope, local, full, entries["name"].pos)
            return
        if len(inputs) != len(block.inputs):
            self.diagnostics.error("input-count", f"block `{block.name}` takes {len(block.inputs)} input(s) "
                                   f"({', '.join(block.inputs)}), found {len(inputs)}",
                                   entries.get("inputs", layer).pos, layer=full)
            self.define(scope, local, full, entries["name"].pos)
            return
        pos = entries["name"].pos
        self.block_stack.append(block.name)
        try:
            if repeat is None:
                output = self.instantiate(block, args, inputs, scope, local, full, pos)
            else:
                output = None
                for index in range(repeat):
                    merged = {**args, **first_args} if index == 0 else args
                    output = self.instantiate(block, merged, inputs, scope, f"{local}.{index}",
                                              f"{full}.{index}", pos)
                    if output is None or self.too_many:
                        break
                    scope.names.setdefault(f"{local}.{index}", output)  # `m.*` lists these, in order
                    inputs = [output] + inputs[1:]
        finally:
            self.block_stack.pop()
        self.define(scope, local, output or full, pos)

    def block_args(self, layer: Map, block: Block, full: str, key: str) -> dict[str, YamlNode] | None:
        node = layer.entries.get(key)
        if node is None:
            return {}
        given = expect_map(node, f"`{key}`", self.diagnostics, layer=full)
        if given is None:
            return None
        ok = True
        for name in given.entries:
            if name not in block.params:
                ok = False
                self.diagnostics.error("unknown-block-param", f"block `{block.name}` has no parameter `{name}`",
                                       given.key_pos[name], layer=full,
                                       hint=did_you_mean(name, block.params) or (
                                           "its parameters: " + ", ".join(block.params) if block.params
                                           else "it takes no parameters"))
        return dict(given.entries) if ok else None

    def instantiate(self, block: Block, args, inputs, outer: Scope, local: str, full: str, pos: Pos) -> str | None:
        values = dict(self.spec_params)
        values.update(args)
        for name, default in block.params.items():  # defaults may be expressions over the given arguments
            if default is not None and name not in args:
                values[name] = self.substitute_node(default, Scope("", {}, {}, args=values, block=block))
                if values[name] is None:
                    return None
        names = dict(zip(block.inputs, inputs))
        note = Note(pos, f"in block `{block.name}`, instantiated as `{full}`")
        inner = Scope(prefix=full + ".", names=names, defined_later={}, args=values, block=block,
                      trace=(note,) + outer.trace, previous=inputs[0], blocks=outer.blocks + ((full, block.name),))
        self.expand_list(block.layers, inner)
        output = inner.previous
        if block.output is not None:
            reference = self.substitute_node(block.output, inner)
            output = self.resolve(reference, inner, full) if reference is not None else None
        # Names inside the instance are visible from outside as `<instance>.<inner name>`.
        for inner_name, tensor in inner.names.items():
            if inner_name not in block.inputs:
                outer.names[f"{local}.{inner_name}"] = tensor
        return output

    # -- $parameters ----------------------------------------------------------------------------------

    def evaluate(self, node: Scalar, scope: Scope) -> Scalar | None:
        expressions = _expressions or _import_expressions()
        names = scope.values  # once per scope: its arguments are all given before its first expression
        if names is None:
            names = scope.values = {name: value.value for name, value in scope.args.items()
                                    if isinstance(value, Scalar)}
        try:
            return Scalar(expressions.evaluate(node.value[2:-1], names), node.pos)
        except expressions.ExpressionError as error:
            if error.quiet:
                return None
            owner = f"block `{scope.block.name}`" if scope.block else "the spec"
            self.diagnostics.error("invalid-value", f"{error} (in {owner})", node.pos, notes=list(scope.trace))
            return None

    def unknown_param(self, text: str, pos: Pos, scope: Scope) -> None:
        known = scope.block.params if scope.block else scope.args
        owner = f"block `{scope.block.name}`" if scope.block else "the spec"
        self.diagnostics.error(
            "unknown-block-param" if scope.block else "unknown-param", f"`{text}` is not a parameter of {owner}",
            pos, hint=did_you_mean(text[1:], scope.args) or (
                "its parameters: " + ", ".join(known) if known else
                "declare it under the block's `params:`" if scope.block else "declare it under `params:`"))

    def substitute(self, layer: Map, scope: Scope) -> Map | None:
        result = self.substitute_node(layer, scope)
        return result if isinstance(result, Map) else None

    def substitute_node(self, node: YamlNode, scope: Scope) -> YamlNode | None:
        if type(node) is Scalar:
            if is_expression(node.value):
                return self.evaluate(node, scope)
            if isinstance(node.value, str) and node.value.startswith("$") and not node.quoted:
                match = PARAM_REF_RE.match(node.value)
                value = scope.args.get(match.group(1)) if match else None
                if value is None:
                    self.unknown_param(node.value, node.pos, scope)
                    return None
                if isinstance(value, Scalar) and value.value is FAILED:  # its definition's error is reported
                    return None
                return value
            return node
        if type(node) is Seq:
            items, changed = [], False
            for item in node.items:
                if type(item) is not Scalar or _may_substitute(item.value):
                    substituted = self.substitute_node(item, scope)
                    if substituted is None:
                        return None
                    changed = changed or substituted is not item
                    item = substituted
                items.append(item)
            if not changed:
                return node  # nothing to substitute: no copy (most layers of a spec)
            copy = Seq(node.pos)
            copy.items = items
            return copy
        entries, changed = {}, False
        for key, value in node.entries.items():
            if type(value) is not Scalar or _may_substitute(value.value):
                substituted = self.substitute_node(value, scope)
                if substituted is None:
                    return None
                changed = changed or substituted is not value
                value = substituted
            entries[key] = value
        if not changed:
            return node
        copy = Map(node.pos)
        copy.entries = entries
        copy.key_pos = dict(node.key_pos)
        return copy


_expressions = None  # netdsl.spec.expressions, imported at the first `${...}`: most specs have none


def _import_expressions():
    global _expressions
    from . import expressions

    _expressions = expressions
    return expressions


def _may_substitute(value) -> bool:
    """True for a scalar value that substitution may change: a `$name` or a `${...}` (a cheaper test than
    substitute_node's, for the many numbers and names it leaves alone)."""
    return type(value) is str and value[:1] == "$"
