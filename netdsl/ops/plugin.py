"""A TensorRT plugin as a layer: the creator is looked up in TensorRT's plugin registry by name, version
and namespace, given the layer's typed `fields` (TensorRT's PluginFields), and its plugin added to the
network. netdsl cannot see into a plugin, so the layer declares its outputs: shapes as expressions of
the inputs' dimensions (`in0[2] * 2`), dtypes by name or as an input's (`in0`). TensorRT's own shape
function is checked against them when the layer is lowered.

.. code-block:: yaml

    plugins: [build/libmyplugins.so]            # loaded before the network is built (and --plugin-library)
    layers:
      - name: up
        kind: plugin
        plugin: {name: MyUpsample, version: "1", namespace: ""}
        fields: {factor: 2, mode: nearest, gains: {type: float32, value: [1, 0.5]}}
        outputs: [{shape: [in0[0], in0[1], in0[2] * 2, in0[3] * 2], dtype: in0}]

The numpy reference cannot run a plugin's code: it refuses, naming the plugin, unless a numpy function
was given for it (`--plugin-reference module:function`, :func:`use_reference`), called as
``function(*inputs, **fields)``.
"""

from __future__ import annotations

import re

from ..diagnostics import NetdslError
from ..params import Param, ParamError, ParamType, _fail
from ..tensors import DTYPES, TensorType, show_shape
from ..yamlnodes import Map, Scalar, Seq, describe
from . import ShapeError, register
from ._plugin_trt import FIELD_TYPES, PluginMissing
from .primitive import Primitive, several

GROUP = "plugins"  # its row in the README's kind table (tools/regenerate.py)

MAX_FIELD_VALUES = 1 << 16
MAX_EXPRESSION = 200
INPUT_DIM = re.compile(r"in(\d+)\Z")


class PluginId(ParamType):
    """`{name, version, namespace}` (version "1" and namespace "" by default), or the name alone."""

    __slots__ = ()

    def check(self, node):
        if isinstance(node, Scalar) and isinstance(node.value, str) and node.value:
            return (node.value, "1", "")
        if not isinstance(node, Map) or "name" not in node.entries:
            _fail("a plugin name, or {name, version, namespace}", node)
        values = {"version": "1", "namespace": ""}
        for key, child in node.entries.items():
            if key not in ("name", "version", "namespace"):
                raise ParamError(f"unknown key `{key}` (a plugin is named by name, version and namespace)", child,
                                 "name, version, namespace", key)
            if not isinstance(child, Scalar) or isinstance(child.value, bool) or child.value is None or \
                    not isinstance(child.value, (str, int)) or (key == "name" and not child.value):
                _fail(f"the plugin's {key} as a string", child)
            values[key] = str(child.value)
        return (values["name"], values["version"], values["namespace"])

    def schema(self):
        text = {"type": ["string", "integer"]}
        return {"anyOf": [{"type": "string", "minLength": 1},
                          {"type": "object", "required": ["name"], "additionalProperties": False,
                           "properties": {"name": {"type": "string"}, "version": text, "namespace": text}}]}

    def show(self, value):
        name, version, namespace = value
        return f"{namespace + '::' if namespace else ''}{name} v{version}"


