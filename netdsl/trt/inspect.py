"""The network as TensorRT holds it after lowering, read back from the ``INetworkDefinition`` (after
Polygraphy's ``inspect model --show layers``, but for a spec and without a GPU).

:func:`read_back` walks ``network.get_layer(i)``, gives each layer its concrete Python class by its
``LayerType`` (the bindings hand out plain ``ILayer`` objects) and records, per TensorRT layer, its
type, name, input and output tensors with shapes and dtypes, the parameters that decide what it
computes, and the names of the weights it holds, grouped under the spec layer that produced it.

    >>> from netdsl.trt.inspect import inspect_spec
    >>> info = inspect_spec("specs/lenet.yaml")
    >>> [(layer.type, layer.name) for layer in info.layers[:2]]
    [('CONVOLUTION', 'conv1'), ('ACTIVATION', 'relu1')]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import CannotRun, InternalError

# LayerType member -> concrete binding class, where the name does not follow from the member's
_CLASS_NAMES = {"ELEMENTWISE": "IElementWiseLayer", "SOFTMAX": "ISoftMaxLayer", "LRN": "ILRNLayer",
                "TOPK": "ITopKLayer", "NON_ZERO": "INonZeroLayer", "CONDITIONAL_INPUT": "IIfConditionalInputLayer",
                "CONDITIONAL_OUTPUT": "IIfConditionalOutputLayer", "CONDITION": "IConditionLayer",
                "RAGGED_SOFTMAX": "IRaggedSoftMaxLayer", "PARAMETRIC_RELU": "IParametricReLULayer",
                "NMS": "INMSLayer", "MOE": "IMoELayer", "KV_CACHE_UPDATE": "IKVCacheUpdateLayer",
                "PLUGIN_V2": "IPluginV2Layer", "PLUGIN_V3": "IPluginV3Layer"}

DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8", "UINT8": "uint8",
          "INT32": "int32", "INT64": "int64", "BOOL": "bool", "FP8": "fp8", "INT4": "int4", "FP4": "fp4",
          "E8M0": "e8m0"}


def layer_class(trt, type_name: str):
    """The binding class of a LayerType member's layers (None when this TensorRT has none)."""
    name = _CLASS_NAMES.get(type_name) or "I" + "".join(p.title() for p in type_name.split("_")) + "Layer"
    return getattr(trt, name, None)


def concrete(trt, layer):
    """(LayerType member name, ``layer`` as its concrete class: IConvolutionLayer...), so that its
    parameters can be read. Only ever by the layer's own type: reading a property through the wrong
    class crashes the process. The type is read first: some classes (activation, pooling) shadow
    ``type`` with their own kind."""
    type_name = layer.type.name
    cls = layer_class(trt, type_name)
    if cls is not None:
        layer.__class__ = cls
    return type_name, layer


@dataclass
class TensorInfo:
    name: str
    shape: tuple
    dtype: str

    def to_json(self):
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass
class LayerInfo:
    index: int
    type: str  # the LayerType member: CONVOLUTION...
    name: str
    spec_layer: str | None  # the spec layer that produced it (None: an input cast or an output cast)
    inputs: list  # TensorInfo, or None for an unset optional input
    outputs: list
    params: dict = field(default_factory=dict)
    weights: list = field(default_factory=list)  # TensorRT weight names ("" where unnamed: a spec literal)

    def to_json(self):
        return {"index": self.index, "type": self.type, "name": self.name, "spec_layer": self.spec_layer,
                "inputs": [t.to_json() if t else None for t in self.inputs],
                "outputs": [t.to_json() for t in self.outputs], "params": self.params, "weights": self.weights}


@dataclass
class NetworkInfo:
    inputs: list
    outputs: list
    layers: list
    precision: str = "float32"
    tensorrt: str = ""

    def to_json(self):
        return {"tensorrt": self.tensorrt, "precision": self.precision,
                "inputs": [t.to_json() for t in self.inputs], "outputs": [t.to_json() for t in self.outputs],
                "layers": [layer.to_json() for layer in self.layers]}


