"""Lowering: the interpreter that turns a checked spec and its bound weights into TensorRT
network-definition calls. Each layer kind lowers itself (``Op.lower`` in ``netdsl/ops``) through a
:class:`Lowering` context, which owns the dtype policy, weight naming and the keep-alive list
(``trt.Weights`` does not copy).

After every layer, TensorRT's own inferred output shape is compared with netdsl's static shape; a
difference is a bug in netdsl (InternalError naming the layer), never silently built.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..diagnostics import InternalError, NetdslError
from ..interpreter import Interpreter
from ..ops import show_shape
from ..symbolic import allowed
from ..tensors import output_dtype as engine_output_dtype
from . import backend
from .dims import ShapeTensors
from .float16 import FP16_MAX, to_float16


def bfloat16_bits(array):
    """float32 -> bfloat16 bit patterns (uint16), rounding to nearest even; NaN stays NaN."""
    import numpy as np

    bits = np.asarray(array, np.float32, order="C").view(np.uint32).astype(np.uint64)
    rounded = np.asarray(((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16))  # 0-d: an array too
    nan = np.isnan(array)
    if nan.any():
        rounded[nan.reshape(rounded.shape)] = 0x7FC0
    return rounded


class Lowering:
    """What an op's ``lower`` method works with."""

    def __init__(self, trt, network, precision: str):
        import numpy as np

        self.trt = trt
        self.network = network
        self.precision = precision
        self.dtype = {"float32": trt.float32, "float16": trt.float16, "bfloat16": trt.bfloat16}[precision]
        self.np_dtype = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}[precision]
        self.bound = {}  # canonical name -> BoundWeight
        self.types = {}  # tensor name -> netdsl TensorType (static shapes)
        self.pending: list[tuple[object, str]] = []  # weights to name once their layer exists
        self.names: dict[str, tuple] = {}  # TensorRT weight name -> (dtype, shape, derived from), for the manifest
        self.arrays: dict = {}  # TensorRT weight name -> the array given to TensorRT (what refit must give again);
        # it also keeps them alive until the build returns: trt.Weights does not copy
        self.node = None
        self.part: str | None = None  # the step of a composite's expansion being lowered (layer names)
        self.literals: list = []  # arrays behind unnamed constants (kept alive like the weights)
        self.constant_layers: dict = {}  # constant layer name -> the array it holds (for read-back tools)
        self.layer_names: set = set()  # TensorRT layer names given so far (each must be unique)
        self.is_rtx = False
        self.notes: list[str] = []  # what the build should tell the user (precision workarounds)
        self.quant = None  # netdsl.quant.lowering.QDQ when the spec quantizes: Q/DQ on layer inputs and weights
        self.size_tensors = ShapeTensors(self)  # int64 tensors of the symbolic sizes, each built once per network
        self.shape_cache: dict = {}  # (tensor name, shape) -> its int64 shape tensor (ops/_layout.shape_tensor)
        self.every_tensor = False  # keep every spec tensor in the network (no folding, no dropped pass-throughs)
        self.folds: dict = {}  # convolution name -> the batch_norm node folded into its weights
        self.folded_batch_norms: set = set()  # names of those batch_norm nodes

    # -- weights -----------------------------------------------------------------------------------

    def convert(self, array, name: str, row_scale=None):
        """A float32 array in the compute dtype; refuses values float16 cannot hold. ``row_scale``: a
        float32 factor per row (first axis) multiplied in first, in float32 (a folded batch norm)."""
        import numpy as np

        array = np.asarray(array, np.float32, order="C")
        if self.precision == "float16":
            converted = to_float16(array, row_scale)  # one blockwise pass: product, range check, conversion
            if converted is not None:
                return converted
        if row_scale is not None:
            array = np.multiply(array, row_scale.reshape((-1,) + (1,) * (array.ndim - 1)), dtype=np.float32)
        if self.precision == "float16":
            # values beyond float16's range are refused; NaN passes (to_float16 leaves it to astype)
            if array.size and (array.max() > FP16_MAX or array.min() < -FP16_MAX):
                big = np.abs(array) > FP16_MAX
                raise NetdslError(f"weight `{name}` has {int(big.sum()):,} values beyond float16's range "
                                  f"(|x| > {FP16_MAX:g}, largest {float(np.abs(array).max()):g}); "
                                  "build with precision float32 or bfloat16")
            array = array.astype(np.float16)
        elif self.precision == "bfloat16":
            array = bfloat16_bits(array)
        return array

    @property
    def keep(self) -> list:
        """The arrays behind every trt.Weights made so far (held in ``arrays``)."""
        return list(self.arrays.values())

    def trt_weights(self, array, name: str, derived_from: tuple[str, ...] = (), row_scale=None):
        """trt.Weights of ``array`` (times ``row_scale`` per row, see :meth:`convert`) in the build's dtype."""
        return self.hand_over(self.convert(array, name, row_scale), name, tuple(array.shape), derived_from)

    def hand_over(self, converted, name: str, shape: tuple, derived_from: tuple[str, ...]):
        """trt.Weights over ``converted`` (already in the build's dtype), named ``name`` once its layer exists."""
        if self.precision == "bfloat16":
            weights = self.trt.Weights(self.trt.bfloat16, converted.ctypes.data, converted.size)
        else:
            weights = self.trt.Weights(converted)
        self.pending.append((weights, name))
        self.names[name] = (self.precision, shape, derived_from)
        self.arrays[name] = converted
        return weights

    def weights(self, slot: str):
        """The current layer's bound weight ``slot``, named ``<layer>.<slot>`` in TensorRT."""
        name = f"{self.node.name}.{slot}"
        return self.trt_weights(self.bound[name].array, name)

    def array(self, slot: str):
        """The current layer's bound weight ``slot`` as float32 numpy (for derived weights)."""
        return self.bound[f"{self.node.name}.{slot}"].array

    def derived(self, suffix: str, array, sources: tuple[str, ...]):
        """Weights computed from the layer's bound ``sources`` slots (batch norm folded to scale/shift),
        named ``<layer>.<suffix>``; refit must derive them again with the same code."""
        return self.trt_weights(array, f"{self.node.name}.{suffix}", tuple(f"{self.node.name}.{s}" for s in sources))

    def in_float32(self, x, lower_layer, reason: str):
        """``lower_layer(x)`` in float32 (weights too) inside a reduced-precision network, with casts
        around it; for layers a TensorRT cannot build in that precision."""
        if self.precision == "float32":
            return lower_layer(x)
        x = self.label(self.network.add_cast(x, self.trt.float32), "to_float32").get_output(0)
        with self.float32():
            result = lower_layer(x)
        self.notes.append(f"layer `{self.node.name}` runs in float32: {reason}")
        return self.to_build_dtype(result)

    @contextlib.contextmanager
    def float32(self):
        """Within this block, float32 tensors and constants are float32 whatever the build's precision
        (for layers TensorRT has in float32 only); cast the results with :meth:`to_build_dtype`."""
        import numpy as np

        saved = (self.precision, self.dtype, self.np_dtype)
        self.precision, self.dtype, self.np_dtype = "float32", self.trt.float32, np.float32
        try:
            yield
        finally:
            self.precision, self.dtype, self.np_dtype = saved

    def to_build_dtype(self, tensor, part: str | None = None):
        """A float32 tensor cast to the build's float type (itself in a float32 build)."""
        if self.precision == "float32":
            return tensor
        return self.label(self.network.add_cast(tensor, self.dtype), part or f"to_{self.precision}").get_output(0)

    def trt_dtype(self, dtype: str):
        """The TensorRT dtype of a tensor of this netdsl dtype: float32 tensors take the build's
        precision; every other dtype is itself."""
        if dtype == "float32":
            return self.dtype
        return {"float16": self.trt.float16, "bfloat16": self.trt.bfloat16, "int8": self.trt.int8,
                "uint8": self.trt.uint8, "int32": self.trt.int32, "int64": self.trt.int64,
                "bool": self.trt.bool}[dtype]

    def literal(self, array, dtype: str, part: str | None):
        """A constant written in the spec (not a weight: unnamed, not refittable)."""
        import numpy as np

        inner = (part or "constant")
        if dtype == "bool":  # TensorRT weights have no bool type: int32, then a cast
            tensor = self.literal(np.asarray(array, np.int32), "int32", inner + "_int32")
            return self.label(self.network.add_cast(tensor, self.trt.bool), part).get_output(0)
        if dtype in ("int8", "uint8"):
            tensor = self.literal(np.asarray(array, np.int32), "int32", inner + "_int32")
            return self.label(self.network.add_cast(tensor, self.trt_dtype(dtype)), part).get_output(0)
        if dtype in ("float32", "float16", "bfloat16") and self.trt_dtype(dtype) != self.trt.float32:
            converted = self.convert(array, f"{self.node.name}/{part}") if dtype == "float32" else (
                np.array(array, np.float16, order="C") if dtype == "float16" else bfloat16_bits(array))
        else:
            converted = np.array(array, {"float32": np.float32, "int32": np.int32,
                                          "int64": np.int64}[dtype], order="C")
        self.literals.append(converted)
        trt_dtype = self.trt_dtype(dtype)
        if trt_dtype == self.trt.bfloat16:
            weights = self.trt.Weights(self.trt.bfloat16, converted.ctypes.data, converted.size)
        else:
            weights = self.trt.Weights(converted)
        layer = self.network.add_constant(tuple(converted.shape), weights)
        self.label(layer, part)
        self.constant_layers[layer.name] = converted
        return layer.get_output(0)

    def shape_tensor(self, shape):
        """A 1-D int64 tensor holding the netdsl ``shape`` (ints and symbolic sizes), computed from the
        network inputs at run time: for the shape input of a shuffle, slice or resize."""
        return self.size_tensors.shape(shape)

    def expand_rank(self, tensor, t, rank: int):
        """``tensor`` (of netdsl type ``t``) with 1s prepended up to ``rank`` (TensorRT broadcasts only
        between equal ranks)."""
        missing = rank - len(t.shape)
        if missing <= 0:
            return tensor
        layer = self.network.add_shuffle(tensor)
        dynamic = [d for d in t.shape if not isinstance(d, int)]
        if len(dynamic) <= 1:
            layer.reshape_dims = (1,) * missing + tuple(d if isinstance(d, int) else -1 for d in t.shape)
        else:
            ones = self.literal(np.ones(missing, np.int64), "int64", "ones")
            shape = self.network.add_shape(tensor)
            self.label(shape, "shape")
            joined = self.network.add_concatenation([ones, shape.get_output(0)])
            self.label(joined, "dims")
            layer.set_input(1, joined.get_output(0))
        self.label(layer, f"rank{rank}")
        return layer.get_output(0)

    def output_types(self):
        """The netdsl type(s) of the current node's output(s)."""
        types = [self.types[name] for name in self.node.outputs]
        return types[0] if len(types) == 1 else tuple(types)

    def empty(self):
        return self.trt.Weights(self.dtype)

    def constant(self, shape, array, name: str, derived_from: tuple[str, ...] = ()):
        """A constant tensor from weights named ``name`` (through a quantize/dequantize pair when it is a
        quantized layer's weight)."""
        layer = self.network.add_constant(tuple(shape), self.trt_weights(array.reshape(shape), name, derived_from))
        self.label(layer, name.rsplit(".", 1)[-1])
        self.constant_layers[layer.name] = self.arrays[name]
        if self.quant is not None and name.startswith(self.node.name + "."):
            return self.quant.weight(self, name[len(self.node.name) + 1:], layer.get_output(0), array)
        return layer.get_output(0)

    def kernel(self, slot: str, shape, array=None, suffix: str | None = None):
        """Weights of a layer that takes them either as trt.Weights or as its second input (convolution,
        deconvolution): ``(Weights, None)``, or ``(empty Weights, tensor)`` when the spec quantizes the
        layer, the tensor being the weight through a quantize/dequantize pair. ``array`` and ``suffix``:
        weights derived from the slot (named ``<layer>.<suffix>``)."""
        if self.quant is None or not self.quant.quantizes(self.node.name, slot):
            if array is None:
                return self.weights(slot), None
            return self.derived(suffix, array, (slot,)), None
        derived = array is not None
        array = self.array(slot) if array is None else array
        name = f"{self.node.name}.{suffix if derived else slot}"
        sources = (f"{self.node.name}.{slot}",) if derived else ()
        layer = self.network.add_constant(tuple(shape), self.trt_weights(array.reshape(shape), name, sources))
        self.label(layer, name.rsplit(".", 1)[-1])
        return self.empty(), self.quant.weight(self, slot, layer.get_output(0), array)

    def name_pending(self) -> None:
        for weights, name in self.pending:
            if not self.network.set_weights_name(weights, name):
                raise InternalError(f"TensorRT refused weight name `{name}` (a duplicate?)")
        self.pending.clear()

    # -- layers ------------------------------------------------------------------------------------

    def label(self, layer, part: str | None = None):
        """Name a TensorRT layer after the spec layer (`conv1`, or `fc1/matmul` for a helper; inside a
        composite's expansion, `ln/mul3`)."""
        name = "/".join(p for p in (self.node.name, self.part, part) if p is not None)
        if name in self.layer_names:  # TensorRT keeps a layer's default name when the name is taken
            name = next(f"{name}_{n}" for n in range(2, 1 << 30) if f"{name}_{n}" not in self.layer_names)
        self.layer_names.add(name)
        layer.name = name
        return layer