class PluginFields(ParamType):
    """Field name -> value: an integer (int32), a number (float32), a string, a list of integers or of
    numbers, or `{type: T, value: V}` with T one of :data:`FIELD_TYPES`. The value is a tuple of (name,
    type, values) with values a tuple of numbers, or the text of a string."""

    __slots__ = ()

    def check(self, node):
        if not isinstance(node, Map):
            _fail("a map of field name -> value", node)
        return tuple((name, *self.field(child)) for name, child in node.entries.items())

    def field(self, node):
        if isinstance(node, Map):
            unknown = set(node.entries) - {"type", "value"}
            if unknown or set(node.entries) != {"type", "value"}:
                _fail("{type: T, value: V} (exactly those two keys)", node)
            kind = node.entries["type"]
            if not (isinstance(kind, Scalar) and kind.value in FIELD_TYPES):
                from ..diagnostics import did_you_mean

                hint = did_you_mean(str(getattr(kind, "value", "")), FIELD_TYPES)
                raise ParamError(f"unknown plugin field type {describe(kind)}; field types are "
                                 f"{', '.join(FIELD_TYPES)}", kind, ", ".join(FIELD_TYPES), describe(kind), hint)
            return self.typed(kind.value, node.entries["value"])
        if isinstance(node, Scalar) and isinstance(node.value, str):
            return ("string", node.value)
        items = node.items if isinstance(node, Seq) else [node]
        numbers = [item.value for item in items if isinstance(item, Scalar) and type(item.value) in (int, float)]
        if not items or len(numbers) != len(items):
            _fail("a number, a string, a non-empty list of numbers, or {type: T, value: V}", node)
        return self.typed("int32" if all(type(n) is int for n in numbers) else "float32", node)

    def typed(self, kind: str, node):
        import math

        if kind == "string":
            if not (isinstance(node, Scalar) and isinstance(node.value, str)):
                _fail("a string", node)
            return (kind, node.value)
        items = node.items if isinstance(node, Seq) else [node]
        if not items or len(items) > MAX_FIELD_VALUES:
            _fail(f"1 to {MAX_FIELD_VALUES} numbers", node)
        values = []
        for item in items:
            value = item.value if isinstance(item, Scalar) else None
            integer = kind.startswith("int")
            if type(value) not in ((int,) if integer else (int, float)) or not math.isfinite(value):
                _fail("an integer" if integer else "a finite number", item)
            if integer:
                bits = int(kind[3:])
                if not -(1 << bits - 1) <= value < 1 << bits - 1:
                    _fail(f"an integer that fits {kind}", item)
            values.append(value)
        return (kind, tuple(values))

    def schema(self):
        scalar = {"type": ["number", "string"]}
        return {"type": "object", "additionalProperties": {"anyOf": [
            scalar, {"type": "array", "items": {"type": "number"}, "minItems": 1},
            {"type": "object", "required": ["type", "value"], "additionalProperties": False,
             "properties": {"type": {"enum": list(FIELD_TYPES)}, "value": {}}}]}}

    def show(self, value):
        return ", ".join(f"{name}={data if kind == 'string' else _numbers(data)}" for name, kind, data in value) \
            or "none"


def _numbers(values) -> str:
    return str(values[0]) if len(values) == 1 else "[" + ", ".join(map(str, values)) + "]"


class PluginOutputs(ParamType):
    """The outputs: each `{shape, dtype, name}`; shape a list of integers and expressions over the
    inputs' dimensions (`in0[1]`, `in1[-1] // 2`; + - * // and min, max), or `inN` for an input's shape;
    dtype a dtype name or `inN` (default `in0`); name for layers with several outputs (default 0, 1...)."""

    __slots__ = ()

    def check(self, node):
        if not isinstance(node, Seq) or not node.items or len(node.items) > 64:
            _fail("a list of 1 to 64 outputs, each {shape, dtype}", node)
        outputs = tuple(self.output(item, index) for index, item in enumerate(node.items))
        names = [o[0] for o in outputs]
        if len(set(names)) != len(names):
            _fail("outputs with distinct names", node)
        return outputs

    def output(self, node, index: int):
        if not isinstance(node, Map) or "shape" not in node.entries:
            _fail("{shape: [...], dtype: ...}", node)
        for key, child in node.entries.items():
            if key not in ("shape", "dtype", "name"):
                raise ParamError(f"unknown key `{key}` of a plugin output", child, "shape, dtype, name", key)
        name = node.entries.get("name")
        if name is not None and not (isinstance(name, Scalar) and isinstance(name.value, str) and
                                     re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.value)):
            _fail("a name (letters, digits, _)", name)
        dtype = node.entries.get("dtype")
        if dtype is not None and not (isinstance(dtype, Scalar) and (dtype.value in DTYPES or
                                                                    INPUT_DIM.match(str(dtype.value)))):
            _fail(f"a dtype ({', '.join(DTYPES)}) or inN (input N's)", dtype)
        return (name.value if name is not None else str(index), self.shape(node.entries["shape"]),
                dtype.value if dtype is not None else "in0")

    def shape(self, node):
        if isinstance(node, Scalar) and isinstance(node.value, str) and INPUT_DIM.match(node.value):
            return node.value
        if not isinstance(node, Seq) or len(node.items) > 8:
            _fail("a list of at most 8 dimensions, or inN (input N's shape)", node)
        dims = []
        for item in node.items:
            if isinstance(item, Scalar) and type(item.value) is int and item.value >= 0:
                dims.append(item.value)
            elif isinstance(item, Scalar) and isinstance(item.value, str):
                try:
                    evaluate_dim(item.value, None)
                except ValueError as error:
                    raise ParamError(f"dimension `{item.value}`: {error}", item, "an expression over inN[i]",
                                     item.value) from None
                dims.append(item.value)
            else:
                _fail("an integer >= 0 or an expression over the inputs' dimensions, such as in0[2] * 2", item)
        return tuple(dims)

    def schema(self):
        dim = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]}
        return {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["shape"], "additionalProperties": False,
            "properties": {"shape": {"anyOf": [{"type": "string"}, {"type": "array", "items": dim, "maxItems": 8}]},
                           "dtype": {"type": "string"}, "name": {"type": "string"}}}}

    def show(self, value):
        return "; ".join(f"shape {shape if isinstance(shape, str) else '[' + ', '.join(map(str, shape)) + ']'}, "
                         f"dtype {dtype}" for _, shape, dtype in value)


