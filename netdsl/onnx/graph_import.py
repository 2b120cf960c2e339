"""A whole ONNX graph as netdsl layers: one walk over the nodes in order, each node through the table
(netdsl/onnx/*.py, the same ``convert`` that tests/onnx_node checks node by node).

On the way:

- constants are folded: a node whose inputs are all known is computed now (ONNX's reference
  evaluator), so initializers behind Identity, Transpose or Reshape reach the layer that uses them as
  its weights; a constant that a layer takes as a tensor input becomes a `constant` layer;
- shape computations (Shape -> Gather -> Concat -> Reshape) run on symbolic sizes
  (netdsl/onnx/symbolic.py) and the operation they feed gets plain parameters;
- what PyTorch writes as several nodes comes back as the one layer it was: torch.flatten then
  nn.Linear (Flatten + Gemm) is `fully_connected`, MatMul by a constant plus a bias is `linear`,
  x * sigmoid(x) is `silu`, the erf form of GELU is `gelu`, MatMul -> Softmax -> MatMul is
  `scaled_dot_product_attention` (netdsl/onnx/attention.py); batch norm, activations and biases stay
  layers of their own (nothing is folded into a neighbour's weights);
- sizes that are dynamic compare over the ranges netdsl/onnx/dims.py gives them;
- every layer's output type is inferred by netdsl's own shape rules as it is made, so a node the
  table maps wrongly fails here, at its name.

A node that cannot be expressed is listed (its name, op type and the reason); its outputs, and what
depends on them, are left out. Layer names come from netdsl/onnx/naming.py, repeated structure from
netdsl/onnx/blocks.py and netdsl/onnx/modules.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace

from ..diagnostics import Pos
from ..ops import REGISTRY, ShapeError
from ..tensors import BATCH, DTYPES, Dim, Size, TensorType
from ..yamlnodes import Map, Scalar, Seq
from . import NodeInfo, NotExpressible, Operand, attributes, convert
from . import symbolic
from .dims import STEPS, Sizes, dim_name, profile_of

PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*\Z")  # state_dict keys, not onnx::Mul_12
MAX_FOLDED = 2**26  # elements of one constant computed at import time
NOT_FOLDED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
FLOAT_TYPES = ("float32", "float16", "bfloat16")


# ONNX ops whose inputs all have one type T: where netdsl's int32 index meets ONNX's int64, widen it
SAME_TYPE = frozenset({"Add", "Sub", "Mul", "Div", "Mod", "Equal", "Less", "Greater", "LessOrEqual",
                       "GreaterOrEqual", "Max", "Min", "Sum", "Mean", "BitShift", "BitwiseAnd", "BitwiseOr",
                       "BitwiseXor"})


@dataclass
class Const:
    array: object  # numpy array (object arrays: symbolic sizes)
    source: str  # the initializer or node it comes from, for naming
    parameter: str | None = None  # the initializer (a state_dict key) whose value this is, unchanged


@dataclass
class Tensor:
    name: str  # the netdsl tensor
    type: TensorType


@dataclass
class Missing:
    reason: str  # why this ONNX tensor has no netdsl equivalent (a node before it could not be expressed)


@dataclass
class SpecLayer:
    kind: str
    params: dict
    inputs: list  # netdsl tensor names
    weights: dict = field(default_factory=dict)  # slot -> float32 array
    onnx_name: str = ""  # the ONNX node it is named after
    op_type: str = ""
    weight_prefix: str | None = None  # `conv1` when an input initializer is `conv1.weight`
    weight_keys: dict = field(default_factory=dict)  # slot -> the weight file's key, where not <layer>.<slot>
    name: str = ""  # its netdsl name, set by naming.assign
    outputs: tuple = ()  # netdsl output suffixes: ("",) or ("values", "indices") or ("0", "1")
    output_types: tuple = ()


@dataclass
class GraphInput:
    name: str
    onnx_name: str
    type: TensorType
    dim_names: dict  # axis -> ONNX dim_param


@dataclass
class ImportedGraph:
    name: str
    inputs: list[GraphInput]
    layers: list[SpecLayer]
    outputs: list  # (output name, netdsl tensor)
    problems: list[str]  # "node `x` (OpType): reason"
    cut: list  # (netdsl input name, type): with partial, outputs of nodes left out, made inputs
    opset: int = 0
    dims: dict = field(default_factory=dict)  # named dimension -> whether it is a batch (netdsl/onnx/dims.py)
    dim_params: dict = field(default_factory=dict)  # named dimension -> ONNX's dim_param
    sizes: object = None  # the Sizes the import compared sizes over


class GraphImporter:
    def __init__(self, model, partial: bool = False, sizes=None, named_batch: bool = False, arrays=None):
        self.model = model
        self.arrays = arrays  # the initializers' values where netdsl.onnx.load made them (parse_model)
        self.named_batch = named_batch
        self.graph = model.graph
        self.partial = partial
        self.sizes = sizes or Sizes()
        self.dims: dict[str, bool] = {}
        self.dim_params: dict[str, str] = {}
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.values: dict[str, object] = {}
        self.layers: list[SpecLayer] = []
        self.problems: list[str] = []
        self.inputs: list[GraphInput] = []
        self.cut: list = []
        self.consumers: dict[str, list] = {}
        self.handled: dict[int, object] = {}  # id(node) -> how a pattern already took this node
        self.produced: dict[str, SpecLayer] = {}  # netdsl tensor -> layer (for renaming later)
        self.constant_layers: dict[str, str] = {}  # ONNX tensor -> its constant layer's tensor
        self.constant_values: dict[tuple, str] = {}  # (parameter, dtype, shape, bytes) -> a constant layer's tensor

    # -- the walk ------------------------------------------------------------------------------------------

    def run(self) -> ImportedGraph:
        from onnx import numpy_helper

        made = self.arrays if self.arrays is not None and len(self.arrays) == len(self.graph.initializer) \
            else None
        for index, tensor in enumerate(self.graph.initializer):
            key = tensor.name if PARAMETER_NAME.match(tensor.name) else None
            array = made[index] if made is not None else None
            array = numpy_helper.to_array(tensor) if array is None else array
            self.values[tensor.name] = Const(array, tensor.name, key)
        inputs = [value for value in self.graph.input if value.name not in self.values]
        # dynamic sizes other than the batch make every dynamic dimension a named one (netdsl/onnx/dims.py)
        self.named = self.named_batch or any(not (d.HasField("dim_value") and d.dim_value > 0) for value in inputs
                         for d in list(value.type.tensor_type.shape.dim)[1:])
        for value in inputs:
            self.add_input(value)
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs_of_graph = {o.name for o in self.graph.output}
        from ..symbolic import allowed
        from .attention import fuse_attention
        with allowed([profile_of(self.dims, self.sizes)] if self.dims else None):
            for node in self.ordered_nodes():
                self.visit(node)
            outputs = self.graph_outputs()
            self.layers = fuse_attention(self.layers, {tensor for _, tensor in outputs}, self.type_of, infer)
        return ImportedGraph(self.graph.name, self.inputs, self.layers, outputs, self.problems, self.cut, self.opset,
                             self.dims, self.dim_params, self.sizes)

    def ordered_nodes(self) -> list:
        """The nodes in file order, each moved after what it reads where the file has it earlier (ONNX
        requires a sorted graph; a file that is not sorted is sorted, one with a cycle refused)."""
        known = set(self.values) | {""}
        # Constant nodes first: a pattern looking ahead from a node sees the constants its readers take
        pending = sorted(self.graph.node, key=lambda n: n.op_type != "Constant" or bool(n.input))
        ordered = []
        while pending:
            deferred = []
            for node in pending:
                if all(name in known for name in node.input):
                    ordered.append(node)
                    known.update(node.output)
                else:
                    deferred.append(node)
            if len(deferred) == len(pending):
                names = ", ".join(f"`{n.name or n.op_type}`" for n in deferred[:5])
                missing = sorted({name for n in deferred for name in n.input if name not in known})[:5]
                raise NotExpressibleGraph(f"nodes {names} read tensors no node produces ({', '.join(missing)}), or "
                                          "the graph has a cycle")
            pending = deferred
        return ordered

    def add_input(self, value) -> None:
        from .naming import clean

        tensor_type = value.type.tensor_type
        dtype = onnx_dtype(tensor_type.elem_type)
        dims, names = [], {}
        for axis, dim in enumerate(tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                dims.append(dim.dim_value)
            elif dim.HasField("dim_value") and dim.dim_value == 0:  # a size 0 that is given, not a dynamic one
                self.problems.append(f"input `{value.name}`: a dimension of size 0 (netdsl's dimensions are positive)")
                self.values[value.name] = Missing(f"input {value.name} has a dimension of size 0")
                return
            elif axis == 0 and not self.named:
                dims.append(BATCH)
                names[0] = dim.dim_param
            else:
                dims.append(self.named_dim(dim.dim_param, value.name, axis))
        if dtype not in DTYPES:
            self.problems.append(f"input `{value.name}`: dtype {dtype} (netdsl has {', '.join(DTYPES)})")
            self.values[value.name] = Missing(f"input {value.name} has dtype {dtype}")
            return
        name = clean(value.name, "input")
        t = TensorType(tuple(dims), dtype)
        self.inputs.append(GraphInput(name, value.name, t, names))
        self.values[value.name] = Tensor(name, t)

    def named_dim(self, dim_param: str, input_name: str, axis: int) -> Size:
        parts = dim_param.split("+") if dim_param else []
        if len(parts) > 1 and all(re.fullmatch(r"\s*[A-Za-z_]\w*\s*", part) for part in parts):
            # a sum of named dims, as netdsl's export writes one (an attention mask over `past+sequence`)
            return sum((self.named_dim(part.strip(), input_name, axis) for part in parts[1:]),
                       self.named_dim(parts[0].strip(), input_name, axis))
        name = dim_name(dim_param, input_name, axis)
        self.dims.setdefault(name, axis == 0)
        if dim_param and dim_param != name:
            self.dim_params[name] = dim_param
        return Dim(name)

    def visit(self, node) -> None:
        if id(node) in self.handled:
            return
        try:
            if node.domain not in ("", "ai.onnx"):
                raise NotExpressible(f"operator domain `{node.domain}`")
            operands = [None if name == "" else self.values.get(name) for name in node.input]
            missing = next((o for o in operands if isinstance(o, Missing)), None)
            if missing is not None:
                self.leave_out(node, missing.reason, report=False)
                return
            if self.fold(node, operands):
                return
            for pattern in PATTERNS:
                if pattern(self, node, operands):
                    return
            self.convert(node, operands)
        except NotExpressible as reason:
            self.leave_out(node, str(reason))
        except (ShapeError, ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, OverflowError) as error:
            # a malformed node (a missing attribute, a value of the wrong type) in a hostile or broken file
            self.leave_out(node, f"malformed node ({type(error).__name__}: {error})")

    def leave_out(self, node, reason: str, report: bool = True) -> None:
        """Records a node that cannot be expressed (``report``), or one that depends on such a node
        (its reason is passed on: what is missing is the first node)."""
        if report:
            self.problems.append(f"node `{node.name or '(unnamed)'}` ({node.op_type}): {reason}")
        for name in node.output:
            if name:
                self.values[name] = Missing(f"it depends on node `{node.name}` ({node.op_type})" if report else reason)
                if report and self.partial:
                    self.cut_input(node, name)

    def cut_input(self, node, name: str) -> None:
        """With partial: a tensor of a node left out becomes an input of the spec, when its type is known
        from the file (value_info)."""
        from .naming import clean

        info = next((v for v in list(self.graph.value_info) + list(self.graph.output) if v.name == name), None)
        if info is None or not info.type.tensor_type.HasField("shape"):
            return
        batch = self.named_dim("", name, 0) if self.named else BATCH
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (batch if i == 0 else None)
                for i, d in enumerate(info.type.tensor_type.shape.dim)]
        dtype = onnx_dtype(info.type.tensor_type.elem_type)
        if None in dims or dtype not in DTYPES:
            return
        t = TensorType(tuple(dims), dtype)
        input_name = clean(name, "cut")
        self.cut.append((input_name, t, node.name, node.op_type))
        self.inputs.append(GraphInput(input_name, name, t, {0: ""} if dims and dims[0] is BATCH else {}))
        self.values[name] = Tensor(input_name, t)

    # -- constants and shape computations ------------------------------------------------------------------

    def fold(self, node, operands) -> bool:
        """Computes a node whose inputs are all known (constants, or sizes), now. True when it did."""
        import numpy as np

        if node.op_type == "Shape" and isinstance(operands[0], Tensor):
            shape = operands[0].type.shape
            result = symbolic.run("Shape", attributes(node), [shape])[0]
            self.set_constant(node, 0, result if any(isinstance(d, Size) for d in result) else np.asarray(
                list(result), np.int64))
            return True
        if node.op_type == "Size" and isinstance(operands[0], Tensor) and all(isinstance(d, int)
                                                                              for d in operands[0].type.shape):
            self.set_constant(node, 0, np.asarray(int(np.prod(operands[0].type.shape)), np.int64))
            return True
        if not all(o is None or isinstance(o, Const) for o in operands) or node.op_type in NOT_FOLDED:
            return False
        if node.op_type == "Expand" and len(operands) > 1 and not symbolic.is_symbolic(operands[0].array) \
                and symbolic.is_symbolic(operands[1].array):
            return False  # a constant grown to a run-time size (ViT's class token): a layer (resolve_sizes)
        if node.op_type in ("Range", "ConstantOfShape") and any(
                o is not None and symbolic.is_symbolic(o.array) for o in operands):
            return False  # a grid over a run-time size (YOLO's anchors): layers (resolve_sizes)
        if cut_to_run_time_size(node, operands):
            return False  # a table cut to a run-time size (BERT's position ids): layers (resolve_sizes)
        if node.op_type == "Shape":  # of a constant (or of a computed size vector, whose length is known)
            self.set_constant(node, 0, np.asarray(np.shape(operands[0].array), np.int64))
            return True
        arrays = [None if o is None else o.array for o in operands]
        if any(symbolic.is_symbolic(a) for a in arrays if a is not None):
            if node.op_type not in symbolic.SYMBOLIC_OPS:
                return False
            results = symbolic.run(node.op_type, attributes(node), arrays)
        else:
            if any(sub.g.node or sub.graphs for sub in node.attribute):
                return False
            results = evaluate(node, arrays, self.opset)
        for index, result in enumerate(results):
            self.set_constant(node, index, result)
        # a parameter passed through unchanged (Identity, an Expand to its own shape) keeps its name
        sources = [o for o in operands if o is not None and o.parameter]
        if len(sources) == 1 and len(results) == 1 and node.output[0] in self.values and not \
                symbolic.is_symbolic(results[0]) and np.shape(results[0]) == np.shape(sources[0].array) and \
                np.array_equal(results[0], sources[0].array):
            self.values[node.output[0]].parameter = sources[0].parameter
        return True

    def set_constant(self, node, index: int, array) -> None:
        import numpy as np

        if not symbolic.is_symbolic(array) and np.size(array) > MAX_FOLDED:
            raise NotExpressible(f"computing it makes a constant of {np.size(array):,} elements")
        if index < len(node.output) and node.output[index]:
            self.values[node.output[index]] = Const(array, node.output[index] if node.op_type != "Identity"
                                                    else node.output[index])

    # -- one node, one layer -----------------------------------------------------------------------------------

    def operand(self, name: str, value) -> Operand | None:
        if value is None:
            return None
        if isinstance(value, Tensor):
            return Operand(name, value.type)
        array = value.array
        if symbolic.is_symbolic(array):
            return Operand(name, TensorType(tuple(array.shape), "int64"))
        return Operand(name, TensorType(tuple(array.shape), dtype_text(array.dtype)), array)

    def convert(self, node, operands) -> None:
        operands = self.resolve_sizes(node, operands)
        if operands is None:  # resolve_sizes made the layer
            return
        operands = self.sizes_as_tensors(node, operands)
        ops = [self.operand(name, value) for name, value in zip(node.input, operands)]
        layer = convert(NodeInfo(node.op_type, self.opset, list(node.output)), attributes(node), ops)
        inputs = [self.tensor_input(node, index, operands[index]) for index in layer.inputs]
        dtypes = {self.type_of(name).dtype for name in inputs}
        if len(inputs) > 1 and node.op_type in SAME_TYPE and dtypes == {"int32", "int64"}:
            # netdsl's indices (topk, argmax) are int32, TensorRT's, where ONNX's are int64: an index met by
            # int64 arithmetic (RT-DETR's flat index batch * N + topk index) is widened as ONNX has it (only
            # where ONNX's inputs share one type: a gather's int32 data stays int32 beside int64 indices)
            inputs = [self.helper_layer(node, "cast", {"dtype": "int64"}, [name]).name
                      if self.type_of(name).dtype == "int32" else name for name in inputs]
        self.add_layer(node, layer.kind, layer.params, inputs, layer.weights, layer.outputs)

    def resolve_sizes(self, node, operands):
        """Reshape and Expand targets computed from sizes become the plain numbers netdsl takes."""
        import numpy as np

        if node.op_type in ("Range", "ConstantOfShape") and any(
                isinstance(o, Const) and symbolic.is_symbolic(o.array) for o in operands):
            self.values[node.output[0]] = (self.run_time_range if node.op_type == "Range" else
                                           self.run_time_constant)(node, operands)
            return None
        if cut_to_run_time_size(node, operands):
            self.values[node.output[0]] = self.run_time_slice(node, operands)
            return None
        if node.op_type == "Expand" and len(operands) > 1 and isinstance(operands[0], Const) \
                and isinstance(operands[1], Const) and symbolic.is_symbolic(operands[1].array):
            constant = self.constant_layer(node.input[0], operands[0])
            operands = [Tensor(constant, self.type_of(constant)), operands[1]]
        if node.op_type in ("Reshape", "Expand") and len(operands) > 1 and isinstance(operands[1], Const) \
                and symbolic.is_symbolic(operands[1].array) and isinstance(operands[0], Tensor):
            target = symbolic.reshape_target if node.op_type == "Reshape" else symbolic.expand_target
            try:
                values = target(operands[1].array.reshape(-1), operands[0].type.shape)
            except NotExpressible:
                like = self.tensor_shaped(operands[1].array.reshape(-1)) if node.op_type == "Reshape" else None
                if like is None and node.op_type == "Expand":
                    self.values[node.output[0]] = self.grown(node, operands[0], list(operands[1].array.reshape(-1)))
                    return None
                merged = merged_axes(list(operands[1].array.reshape(-1)), operands[0].type.shape) \
                    if like is None else None
                if merged is not None:  # the dynamo exporter's attention: [B, heads, S, E] to [-1, S, E]
                    self.add_layer(node, "flatten", {"start_dim": merged[0], "end_dim": merged[1]},
                                   [operands[0].name], {}, None)
                    return None
                split = split_axis(list(operands[1].array.reshape(-1)), operands[0].type.shape) \
                    if like is None else None
                if split is not None:  # ... and back: [B * heads, E, S] to [B, heads, E, S]
                    kept = self.kept()
                    try:
                        self.values[node.output[0]] = self.split_at_run_time(node, operands[0], *split)
                        return None
                    except NotExpressible:  # (GPT-2's keys over past + sequence: netdsl's reshape cannot infer
                        if node.op_type != "Reshape":  # the -1 by dividing by a sum of sizes)
                            raise
                        self.restore(kept)
                        like = self.shaped_like(node, list(operands[1].array.reshape(-1)))
                        if like is None:
                            raise
                if like is None and node.op_type == "Reshape":
                    like = self.shaped_like(node, list(operands[1].array.reshape(-1)))
                if like is None:
                    raise
                # YOLO11's attention, `.view(B, C, H, W)` of [B, C, H*W]: two sizes known only at run time,
                # both those of a tensor the graph has
                self.add_layer(node, "reshape_as", {}, [operands[0].name, like], {}, None)
                return None
            if node.op_type == "Expand":
                self.add_layer(node, "expand", {"size": values}, [operands[0].name], {}, None)
                return None
            if attributes(node).get("allowzero", 0):  # (the 0s in `values` copy run-time sizes; a literal 0 is
                if any(not isinstance(v, Size) and int(v) == 0 for v in operands[1].array.reshape(-1)):  # empty)
                    raise NotExpressible("Reshape to a zero-size dimension (allowzero)")
                self.add_layer(node, "reshape", {"shape": values}, [operands[0].name], {}, None)
                return None
            return [operands[0], Const(np.asarray(values, np.int64), operands[1].source)]
        return operands

    def shaped_like(self, node, target: list) -> str | None:
        """A tensor of shape ``target`` (fixed sizes and several known only at run time, each one a tensor of
        the graph has on that axis) for `reshape_as`: zeros grown to it (transformers' Conv1D in GPT-2,
        `.view(batch, sequence, 3 * hidden)` of its [batch * sequence, 3 * hidden] product). None where no
        tensor has those sizes, or an entry is not a size (-1, a 0 that copies)."""
        import numpy as np

        from ..symbolic import Size

        if not all(isinstance(size, Size) or int(size) >= 1 for size in target):
            return None
        kept = self.kept()
        try:
            zero = self.scalar_layer(node, "zero", np.asarray(0.0, np.float32))
            return self.grown(node, zero, target).name
        except NotExpressible:  # no tensor has all of them on those axes: one axis at a time, added
            self.restore(kept)
        try:
            zero = self.scalar_layer(node, "zero", np.asarray(0.0, np.float32))
            like = None
            for axis, size in enumerate(target):
                if isinstance(size, Size):
                    part = self.grown(node, zero, [size if a == axis else 1 for a in range(len(target))])
                    like = part if like is None else self.helper_layer(node, "add", {}, [like.name, part.name])
            if any(not isinstance(size, Size) and int(size) > 1 for size in target):
                like = self.helper_layer(node, "expand", {"size": [-1 if isinstance(size, Size) else int(size)
                                                                   for size in target]}, [like.name])
            return like.name
        except NotExpressible:  # (the layers made for it go again)
            self.restore(kept)
            return None

    def kept(self):
        """What `restore` needs to take back the layers made after now."""
        return len(self.layers), dict(self.constant_layers), dict(self.constant_values)

    def restore(self, kept) -> None:
        del self.layers[kept[0]:]
        self.constant_layers, self.constant_values = kept[1], kept[2]

    def sizes_as_tensors(self, node, operands) -> list:
        """A size known only at run time met by a tensor in arithmetic (transformers' flat index into the
        padding mask, batch index * length + position, with TorchScript's exporter): the size as a tensor
        of one element, the sum of that many ones (a tensor of the graph has the size on an axis)."""
        import numpy as np

        from ..symbolic import Size

        if node.op_type not in ("Mul", "Add", "Sub") or not any(isinstance(o, Tensor) for o in operands):
            return operands
        rank = max(len(o.type.shape) for o in operands if isinstance(o, Tensor))
        result = list(operands)
        for index, value in enumerate(operands):
            if isinstance(value, Const) and symbolic.is_symbolic(value.array) and np.size(value.array) == 1 \
                    and isinstance(value.array.reshape(-1)[0], Size) and 1 <= rank and np.ndim(value.array) <= rank:
                one = self.scalar_layer(node, "one", np.asarray(1, np.int64))
                ones = self.grown(node, one, [value.array.reshape(-1)[0]])
                result[index] = self.helper_layer(node, "reduce_sum", {"dim": [0], "keepdim": True}, [ones.name])
        return result

    def grown(self, node, value: Tensor, target: list) -> Tensor:
        """``value`` expanded to sizes known only at run time (ViT's class token grown to the batch,
        [1, 1, D] -> [N, 1, D]), where a tensor of the graph has those sizes on the same axes or on its
        last ones: `where(c, value, value)` with a condition c of that tensor's sizes there and 1 elsewhere
        (`equal(s, s)` of a corner s of it), whatever c holds, is ``value`` broadcast to them."""
        shape = (1,) * (len(target) - len(value.type.shape)) + tuple(value.type.shape)
        grown = [axis for axis, size in enumerate(target) if isinstance(size, Size) and shape[axis] != size]
        found = None
        for candidate in reversed(list(self.values.values())):
            if not isinstance(candidate, Tensor) or candidate.type.dtype == "bool":  # (no reduce_max of bools)
                continue
            rank = len(candidate.type.shape)
            offsets = [0, rank - len(target)] + ([axis - grown[0] for axis in range(rank) if candidate.type.shape[
                axis] == target[grown[0]]] if len(grown) == 1 else [])
            for offset in dict.fromkeys(offsets):
                if (offset == 0 or len(grown) == 1) and all(0 <= axis + offset < rank and candidate.type.shape[
                        axis + offset] == target[axis] for axis in grown):
                    found = candidate, offset
                    break
            if found:
                break
        if found is None:
            raise NotExpressible(f"{node.op_type} to the sizes {', '.join(str(target[a]) for a in grown)}, which "
                                 "no tensor of the graph has")
        source, offset = found
        if len(target) > len(value.type.shape):
            value = self.helper_layer(node, "reshape", {"shape": list(shape)}, [value.name])
        static = [-1 if isinstance(size, Size) or size == 1 else int(size) for size in target]
        if any(size != -1 for size in static):
            value = self.helper_layer(node, "expand", {"size": static}, [value.name])
        kept = [axis + offset for axis in grown]
        others = [axis for axis in range(len(source.type.shape)) if axis not in kept]
        corner = source
        if others:  # (a reduction, not a slice: a slice cannot cut a run-time size)
            corner = self.helper_layer(node, "reduce_max", {"dim": others, "keepdim": True}, [source.name])
        if len(corner.type.shape) != len(target) or offset:
            corner = self.helper_layer(node, "reshape", {"shape": [(-1 if offset else 0) if a in grown else 1
                                                                   for a in range(len(target))]}, [corner.name])
        condition = self.helper_layer(node, "equal", {}, [corner.name, corner.name])
        return self.helper_layer(node, "where", {}, [condition.name, value.name, value.name])

    def run_time_range(self, node, operands) -> Tensor:
        """Range(start, limit, delta) to a limit known only at run time (a feature map's width, for YOLO's
        anchors): start + delta * i over i = 0 .. limit - 1, the i as a running sum of ones less one."""
        import numpy as np

        start, limit, delta = (operands[i].array for i in range(3))
        if symbolic.is_symbolic(start) or symbolic.is_symbolic(delta) or np.size(limit) != 1:
            raise NotExpressible("Range with a start or step known only at run time")
        size = limit.reshape(-1)[0]
        if not isinstance(size, Size) or float(delta) != 1 or float(start) != 0:
            raise NotExpressible(f"Range from {start} by {delta} to {size} (netdsl makes 0, 1, ... size - 1)")
        dtype = np.asarray(start).dtype
        one = self.scalar_layer(node, "one", np.asarray(1, dtype))
        ones = self.grown(node, one, [size])
        counted = self.helper_layer(node, "cumsum", {"dim": 0}, [ones.name])
        return self.helper_layer(node, "sub", {}, [counted.name, one.name])

    def split_at_run_time(self, node, value: Tensor, axis: int, sizes: list) -> Tensor:
        """``value`` with axis ``axis`` split into ``sizes`` (one of them -1) while other axes have sizes
        known only at run time: those axes moved in front, where a reshape copies them (0), the split,
        and the axes moved back."""
        rank = len(value.type.shape)
        others = [a for a in range(rank) if a != axis]
        moved = self.helper_layer(node, "permute", {"dims": others + [axis]}, [value.name])
        split = self.helper_layer(node, "reshape", {"shape": [0] * len(others) + sizes}, [moved.name])
        # split's axes: the others in order, then the new ones; back to the input's order
        back = list(range(axis)) + [len(others) + i for i in range(len(sizes))] + list(range(axis, len(others)))
        return self.helper_layer(node, "permute", {"dims": back}, [split.name])

    def run_time_slice(self, node, operands) -> Tensor:
        """A constant's first ``size`` entries along one axis, ``size`` known only at run time
        (transformers' `position_ids[:, :seq_length]` of its [1, max_positions] table): the constant
        gathered at 0, 1, ... size - 1 (a run-time Range)."""
        import numpy as np

        data = operands[0].array
        starts, ends = (operands[i].array.reshape(-1) for i in (1, 2))
        axes = operands[3].array.reshape(-1) if len(operands) > 3 and operands[3] is not None else [0]
        steps = operands[4].array.reshape(-1) if len(operands) > 4 and operands[4] is not None else [1]
        if len(ends) != 1 or symbolic.is_symbolic(starts) or int(starts[0]) != 0 or int(steps[0]) != 1:
            raise NotExpressible("Slice to a size known only at run time, other than from 0 by 1 along one axis")
        count = np.asarray(0, np.int64)
        indices = self.run_time_range(node, [Const(count, node.name), Const(ends, node.name),
                                             Const(np.asarray(1, np.int64), node.name)])
        table = self.constant_layer(node.input[0], operands[0])
        axis = int(axes[0]) % np.ndim(data)
        return self.helper_layer(node, "gather", {"dim": axis}, [table, indices.name])

    def run_time_constant(self, node, operands) -> Tensor:
        """ConstantOfShape to sizes known only at run time (YOLO's stride column, [H*W, 1])."""
        import numpy as np

        value = attributes(node).get("value", np.zeros(1, np.float32))
        filled = self.scalar_layer(node, "value", np.asarray(value).reshape(-1)[0])
        return self.grown(node, filled, list(operands[0].array.reshape(-1)))

    def scalar_layer(self, node, what: str, array) -> Tensor:
        name = self.constant_layer(f"{node.name}/{what}", Const(array, node.name))
        return Tensor(name, self.type_of(name))

    def helper_layer(self, node, kind: str, params: dict, inputs: list) -> Tensor:
        """One of several layers made for ``node``, named after it; its output is no ONNX tensor."""
        tensor = self.append(SpecLayer(kind, params, inputs, onnx_name=node.name, op_type=node.op_type), None)[0]
        return Tensor(tensor, self.type_of(tensor))

    def tensor_shaped(self, sizes) -> str | None:
        """The latest tensor whose shape is ``sizes`` (ints and sizes computed from dynamic dimensions)."""
        wanted = list(sizes)
        for value in reversed(list(self.values.values())):
            if isinstance(value, Tensor) and len(value.type.shape) == len(wanted) and all(
                    (have == size) if isinstance(size, Size) else (isinstance(have, int) and have == int(size))
                    for have, size in zip(value.type.shape, wanted)):
                return value.name
        return None

    def tensor_input(self, node, index: int, value) -> str:
        """The netdsl tensor for a layer's tensor input: a layer's output, or a constant as a layer."""
        if isinstance(value, Tensor):
            return value.name
        if isinstance(value, Const):
            return self.constant_layer(node.input[index], value)
        raise NotExpressible(f"input {index} is missing")

    def constant_layer(self, onnx_name: str, value: Const) -> str:
        import numpy as np

        from . import plain
        from .elementwise import netdsl_dtype

        if onnx_name in self.constant_layers:
            return self.constant_layers[onnx_name]
        array = symbolic.known(value.array) if symbolic.is_symbolic(value.array) else np.asarray(value.array)
        if 0 in array.shape:
            raise NotExpressible("an empty constant (netdsl has no zero-size dimensions)")
        # exporters repeat a traced constant at every use (YOLOv8's anchors, twice): one layer for equal
        # values in one module (across modules, a shared constant would tie modules that are alike)
        from .naming import scope_path

        same = (value.parameter, scope_path(value.source)[0], array.dtype.str, array.shape, array.tobytes())
        if same in self.constant_values:
            self.constant_layers[onnx_name] = self.constant_values[same]
            return self.constant_values[same]
        dtype = "float32" if array.dtype == np.float64 else netdsl_dtype(array.dtype.name)
        params, weights = {"shape": list(array.shape), "dtype": dtype}, {}
        if dtype in FLOAT_TYPES and array.ndim and (array.size > 16 or value.parameter):
            # parameters (a class token) and larger constants (position embeddings) go to the weight file;
            # a tensor the file does not name as a parameter (a traced anchor grid) is a buffer. A scalar
            # stays a value: torch's dynamo exporter makes initializers of scalars (Swin's q * head_dim^-0.5),
            # and a weight has at least one dimension
            weights = {"value": array.astype(np.float32)}
            if dtype == "float32":
                del params["dtype"]
            if not value.parameter:
                params["buffer"] = True
        else:
            params["value"] = plain(array)
            if not array.shape or array.size == 1:
                params = {"value": plain(array.reshape(-1)[0]) if array.shape else plain(array),
                          **({"shape": list(array.shape)} if array.shape else {}), "dtype": dtype}
            if dtype == "float32":
                del params["dtype"]
        keys = {"value": value.parameter} if value.parameter and weights else {}
        layer = SpecLayer("constant", params, [], weights, onnx_name=value.parameter or value.source,
                          op_type="Constant", weight_keys=keys)
        tensor = self.append(layer, None)[0]
        self.constant_layers[onnx_name] = self.constant_values[same] = tensor
        return tensor

    def add_layer(self, node, kind: str, params: dict, inputs: list[str], weights: dict, outputs,
                  name_node=None, consumed=()) -> None:
        """Appends the layer for ``node`` (and the ``consumed`` nodes a pattern joined to it), binding
        the ONNX outputs of the last node to the layer's tensors."""
        name_node = name_node or node
        layer = SpecLayer(kind, params, inputs, weights, onnx_name=name_node.name, op_type=name_node.op_type,
                          weight_prefix=weight_prefix(name_node) or (
                              weight_prefix(node) if node is not name_node else None))
        tensors = self.append(layer, outputs)
        last = consumed[-1] if consumed else node
        for node_ in consumed:
            self.handled[id(node_)] = layer
        targets = list(last.output)
        for onnx_name, tensor in zip(targets, tensors):
            if onnx_name:
                self.values[onnx_name] = Tensor(tensor, self.type_of(tensor)) if tensor else Missing(
                    f"output `{onnx_name}` of node `{last.name}` ({last.op_type}) is one netdsl does not produce")

    def append(self, layer: SpecLayer, outputs) -> list:
        """Infers the layer's output types with netdsl's shape rules; returns its netdsl tensors (names
        are provisional until naming: ``#<index>`` plus the output suffix)."""
        index = len(self.layers)
        layer.name = f"#{index}"
        types = [self.type_of(name) for name in layer.inputs]
        layer.params = pythonic(layer.params)
        layer.params, layer.output_types, layer.outputs = infer(layer, types)
        self.layers.append(layer)
        named = outputs if outputs is not None else [""]
        tensors = []
        for suffix in named:
            if suffix is None:
                tensors.append(None)
            else:
                tensor = layer.name + (f".{suffix}" if suffix else "")
                self.produced[tensor] = layer
                tensors.append(tensor)
        return tensors

    def type_of(self, tensor: str) -> TensorType:
        layer = self.produced.get(tensor)
        if layer is None:
            return next(i.type for i in self.inputs if i.name == tensor)
        suffix = tensor[len(layer.name) + 1:] if tensor != layer.name else ""
        return layer.output_types[layer.outputs.index(suffix)]

    # -- outputs ----------------------------------------------------------------------------------------------

    def graph_outputs(self) -> list:
        from .naming import clean

        outputs = []
        for value in self.graph.output:
            found = self.values.get(value.name)
            if isinstance(found, Const):
                try:
                    found = Tensor(self.constant_layer(value.name, found), None)
                except NotExpressible as reason:  # an empty constant
                    found = Missing(str(reason))
            if isinstance(found, Tensor):
                outputs.append((clean(value.name, "output"), found.name))
            elif isinstance(found, Missing) and not any(value.name in p for p in self.problems):
                self.problems.append(f"output `{value.name}`: {found.reason}")
        return outputs


class NotExpressibleGraph(Exception):
    """The graph as a whole cannot be read (cycles, undefined tensors)."""


def merged_axes(target: list, shape: tuple) -> tuple[int, int] | None:
    """(first, last) when a Reshape to ``target`` merges the input's axes first..last into one entry (-1, or
    their product computed from dynamic dimensions) and keeps every other size in place."""
    def same(have, size) -> bool:
        return (have == size) if isinstance(size, Size) else (isinstance(have, int) and have == int(size))

    first = next((i for i, (have, size) in enumerate(zip(shape, target)) if not same(have, size)), None)
    last = len(shape) - (len(target) - first) if first is not None else -1
    if first is None or last <= first or not all(same(h, s) for h, s in zip(shape[last + 1:], target[first + 1:])):
        return None
    merged = target[first]
    if not isinstance(merged, Size) and int(merged) == -1:
        return first, last
    product = shape[first]
    for size in shape[first + 1:last + 1]:
        product = product * size
    return (first, last) if same(product, merged) else None


def split_axis(target: list, shape: tuple) -> tuple[int, list] | None:
    """(axis, sizes) when a Reshape to ``target`` splits one input axis into sizes of which all but one are
    numbers (that one, -1 or computed from dynamic dimensions, becomes -1) and keeps every other size."""
    def same(have, size) -> bool:
        return (have == size) if isinstance(size, Size) else (isinstance(have, int) and have == int(size))

    axis = next((i for i, (have, size) in enumerate(zip(shape, target)) if not same(have, size)), None)
    count = len(target) - len(shape) + 1
    if axis is None or count < 2 or not all(same(h, s) for h, s in zip(shape[axis + 1:], target[axis + count:])):
        return None
    sizes = [-1 if isinstance(size, Size) else int(size) for size in target[axis:axis + count]]
    if sizes.count(-1) != 1 or any(size < 1 for size in sizes if size != -1):
        return None
    return axis, sizes


def cut_to_run_time_size(node, operands) -> bool:
    """A Slice of a constant whose bounds are computed from a dynamic dimension."""
    return node.op_type == "Slice" and len(operands) > 2 and all(isinstance(o, Const) for o in operands[:3]) \
        and not symbolic.is_symbolic(operands[0].array) and any(symbolic.is_symbolic(o.array) for o in operands[1:3])


DTYPE_TEXT: dict = {}  # numpy dtype -> its name (numpy computes `dtype.name` in Python, each time)


def dtype_text(dtype) -> str:
    text = DTYPE_TEXT.get(dtype)
    if text is None:
        text = DTYPE_TEXT[dtype] = dtype.name
    return text


def weight_prefix(node) -> str | None:
    """`layer1.0.conv1` when the node reads an initializer named `layer1.0.conv1.weight` (or .bias):
    PyTorch's state_dict key names the module better than any node name."""
    for name in list(node.input)[1:]:
        for suffix in (".weight", ".bias"):
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)]
    return None


def onnx_dtype(elem_type: int) -> str:
    from .elementwise import dtype_name

    return dtype_name(elem_type)


def evaluate(node, arrays, opset: int) -> list:
    """One node on constant inputs, by ONNX's reference evaluator (a few kinds by the same numpy calls
    without it: see numpy_fold)."""
    import warnings

    import numpy as np

    folded = numpy_fold(node, arrays, opset)
    if folded is not None:
        return folded
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if a is not None else "" for i, a in enumerate(arrays)]
    copy = helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))], domain=node.domain)
    copy.attribute.extend(node.attribute)
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
              for n, a in zip(names, arrays) if a is not None]
    outputs = [helper.make_empty_tensor_value_info(f"out{i}") for i in range(len(node.output))]
    model = helper.make_model(helper.make_graph([copy], "fold", inputs, outputs),
                              opset_imports=[helper.make_opsetid("", opset)])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            results = ReferenceEvaluator(model).run(None, {n: a for n, a in zip(names, arrays) if a is not None})
        except NotExpressible:
            raise
        except Exception as error:  # noqa: BLE001 - the evaluator raises anything on a malformed node
            raise NotExpressible(f"cannot compute it on its constant inputs ({type(error).__name__}: "
                                 f"{str(error)[:200]})") from None
    return [np.asarray(r) for r in results]