class Lower(Interpreter):
    method = "lower"

    def __init__(self, graph, ctx: Lowering):
        super().__init__(graph)
        self.ctx = ctx

    def call(self, node, args):
        ctx = self.ctx
        ctx.node = node
        layer_count = ctx.network.num_layers
        if ctx.quant is not None:
            args = ctx.quant.inputs(ctx, node, args)
        result = node.op.lower(node, ctx, *args)
        ctx.name_pending()
        tensors = (result,) if len(node.outputs) == 1 else tuple(result)
        if node.name in ctx.folded_batch_norms:  # the convolution's output is this layer's: its name too
            rename(tensors[0], node.outputs[0])
            check_type(node.name, node.outputs[0], tensors[0], ctx.types[node.outputs[0]], ctx)
            return tensors[0]
        if len(tensors) == 1 and not ctx.every_tensor and tensors[0] in args:
            # a pass-through (dropout, a no-op reshape): no layer, the tensor keeps its producer's name
            check_type(node.name, node.outputs[0], tensors[0], ctx.types[node.outputs[0]], ctx)
            return tensors[0]
        outputs = []
        for name, tensor in zip(node.outputs, tensors):
            if ctx.network.num_layers == layer_count or tensor in args or tensor in outputs:
                # a pass-through: give the tensor a layer of its own
                layer = ctx.network.add_identity(tensor)
                ctx.label(layer, None if len(node.outputs) == 1 else name[len(node.name) + 1:])
                tensor = layer.get_output(0)
            rename(tensor, name)
            check_type(node.name, name, tensor, ctx.types[name], ctx)
            outputs.append(tensor)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def check_type(layer: str, name: str, tensor, expected, ctx) -> None:
    """TensorRT's own inferred shape and dtype against netdsl's; a difference is a netdsl bug."""
    trt_shape = tuple(tensor.shape)
    wanted = tuple(d if isinstance(d, int) else -1 for d in expected.shape)
    if trt_shape != wanted:
        raise InternalError(f"layer `{layer}`: TensorRT infers shape {list(trt_shape)} for `{name}`, netdsl "
                            f"inferred {show_shape(expected.shape)}; this is a bug in netdsl's lowering of this layer")
    if tensor.dtype != ctx.trt_dtype(expected.dtype):
        raise InternalError(f"layer `{layer}`: TensorRT infers dtype {tensor.dtype} for `{name}`, netdsl "
                            f"expected {ctx.trt_dtype(expected.dtype)} ({expected.dtype} in a {ctx.precision} "
                            "build); this is a bug in netdsl's lowering of this layer")


