"""The one table between ONNX operators and netdsl layer kinds (after onnx-tensorrt's
``builtin_op_importers.cpp``: one function per ONNX operator).

Each entry is a function ``def Relu(node, attrs, inputs) -> Layer`` registered with :func:`onnx_op`:
``node`` is the ONNX node (its op type, opset and output names), ``attrs`` its attributes decoded to
Python values, ``inputs`` one :class:`Operand` per ONNX input (its type, and its value where the value
is a known constant: an initializer, or in ONNX's node tests the case's data). The :class:`Layer` it
returns says which netdsl kind and parameters express the node, which operands are the layer's tensor
inputs, which constant operands become its weights, and which netdsl tensor each ONNX output is. A node
netdsl cannot express raises :class:`NotExpressible` with the reason.

The registration records the netdsl kind and the ONNX attributes each entry understands (an attribute
outside that list makes the node not expressible rather than silently ignored).

The other direction sits next to each entry: ``@to_onnx("relu")`` registers ``def relu(g, node, x)``,
which writes the layer as ONNX nodes through ``g`` (:class:`netdsl.onnx.export.Emitter`: ``g.op``,
``g.weight``, ``g.ints``...) and returns the output Value(s). A composite kind with no such entry is
exported as its expansion (netdsl/ops/primitive.py), so only primitives, classic kinds and composites
that ONNX has one operator for need one. The ``onnx`` package is imported only by :func:`attributes`,
:mod:`netdsl.onnx.node` and the exporter and importer, never when netdsl is imported.

    >>> from netdsl.tensors import TensorType
    >>> x = Operand("x", TensorType((2, 3), "float32"))
    >>> convert(NodeInfo("LeakyRelu", 17, ["y"]), {"alpha": 0.5}, [x])
    Layer(kind='leaky_relu', params={'negative_slope': 0.5}, inputs=[0], weights={}, outputs=None)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from ..tensors import DTYPES, TensorType

FLOAT32_MAX = 3.4028234663852886e38


class NotExpressible(Exception):
    """This node (its attribute values, dtypes or constant inputs) has no netdsl equivalent."""


class NotExportable(Exception):
    """This layer (its kind or parameter values) has no ONNX equivalent that netdsl writes."""


@dataclass
class Operand:
    """One input of an ONNX node: ``type`` (a netdsl TensorType; ``dtype`` is numpy's name where netdsl
    lacks the dtype, like float64) and ``value``, a numpy array when the input is a known constant."""

    name: str
    type: TensorType
    value: object = None


@dataclass
class NodeInfo:
    op_type: str
    opset: int  # the version of the default ONNX domain the model imports
    outputs: list[str]  # ONNX output names, "" for an omitted optional output


@dataclass
class Layer:
    """A netdsl layer for one ONNX node. ``inputs``: indices of the ONNX operands that are the layer's
    tensor inputs, in order; ``weights``: slot -> array from constant operands; ``outputs``: None for
    the usual one output, else the netdsl tensor of each ONNX output: ``""`` the layer's own, ``values``
    the tensor ``<layer>.values`` of a kind with several, None an ONNX output netdsl does not produce."""

    kind: str
    params: dict = field(default_factory=dict)
    inputs: list[int] = field(default_factory=lambda: [0])
    weights: dict = field(default_factory=dict)
    outputs: list | None = None


@dataclass(frozen=True)
class Entry:
    op_type: str
    kind: str  # the netdsl kind the node usually becomes (some entries choose between two)
    convert: Callable
    attributes: tuple[str, ...]


TABLE: dict[str, Entry] = {}
EXPORTS: dict[str, Callable] = {}  # netdsl kind -> function(g, node, *inputs) writing it as ONNX nodes


def onnx_op(op_type: str, kind: str, attributes: tuple[str, ...] = ()):
    """Registers ``function(node, attrs, inputs) -> Layer`` as the mapping of ``op_type``."""

    def register(function):
        if op_type in TABLE:
            raise RuntimeError(f"ONNX op {op_type} mapped twice")
        TABLE[op_type] = Entry(op_type, kind, function, tuple(attributes))
        return function

    return register


def to_onnx(*kinds: str):
    """Registers ``function(g, node, *inputs) -> Value(s)`` as the ONNX form of each kind. It may return
    None for parameter values it does not cover: a composite is then exported as its expansion."""

    def register(function):
        for kind in kinds:
            if kind in EXPORTS:
                raise RuntimeError(f"kind {kind} exported twice")
            EXPORTS[kind] = function
        return function

    return register


def convert(node: NodeInfo, attrs: dict, inputs: list[Operand | None]) -> Layer:
    """The netdsl layer for one ONNX node (``inputs``: None for an omitted optional input)."""
    entry = TABLE.get(node.op_type)
    if entry is None:
        raise NotExpressible(f"no mapping for ONNX op {node.op_type}")
    unknown = sorted(set(attrs) - set(entry.attributes))
    if unknown:
        raise NotExpressible(f"attribute {', '.join(unknown)} of {node.op_type} is not mapped")
    layer = entry.convert(node, attrs, inputs)
    for index in layer.inputs:
        dtype = inputs[index].type.dtype
        if dtype not in DTYPES:
            raise NotExpressible(f"dtype {dtype} (netdsl has {', '.join(DTYPES)})")
    return layer


def attributes(node) -> dict:
    """An ONNX NodeProto's attributes as Python values: strings decoded, tensors as numpy arrays."""
    from onnx import AttributeProto, helper, numpy_helper

    result = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if attribute.type == AttributeProto.STRING:
            value = value.decode()
        elif attribute.type == AttributeProto.TENSOR:
            value = numpy_helper.to_array(value)
        result[attribute.name] = value
    return result