BINARY_FOLDS = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "Div": "divide"}


def numpy_fold(node, arrays, opset: int) -> list | None:
    """What ONNX's reference evaluator computes for the nodes that exports fold most (a Constant holding a
    tensor; Add, Sub, Mul, Div of two arrays of one numeric dtype; Gather), by the numpy calls of its own
    op_constant.py, op_add.py ... op_gather.py, without importing it: onnx.reference takes about 0.35 s to
    import in a fresh process, for the handful of shape computations most exports fold. None for anything
    else, and on any error: the evaluator then computes it (and words the error).
    tests/onnx_io/test_numpy_fold.py holds each case to the evaluator's own result."""
    import numpy as np

    if node.domain not in ("", "ai.onnx") or any(a.ref_attr_name for a in node.attribute):
        return None
    attrs = {a.name: a for a in node.attribute}
    present = [a for a in arrays if a is not None]
    try:
        with np.errstate(all="ignore"):
            if node.op_type == "Constant" and list(attrs) == ["value"] and attrs["value"].type == attrs["value"].TENSOR:
                from onnx import numpy_helper

                return [np.asarray(numpy_helper.to_array(attrs["value"].t))]
            if node.op_type in BINARY_FOLDS and not attrs and opset >= 7 and len(arrays) == 2 and len(present) == 2:
                a, b = present
                if a.dtype != b.dtype or a.dtype.kind not in "iuf":
                    return None
                if node.op_type != "Div":
                    return [np.asarray(getattr(np, BINARY_FOLDS[node.op_type])(a, b))]
                if a.dtype.kind in "iu":  # truncation toward zero, as op_div.py computes it
                    q, r = np.floor_divide(a, b), np.remainder(a, b)
                    result = q + ((r != 0) & ((a < 0) ^ (b < 0))).astype(q.dtype)
                else:
                    result = np.divide(a, b)
                result = np.asarray(result)
                return [result.astype(a.dtype) if result.dtype != a.dtype else result]
            if node.op_type == "Gather" and set(attrs) <= {"axis"} and len(arrays) == 2 and len(present) == 2 and (
                    "axis" not in attrs or attrs["axis"].type == attrs["axis"].INT):
                # made contiguous only where they are not, as op_gather.py does (a 0-d array would grow to 1-d)
                data, indices = present
                data = data if data.flags["C_CONTIGUOUS"] else np.ascontiguousarray(data)
                indices = indices if indices.flags["C_CONTIGUOUS"] else np.ascontiguousarray(indices)
                if indices.dtype.kind not in "iu":
                    return None
                return [np.asarray(np.take(data, indices, axis=attrs["axis"].i if "axis" in attrs else 0))]
    except Exception:  # noqa: BLE001 - the evaluator computes it, or says what is wrong
        return None
    return None


