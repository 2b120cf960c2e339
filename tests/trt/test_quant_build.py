"""Quantized builds with TensorRT-RTX on the CPU: INT8 and FP8 LeNet (float32 and float16 networks) and
ResNet-18, and the network read back from TensorRT: a quantize/dequantize pair exactly where the
placement says, each with the scales of the scales file (activations) or of the weight (per channel),
feeding the layer it quantizes."""

import pathlib

import numpy as np
import pytest

from netdsl.build import bind_weights, build_plan, load_spec, network_for, options_for
from netdsl.quant import Quantizer, placement
from netdsl.quant.fake import scale_of, weight_amax
from netdsl.quant.scales import Scales
from netdsl.spec.quantization import Quantization
from netdsl.spec import check_text
from netdsl.trt import backend
from netdsl.weights.synthetic import random_weights

ROOT = pathlib.Path(__file__).resolve().parents[2]
trt = backend().trt


def read_back(network):
    """What the network holds: {tensor name: producing layer}, and the Q/DQ layers by name with their
    scale values, axis and output type."""
    producer, pairs = {}, {}
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        for output in range(layer.num_outputs):
            producer[layer.get_output(output).name] = layer
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        if layer.type not in (trt.LayerType.QUANTIZE, trt.LayerType.DEQUANTIZE):
            continue
        layer.__class__ = trt.IQuantizeLayer if layer.type == trt.LayerType.QUANTIZE else trt.IDequantizeLayer
        constant = producer[layer.get_input(1).name]
        constant.__class__ = trt.IConstantLayer
        pairs[layer.name] = {"scale": np.array(constant.weights).reshape(-1), "count": int(np.prod(constant.shape)),
                             "axis": layer.axis,
                             "type": layer.get_output(0).dtype, "input": layer.get_input(0).name,
                             "output": layer.get_output(0).name, "layer": layer}
    return producer, pairs


def source_through_shuffles(producer, tensor):
    layer = producer.get(tensor.name)
    while layer is not None and layer.type == trt.LayerType.SHUFFLE:
        tensor = layer.get_input(0)
        layer = producer.get(tensor.name)
    return layer


def check_network(checked, bound, quantizer, precision="float32"):
    _, network, ctx = network_for(checked, bound, options_for(checked, precision=precision), quantizer=quantizer)
    producer, pairs = read_back(network)
    where, dtype = quantizer.placement, quantizer.dtype
    quantized_type = {"int8": trt.int8, "fp8": trt.fp8, "int4": trt.int4}[dtype]
    weighted = [name for name, layer in where.layers.items() if layer.weight_axis is not None]
    expected_names = {f"{t}/{part}" for t in where.tensors for part in ("quantize", "dequantize")}
    expected_names |= {f"{n}.weight/{part}" for n in weighted for part in ("quantize", "dequantize")}
    assert set(pairs) == expected_names
    for tensor in where.tensors:
        q, dq = pairs[f"{tensor}/quantize"], pairs[f"{tensor}/dequantize"]
        source = producer.get(q["input"])
        if source is not None and source.name == f"{tensor}/cast":  # a float16 network casts its inputs first
            assert source.get_input(0).name == tensor
        else:
            assert q["input"] == tensor
        assert dq["input"] == q["output"]
        assert q["type"] == quantized_type
        assert np.array_equal(q["scale"], [scale_of(quantizer.scales.activations[tensor], dtype)])
        assert np.array_equal(dq["scale"], q["scale"])
    for name in weighted:
        q = pairs[f"{name}.weight/quantize"]
        axis = where.layers[name].weight_axis
        array = bound[f"{name}.weight"].array
        assert q["axis"] == axis and q["type"] == quantized_type
        expected = scale_of(weight_amax(array, axis), dtype)
        if dtype == "int4" and precision != "float32":  # scales in the network's type (see netdsl.quant.lowering)
            assert q["count"] == expected.size  # (numpy cannot hold TensorRT's bfloat16 weights)
        else:
            assert np.array_equal(q["scale"], expected)
    # every quantized layer reads its activations and its weight through the pairs
    dequantized = {pair["output"]: name for name, pair in pairs.items() if name.endswith("/dequantize")}
    for name, layer in where.layers.items():
        node = checked.graph.node(name)
        if node.kind == "add":
            continue  # checked through where.tensors above; TensorRT fuses the add
        main = next(network.get_layer(i) for i in range(network.num_layers)
                    if network.get_layer(i).name in (name, f"{name}/matmul", f"{name}/matmul1"))
        read = set()
        for index in range(main.num_inputs):
            tensor = main.get_input(index)
            if tensor is None:
                continue
            source = source_through_shuffles(producer, tensor)
            if source is not None and source.type == trt.LayerType.DEQUANTIZE:
                read.add(source.name)
        wanted = {f"{node.inputs[i]}/dequantize" for i in layer.inputs}
        if layer.weight_axis is not None:
            wanted.add(f"{name}.weight/dequantize")
        assert read == wanted, name
    return network, ctx