# -- helpers shared by the entries ----------------------------------------------------------------------


def present(inputs, index: int) -> bool:
    return index < len(inputs) and inputs[index] is not None


def constant(inputs, index: int, what: str):
    """The value of a constant operand; a tensor computed at run time cannot be a netdsl parameter."""
    if not present(inputs, index):
        raise NotExpressible(f"{what} is missing")
    if inputs[index].value is None:
        raise NotExpressible(f"{what} must be a constant (it is a netdsl parameter)")
    return inputs[index].value


def ints(value) -> list[int]:
    import numpy as np

    return [int(v) for v in np.asarray(value).reshape(-1)]


def scalar(value) -> float:
    import numpy as np

    return np.asarray(value).reshape(-1)[0].item()


def plain(value):
    """A numpy array or scalar as nested Python lists and numbers (what a spec holds)."""
    import numpy as np

    return np.asarray(value).tolist() if hasattr(value, "dtype") else value


def one_or_list(values: list[int]):
    """``dim`` as PyTorch writes it: an int for one axis, a list for several."""
    return values[0] if len(values) == 1 else list(values)


def close(value: float, wanted: float) -> bool:
    """Equal as float32 attributes are (ONNX stores float attributes in float32)."""
    return abs(value - wanted) <= 1e-6 * max(1.0, abs(wanted))


def weight(value, what: str):
    """A constant operand as a netdsl weight (float32; netdsl weights are floating point)."""
    import numpy as np

    array = np.asarray(value)
    if array.dtype.kind != "f" or array.dtype.itemsize > 4:
        raise NotExpressible(f"{what} is {array.dtype}; netdsl weights are float32 (or float16)")
    # float32 already (most files): the initializer's own array, not a copy (100 MB of ResNet-50's import);
    # read-only where it was read from the file's bytes, and nothing writes into an imported weight
    return array.astype(np.float32, copy=False)


for _module in ("activations", "elementwise", "shape", "nn", "reduce", "resize", "detection"):
    importlib.import_module(f"{__name__}.{_module}")
