"""One ONNX node as a one-layer netdsl spec: the importer of single nodes that ONNX's node tests need
(tests/onnx_node), and the step a whole-model importer repeats per node."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..tensors import TensorType
from . import NodeInfo, NotExpressible, Operand, attributes, convert

LAYER = "node"


@dataclass
class ImportedNode:
    kind: str
    spec: str  # a one-layer netdsl spec (JSON, which is YAML)
    inputs: list[int]  # the ONNX input behind each spec input x0, x1...
    weights: dict  # canonical weight name (node.<slot>) -> float32 array
    outputs: list[str | None]  # the netdsl tensor of each ONNX output (None: netdsl does not produce it)


def operand(name: str, value) -> Operand:
    """An operand for a known value (a numpy array, or an ONNX TensorProto)."""
    import numpy as np

    if hasattr(value, "data_type"):
        from onnx import numpy_helper

        value = numpy_helper.to_array(value)
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise NotExpressible(f"input {name} is a {type(value).__name__}, not a tensor")
    return Operand(name, TensorType(tuple(value.shape), value.dtype.name), value)


def import_node(node, operands: list[Operand | None], opset: int) -> ImportedNode:
    """``node``: an ONNX NodeProto; ``operands``: one per ``node.input`` (None where omitted)."""
    if node.domain not in ("", "ai.onnx"):
        raise NotExpressible(f"operator domain {node.domain}")
    layer = convert(NodeInfo(node.op_type, opset, list(node.output)), attributes(node), operands)
    spec_inputs = []
    for index in layer.inputs:
        t = operands[index].type
        if 0 in t.shape:
            raise NotExpressible("a zero-size dimension (netdsl's dimensions are positive)")
        spec_inputs.append({"name": f"x{len(spec_inputs)}", "shape": list(t.shape), "dtype": t.dtype})
    entry = {"name": LAYER, "kind": layer.kind, **layer.params}
    if spec_inputs:
        entry["inputs"] = [i["name"] for i in spec_inputs]
    else:  # a spec has at least one input
        spec_inputs.append({"name": "unused", "shape": [1]})
    named = layer.outputs if layer.outputs is not None else [""]
    outputs = [None if name is None else LAYER if name == "" else f"{LAYER}.{name}" for name in named]
    outputs += [None] * (len(node.output) - len(outputs))
    spec = {"netdsl": 1, "name": node.op_type, "inputs": spec_inputs, "layers": [entry],
            "outputs": [name for name in outputs if name is not None]}
    weights = {f"{LAYER}.{slot}": array for slot, array in layer.weights.items()}
    return ImportedNode(layer.kind, json.dumps(spec), list(layer.inputs), weights, outputs)
