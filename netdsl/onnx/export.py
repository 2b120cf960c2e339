"""A checked spec and its weights as an ONNX model, for Netron, ONNX Runtime and trtexec.

One interpreter over the Graph IR (netdsl/interpreter.py) hands each layer to its entry in the table
(``@to_onnx`` next to the importer of the same ONNX op, netdsl/onnx/*.py); a composite kind without
one is written as its expansion into other kinds. Names are kept readable: every tensor of the spec
keeps its name, every ONNX node is named ``<layer>/<OpType>`` (so the importer, which reads layer
names from node names as it does for PyTorch's exports, gives the layer its name back), and weights
are initializers named ``<layer>.<slot>``, PyTorch's ``state_dict`` keys. A dimension that is not an
integer (the dynamic batch ``N``, or any named dimension) becomes an ONNX ``dim_param`` of its name;
the batch range of a dynamic input is kept in the model's metadata (``netdsl.batch.<input>``), and the
first profile's range of each named dimension (``netdsl.dim.<name>``: min,opt,max,multiple_of).

    >>> from netdsl.spec import load
    >>> from netdsl.weights.synthetic import random_weights
    >>> checked = load("specs/lenet.yaml")
    >>> model = to_model(checked, random_weights(checked))
    >>> [n.name for n in model.graph.node][:3], model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    (['conv1/Conv', 'relu1/Relu', 'pool1/MaxPool'], 'N')
"""

from __future__ import annotations

from types import SimpleNamespace

from ..diagnostics import NetdslError
from ..interpreter import Interpreter
from ..ops import REGISTRY
from ..ops.primitive import Builder, Composite, Primitive, Value, several
from ..symbolic import allowed
from ..tensors import FLOAT_DTYPES, INTEGER_DTYPES, TensorType
from . import EXPORTS, NotExportable

OPSET = 21  # GroupNormalization per channel (21), Gelu (20), Resize's axes (18); ONNX Runtime and TensorRT read it
IR_VERSION = 10  # the oldest IR that opset 21 allows: older readers take the file
ONNX_DTYPES = {"float32": 1, "uint8": 2, "int8": 3, "int32": 6, "int64": 7, "bool": 9, "float16": 10, "bfloat16": 16}


class ExportError(NetdslError):
    """A spec that cannot be written as ONNX; the message names every layer and why."""


class Emitter:
    """What the table's ``@to_onnx`` functions write through: nodes, initializers, and the layer being
    written (its name, its output types, its weights)."""

    def __init__(self, bound: dict):
        self.bound = bound
        self.nodes = []
        self.initializers = {}  # name -> TensorProto
        self.layer = None  # the netdsl node being written
        self.out = None  # the output type(s) of the kind being written
        self.kind = None  # that kind
        self.count = 0
        self.op_types: dict[str, int] = {}  # ONNX op type -> nodes of it written for this layer
        self.opset = OPSET

    # -- nodes -------------------------------------------------------------------------------------------

    def op(self, op_type: str, *inputs, outputs: int = 1, **attributes):
        """Adds one ONNX node named ``<layer>/<OpType>`` (``_2``, ``_3``... when the layer has several
        of that type); inputs are Values or tensor names ('' for an omitted optional input), attributes
        of None are left out. Returns the name of its output (a list for several)."""
        from onnx import helper

        self.count += 1
        seen = self.op_types.get(op_type, 0) + 1
        self.op_types[op_type] = seen
        name = f"{self.layer.name}/{op_type}" + (f"_{seen}" if seen > 1 else "")
        names = [f"{name}_output" + (f"_{i}" if outputs > 1 else "") for i in range(outputs)]
        inputs = [getattr(i, "data", i) for i in inputs]
        attributes = {key: value for key, value in attributes.items() if value is not None}
        self.nodes.append(helper.make_node(op_type, inputs, names, name=name, **attributes))
        return names if outputs > 1 else names[0]

    def value(self, name: str, t: TensorType) -> Value:
        return Value(name, t)

    # -- constants ---------------------------------------------------------------------------------------

    def initializer(self, array, name: str | None = None) -> str:
        from onnx import numpy_helper

        if name is None:
            self.count += 1
            name = f"{self.layer.name}/const_{self.count}"
        self.initializers[name] = numpy_helper.from_array(array, name)
        return name

    def tensor(self, array):
        """A TensorProto for an attribute (Constant's value)."""
        from onnx import numpy_helper

        return numpy_helper.from_array(array)

    def ints(self, values) -> str:
        """A 1-D int64 initializer (shapes, axes, pads)."""
        import numpy as np

        return self.initializer(np.asarray(list(values), np.int64).reshape(-1))

    def scalar(self, value, dtype: str = "float32") -> str:
        """A scalar initializer of ``dtype`` (the dtype of the tensor it meets)."""
        import numpy as np

        return self.initializer(np.asarray(value, storage_dtype(dtype)))

    def weight(self, slot: str, dtype: str = "float32", shape=None) -> str:
        """The layer's bound weight as the initializer ``<layer>.<slot>`` (in ``dtype``, the dtype of
        the tensors it meets; float32 unless the layer runs in float16, or an integer dtype for an integer
        buffer such as Swin's relative_position_index, whose bound float32 values are exact integers)."""
        import numpy as np

        name = f"{self.layer.name}.{slot}"
        if name not in self.initializers:
            kept = dtype in FLOAT_DTYPES or dtype in INTEGER_DTYPES or dtype == "bool"
            array = np.asarray(self.bound[name].array, storage_dtype(dtype if kept else "float32"))
            self.initializer(array if shape is None else array.reshape(shape), name)
        return name

    def has_weight(self, slot: str) -> bool:
        return f"{self.layer.name}.{slot}" in self.bound

    # -- kinds --------------------------------------------------------------------------------------------

    def apply(self, op, node, inputs: list[Value]):
        """``node`` (a graph node, or a kind applied inside an expansion) as ONNX nodes: its table entry,
        else its expansion; the output Value(s)."""
        out = output_types(op, node, [v.type for v in inputs])
        saved = self.out, self.kind
        self.out, self.kind = out, op.kind
        try:
            entry = EXPORTS.get(op.kind)
            if entry is not None and op.kind in VECTOR_ONLY and inputs and inputs[0].type.rank == 0:
                return self.as_vector(entry, node, inputs[0], out)
            result = entry(self, node, *inputs) if entry is not None else None
            if result is None:
                if not isinstance(op, Composite):
                    reason = "no ONNX form" if entry is None else "no ONNX form for these parameters"
                    raise NotExportable(f"{op.kind} has {reason}")
                result = op.expand(node, OnnxBuilder(self, node), *inputs)
                return tuple(Value(r.data, t) for r, t in zip(result, out)) if several(out) else Value(result.data, out)
            if several(out):
                return tuple(Value(getattr(r, "data", r), t) for r, t in zip(result, out))
            return Value(getattr(result, "data", result), out)
        finally:
            self.out, self.kind = saved


    def as_vector(self, entry, node, x: Value, out):
        """A kind that ONNX defines for rank 1 and up, on a scalar: on it as a vector of one, the
        result(s) reshaped to netdsl's shape."""
        vector = Value(self.op("Reshape", x, self.ints([1])), x.type._replace(shape=(1,)))
        results = entry(self, node, vector)
        outs = out if several(out) else (out,)
        results = results if isinstance(results, tuple) else (results,)
        shaped = tuple(Value(self.op("Reshape", r, self.ints(t.shape)), t) for r, t in zip(results, outs))
        return shaped if several(out) else shaped[0]


