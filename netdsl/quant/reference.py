"""The reference executor's hook: quantized layers read fake-quantized inputs and weights, so that the
numpy reference computes what the engine computes (weights per channel, activations per tensor)."""

from __future__ import annotations

from .fake import fake_quantize


class FakeQuant:
    def __init__(self, quantizer):
        self.quantizer = quantizer
        self.layers = quantizer.placement.layers
        self.cache: dict = {}  # weight name -> fake-quantized array (weights do not change during a run)

    def inputs(self, node, args: list) -> list:
        layer = self.layers.get(node.name)
        if layer is None:
            return args
        scales = self.quantizer.activation
        return [fake_quantize(arg, scales[node.inputs[i]], self.quantizer.dtype) if i in layer.inputs else arg
                for i, arg in enumerate(args)]

    def weight(self, node, slot: str, array):
        name = f"{node.name}.{slot}"
        if name not in self.cache:
            found = self.quantizer.weight_scale(node.name, slot, array) if node.name in self.layers else None
            self.cache[name] = array if found is None else fake_quantize(array, found[0], self.quantizer.dtype,
                                                                        axis=found[1])
        return self.cache[name]