def infer(layer: SpecLayer, types: list[TensorType]):
    """(params checked as the spec reader checks them, output types, output suffixes) of a layer, by
    netdsl's own parameter and shape rules; NotExpressible with netdsl's message when they refuse."""
    from ..params import ParamError

    op = REGISTRY.get(layer.kind)
    if op is None:
        raise NotExpressible(f"netdsl has no layer kind `{layer.kind}` yet")
    checked = {}  # as checked_params makes them, each value checked once
    for key, value in layer.params.items():
        if key not in op.params:
            raise NotExpressible(f"{layer.kind} has no parameter `{key}`")
        try:
            checked[key] = op.params[key].type.check(yaml_node(value))
        except ParamError as error:
            raise NotExpressible(f"{layer.kind} parameter `{key}`: {error}") from None
    params = op.with_defaults(checked)
    try:
        node = SimpleNamespace(name=layer.name, params=params, inputs=layer.inputs)
        names = op.output_names(node)
        from ..shapes import check_dtypes

        check_dtypes(SimpleNamespace(op=op, kind=layer.kind, inputs=layer.inputs), types)
        result = op.infer_shape(node, *types)
        slots = {s.name: s for s in op.weight_slots(node, *types)}
    except ShapeError as error:
        raise NotExpressible(f"as netdsl's {layer.kind}: {error}") from None
    for slot, array in layer.weights.items():
        if slot not in slots or tuple(slots[slot].shape) != tuple(array.shape):
            raise NotExpressible(f"weight {slot} of shape {list(array.shape)} does not fit netdsl's {layer.kind}")
    results = result if names else (result,)
    return layer.params, tuple(results), tuple(names) if names else ("",)