def tensor_info(tensor) -> TensorInfo | None:
    if tensor is None:
        return None
    return TensorInfo(tensor.name, tuple(tensor.shape), DTYPES.get(tensor.dtype.name, tensor.dtype.name))


def _plain(value):
    """A JSON-friendly form of a binding value (enum members by name, Dims as lists)."""
    if hasattr(value, "name") and hasattr(value, "value") and not isinstance(value, (int, float, str)):
        return value.name
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, (tuple, list)) or type(value).__name__ in ("Dims", "Permutation"):
        return [_plain(v) for v in value]
    return value


# parameters that decide what each layer type computes (read when the binding has them)
PARAMS = {
    "CONVOLUTION": ("kernel_size_nd", "num_output_maps", "stride_nd", "padding_mode", "pre_padding", "post_padding",
                    "dilation_nd", "num_groups"),
    "DECONVOLUTION": ("kernel_size_nd", "num_output_maps", "stride_nd", "padding_mode", "pre_padding",
                      "post_padding", "dilation_nd", "num_groups"),
    "POOLING": ("type", "window_size_nd", "stride_nd", "padding_mode", "pre_padding", "post_padding",
                "average_count_excludes_padding", "blend_factor"),
    "ACTIVATION": ("type", "alpha", "beta"),
    "ELEMENTWISE": ("op",), "UNARY": ("op",), "SOFTMAX": ("axes",), "CONCATENATION": ("axis",),
    "SHUFFLE": ("first_transpose", "reshape_dims", "second_transpose", "zero_is_placeholder"),
    "CONSTANT": ("shape",), "MATRIX_MULTIPLY": ("op0", "op1"), "SCALE": ("mode", "channel_axis"),
    "RESIZE": ("resize_mode", "scales", "shape", "coordinate_transformation", "nearest_rounding",
               "selector_for_single_pixel", "cubic_coeff", "exclude_outside"),
    "LRN": ("window_size", "alpha", "beta", "k"), "CAST": ("to_type",),
    "REDUCE": ("op", "axes", "keep_dims"), "PADDING": ("pre_padding_nd", "post_padding_nd"),
    "SLICE": ("start", "shape", "stride", "mode", "axes"), "GATHER": ("axis", "mode", "num_elementwise_dims"),
    "TOPK": ("op", "k", "axes", "indices_type"), "EINSUM": ("equation",),
    "NORMALIZATION": ("axes", "epsilon", "num_groups"), "CUMULATIVE": ("op", "exclusive", "reverse"),
    "FILL": ("operation", "shape", "alpha", "beta", "to_type"), "QUANTIZE": ("axis", "to_type", "block_shape"),
    "DEQUANTIZE": ("axis", "to_type", "block_shape"), "ONE_HOT": ("axis",), "NON_ZERO": ("indices_type",),
    "SCATTER": ("axis", "mode"), "NMS": ("bounding_box_format", "topk_box_limit", "indices_type"), "GRID_SAMPLE": ("interpolation_mode", "align_corners", "sample_mode"),
}
WEIGHT_ATTRIBUTES = {"CONVOLUTION": ("kernel", "bias"), "DECONVOLUTION": ("kernel", "bias"),
                     "CONSTANT": ("weights",), "SCALE": ("shift", "scale", "power")}


PERMUTATIONS = ("first_transpose", "second_transpose")


def params_of(type_name: str, layer) -> dict:
    """The parameters of a concrete layer of type ``type_name``."""
    result = {}
    for attribute in PARAMS.get(type_name, ()):
        try:
            value = getattr(layer, attribute)
        except (AttributeError, RuntimeError, TypeError):  # unset, or absent from this TensorRT
            continue
        if value is not None:
            result[attribute] = _plain(value)
    for attribute in PERMUTATIONS:  # the bindings give all 8 entries; the tensor's rank are meaningful
        if attribute in result and layer.get_input(0) is not None:
            rank = len(layer.get_input(0).shape) if attribute == "first_transpose" else len(layer.get_output(0).shape)
            result[attribute] = result[attribute][:rank]
    return result