def evaluate_dim(text: str, shapes):
    """The size an expression gives with the inputs' ``shapes`` (ints or symbolic sizes); with None, only
    checks that ``text`` is such an expression. Raises ValueError saying what is wrong."""
    import ast

    if len(text) > MAX_EXPRESSION:  # also bounds the walk's recursion
        raise ValueError(f"an expression of a dimension is at most {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise ValueError(f"not an expression ({error.msg})") from None
    operations = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
                  ast.FloorDiv: lambda a, b: a // b}

    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and INPUT_DIM.match(node.value.id):
            index = node.slice
            sign = -1 if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub) else 1
            index = index.operand if sign == -1 else index
            if not (isinstance(index, ast.Constant) and type(index.value) is int):
                raise ValueError(f"`{ast.unparse(node)}`: the axis is an integer, as in in0[2]")
            if shapes is None:
                return 1
            which, axis = int(INPUT_DIM.match(node.value.id).group(1)), sign * index.value
            if which >= len(shapes):
                raise ValueError(f"`{node.value.id}`: the layer has {len(shapes)} input(s), in0 to in{len(shapes) - 1}")
            if not -len(shapes[which]) <= axis < len(shapes[which]):
                raise ValueError(f"`{ast.unparse(node)}`: input {which} is {show_shape(shapes[which])}, rank "
                                 f"{len(shapes[which])}")
            return shapes[which][axis]
        if isinstance(node, ast.BinOp) and type(node.op) in operations:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.FloorDiv) and not isinstance(right, int):
                raise ValueError(f"`{ast.unparse(node)}`: a dimension is divided by an integer only")
            if isinstance(node.op, ast.FloorDiv) and right == 0:
                raise ValueError("division by zero")
            try:
                return operations[type(node.op)](left, right)
            except TypeError as error:
                raise ValueError(f"`{ast.unparse(node)}`: {error}") from None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max") \
                and node.args and not node.keywords:
            values = [value(a) for a in node.args]
            if not all(isinstance(v, int) for v in values):
                raise ValueError(f"`{ast.unparse(node)}`: min and max take static sizes only")
            return (min if node.func.id == "min" else max)(values)
        raise ValueError(f"`{ast.unparse(node)}` cannot be written here (integers, inN[axis], + - * //, min, max)")

    return value(tree)


REFERENCES: dict = {}  # plugin name (or "" for every plugin) -> numpy function(*inputs, **fields)