@pytest.mark.parametrize("precision", ["float32", "float16"])
@pytest.mark.parametrize("dtype", ["int8", "fp8"])
def test_lenet(dtype, precision):
    checked = load_spec(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    bound = bind_weights(checked)
    where = placement(checked, Quantization(dtype=dtype))
    from netdsl.quant.scales import read_scales

    quantizer = Quantizer(where, read_scales(checked.graph.quantization.scales))
    check_network(checked, bound, quantizer, precision)
    plan = build_plan(checked, bound, options_for(checked, precision=precision), quantizer=quantizer)
    assert plan.data.nbytes > 0 and plan.quantization["dtype"] == dtype
    assert plan.quantization["layers"] == ["conv1", "conv2", "fc1", "fc2", "fc3"]


@pytest.mark.parametrize("precision", ["float32", "float16", "bfloat16"])
def test_lenet_int4_weights_only(precision):
    checked = load_spec(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    bound = bind_weights(checked)
    quantizer = Quantizer(placement(checked, Quantization(dtype="int4")), Scales())
    _, network, _ = network_for(checked, bound, options_for(checked, precision=precision), quantizer=quantizer)
    _, pairs = read_back(network)
    assert sorted(pairs) == sorted(f"{n}.weight/{part}" for n in ("fc1", "fc2", "fc3")
                                   for part in ("quantize", "dequantize"))
    assert all(pair["type"] == trt.int4 for name, pair in pairs.items() if name.endswith("/quantize"))
    check_network(checked, bound, quantizer, precision)
    assert build_plan(checked, bound, options_for(checked, precision=precision), quantizer=quantizer).data.nbytes


def test_spec_builds_with_its_own_scales():
    checked = load_spec(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    plan = build_plan(checked, bind_weights(checked))
    assert plan.quantization["scales"].endswith("lenet_int8.scales") and plan.quantization["activation_qdq"] == 5


def resnet18(size: int):
    text = (ROOT / "specs/zoo/resnet18.yaml").read_text().replace("[-1, 3, 224, 224]", f"[-1, 3, {size}, {size}]")
    checked, diagnostics = check_text(text, str(ROOT / "specs/zoo/resnet18.yaml"))
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


def resnet_case(dtype, size):
    checked = resnet18(size)
    bound = random_weights(checked, seed=0)
    where = placement(checked, Quantization(dtype=dtype, exclude=("conv1",)))
    rng = np.random.default_rng(1)
    quantizer = Quantizer(where, Scales({t: float(rng.uniform(1, 8)) for t in where.tensors}))
    return checked, bound, quantizer


@pytest.mark.parametrize("dtype", ["int8", "fp8"])
def test_resnet18(dtype):
    checked, bound, quantizer = resnet_case(dtype, 64)
    check_network(checked, bound, quantizer)
    assert "layer1.0.add" in quantizer.placement.layers and "conv1" not in quantizer.placement.layers
    plan = build_plan(checked, bound, options_for(checked), quantizer=quantizer)
    assert plan.data.nbytes > 0


@pytest.mark.parametrize("dtype", ["int8", "fp8"])
def test_resnet18_full_size(dtype):  # about 2 s each on the project machine
    checked, bound, quantizer = resnet_case(dtype, 224)
    float_plan = build_plan(checked, bound, options_for(checked), quantizer=None)
    plan = build_plan(checked, bound, options_for(checked), quantizer=quantizer)
    assert plan.data.nbytes < float_plan.data.nbytes / 2  # weights stored in 8 bits