# kinds whose ONNX operators take rank 1 and up (netdsl's take scalars too, as PyTorch's)
VECTOR_ONLY = {"cumsum", "softmax", "log_softmax", "topk", "argmax", "argmin", "reduce_sum", "reduce_mean",
               "reduce_max", "reduce_min", "reduce_prod"}


def storage_dtype(dtype: str):
    """The numpy dtype an ONNX tensor of this netdsl dtype is written in (bfloat16 through ml_dtypes,
    which onnx depends on)."""
    import numpy as np

    if dtype == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(dtype).type


def output_types(op, node, types: list[TensorType]):
    if isinstance(op, Primitive):
        return op.infer(node.params, *types)
    return op.infer_shape(node, *types)


class OnnxBuilder(Builder):
    """A composite's expansion written as ONNX nodes: each kind it applies goes through the table."""

    def __init__(self, emitter: Emitter, node):
        super().__init__("onnx", node)
        self.emitter = emitter

    def apply(self, kind: str, *inputs: Value, **params):
        op = REGISTRY[kind]
        node = SimpleNamespace(name=self.node.name, params=op.with_defaults(params))
        return self.emitter.apply(op, node, list(inputs))

    def weight(self, slot: str) -> Value:
        array = self.emitter.bound[f"{self.node.name}.{slot}"].array
        return Value(self.emitter.weight(slot), TensorType(tuple(array.shape), "float32"))

    def constant(self, value, dtype: str = "float32") -> Value:
        import numpy as np

        array = np.asarray(value, dtype=storage_dtype(dtype))
        return Value(self.emitter.initializer(array), TensorType(tuple(array.shape), dtype))


