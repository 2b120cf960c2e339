"""Primitive and composite kinds (after tinygrad's Tensor methods over a few primitive ops, and ONNX's
function ops).

A :class:`Primitive` owns a shape rule (``infer``), numpy semantics (``compute``) and a TensorRT
lowering (``emit``), all over plain parameter dicts, so that other kinds can call it. A
:class:`Composite` only says how it expands into other kinds (``expand``), through a
:class:`Builder`; the same expansion then gives its shape rule (on types alone), its reference (on
numpy arrays) and its lowering (on TensorRT tensors). A composite that TensorRT has a dedicated layer
for overrides ``lower`` and keeps its expansion as the reference.

    >>> from netdsl.tensors import TensorType
    >>> g = Builder("types")
    >>> x = g.input(TensorType((2, 8), "float32"))
    >>> g.mul(x, g.sigmoid(x)).type
    TensorType(shape=(2, 8), dtype='float32', quant=None)
"""

from __future__ import annotations

from collections import namedtuple

from . import REGISTRY, Op, ShapeError, TensorType


def several(result) -> bool:
    """Whether a result (types or Values) is the tuple of several outputs rather than one."""
    return isinstance(result, tuple) and not isinstance(result, (TensorType, Value))


class Value(namedtuple("Value", ("data", "type"))):
    """A tensor inside an expansion: its data (numpy array, TensorRT ITensor, or None when only
    types are computed) and its netdsl type (a TensorType)."""

    __slots__ = ()


class Primitive(Op):
    def infer(self, p: dict, *inputs: TensorType):
        """The output type (a tuple of types for several outputs); raises ShapeError."""
        raise NotImplementedError

    def compute(self, p: dict, out, *arrays):
        """numpy: the output array(s); ``out`` is the output type with every dimension known."""
        raise NotImplementedError(f"{self.kind} has no reference implementation")

    def emit(self, ctx, p: dict, out, *inputs: Value):
        """TensorRT: the output ITensor(s); ``inputs`` carry their netdsl types."""
        raise NotImplementedError(f"{self.kind} has no TensorRT lowering")

    # the three passes over a node are the same three functions on the node's parameters
    def infer_shape(self, node, *inputs):
        return self.infer(node.params, *inputs)

    def reference(self, node, ctx, *arrays):
        return self.compute(node.params, ctx.concrete_outputs(), *arrays)

    def lower(self, node, ctx, *tensors):
        types = [ctx.types[name] for name in node.inputs]
        return self.emit(ctx, node.params, ctx.output_types(), *map(Value, tensors, types))


class Composite(Op):
    def expand(self, node, g: "Builder", *inputs: Value):
        """The layer as other kinds: ``g.<kind>(inputs..., params...)``; returns Value(s)."""
        raise NotImplementedError

    def infer_shape(self, node, *inputs):
        result = self.expand(node, Builder("types", node, slots=self.slot_types(node, inputs)),
                             *(Value(None, t) for t in inputs))
        return tuple(v.type for v in result) if several(result) else result.type

    def slot_types(self, node, inputs) -> dict:
        return {s.name: TensorType(s.shape, "float32") for s in self.weight_slots(node, *inputs)}

    def reference(self, node, ctx, *arrays):
        types = [ctx.types[name] for name in node.inputs]
        result = self.expand(node, Builder("numpy", node, ctx), *map(Value, arrays, types))
        return tuple(v.data for v in result) if several(result) else result.data

    def lower(self, node, ctx, *tensors):
        types = [ctx.types[name] for name in node.inputs]
        result = self.expand(node, Builder("trt", node, ctx), *map(Value, tensors, types))
        return tuple(v.data for v in result) if several(result) else result.data


class Builder:
    """Applies kinds to Values in one of three modes: ``types`` (shape inference), ``numpy``
    (reference) or ``trt`` (lowering). ``g.mul(a, b)`` is ``g.apply("mul", a, b)``; parameters are
    keyword arguments with the kind's defaults."""

    def __init__(self, mode: str, node=None, ctx=None, slots: dict | None = None):
        self.mode = mode
        self.node = node
        self.ctx = ctx
        self.slots = slots or {}
        self.count = 0

    def __getattr__(self, kind: str):
        if kind.startswith("_") or kind not in REGISTRY:
            raise AttributeError(kind)
        return lambda *inputs, **params: self.apply(kind, *inputs, **params)

    def input(self, t: TensorType, data=None) -> Value:
        return Value(data, t)

    def apply(self, kind: str, *inputs: Value, **params):
        op = REGISTRY[kind]
        if not isinstance(op, (Primitive, Composite)):
            raise TypeError(f"{kind} cannot be used in an expansion")
        p = op.with_defaults(params)
        if op.dtypes is not None:
            for index, value in enumerate(inputs):
                if value.type.dtype not in op.dtypes:
                    raise ShapeError(f"{kind} (input {index + 1}) takes {', '.join(op.dtypes)}, found "
                                     f"{value.type.dtype}", code="wrong-dtype")
        if isinstance(op, Composite):
            return self._expand_nested(op, p, inputs)
        out = op.infer(p, *(v.type for v in inputs))
        if self.mode == "types":
            data = tuple(None for _ in out) if several(out) else None
        elif self.mode == "numpy":
            data = op.compute(p, self.ctx.concrete(out), *(v.data for v in inputs))
        else:
            self.count += 1
            saved, self.ctx.part = self.ctx.part, f"{kind}{self.count}"
            try:
                data = op.emit(self.ctx, p, out, *inputs)
            finally:
                self.ctx.part = saved
        if several(out):
            return tuple(map(Value, data, out))
        return Value(data, out)

    def _expand_nested(self, op, p, inputs):
        from types import SimpleNamespace

        node = SimpleNamespace(name=getattr(self.node, "name", "?"), params=p)
        return op.expand(node, self, *inputs)

    def weight(self, slot: str) -> Value:
        """The layer's bound weight ``slot`` as a constant (float32 in the spec's types)."""
        if self.mode == "types":
            return Value(None, self.slots[slot])
        array = self.ctx.array(slot)
        t = TensorType(tuple(array.shape), "float32")
        if self.mode == "numpy":
            return Value(array, t)
        return Value(self.ctx.constant(array.shape, array, f"{self.node.name}.{slot}"), t)

    def constant(self, value, dtype: str = "float32") -> Value:
        """A constant of ``dtype`` from a number or nested list (or numpy array)."""
        from ..tensors import FLOAT_DTYPES, numpy_dtype

        if self.mode == "types" and dtype in FLOAT_DTYPES and type(value) in (float, int, bool) and \
                abs(value) < 1 << 31:  # a scalar: its type without importing numpy (validate's start-up)
            return Value(None, TensorType((), dtype))
        import numpy as np

        array = np.asarray(value, dtype=numpy_dtype(dtype))
        t = TensorType(tuple(array.shape), dtype)
        if self.mode == "types":
            return Value(None, t)
        if self.mode == "numpy":
            return Value(array, t)
        self.count += 1
        return Value(self.ctx.literal(array, dtype, f"constant{self.count}"), t)


def fail(message: str, param: str | None = None, **extra):
    raise ShapeError(message, param, **extra)
