"""Attention as one layer: exporters write F.scaled_dot_product_attention (and nn.MultiheadAttention)
as MatMul(q, k^T) -> Mul or Div by a scale -> Softmax -> MatMul(., v), PyTorch's TorchScript exporter
with the scale's square root on q and on k^T instead. netdsl's `scaled_dot_product_attention` computes
softmax(q @ k^T * scale) @ v; the layers of that pattern (on the imported netdsl layers, before
naming) become one, with `scale` where it is not 1 / sqrt(E).

Every layer taken into it must be read by the pattern only; anything else (a mask added to the
scores, a rank other than 4) leaves the layers as they are.
"""

from __future__ import annotations

import math

SCALED = ("mul", "div")


class Layers:
    """Who makes and who reads each tensor of the imported layers."""

    def __init__(self, layers, outputs: set[str]):
        self.producer, self.readers = {}, {}
        for layer in layers:
            for suffix in layer.outputs:
                self.producer[layer.name + (f".{suffix}" if suffix else "")] = layer
            for tensor in layer.inputs:
                self.readers.setdefault(tensor, []).append(layer)
        self.outputs = outputs

    def only_reader(self, tensor: str, reader) -> object | None:
        """The layer making ``tensor`` when ``reader`` is all that reads it, else None."""
        readers = self.readers.get(tensor, [])
        if tensor in self.outputs or any(r is not reader for r in readers):
            return None
        return self.producer.get(tensor)

    def scalar(self, tensor: str) -> float | None:
        """The value of a one-element constant layer."""
        import numpy as np

        layer = self.producer.get(tensor)
        if layer is None or layer.kind != "constant" or "value" not in layer.params:
            return None
        value = np.asarray(layer.params["value"], dtype=np.float64)
        return float(value.reshape(-1)[0]) if value.size == 1 else None


def unscaled(graph: Layers, tensor: str, reader, taken: list) -> tuple[str, float, object]:
    """(the tensor before a multiplication by a constant, the constant, the layer that reads that
    tensor) along a chain that ``reader`` alone reads."""
    layer = graph.only_reader(tensor, reader)
    if layer is not None and layer.kind == "mul" and len(layer.inputs) == 2:
        for index in (0, 1):
            value = graph.scalar(layer.inputs[1 - index])
            if value is not None:
                taken.append(layer)
                return layer.inputs[index], value, layer
    return tensor, 1.0, reader


def untransposed(graph: Layers, tensor: str, reader, taken: list, type_of) -> tuple[str, float] | None:
    """(k, a scale on it) from k^T: the input of a permute that swaps the last two axes, a scale on
    either side of it."""
    tensor, before, reader = unscaled(graph, tensor, reader, taken)
    layer = graph.only_reader(tensor, reader)
    rank = len(type_of(tensor).shape)
    if layer is None or layer.kind != "permute" or [d % rank for d in layer.params["dims"]] != [
            *range(rank - 2), rank - 1, rank - 2]:
        return None
    taken.append(layer)
    k, after, _ = unscaled(graph, layer.inputs[0], layer, taken)
    return k, before * after


def match(graph: Layers, second, type_of):
    """(q, k, v, scale, layers taken) when ``second`` is the last matmul of an attention, else None."""
    params = second.params
    if second.kind != "matmul" or params.get("transpose_a") or params.get("transpose_b"):
        return None
    taken = []
    softmax = graph.only_reader(second.inputs[0], second)
    if softmax is None or softmax.kind != "softmax" or softmax.params.get("axis") not in (-1, 3):
        return None
    taken.append(softmax)
    scores, scale = softmax.inputs[0], 1.0
    layer = graph.only_reader(scores, softmax)
    if layer is not None and layer.kind in SCALED and graph.scalar(layer.inputs[1]) not in (None, 0.0):
        value = graph.scalar(layer.inputs[1])
        scale = value if layer.kind == "mul" else 1.0 / value
        taken.append(layer)
        layer = graph.only_reader(layer.inputs[0], layer)
    if layer is None or layer.kind != "matmul" or layer.params.get("transpose_a"):
        return None
    first = layer
    taken.append(first)
    q, q_scale, _ = unscaled(graph, first.inputs[0], first, taken)
    if first.params.get("transpose_b"):
        k, k_scale, _ = unscaled(graph, first.inputs[1], first, taken)
    else:
        found = untransposed(graph, first.inputs[1], first, taken, type_of)
        if found is None:
            return None
        k, k_scale = found
    v = second.inputs[1]
    if any(len(type_of(t).shape) != 4 for t in (q, k, v)):
        return None
    return q, k, v, scale * q_scale * k_scale, taken


def fuse_attention(layers: list, outputs: set[str], type_of, infer) -> list:
    """The layers with each attention pattern as one `scaled_dot_product_attention` (in place of its
    last matmul, whose output it keeps); ``infer`` checks the new layer as the importer does."""
    from . import NotExpressible

    graph = Layers(layers, outputs)
    removed: set[int] = set()
    for second in list(layers):
        found = match(graph, second, type_of)
        if found is None or any(id(layer) in removed for layer in found[4]):
            continue
        q, k, v, scale, taken = found
        features = type_of(q).shape[3]
        params = {} if abs(scale * math.sqrt(features) - 1) < 1e-6 else {"scale": scale}
        before = (second.kind, second.params, second.inputs, second.onnx_name, second.op_type)
        second.kind, second.params, second.inputs = "scaled_dot_product_attention", params, [q, k, v]
        second.onnx_name, second.op_type = attention_name(second.onnx_name), "Attention"
        try:
            second.params, second.output_types, second.outputs = infer(second, [type_of(t) for t in (q, k, v)])
        except NotExpressible:
            second.kind, second.params, second.inputs, second.onnx_name, second.op_type = before
            continue
        removed.update(id(layer) for layer in taken)
    kept = [layer for layer in layers if id(layer) not in removed]
    return without_unread_constants(kept, outputs)


def attention_name(onnx_name: str) -> str:
    """`/encoder/layers/encoder_layer_0/self_attention/MatMul_1` -> `.../self_attention/Attention`."""
    scope, _, _ = onnx_name.rpartition("/")
    return f"{scope}/Attention" if scope else "attention"


def without_unread_constants(layers: list, outputs: set[str]) -> list:
    """Constant layers (the scales) that only taken layers read."""
    read = {tensor for layer in layers for tensor in layer.inputs} | outputs
    return [layer for layer in layers if layer.kind != "constant" or layer.name in read]