class Export(Interpreter):
    """The graph walk: each node's inputs are Values (ONNX tensor name, netdsl type)."""

    def __init__(self, checked, emitter: Emitter):
        super().__init__(checked.graph)
        self.checked = checked
        self.emitter = emitter
        self.problems: list[str] = []

    def call(self, node, args):
        emitter = self.emitter
        emitter.layer, emitter.count, emitter.op_types = node, 0, {}
        first = len(emitter.nodes)
        try:
            result = emitter.apply(node.op, node, args)
        except NotExportable as reason:
            self.problems.append(f"layer `{node.name}` ({node.kind}): {reason}")
            # a stand-in, so that the layers below are still tried and every problem is listed at once
            values = tuple(Value(name, self.checked.types[name]) for name in node.outputs)
            return values if len(values) > 1 else values[0]
        results = result if several(result) else (result,)
        return tuple(self.named(node, tensor, value, first) for tensor, value in zip(node.outputs, results)) \
            if len(node.outputs) > 1 else self.named(node, node.outputs[0], results[0], first)

    def named(self, node, tensor: str, value: Value, first: int) -> Value:
        """The layer's output renamed to the netdsl tensor's name (an Identity node when the layer
        passes a tensor of another layer through, as dropout does)."""
        made = self.emitter.nodes[first:]
        producer = next((n for n in made if value.data in n.output), None)
        if producer is None:
            from onnx import helper

            self.emitter.nodes.append(helper.make_node("Identity", [value.data], [tensor],
                                                       name=f"{node.name}/Identity"))
        else:
            rename(made, value.data, tensor)
        return Value(tensor, self.checked.types[tensor])


def rename(nodes, old: str, new: str) -> None:
    for n in nodes:
        for field in (n.input, n.output):
            for i, name in enumerate(field):
                if name == old:
                    field[i] = new


def tensor_info(name: str, t: TensorType):
    from onnx import helper

    dims = [d if isinstance(d, int) else str(d) for d in t.shape]
    return helper.make_tensor_value_info(name, ONNX_DTYPES[t.dtype], dims)


def to_model(checked, bound: dict):
    """The ONNX ModelProto of a checked spec with its bound weights (``netdsl.weights.bind.bind_weights``, or
    ``netdsl.weights.synthetic.random_weights``). Raises ExportError listing every layer that has no
    ONNX form."""
    from onnx import helper

    graph = checked.graph
    emitter = Emitter(bound)
    walk = Export(checked, emitter)
    with allowed(graph.profiles or None):  # sizes agree as shape inference found them: over the profiles
        env = walk.run({i.name: Value(i.name, checked.types[i.name]) for i in graph.inputs})
    if walk.problems:
        raise ExportError("cannot write this spec as ONNX:\n  " + "\n  ".join(walk.problems))
    outputs = []
    for output in graph.outputs:
        tensor = env[output.source].data
        if output.name != tensor:
            takers = [o for o in graph.outputs if o.source == output.source]
            produced = any(tensor in n.output for n in emitter.nodes)
            if produced and len(takers) == 1 and output.source not in {i.name for i in graph.inputs}:
                rename(emitter.nodes, tensor, output.name)
            else:
                emitter.nodes.append(helper.make_node("Identity", [tensor], [output.name],
                                                      name=f"{output.name}/Identity"))
        outputs.append(tensor_info(output.name, checked.types[output.source]))
    renamed = {o.source: o.name for o in graph.outputs}
    inner = [tensor_info(name, t) for name, t in checked.types.items()
             if name not in renamed and name not in {i.name for i in graph.inputs} and isinstance(t, TensorType)
             and any(name in n.output for n in emitter.nodes)]
    onnx_graph = helper.make_graph(emitter.nodes, graph.name, [tensor_info(i.name, checked.types[i.name])
                                                               for i in graph.inputs],
                                   outputs, list(emitter.initializers.values()), value_info=inner)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="netdsl", ir_version=IR_VERSION)
    from .._version import __version__

    model.producer_version = __version__
    batches = {f"netdsl.batch.{i.name}": ",".join(map(str, i.batch)) for i in graph.inputs if i.batch}
    if graph.profiles:  # the first profile's ranges of the named dimensions: min,opt,max,multiple_of
        first = graph.profiles[0]
        batches.update({f"netdsl.dim.{name}": ",".join(map(str, (*first.ranges[name], first.steps.get(name, 1))))
                        for name in first.ranges if name != "N"})
    helper.set_model_props(model, batches)
    return model


def export(spec: str, output: str | None, weights: str | None = None, random_seed: int | None = None,
           params: dict | None = None) -> dict:
    """Write ``spec`` with its weights (the spec's file, ``weights``, or seeded random ones) to ``output``
    as ONNX; see :func:`write_model`. ``params``: values for the spec's `params:`."""
    from ..spec import load
    from ..weights.bind import bind_weights

    checked = load(spec, params=params)
    if random_seed is not None:
        from ..weights.synthetic import random_weights

        bound = random_weights(checked, random_seed)
    else:
        bound = bind_weights(checked, weights)
    return write_model(checked, bound, output)


def write_model(checked, bound: dict, output: str | None) -> dict:
    """Write the checked spec with its bound weights to ``output`` as ONNX, atomically; checked by
    ``onnx.checker`` with full checks first. Returns what was written (path, bytes, nodes, initializers,
    opset); with ``output`` None, nothing is written and the serialized model is returned too, under
    "data"."""
    from onnx import checker

    from ..files import write_atomic

    model = to_model(checked, bound)
    checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    written = {"path": output, "bytes": len(data), "nodes": len(model.graph.node),
               "initializers": len(model.graph.initializer), "opset": OPSET}
    if output is None:  # the caller writes it (`netdsl export -o -`: standard output)
        return {**written, "data": data}
    write_atomic(output, data)
    return written
