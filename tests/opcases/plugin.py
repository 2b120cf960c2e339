"""Plugin layers: netdsl cannot run a plugin's code, so these cases check what netdsl owns: the declared
output shapes (expressions of the inputs' dimensions) against PyTorch's shapes, the typed fields reaching
the numpy implementation a user gives (here registered as --plugin-reference would), and every located
refusal. Not lowered (TensorRT-RTX's Python API cannot add plugin layers; tests/trt/test_plugin.py covers
the registry) nor exported to ONNX."""

import numpy as np
import torch

from netdsl.ops.plugin import REFERENCES
from opcases import Case


def repeat(x, *, repeats, scale, mode):
    assert mode == "tile" and repeats.dtype == np.int64 and scale.dtype == np.float64  # the fields' declared types
    return np.tile(x, (1,) * (x.ndim - 1) + (int(repeats),)) * scale.astype(np.float32)


def halves(x, *, axis):
    return tuple(np.split(x, 2, axis=int(axis)))


REFERENCES["OpcaseRepeat"] = repeat  # what `--plugin-reference OpcaseRepeat=module:repeat` does
REFERENCES["OpcaseHalves"] = halves

REPEAT = {"plugin": {"name": "OpcaseRepeat", "namespace": "opcases"},
          "fields": {"repeats": {"type": "int64", "value": 3}, "scale": {"type": "float64", "value": 0.5},
                     "mode": "tile"},
          "outputs": [{"shape": ["in0[0]", "in0[1]", "in0[-1] * 3"]}]}
HALVES = {"plugin": "OpcaseHalves", "fields": {"axis": 1},
          "outputs": [{"name": "top", "shape": ["in0[0]", "in0[1] // 2", "in0[2]"], "dtype": "float32"},
                      {"name": "bottom", "shape": ["in0[0]", "in0[1] - in0[1] // 2", "in0[2]"], "dtype": "in0"}]}


def plugin(params, **changes):
    return {**params, **changes}


CASES = [
    Case("plugin", REPEAT, inputs=[(2, 3, 4)], torch=lambda x: x.repeat(1, 1, 3) * 0.5, trt=False, onnx=False),
    Case("plugin", HALVES, inputs=[(2, 6, 5)], torch=lambda x: tuple(torch.split(x, 3, dim=1)), trt=False, onnx=False),
    # errors, each located
    Case("plugin", plugin(REPEAT, fields={"repeats": {"type": "int128", "value": 3}}), error="invalid-param",
         message="unknown plugin field type"),
    Case("plugin", plugin(REPEAT, fields={"repeats": {"type": "int32", "value": 1.5}}), error="invalid-param",
         message="an integer"),
    Case("plugin", plugin(REPEAT, fields={"repeats": {"type": "int8", "value": 300}}), error="invalid-param",
         message="fits int8"),
    Case("plugin", plugin(REPEAT, fields={"repeats": {"type": "float32"}}), error="invalid-param",
         message="exactly those two keys"),
    Case("plugin", plugin(REPEAT, fields={"repeats": [1, "two"]}), error="invalid-param"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": ["in0[0] +"]}]), error="invalid-param",
         message="not an expression"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": ["in0.shape"]}]), error="invalid-param",
         message="cannot be written here"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": ["in0[2] + " * 5000 + "1"]}]), error="invalid-param",
         message="at most 200 characters"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": [" * ".join(["in0[2]"] * 20)]}]), error="too-large"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": ["in1[0]"]}]), error="invalid-value",
         message="the layer has 1 input(s)"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": ["in0[3]"]}]), error="invalid-value", message="rank 3"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": ["in0[2] - 10"]}]), error="invalid-value",
         message="negative size"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": "in0", "dtype": "float31"}]), error="invalid-param",
         message="a dtype"),
    Case("plugin", plugin(REPEAT, outputs=[{"shape": "in0", "colour": "red"}]), error="invalid-param",
         message="unknown key `colour`"),
    Case("plugin", plugin(REPEAT, plugin={"name": "X", "flavour": "2"}), error="invalid-param",
         message="unknown key `flavour`"),
    Case("plugin", {"fields": {"a": 1}}, error="missing-param", message="needs `plugin`"),
]