def checked_params(kind: str, params: dict) -> dict:
    """Parameters as the spec reader makes them of the same values written in a spec (checked, the
    defaults filled in). Raises ParamError."""
    op = REGISTRY[kind]
    return op.with_defaults({key: op.params[key].type.check(yaml_node(value)) for key, value in params.items()})


def pythonic(value):
    """Parameters as plain Python (numpy scalars and tuples from the table become ints, floats, lists)."""
    if isinstance(value, dict):
        return {key: pythonic(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [pythonic(item) for item in value]
    if hasattr(value, "item") and hasattr(value, "dtype"):
        return value.item()
    return value


def yaml_node(value):
    """A Python value as the YAML node the spec reader would make of it (for the parameter checks)."""
    pos = Pos(None, 1, 1)
    if isinstance(value, dict):
        node = Map(pos)
        for key, item in value.items():
            node.entries[key], node.key_pos[key] = yaml_node(item), pos
        return node
    if isinstance(value, (list, tuple)):
        node = Seq(pos)
        node.items = [yaml_node(item) for item in value]
        return node
    return Scalar(value, pos)


# -- what PyTorch writes as several nodes -----------------------------------------------------------------------


def only_consumer(importer: GraphImporter, tensor: str):
    """The single node reading ``tensor`` (which is not a graph output), else None."""
    readers = importer.consumers.get(tensor, [])
    if len(readers) != 1 or tensor in importer.outputs_of_graph:
        return None
    return readers[0]


def flatten_then_gemm(importer, node, operands) -> bool:
    """torch.flatten(x, 1) then nn.Linear: Flatten(axis 1) + Gemm is one `fully_connected` (which
    flattens from dim 1 itself)."""
    if node.op_type != "Flatten" or attributes(node).get("axis", 1) != 1 or not isinstance(operands[0], Tensor):
        return False
    gemm = only_consumer(importer, node.output[0])
    if gemm is None or gemm.op_type != "Gemm" or list(gemm.input).index(node.output[0]) != 0:
        return False
    rest = [None if name == "" else importer.values.get(name) for name in gemm.input[1:]]
    if not all(isinstance(v, Const) or v is None for v in rest) or operands[0].type.rank < 2:
        return False
    ops = [importer.operand(gemm.input[0], operands[0])]
    ops += [importer.operand(name, value) for name, value in zip(gemm.input[1:], rest)]
    layer = convert(NodeInfo("Gemm", importer.opset, list(gemm.output)), attributes(gemm), ops)
    importer.add_layer(node, layer.kind, layer.params, [operands[0].name], layer.weights, None, name_node=gemm,
                       consumed=[gemm])
    return True


def matmul_linear(importer, node, operands) -> bool:
    """nn.Linear on any rank: MatMul(x, constant [in, out]) and, when its only reader adds a constant
    [out], that bias: one `linear` (weight [out, in], as PyTorch keeps it)."""
    import numpy as np

    if node.op_type != "MatMul" or not isinstance(operands[0], Tensor) or not isinstance(operands[1], Const):
        return False
    b = operands[1].array
    if symbolic.is_symbolic(b) or b.ndim != 2 or b.dtype.kind != "f" or operands[0].type.rank < 1:
        return False
    weights = {"weight": np.ascontiguousarray(b.T.astype(np.float32))}
    consumed, out = [node], b.shape[1]
    add = only_consumer(importer, node.output[0])
    if add is not None and add.op_type == "Add":
        other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
        bias = importer.values.get(other)
        if isinstance(bias, Const) and not symbolic.is_symbolic(bias.array) and bias.array.dtype.kind == "f" \
                and bias.array.size == out and bias.array.shape[-1:] == (out,) and bias.array.ndim <= 1:
            weights["bias"] = bias.array.reshape(-1).astype(np.float32)
            consumed.append(add)
    params = {"out_features": out, "bias": "bias" in weights}
    importer.add_layer(node, "linear", params, [operands[0].name], weights, None, consumed=consumed[1:])
    return True


def sigmoid_times_input(importer, node, operands) -> bool:
    """x * sigmoid(x), how PyTorch exports nn.SiLU before opset 24: one `silu`."""
    if node.op_type != "Sigmoid" or not isinstance(operands[0], Tensor):
        return False
    mul = only_consumer(importer, node.output[0])
    if mul is None or mul.op_type != "Mul" or sorted(mul.input) != sorted([node.input[0], node.output[0]]):
        return False
    importer.add_layer(node, "silu", {}, [operands[0].name], {}, None, name_node=mul, consumed=[mul])
    return True


def erf_gelu(importer, node, operands) -> bool:
    """x * (erf(x / sqrt(2)) + 1) * 0.5, PyTorch's nn.GELU before opset 20: one `gelu`."""
    import math

    import numpy as np

    def constant_near(name, value):
        found = importer.values.get(name)
        return isinstance(found, Const) and not symbolic.is_symbolic(found.array) and found.array.size == 1 \
            and abs(float(np.asarray(found.array).reshape(-1)[0]) - value) < 1e-4

    if node.op_type != "Div" or not isinstance(operands[0], Tensor) or not constant_near(node.input[1], math.sqrt(2)):
        return False
    x = node.input[0]
    erf = only_consumer(importer, node.output[0])
    add = erf and erf.op_type == "Erf" and only_consumer(importer, erf.output[0])
    if not add or add.op_type != "Add" or not any(constant_near(name, 1.0) for name in add.input):
        return False
    mul = only_consumer(importer, add.output[0])
    if mul is None or mul.op_type != "Mul" or x not in mul.input:
        return False
    half = only_consumer(importer, mul.output[0])
    if half is None or half.op_type != "Mul" or not any(constant_near(name, 0.5) for name in half.input):
        return False
    importer.add_layer(node, "gelu", {}, [operands[0].name], {}, None, consumed=[erf, add, mul, half])
    return True


def strided_index(importer, name: str, depth: int = 0):
    """The indices ``name`` as (shape, strides, offset) where they are offset + sum over the axes d of
    i_d * strides[d] (i_d running over shape[d]), built of Range, Mul by a constant, Unsqueeze and Add
    as the dynamo exporter computes `as_strided`'s indices; else None."""
    import numpy as np

    value = importer.values.get(name)
    if isinstance(value, Const) and not symbolic.is_symbolic(value.array) and value.array.dtype.kind in "iu":
        array = value.array.astype(np.int64)
        offset = int(array.reshape(-1)[0]) if array.size else 0
        strides = [int(np.take(array, 1, axis).reshape(-1)[0]) - offset if size > 1 else 0
                   for axis, size in enumerate(array.shape)]
        grid = sum((np.arange(size).reshape([-1 if a == axis else 1 for a in range(array.ndim)]) * stride
                    for axis, (size, stride) in enumerate(zip(array.shape, strides))), np.zeros((), np.int64))
        return (list(array.shape), strides, offset) if np.array_equal(array, grid + offset) else None
    node = importer.producers.get(name) if depth < 16 else None
    if node is None:
        return None
    operands = [importer.values.get(i) for i in node.input]
    consts = [o.array for o in operands if isinstance(o, Const)]
    if node.op_type == "Range" and len(consts) == 3 and not symbolic.is_symbolic(consts[0]) \
            and not symbolic.is_symbolic(consts[2]) and np.size(consts[1]) == 1:
        return [consts[1].reshape(-1)[0]], [int(consts[2])], int(consts[0])
    if node.op_type == "Mul" and len(node.input) == 2:
        for index in (0, 1):
            factor = operands[1 - index]
            if isinstance(factor, Const) and not symbolic.is_symbolic(factor.array) and factor.array.size == 1 \
                    and factor.array.dtype.kind in "iu" and factor.array.ndim == 0:
                found = strided_index(importer, node.input[index], depth + 1)
                if found is not None:
                    scale = int(factor.array)
                    return found[0], [s * scale for s in found[1]], found[2] * scale
        return None
    if node.op_type == "Unsqueeze" and importer.opset >= 13 and len(consts) == 1 and len(node.input) == 2 \
            and not symbolic.is_symbolic(consts[0]):
        found = strided_index(importer, node.input[0], depth + 1)
        if found is None:
            return None
        shape, strides = list(found[0]), list(found[1])
        rank = len(shape) + consts[0].size
        for axis in sorted(int(a) % rank for a in consts[0].reshape(-1)):
            shape.insert(axis, 1)
            strides.insert(axis, 0)
        return shape, strides, found[2]
    if node.op_type == "Add" and len(node.input) == 2:
        a, b = (strided_index(importer, i, depth + 1) for i in node.input)
        if a is None or b is None:
            return None
        rank = max(len(a[0]), len(b[0]))
        a, b = (([1] * (rank - len(x[0])) + x[0], [0] * (rank - len(x[1])) + x[1], x[2]) for x in (a, b))
        shape, strides = [], []
        for sa, sb, ta, tb in zip(a[0], b[0], a[1], b[1]):
            if not (isinstance(sa, int) and sa == 1 or isinstance(sb, int) and sb == 1 or sa == sb):
                return None
            shape.append(sb if isinstance(sa, int) and sa == 1 else sa)
            strides.append(ta + tb)
        return shape, strides, a[2] + b[2]
    return None


def contiguous_gather(importer, node, operands) -> bool:
    """The dynamo exporter's `as_strided` of a contiguous tensor (ConvNeXt-T's and Swin-T's pooled features
    with a dynamic batch): Gather on axis 0 of a flat tensor at the indices sum over d of i_d * strides[d],
    the strides those of a row-major tensor of that shape (the last 1, each other the product of the sizes
    after it) and no offset, reading every element once: that tensor reshaped to the shape."""
    from ..symbolic import disagreement

    if node.op_type != "Gather" or attributes(node).get("axis", 0) != 0 or not isinstance(operands[0], Tensor) \
            or operands[0].type.rank != 1:
        return False
    if not hasattr(importer, "producers"):
        importer.producers = {output: n for n in importer.graph.node for output in n.output}
    found = strided_index(importer, node.input[1])
    if found is None or found[2] != 0:
        return False
    shape, strides, _ = found
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if not (isinstance(size, int) and size == 1) and not (isinstance(expected, int) and stride == expected):
            return False
        expected = expected * size
    if disagreement(expected, operands[0].type.shape[0]) is not None:
        return False
    try:  # (one size known only at run time at most: the reshape infers it, the element counts being equal)
        target = symbolic.reshape_target(shape, operands[0].type.shape)
    except NotExpressible:
        return False
    importer.add_layer(node, "reshape", {"shape": target}, [operands[0].name], {}, None)
    return True


def int32_index_concat(importer, node, operands) -> bool:
    """A Concat of int64 indices with an argmax's (CLIP's end-of-text position beside a Range of the batch):
    netdsl's argmax gives int32 where ONNX's gives int64, so those inputs are cast to int64 first."""
    if node.op_type != "Concat" or not all(isinstance(o, (Tensor, Const)) for o in operands):
        return False
    types = {o.type.dtype for o in operands if isinstance(o, Tensor)}
    if types != {"int32", "int64"}:
        return False
    inputs = [importer.helper_layer(node, "cast", {"dtype": "int64"}, [o.name]).name
              if isinstance(o, Tensor) and o.type.dtype == "int32" else importer.tensor_input(node, i, o)
              for i, o in enumerate(operands)]
    importer.add_layer(node, "concat", {"axis": attributes(node)["axis"]}, inputs, {}, None)
    return True


def gather_on_run_time_axis(importer, node, operands) -> bool:
    """Gather on axis 0 by an index tensor where that axis's size is known only at run time (TorchScript's
    export of transformers' padding mask: the mask flattened to [batch * length, 1] and read at batch index
    * length + position): `gather` takes fixed sizes only there, `gather_nd` takes any, so the gather is
    `gather_nd` of the indices with a last axis of one (the same entries: both count from 0 to size - 1)."""
    if node.op_type != "Gather" or attributes(node).get("axis", 0) != 0 or not isinstance(operands[0], Tensor) \
            or not isinstance(operands[1], Tensor) or isinstance(operands[0].type.shape[0], int) \
            or len(operands[1].type.shape) >= 8:
        return False
    rank = len(operands[1].type.shape)
    index = importer.helper_layer(node, "reshape", {"shape": [0] * rank + [1]}, [operands[1].name])
    importer.add_layer(node, "gather_nd", {}, [operands[0].name, index.name], {}, None)
    return True


PATTERNS = (flatten_then_gemm, matmul_linear, sigmoid_times_input, erf_gelu, contiguous_gather, int32_index_concat,
            gather_on_run_time_axis)


def import_graph(model, partial: bool = False, sizes=None, named_batch: bool = False, arrays=None) -> ImportedGraph:
    """The model's graph as netdsl layers with provisional names (see naming.assign); ``sizes``: the
    ranges of its dynamic dimensions (netdsl/onnx/dims.py); ``named_batch``: a dynamic batch alone is a
    named dimension too, not `-1` with `batch:`; ``arrays``: the initializers' values, in order, where
    netdsl.onnx.load.parse_model made them (None: numpy_helper.to_array makes each)."""
    return GraphImporter(model, partial, sizes, named_batch, arrays).run()


def import_sized(model, partial: bool, sizes: Sizes, arrays=None):
    """The imported graph with a dynamic batch alone as `-1` with `batch:`, else (where that leaves
    something out: a reshape of the batch into attention heads, [L, N, E] -> [L, N * heads, E / heads],
    which `-1` cannot say) as the named dimension `batch`."""
    graph = import_stepped(model, partial, sizes, arrays=arrays)
    if graph.problems and any(isinstance(d, Dim) and d == BATCH for i in graph.inputs for d in i.type.shape[:1]):
        named = import_stepped(model, partial, sizes, named_batch=True, arrays=arrays)
        if len(named.problems) < len(graph.problems):
            return named
    return graph


def import_stepped(model, partial: bool, sizes: Sizes, named_batch: bool = False, arrays=None):
    """The imported graph at the smallest step of the named dimensions (netdsl/onnx/dims.py) at which
    nothing is left out; else the attempt that gets furthest (its problems are the ones no step
    solves)."""
    best = None
    for step in STEPS:
        attempt = import_graph(model, partial, sizes.with_step(step), named_batch, arrays)
        open_steps = [n for n, batch in attempt.dims.items() if not batch and n not in sizes.steps]
        if not sizes.with_step(step).fits(attempt.dims):
            continue
        score = (-len(attempt.layers), len(attempt.problems))
        if best is None or score < best[0]:
            best = score, attempt
        if not attempt.problems or not open_steps:
            break
    return best[1] if best is not None else import_graph(model, partial, sizes, named_batch, arrays)