def network_flags(trt) -> int:
    flag = getattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED", None)
    return 1 << int(flag) if flag is not None else 0


def batch_norm_folds(graph, types) -> dict:
    """Convolution name -> the batch_norm node that is the only consumer of its output (not itself a
    graph output), in the same float dtype: those fold into the convolution's weights."""
    consumers: dict = {}
    for node in graph.nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    outputs = {output.source for output in graph.outputs}
    folds = {}
    for node in graph.nodes:
        if node.kind != "convolution" or len(node.outputs) != 1 or node.outputs[0] in outputs:
            continue
        following = consumers.get(node.outputs[0], [])
        if len(following) == 1 and following[0].kind == "batch_norm" and types[node.outputs[0]].dtype == "float32" \
                and following[0].inputs[0] == node.outputs[0]:
            folds[node.name] = following[0]
    return folds


def lower(checked, bound: dict, builder, precision: str = "float32", quantizer=None, profiles=None,
          every_tensor: bool = False):
    """A strongly typed INetworkDefinition for ``checked`` with ``bound`` weights (from
    :func:`netdsl.weights.bind.bind`), with quantize/dequantize pairs where ``quantizer``
    (:func:`netdsl.quant.quantizer_for`) puts them. ``profiles``: the build's, when they are not the
    spec's. ``every_tensor``: every spec tensor stays a tensor of the network (for layer-wise comparison),
    so no batch norm is folded into its convolution and pass-throughs get identity layers. Returns
    (network, context); keep the context alive until the engine is built."""
    trt = backend().trt
    network = builder.create_network(network_flags(trt))
    ctx = Lowering(trt, network, precision)
    if quantizer is not None:
        from ..quant.lowering import QDQ

        ctx.quant = QDQ(quantizer)
    ctx.is_rtx = backend().is_rtx
    ctx.bound, ctx.types = bound, checked.types
    graph = checked.graph
    ctx.every_tensor = every_tensor
    if not every_tensor and quantizer is None:
        ctx.folds = batch_norm_folds(graph, checked.types)
        ctx.folded_batch_norms = {node.name for node in ctx.folds.values()}
    env = {}
    for graph_input in graph.inputs:
        shape = tuple(d if isinstance(d, int) else -1 for d in graph_input.shape)
        io = io_dtype(trt, graph_input.dtype)
        tensor = network.add_input(graph_input.name, io, shape)
        if tensor.dtype != ctx.trt_dtype(graph_input.dtype):
            cast = network.add_cast(tensor, ctx.trt_dtype(graph_input.dtype))
            cast.name = f"{graph_input.name}/cast"
            tensor = cast.get_output(0)
        env[graph_input.name] = tensor
    with allowed(profiles or graph.profiles or None):  # composites' expansions compare sizes as validate did
        values = Lower(graph, ctx).run(env)
    used = set()  # names of the tensors marked as outputs so far
    inputs = {graph_input.name for graph_input in graph.inputs}
    for output in graph.outputs:
        tensor = values[output.source]
        output_dtype = io_dtype(trt, engine_output_dtype([i.dtype for i in graph.inputs],
                                                         checked.types[output.source].dtype))
        # an output needs a layer of its own when it is cast, repeated, or a graph input itself (also
        # through pass-throughs, which share their input's tensor)
        if tensor.dtype != output_dtype or tensor.name in used or tensor.name in inputs or output.source in env:
            if tensor.name == output.name:
                rename(tensor, f"{output.name}/{ctx.precision}")
            layer = network.add_cast(tensor, output_dtype) if tensor.dtype != output_dtype else \
                network.add_identity(tensor)
            layer.name = f"{output.name}/output"
            tensor = layer.get_output(0)
        rename(tensor, output.name)
        used.add(output.name)
        network.mark_output(tensor)
    return network, ctx


def io_dtype(trt, dtype: str):
    return getattr(trt, {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}.get(dtype, dtype))


def rename(tensor, name: str) -> None:
    """Name a tensor; TensorRT only logs a refused name, so check that it took."""
    tensor.name = name
    if tensor.name != name:
        raise InternalError(f"TensorRT refused the tensor name `{name}` (already in use)")
