"""Calibration caches of hand-built networks: TensorRT's own names for their tensors (`conv1_output`,
`(Unnamed Layer* 12) [Convolution]_output`) matched to a spec's tensors by layer name and order.

The tensorrtx LeNet is built here with TensorRT-RTX's network API call for call as tensorrtx's
lenet/lenet.cpp builds it (TensorRT 10: matrix multiply and bias layers instead of fully connected
ones), so the names in the cache are the names TensorRT gives, not names netdsl made up."""

import pathlib
import struct

import numpy as np
import pytest

from netdsl.build import load_spec
from netdsl.quant.calibtable import import_table
from netdsl.quant.layer_order import match_names

from quant.helpers import quantized_spec

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs/quantized/lenet_int8.yaml")
HERE = pathlib.Path(__file__).resolve().parent


def tensorrtx_lenet():
    """The network of tensorrtx's lenet/lenet.cpp (TensorRT 10 branch): (the tensors in network order,
    the tensorrtx layer that makes each one of the spec's tensors)."""
    trt = pytest.importorskip("tensorrt_rtx")
    network = trt.Builder(trt.Logger(trt.Logger.ERROR)).create_network(0)
    keep = []  # trt.Weights does not copy

    def weights(*shape):
        keep.append(np.ones(shape, np.float32))
        return trt.Weights(keep[-1])

    def constant(*shape):
        return network.add_constant(shape, weights(*shape)).get_output(0)

    relu, none, transpose = trt.ActivationType.RELU, trt.MatrixOperation.NONE, trt.MatrixOperation.TRANSPOSE
    data = network.add_input("data", trt.float32, (1, 1, 32, 32))
    conv1 = network.add_convolution_nd(data, 6, (5, 5), weights(6, 1, 5, 5), weights(6))
    conv1.name = "conv1"
    relu1 = network.add_activation(conv1.get_output(0), relu)
    relu1.name = "relu1"
    pool1 = network.add_pooling_nd(relu1.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool1.stride_nd = (2, 2)
    pool1.name = "pool1"
    conv2 = network.add_convolution_nd(pool1.get_output(0), 16, (5, 5), weights(16, 6, 5, 5), weights(16))
    conv2.name = "conv2"
    relu2 = network.add_activation(conv2.get_output(0), relu)
    pool2 = network.add_pooling_nd(relu2.get_output(0), trt.PoolingType.MAX, (2, 2))
    pool2.stride_nd = (2, 2)
    pool2.name = "pool2"
    flatten = network.add_shuffle(pool2.get_output(0))
    flatten.reshape_dims = (-1, 400)
    fc1w = network.add_matrix_multiply(constant(120, 400), none, flatten.get_output(0), transpose)
    fc1b = network.add_elementwise(fc1w.get_output(0), constant(120, 1), trt.ElementWiseOperation.SUM)
    fc1b.name = "fc1b"
    relu3 = network.add_activation(fc1b.get_output(0), relu)
    flatten_relu3 = network.add_shuffle(relu3.get_output(0))
    flatten_relu3.reshape_dims = (-1, 120)
    fc2w, fc2b, fc3w, fc3b = constant(84, 120), constant(84, 1), constant(10, 84), constant(10, 1)
    fc2_0 = network.add_matrix_multiply(fc2w, none, flatten_relu3.get_output(0), transpose)
    fc2_0.name = "fc2"
    fc2_1 = network.add_elementwise(fc2_0.get_output(0), fc2b, trt.ElementWiseOperation.SUM)
    relu4 = network.add_activation(fc2_1.get_output(0), relu)
    shuffle = network.add_shuffle(relu4.get_output(0))
    shuffle.reshape_dims = (-1, 84)
    fc3_0 = network.add_matrix_multiply(fc3w, none, shuffle.get_output(0), transpose)
    fc3_1 = network.add_elementwise(fc3_0.get_output(0), fc3b, trt.ElementWiseOperation.SUM)
    prob = network.add_softmax(fc3_1.get_output(0))
    prob.get_output(0).name = "prob"
    names = ["data"] + [network.get_layer(i).get_output(0).name for i in range(network.num_layers)]
    made_by = {"data": data, "conv1": conv1, "relu1": relu1, "pool1": pool1, "conv2": conv2, "relu2": relu2,
               "pool2": pool2, "relu3": relu3, "fc2": fc2_0, "relu4": relu4, "fc3": fc3_1, "prob": prob,
               "fc1": fc1w}  # fc1: the product before its bias, the last layer of a type a fully connected layer has
    return names, {spec: (t if t is data else t.get_output(0)).name for spec, t in made_by.items()}


def cache(names, path):
    """A calibration cache as TensorRT writes one: each tensor's scale a different number."""
    scales = {name: (k + 1) / 1024 for k, name in enumerate(names)}
    lines = ["TRT-100300-EntropyCalibration2"]
    lines += [f"{name}: {struct.unpack('>I', struct.pack('>f', scale))[0]:x}" for name, scale in scales.items()]
    path.write_text("\n".join(lines) + "\n")
    return scales


def test_tensorrtx_lenet_cache_imports_by_layer_name_and_order(tmp_path):
    names, made_by = tensorrtx_lenet()
    assert "(Unnamed Layer* 4) [Activation]_output" in names and "conv1_output" in names  # TensorRT's names
    written = cache(names, tmp_path / "calib.table")
    scales, report = import_table(load_spec(SPEC), str(tmp_path / "calib.table"))
    expected = {spec: written[name] * 127 for spec, name in made_by.items()}
    assert scales.activations == pytest.approx(expected, rel=1e-12)
    assert report.missing == []  # data, pool1, pool2, relu3 and relu4: every tensor a quantized layer reads
    assert report.by_layer_name == [("conv1_output", "conv1"), ("relu1_output", "relu1"), ("pool1_output", "pool1"),
                                    ("conv2_output", "conv2"), ("pool2_output", "pool2"), ("fc2_output", "fc2")]
    assert [(name, tensor) for name, tensor, _ in report.by_order] == [
        ("(Unnamed Layer* 4) [Activation]_output", "relu2"), ("(Unnamed Layer* 8) [Matrix Multiply]_output", "fc1"),
        ("(Unnamed Layer* 11) [Activation]_output", "relu3"), ("(Unnamed Layer* 19) [Activation]_output", "relu4"),
        ("(Unnamed Layer* 22) [ElementWise]_output", "fc3")]
    unmatched = dict(report.unmatched)
    assert unmatched["fc1b_output"] == ("`fc1b` is no layer of the spec; a layer of unknown type, so not matched by "
                                        "order")
    assert unmatched["(Unnamed Layer* 6) [Shuffle]_output"] == ("no layer of the spec between `pool2` and `fc2` "
                                                                 "is left for this Shuffle")
    constants = [hint for name, hint in unmatched.items() if name.endswith("[Constant]_output")]
    assert constants == ["weights, which are quantized from their own values"] * 6
    text = "\n".join(report.lines())
    assert "13 tensor(s) matched: 2 by name, 6 by layer name, 5 by layer order" in text
    assert "  (Unnamed Layer* 4) [Activation]_output -> relu2\n" in text + "\n"


def test_older_tensorrtx_cache_with_fully_connected_layers():
    # tensorrtx's LeNet before TensorRT 10 (addFullyConnected, no layer named): every tensor by order
    checked = load_spec(SPEC)
    scales, report = import_table(checked, str(HERE / "data/tensorrtx_lenet.table"))
    assert report.unmatched == [] and report.missing == []
    assert [tensor for _, tensor, _ in report.by_order] == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2",
                                                             "fc1", "relu3", "fc2", "relu4", "fc3"]
    assert scales.activations["pool1"] == struct.unpack(">f", bytes.fromhex("3d2f1a3b"))[0] * 127
    assert scales.meta["calib.table header"] == "TRT-8601-EntropyCalibration2"


