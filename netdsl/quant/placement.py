"""Where quantize/dequantize (Q/DQ) pairs go, following TensorRT's placement recommendations for explicit
quantization:

- on every input of a quantized layer (its activations), one scale per tensor;
- on its weights, one scale per output channel;
- on the other input of a residual add whose first quantizable input comes from a quantized layer
  (directly or through batch norm), so that TensorRT fuses the add into that layer;
- nowhere else: outputs of quantized layers stay in float, and TensorRT propagates the pairs through
  the layers that commute with them (pooling, reshapes, ReLU) by itself.

A tensor read by several quantized layers has one scale and one Q/DQ pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.quantization import WEIGHT_AXIS, WEIGHT_ONLY, Quantization, excluded

FOLDED_INTO_WEIGHTS = ("batch_norm",)  # between a layer and an add, still fusable


@dataclass(frozen=True)
class QuantizedLayer:
    name: str
    kind: str
    inputs: tuple[int, ...]  # indices of the inputs that get activation Q/DQ
    weight_axis: int | None  # per-channel axis of its `weight` slot; None: no weights


@dataclass
class Placement:
    section: Quantization
    layers: dict  # layer name -> QuantizedLayer (quantized layers and residual adds)
    tensors: list  # activation tensors that need a scale, in graph order

    @property
    def dtype(self) -> str:
        return self.section.dtype

    def weight_axis(self, layer: str, slot: str) -> int | None:
        quantized = self.layers.get(layer)
        return quantized.weight_axis if quantized is not None and slot == "weight" else None


def placement(checked, section: Quantization | None = None) -> Placement | None:
    """Where the spec's quantization puts Q/DQ (``section``: another quantization section for this spec);
    None when the spec does not quantize."""
    section = section or checked.graph.quantization
    if section is None:
        return None
    graph, types = checked.graph, checked.types
    producer = {name: node for node in graph.nodes for name in node.outputs}
    layers = {}
    weight_only = section.dtype in WEIGHT_ONLY
    kinds = [k for k in section.kinds if not weight_only or k in WEIGHT_ONLY[section.dtype]]
    for node in graph.nodes:
        if node.kind in kinds and not excluded(section, node):
            quantized = () if weight_only else tuple(
                i for i, name in enumerate(node.inputs) if types[name].dtype == "float32")
            layers[node.name] = QuantizedLayer(node.name, node.kind, quantized, WEIGHT_AXIS[node.kind])

    def fusable(tensor: str) -> bool:
        node = producer.get(tensor)
        while node is not None and node.kind in FOLDED_INTO_WEIGHTS:
            node = producer.get(node.inputs[0])
        return node is not None and node.name in layers and layers[node.name].weight_axis is not None

    if section.residual and not weight_only:
        for node in graph.nodes:
            if node.kind != "add" or len(node.inputs) < 2 or excluded(section, node):
                continue
            fused = next((i for i, name in enumerate(node.inputs) if fusable(name)), None)
            if fused is not None:
                others = tuple(i for i, name in enumerate(node.inputs)
                               if i != fused and name != node.inputs[fused] and types[name].dtype == "float32")
                if others:
                    layers[node.name] = QuantizedLayer(node.name, node.kind, others, None)
    by_name = {node.name: node for node in graph.nodes}
    wanted = {by_name[name].inputs[i] for name, layer in layers.items() for i in layer.inputs}
    order = [i.name for i in graph.inputs] + [name for node in graph.nodes for name in node.outputs]
    return Placement(section, layers, [name for name in order if name in wanted])
