"""The TensorRT lowering's hook: quantize/dequantize pairs (IQuantizeLayer, IDequantizeLayer) on the
inputs of quantized layers and on their weights, with the quantizer's scales as float32 constants.
TensorRT fuses each pair with the layer that reads it and quantizes constant weights itself when it
builds (the plan stores them quantized).

Names, for reading the network back: an activation pair is `<tensor>/quantize` and
`<tensor>/dequantize` (one pair per tensor, shared by every quantized layer that reads it); a weight
pair is `<layer>.weight/quantize` and `<layer>.weight/dequantize`.
"""

from __future__ import annotations


class QDQ:
    def __init__(self, quantizer):
        self.quantizer = quantizer
        self.layers = quantizer.placement.layers
        self.pairs: dict = {}  # activation tensor name -> its dequantized tensor

    def quantizes(self, layer: str, slot: str) -> bool:
        return self.quantizer.placement.weight_axis(layer, slot) is not None

    def inputs(self, ctx, node, args: list) -> list:
        layer = self.layers.get(node.name)
        if layer is None:
            return args
        result = list(args)
        for index in layer.inputs:
            name = node.inputs[index]
            if name not in self.pairs:
                self.pairs[name] = self.pair(ctx, args[index], self.quantizer.activation[name], None, name)
            result[index] = self.pairs[name]
        return result

    def weight(self, ctx, slot: str, tensor, array):
        found = self.quantizer.weight_scale(ctx.node.name, slot, array)
        if found is None:
            return tensor
        scale, axis = found
        return self.pair(ctx, tensor, scale, axis, f"{ctx.node.name}.{slot}")

    def pair(self, ctx, tensor, scale, axis: int | None, name: str):
        import numpy as np

        trt, network = ctx.trt, ctx.network
        scale = np.ascontiguousarray(scale, np.float32)
        if self.quantizer.dtype == "int4" and ctx.precision != "float32":
            # TensorRT-RTX dequantizes INT4 only with scales of the output's type (INT8 and FP8 take float32)
            saved, ctx.part = ctx.part, None
            scale_tensor = ctx.literal(scale, "float32", "scale")
            ctx.part = saved
            constant = ctx.network.get_layer(ctx.network.num_layers - 1)
        else:
            ctx.literals.append(scale)  # trt.Weights does not copy
            constant = network.add_constant(scale.shape, trt.Weights(scale))
            scale_tensor = constant.get_output(0)
        constant.name = f"{name}/scale"
        quantized_type = {"int8": trt.int8, "fp8": trt.fp8, "int4": trt.int4}[self.quantizer.dtype]
        quantize = network.add_quantize(tensor, scale_tensor, quantized_type)
        dequantize = network.add_dequantize(quantize.get_output(0), scale_tensor, tensor.dtype)
        for layer, part in ((quantize, "quantize"), (dequantize, "dequantize")):
            layer.name = f"{name}/{part}"
            if axis is not None:
                layer.axis = axis
        return dequantize.get_output(0)

    def describe(self) -> dict:
        """For the build manifest."""
        placement = self.quantizer.placement
        return {"dtype": self.quantizer.dtype, "scales": self.quantizer.origin,
                "scales_sha256": self.quantizer.digest, "layers": sorted(placement.layers),
                "activation_qdq": len(self.pairs)}