def weight_arrays(type_name: str, layer) -> dict:
    """Attribute -> what the binding returns for each weight of a concrete layer: a numpy array, or
    a ``trt.Weights`` where the bindings cannot make one (bfloat16)."""
    return {attribute: getattr(layer, attribute) for attribute in WEIGHT_ATTRIBUTES.get(type_name, ())}


def spec_layer_of(name: str, spec_layers) -> str | None:
    """The spec layer a TensorRT layer belongs to: the longest spec layer name that is the layer's
    whole name or a `/`-separated prefix of it (the lowering names helpers `<layer>/<part>`)."""
    candidate = name
    while True:
        if candidate in spec_layers:
            return candidate
        if "/" not in candidate:
            return None
        candidate = candidate.rsplit("/", 1)[0]


class WeightNames:
    """TensorRT weight name of each weights array a layer holds. float32 and float16 arrays read back
    from TensorRT share memory with the arrays the lowering handed it (``trt.Weights`` does not copy),
    so they are matched by address; bfloat16 weights come back without data, and are matched by the
    lowering's naming (`conv1` holds `conv1.weight`, the constant `fc1/weight` is `fc1.weight`)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.by_address = {}
        if ctx is not None:
            import numpy as np

            for name, array in ctx.arrays.items():
                if isinstance(array, np.ndarray) and array.size:
                    self.by_address[(array.__array_interface__["data"][0], array.nbytes)] = name

    def name(self, type_name: str, layer, attribute: str, value) -> str:
        import numpy as np

        if self.ctx is None or value is None:
            return ""
        if isinstance(value, np.ndarray):
            if not value.size:
                return ""
            return self.by_address.get((value.__array_interface__["data"][0], value.nbytes), "")
        return self.by_convention(type_name, layer, attribute)

    def by_convention(self, type_name: str, layer, attribute: str) -> str:
        if type_name == "CONSTANT":
            node, _, slot = layer.name.rpartition("/")
            guess = f"{node}.{slot}"
        else:
            slot = {"kernel": "weight", "bias": "bias", "shift": "shift", "scale": "scale"}.get(attribute, attribute)
            guess = f"{layer.name}.{slot}"
        return guess if guess in self.ctx.arrays else ""


def read_back(network, ctx=None, spec_layers=(), precision: str = "float32") -> NetworkInfo:
    """Every layer of ``network`` as :class:`LayerInfo`; ``ctx`` (the lowering context) names the weights,
    ``spec_layers`` (names) groups the layers."""
    from . import backend

    trt = backend().trt
    names = WeightNames(ctx)
    spec_layers = set(spec_layers)
    layers = []
    for index in range(network.num_layers):
        type_name, layer = concrete(trt, network.get_layer(index))
        weights = [names.name(type_name, layer, attribute, value)
                   for attribute, value in weight_arrays(type_name, layer).items()
                   if value is not None and getattr(value, "size", 0)]
        layers.append(LayerInfo(
            index, type_name, layer.name, spec_layer_of(layer.name, spec_layers),
            [tensor_info(layer.get_input(i)) for i in range(layer.num_inputs)],
            [tensor_info(layer.get_output(i)) for i in range(layer.num_outputs)], params_of(type_name, layer),
            weights))
    return NetworkInfo([tensor_info(network.get_input(i)) for i in range(network.num_inputs)],
                       [tensor_info(network.get_output(i)) for i in range(network.num_outputs)], layers, precision,
                       f"{backend().flavour} {backend().version}")


def zero_weights(checked) -> dict:
    """Zeros for every weight slot (batch-norm variances 1): inspection needs the shapes, not values,
    and zeros cost no time to make."""
    import numpy as np

    from ..weights.bind import BoundWeight

    bound = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            name = f"{node.name}.{slot.name}"
            array = np.ones(slot.shape, np.float32) if slot.name == "running_var" else np.zeros(slot.shape, np.float32)
            bound[name] = BoundWeight(name, node.name, slot.name, array)
    return bound


def lowered(path: str, weights: str | None = None, precision: str | None = None, checked=None,
            params: dict | None = None):
    """(checked spec, builder, network, lowering context) for a spec: its weights when ``weights`` is
    given, else zeros of the right shapes (what inspection needs). ``params``: values for the spec's
    `params:` (the command line's --set)."""
    from ..spec import load as load_spec
    from ..weights.bind import bind_weights
    from .network import network_for, options_for

    checked = checked or load_spec(path, params=params)
    bound = bind_weights(checked, weights) if weights else zero_weights(checked)
    options = options_for(checked, precision=precision)
    builder, network, ctx = network_for(checked, bound, options)
    return checked, builder, network, ctx


def inspect_spec(path: str, weights: str | None = None, precision: str | None = None,
                 params: dict | None = None) -> NetworkInfo:
    checked, builder, network, ctx = lowered(path, weights, precision, params=params)
    return read_back(network, ctx, [node.name for node in checked.graph.nodes], ctx.precision)


def inspect_plan(path: str) -> NetworkInfo:
    """Layers of a built engine, from TensorRT's engine inspector. Deserializing a plan needs a GPU
    that the plan's TensorRT runs on; written against the documented API (``IEngineInspector``), not
    run on this project's machines."""
    import json

    from . import backend, cuda_devices, make_logger

    if cuda_devices() == 0:
        raise CannotRun("inspecting an engine plan needs a GPU (TensorRT deserializes plans on the device); "
                        "inspect the spec instead: `netdsl inspect SPEC`") from None
    trt = backend().trt
    with open(path, "rb") as f:
        data = f.read()
    engine = trt.Runtime(make_logger(trt)).deserialize_cuda_engine(data)
    if engine is None:
        raise CannotRun(f"{path}: this TensorRT ({backend().flavour} {backend().version}) cannot deserialize the "
                        "plan (built by another version, or for another GPU)")
    inspector = engine.create_engine_inspector()
    report = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    layers = []
    for index, entry in enumerate(report.get("Layers", [])):
        if isinstance(entry, str):  # only names unless built with detailed profiling verbosity
            entry = {"Name": entry}
        layers.append(LayerInfo(index, entry.get("LayerType", "?"), entry.get("Name", ""), None,
                                [TensorInfo(t.get("Name", ""), tuple(t.get("Dimensions", ())), t.get("Format/Datatype", ""))
                                 for t in entry.get("Inputs", [])],
                                [TensorInfo(t.get("Name", ""), tuple(t.get("Dimensions", ())), t.get("Format/Datatype", ""))
                                 for t in entry.get("Outputs", [])],
                                {k: v for k, v in entry.items() if k not in ("Name", "LayerType", "Inputs", "Outputs")}))
    if not layers:
        raise InternalError("the engine inspector returned no layers")
    return NetworkInfo([], [], layers, "", f"{backend().flavour} {backend().version}")


def render(info: NetworkInfo, only: set[str] | None = None) -> str:
    """Text: per spec layer, its TensorRT layers with inputs -> outputs and parameters."""
    lines = [f"{info.tensorrt}, {info.precision}" if info.precision else info.tensorrt]
    lines += [f"input  {t.name}: {_show(t)}" for t in info.inputs]
    lines += [f"output {t.name}: {_show(t)}" for t in info.outputs]
    group = object()
    shown = 0
    for layer in info.layers:
        if only is not None and layer.spec_layer not in only:
            continue
        if layer.spec_layer != group:
            group = layer.spec_layer
            lines.append("")
            lines.append(f"[{group}]" if group is not None else "[network inputs/outputs]")
        shown += 1
        inputs = ", ".join(t.name if t else "-" for t in layer.inputs)
        outputs = ", ".join(f"{t.name} {_show(t)}" for t in layer.outputs)
        lines.append(f"  {layer.index:>4} {layer.type:<15} {layer.name}")
        lines.append(f"       {inputs or '(no inputs)'} -> {outputs}")
        if layer.params:
            lines.append("       " + ", ".join(f"{k}={_short(v)}" for k, v in layer.params.items()))
        named = [w for w in layer.weights if w]
        if named:
            lines.append("       weights: " + ", ".join(named))
    lines.append("")
    lines.append(f"{shown} of {len(info.layers)} TensorRT layers")
    return "\n".join(lines)


def _show(t: TensorInfo) -> str:
    return "[" + ", ".join(str(d) for d in t.shape) + "] " + t.dtype


def _short(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
