"""The TensorRT side of plugin layers (netdsl/ops/plugin.py): libraries into the plugin registry, creators
out of it, typed PluginFields, and the plugin added to the network with its declared outputs checked
against TensorRT's own shape function. Everything TensorRT lacks is found with getattr, one code path
for TensorRT 10/11 and TensorRT-RTX."""

from __future__ import annotations

import os

from ..diagnostics import Diagnostic, SpecError, UsageError
from ..tensors import show_shape

# netdsl's name of a field type -> TensorRT's PluginFieldType member and the numpy dtype of its data
FIELD_TYPES = {"int8": ("INT8", "int8"), "int16": ("INT16", "int16"), "int32": ("INT32", "int32"),
               "int64": ("INT64", "int64"), "float16": ("FLOAT16", "float16"), "float32": ("FLOAT32", "float32"),
               "float64": ("FLOAT64", "float64"), "string": ("CHAR", "int8")}

FULL_TENSORRT = ("full TensorRT 10/11 (`import tensorrt`) adds plugin layers with INetworkDefinition.add_plugin_v3 "
                 "(add_plugin_v2 for IPluginV2 creators such as EfficientNMS_TRT)")
_loaded: dict = {}  # absolute path -> TensorRT's library handle: a library registers its creators once


class PluginMissing(SpecError):
    """A plugin library, a creator or TensorRT's plugin API that is not there (exit code 2: the machine,
    not the spec, falls short)."""

    exit_code = 2


def located(node, code: str, message: str, hint: str | None = None, param: str = "plugin") -> PluginMissing:
    return PluginMissing([Diagnostic(code, message, node.where(param), layer=node.name, hint=hint,
                                     notes=list(node.trace))])


def load_library(trt, path: str, pos=None, layer: str | None = None) -> None:
    """Load a plugin library into TensorRT's plugin registry (once per process). A missing or unloadable
    library is a located error at ``pos`` (the spec's `plugins:` entry), else a usage error."""
    absolute = os.path.abspath(path)
    if absolute in _loaded:
        return
    problem = None
    if not os.path.isfile(absolute):
        problem = f"plugin library {path}: no such file"
    else:
        registry = trt.get_plugin_registry()
        handle = registry.load_library(absolute) if hasattr(registry, "load_library") else None
        if handle is None:
            problem = (f"plugin library {path}: TensorRT could not load it (a library built for another TensorRT "
                       "or CUDA, or missing its dependencies; `netdsl build -v` shows TensorRT's log)")
        else:
            _loaded[absolute] = handle
    if problem is None:
        return
    if pos is None:
        raise UsageError(problem)
    raise PluginMissing([Diagnostic("plugin-library", problem, pos, layer=layer)])


def loaded_libraries() -> list[str]:
    """The plugin libraries loaded in this process (absolute paths), in the order they were loaded."""
    return list(_loaded)


def find_creator(trt, node):
    """The registry's creator of the layer's plugin; a located error naming the plugin when there is none
    (with the versions and namespaces the registry has under that name)."""
    name, version, namespace = node.params["plugin"]
    registry = trt.get_plugin_registry()
    creator = registry.get_creator(name, version, namespace)
    if creator is not None:
        return creator
    same_name = sorted(f"version {c.plugin_version!r}, namespace {c.plugin_namespace!r}"
                       for c in registry.all_creators if c.name == name)
    hint = (f"the registry has {name} with " + "; ".join(same_name) if same_name else
            "load the library that defines it: `plugins:` in the spec, or --plugin-library LIB.so")
    raise located(node, "unknown-plugin", f"plugin {name} (version {version!r}, namespace {namespace!r}) of layer "
                  f"`{node.name}`: TensorRT's plugin registry has no creator for it", hint)


def missing_creators(trt, nodes) -> list[Diagnostic]:
    """Every plugin layer whose creator the registry lacks, reported together before lowering."""
    problems = []
    for node in nodes:
        if node.kind == "plugin":
            try:
                find_creator(trt, node)
            except PluginMissing as error:
                problems.extend(error.diagnostics)
    return problems


def field_collection(trt, fields):
    """(PluginFieldCollection, the arrays behind it): TensorRT reads the arrays by pointer, so they are
    kept alive with the network's other literals."""
    import numpy as np

    items, arrays = [], []
    for name, kind, data in fields:
        member, dtype = FIELD_TYPES[kind]
        # a string: its UTF-8 bytes with a NUL after them (C++ plugins read either the length or a C
        # string), the length without it, as TensorRT's ONNX parser passes string attributes
        array = (np.frombuffer(data.encode() + b"\0", np.int8).copy() if kind == "string" else np.array(data, dtype))
        arrays.append(array)
        field = trt.PluginField(name, array, getattr(trt.PluginFieldType, member))
        if kind == "string":
            field.size = array.size - 1
        items.append(field)
    return trt.PluginFieldCollection(items), arrays


def add_plugin(ctx, p, out, inputs):
    """The plugin's layer; its outputs checked against the layer's declared shapes and dtypes."""
    trt, node = ctx.trt, ctx.node
    name = p["plugin"][0]
    creator = find_creator(trt, node)
    collection, arrays = field_collection(trt, p["fields"])
    ctx.literals.extend(arrays)
    version3 = hasattr(trt, "IPluginCreatorV3One") and isinstance(creator, trt.IPluginCreatorV3One)
    if version3:
        plugin = creator.create_plugin(node.name, collection, trt.TensorRTPhase.BUILD)
    else:
        plugin = creator.create_plugin(node.name, collection)
    if plugin is None:
        raise located(node, "plugin-refused", f"plugin {name} of layer `{node.name}`: its creator refused these "
                      "fields (`netdsl build -v` shows TensorRT's log)", param="fields")
    add = getattr(ctx.network, "add_plugin_v3" if version3 else "add_plugin_v2", None)
    if add is None:
        raise located(node, "needs-full-tensorrt", f"plugin {name} of layer `{node.name}`: this TensorRT's Python "
                      f"API cannot add plugin layers (INetworkDefinition has no "
                      f"{'add_plugin_v3' if version3 else 'add_plugin_v2'}; TensorRT-RTX 1.7 has neither)",
                      FULL_TENSORRT)
    tensors = [v.data for v in inputs]
    layer = ctx.label(add(tensors, [], plugin) if version3 else add(tensors, plugin))
    from .primitive import several

    wanted = out if several(out) else (out,)
    if layer.num_outputs != len(wanted):
        raise located(node, "plugin-outputs", f"plugin {name} makes {layer.num_outputs} output(s); layer "
                      f"`{node.name}` declares {len(wanted)}", param="outputs")
    results = []
    for index, t in enumerate(wanted):
        tensor = layer.get_output(index)
        declared = tuple(d if isinstance(d, int) else -1 for d in t.shape)
        if tuple(tensor.shape) != declared or tensor.dtype != ctx.trt_dtype(t.dtype):
            raise located(node, "plugin-outputs", f"plugin {name}: output {index} is {list(tensor.shape)} "
                          f"{tensor.dtype} by its own shape function, layer `{node.name}` declares "
                          f"{show_shape(t.shape)} {t.dtype}", param="outputs")
        results.append(tensor)
    return tuple(results) if len(results) > 1 else results[0]