def test_ambiguous_order_is_flagged_and_multiple_outputs_are_numbered():
    checked = quantized_spec("  - {name: conv, kind: convolution, out_channels: 4, kernel: 3}\n"
                             "  - {name: act, kind: relu}\n"
                             "  - {name: best, kind: topk, k: 2, dim: 1}\n"
                             "  - {name: fc, kind: fully_connected, out_features: 2, inputs: [act]}")
    names = ["x", "(Unnamed Layer* 0) [Convolution]_output", "(Unnamed Layer* 1) [Activation]_output",
             "(Unnamed Layer* 2) [Activation]_output", "(Unnamed Layer* 3) [TopK]_output_1",
             "(Unnamed Layer* 4) [Fully Connected]_output"]
    matching = match_names(names, checked)
    indices = checked.graph.nodes[2].outputs[1]
    assert matching.by_order == {names[1]: "conv", names[3]: "act", names[4]: indices, names[5]: "fc"}
    assert matching.ambiguous == {names[3]: [names[2]]}  # two activations where the spec has one: the last taken
    again = match_names(["best_output", "best_output (1)", "(Unnamed Layer* 9) [TopK]_output (1)"], checked)
    assert again.by_layer_name == {"best_output": "best.values", "best_output (1)": indices}
    assert again.unmatched == {"(Unnamed Layer* 9) [TopK]_output (1)": "no layer of the spec after `best.indices` is "
                               "left for this TopK"}


def test_names_out_of_the_spec_order_or_twice_stay_unmatched():
    checked = quantized_spec("  - {name: conv, kind: convolution, out_channels: 4, kernel: 3}\n"
                             "  - {name: act, kind: relu}")
    matching = match_names(["act", "conv_output", "act_output", "x"], checked)
    assert matching.by_name == {"act": "act"}
    assert matching.unmatched == {"conv_output": "`conv` comes before `act` in the spec",
                                  "act_output": "`act` is matched by an earlier name",
                                  "x": "`x` comes before `act` in the spec"}