def use_reference(text: str) -> None:
    """`--plugin-reference [NAME=]module:function`: import ``module`` (only now: it is the user's code) and
    use ``function`` as the numpy reference of the plugin NAME, or of every plugin without NAME."""
    import importlib

    from ..diagnostics import UsageError

    name, _, target = text.rpartition("=")
    module_name, colon, function_name = target.partition(":")
    if not colon or not module_name or not function_name:
        raise UsageError(f"--plugin-reference `{text}`: expected [NAME=]module:function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"--plugin-reference `{text}`: cannot import {module_name}: {error}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise UsageError(f"--plugin-reference `{text}`: {module_name} has no function `{function_name}`")
    REFERENCES[name] = function


def field_values(fields) -> dict:
    """The fields as the reference function takes them: numpy arrays (one value: a 0-d array) and strings."""
    import numpy as np

    return {name: data if kind == "string" else np.array(data[0] if len(data) == 1 else data, FIELD_TYPES[kind][1])
            for name, kind, data in fields}


@register
class Plugin(Primitive):
    kind = "plugin"
    torch = "none (the plugin's own code)"
    doc = ("A TensorRT plugin (IPluginV3, or IPluginV2 such as NVIDIA's EfficientNMS_TRT) from TensorRT's plugin "
           "registry: `plugin` names its creator, `fields` are its PluginFields, `outputs` declare what it makes "
           "(netdsl cannot infer a plugin's shapes); its library is named by the spec's `plugins:` or "
           "`--plugin-library`. The reference executor runs it only with `--plugin-reference module:function` (a "
           "numpy implementation, called as function(*inputs, **fields)). TensorRT-RTX 1.7's Python API cannot add "
           "plugin layers (no add_plugin_v3): `netdsl build` refuses them there. See docs/plugins.md.")
    params = {
        "plugin": Param(PluginId(), doc="the creator: {name, version (default \"1\"), namespace (default \"\")}"),
        "fields": Param(PluginFields(), (), doc="PluginFields: name -> integer, number, string, list, or "
                        f"{{type, value}} with type one of {', '.join(FIELD_TYPES)}"),
        "outputs": Param(PluginOutputs(), (("0", "in0", "in0"),), doc="each output's shape (integers and "
                         "expressions such as in0[2] * 2, or inN) and dtype (or inN); default: input 0's"),
    }
    min_inputs, max_inputs = 1, None
    dtypes = None
    example = {"params": {"plugin": "MyScale", "fields": {"factor": 2}}, "inputs": [[1, 3, 8, 8]]}

    def output_names(self, node):
        outputs = node.params.get("outputs", ())
        return tuple(name for name, _, _ in outputs) if len(outputs) > 1 else ()

    def infer(self, p, *inputs):
        shapes = [x.shape for x in inputs]
        types = []
        for name, shape, dtype in p["outputs"]:
            try:
                dims = tuple(inputs[self.input_index(shape, inputs)].shape) if isinstance(shape, str) else \
                    tuple(evaluate_dim(d, shapes) if isinstance(d, str) else d for d in shape)
                if isinstance(dtype, str) and INPUT_DIM.match(dtype):
                    dtype = inputs[self.input_index(dtype, inputs)].dtype
            except ValueError as error:
                raise ShapeError(f"output {name}: {error}", "outputs", code="invalid-value") from None
            negative = [d for d in dims if isinstance(d, int) and d < 0]
            if negative:
                raise ShapeError(f"output {name}: the shape {show_shape(dims)} has a negative size with these inputs",
                                 "outputs", code="invalid-value")
            types.append(TensorType(dims, dtype))
        return tuple(types) if len(types) > 1 else types[0]

    @staticmethod
    def input_index(text: str, inputs) -> int:
        index = int(INPUT_DIM.match(text).group(1))
        if index >= len(inputs):
            raise ValueError(f"`{text}`: the layer has {len(inputs)} input(s), in0 to in{len(inputs) - 1}")
        return index

    def compute(self, p, out, *arrays):
        import numpy as np

        name = p["plugin"][0]
        function = REFERENCES.get(name) or REFERENCES.get("")
        if function is None:
            raise NetdslError(f"plugin {name}: the reference executor cannot run a plugin's code; give a numpy "
                              f"implementation with --plugin-reference module:function (or {name}=module:function)")
        result = function(*arrays, **field_values(p["fields"]))
        results = result if isinstance(result, tuple) else (result,)
        wanted = out if several(out) else (out,)
        if len(results) != len(wanted):
            raise NetdslError(f"plugin {name}: its reference returned {len(results)} array(s), the layer declares "
                              f"{len(wanted)} output(s)")
        arrays = []
        for index, (array, t) in enumerate(zip(results, wanted)):
            array = np.asarray(array)
            if array.shape != tuple(t.shape):
                raise NetdslError(f"plugin {name}: its reference returned output {index} shaped {list(array.shape)}, "
                                  f"the layer declares {show_shape(t.shape)}")
            arrays.append(array.astype(np.float32 if t.dtype in ("float16", "bfloat16") else t.dtype, copy=False))
        return tuple(arrays) if len(arrays) > 1 else arrays[0]

    def emit(self, ctx, p, out, *inputs):
        from ._plugin_trt import add_plugin

        return add_plugin(ctx, p, out, inputs)


def load_library(trt, path: str) -> None:
    """`--plugin-library PATH`: into TensorRT's plugin registry now, once per process."""
    from ._plugin_trt import load_library as load

    load(trt, path)


def prepare_plugins(trt, checked) -> None:
    """Before a network with plugin layers is lowered: the spec's `plugins:` loaded, and every plugin
    layer's creator found in the registry (all that are missing reported at once)."""
    from ._plugin_trt import load_library as load, missing_creators

    for path, pos in checked.graph.plugins:
        load(trt, path, pos)
    problems = missing_creators(trt, checked.graph.nodes)
    if problems:
        raise PluginMissing(problems)


def plugin_record(nodes) -> dict | None:
    """For a build's manifest: its plugin layers (layer, name, version, namespace) and the plugin libraries
    loaded in this process, which the engine needs where it runs; None without plugin layers."""
    from ._plugin_trt import loaded_libraries

    layers = [dict(zip(("layer", "name", "version", "namespace"), (node.name, *node.params["plugin"])))
              for node in nodes if node.kind == "plugin"]
    return {"layers": layers, "libraries": loaded_libraries()} if layers else None
