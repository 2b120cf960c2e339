"""A TensorRT plugin written in Python for the tests (TensorRT's Python plugin API: an IPluginV3 with its
IPluginCreatorV3One, registered with the plugin registry on import), and the numpy implementation that
`--plugin-reference plugin_repeat:repeat` gives the reference executor.

NetdslTestRepeat (namespace netdsl_test, version 1) repeats its input `repeats` times along the last
axis and multiplies it by `scale`; its shape function says so to TensorRT. Its creator keeps every
field it receives (RECEIVED), so that a test sees what netdsl handed TensorRT. It never runs (enqueue
raises): no GPU here runs TensorRT-RTX."""

import numpy as np

NAME, VERSION, NAMESPACE = "NetdslTestRepeat", "1", "netdsl_test"
RECEIVED: list = []  # (layer name, {field: (PluginFieldType name, values as numpy)}) per create_plugin call


def repeat(x, *, repeats, scale=np.float32(1), **_):
    """The plugin's meaning on numpy: what the reference executor runs with --plugin-reference."""
    return np.tile(x, (1,) * (x.ndim - 1) + (int(repeats),)) * np.float32(scale)


def register(trt) -> None:
    """Register the plugin's creator with ``trt``'s plugin registry (once per process)."""
    if trt.get_plugin_registry().get_creator(NAME, VERSION, NAMESPACE) is not None:
        return

    class RepeatPlugin(trt.IPluginV3, trt.IPluginV3OneCore, trt.IPluginV3OneBuild, trt.IPluginV3OneRuntime):
        def __init__(self, repeats: int, scale: float):
            trt.IPluginV3.__init__(self)
            trt.IPluginV3OneCore.__init__(self)
            trt.IPluginV3OneBuild.__init__(self)
            trt.IPluginV3OneRuntime.__init__(self)
            self.plugin_name, self.plugin_version, self.plugin_namespace = NAME, VERSION, NAMESPACE
            self.num_outputs = 1
            self.repeats, self.scale = repeats, scale

        def get_capability_interface(self, kind):
            return self

        def get_output_data_types(self, input_types):
            return [input_types[0]]

        def get_output_shapes(self, inputs, shape_inputs, exprs):
            out = trt.DimsExprs(inputs[0])
            last = len(out) - 1
            out[last] = exprs.operation(trt.DimensionOperation.PROD, inputs[0][last], exprs.constant(self.repeats))
            return [out]

        def supports_format_combination(self, pos, in_out, num_inputs):
            desc = in_out[pos].desc
            return desc.format == trt.TensorFormat.LINEAR and desc.type == trt.DataType.FLOAT

        def configure_plugin(self, inputs, outputs):
            pass

        def on_shape_change(self, inputs, outputs):
            pass

        def get_workspace_size(self, inputs, outputs):
            return 0

        def get_valid_tactics(self):
            return []

        def set_tactic(self, tactic):
            pass

        def attach_to_context(self, context):
            return self.clone()

        def get_fields_to_serialize(self):
            self.serialized = [np.array([self.repeats], np.int32), np.array([self.scale], np.float32)]
            return trt.PluginFieldCollection([
                trt.PluginField("repeats", self.serialized[0], trt.PluginFieldType.INT32),
                trt.PluginField("scale", self.serialized[1], trt.PluginFieldType.FLOAT32)])

        def enqueue(self, *args):
            raise RuntimeError("NetdslTestRepeat does not run: no GPU here runs TensorRT-RTX")

        def clone(self):
            return RepeatPlugin(self.repeats, self.scale)

    class RepeatCreator(trt.IPluginCreatorV3One):
        def __init__(self):
            trt.IPluginCreatorV3One.__init__(self)
            self.name, self.plugin_version, self.plugin_namespace = NAME, VERSION, NAMESPACE
            self.field_names = trt.PluginFieldCollection([
                trt.PluginField("repeats", np.array([]), trt.PluginFieldType.INT32),
                trt.PluginField("scale", np.array([]), trt.PluginFieldType.FLOAT32)])

        def create_plugin(self, name, fields, phase):
            got = {f.name: (f.type.name, np.array(f.data).copy()) for f in fields}
            RECEIVED.append((name, got))
            repeats = int(got["repeats"][1][0]) if "repeats" in got else 1
            scale = float(got["scale"][1][0]) if "scale" in got else 1.0
            return RepeatPlugin(repeats, scale)

    register.creator = RepeatCreator()  # the registry does not own Python objects: keep it alive
    trt.get_plugin_registry().register_creator(register.creator, NAMESPACE)
