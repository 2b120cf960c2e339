"""netdsl inspect: the lowered INetworkDefinition read back, per spec layer, without a GPU."""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from netdsl.trt.inspect import inspect_spec, layer_class, render, spec_layer_of

trt = pytest.importorskip("tensorrt_rtx")
ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = sorted(str(p.relative_to(ROOT)) for p in [ROOT / "specs" / "lenet.yaml", *(ROOT / "specs" / "zoo").glob("*.yaml")])


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env={k: v for k, v in os.environ.items() if k != "NO_COLOR"})


def test_lenet_layers_parameters_and_weights():
    info = inspect_spec(str(ROOT / "specs/lenet.yaml"))
    by_name = {layer.name: layer for layer in info.layers}
    conv = by_name["conv1"]
    assert (conv.type, conv.spec_layer, conv.weights) == ("CONVOLUTION", "conv1", ["conv1.weight", "conv1.bias"])
    assert conv.params["kernel_size_nd"] == [5, 5] and conv.params["padding_mode"] == "EXPLICIT_ROUND_DOWN"
    assert conv.outputs[0].shape == (-1, 6, 28, 28) and conv.outputs[0].dtype == "float32"
    assert by_name["pool1"].params["type"] == "MAX" and by_name["relu1"].params["type"] == "RELU"
    matmul = by_name["fc1/matmul"]
    assert matmul.spec_layer == "fc1" and (matmul.params["op0"], matmul.params["op1"]) == ("NONE", "TRANSPOSE")
    assert by_name["fc1/weight"].weights == ["fc1.weight"]
    assert by_name["fc1/flatten"].params["reshape_dims"] == [0, 400]
    assert by_name["prob"].params["axes"] == 2  # the bitmask of axis 1


@pytest.mark.parametrize("precision", ["float16", "bfloat16"])
def test_reduced_precision_weights_are_named(precision):
    info = inspect_spec(str(ROOT / "specs/zoo/resnet18.yaml"), precision=precision)
    assert info.layers[0].name == "input/cast" and info.layers[0].spec_layer is None
    named = [w for layer in info.layers for w in layer.weights]
    assert "conv1.bias" in named and "fc.weight" in named and "" not in named  # conv1.bias: bn1 folded in
    assert {t.dtype for layer in info.layers[1:-1] for t in layer.outputs} == {precision}


@pytest.mark.parametrize("spec", SPECS)
def test_every_zoo_spec_inspects(spec):
    info = inspect_spec(str(ROOT / spec))
    assert all(layer.spec_layer is not None for layer in info.layers)  # float32: no input or output casts
    assert "TensorRT layers" in render(info)


def test_resnet50_inspects_in_under_a_second():
    inspect_spec(str(ROOT / "specs/zoo/resnet18.yaml"))  # TensorRT and netdsl imported, builder made
    start = time.perf_counter()
    info = inspect_spec(str(ROOT / "specs/zoo/resnet50.yaml"))
    assert time.perf_counter() - start < 1.0 and len(info.layers) > 120  # 125 with batch norms folded


def test_spec_layer_grouping():
    assert spec_layer_of("fc1/matmul", {"fc1", "fc"}) == "fc1"
    assert spec_layer_of("ln/mul3/rank4", {"ln"}) == "ln"
    assert spec_layer_of("input/cast", {"conv1"}) is None


def test_every_layer_type_has_a_class():
    # downcasting by a wrong class crashes the process: every type must map to its own class or none
    for name in trt.LayerType.__members__:
        cls = layer_class(trt, name)
        assert cls is None or cls.__name__.lower().startswith("i"), name
    assert layer_class(trt, "ELEMENTWISE") is trt.IElementWiseLayer
    assert layer_class(trt, "MATRIX_MULTIPLY") is trt.IMatrixMultiplyLayer


def test_cli_text_filter_and_json():
    result = netdsl("inspect", "specs/lenet.yaml", "--layer", "fc1")
    assert result.returncode == 0, result.stderr
    assert "[fc1]" in result.stdout and "MATRIX_MULTIPLY" in result.stdout and "[conv1]" not in result.stdout
    assert "weights: fc1.weight" in result.stdout and "5 of 22 TensorRT layers" in result.stdout
    record = json.loads(netdsl("inspect", "specs/lenet.yaml", "--format", "json", "--layer", "pool1").stdout)
    assert [layer["name"] for layer in record["layers"]] == ["pool1"]
    assert record["layers"][0]["params"]["window_size_nd"] == [2, 2]


def test_cli_unknown_layer_is_a_usage_error():
    result = netdsl("inspect", "specs/lenet.yaml", "--layer", "nope")
    assert result.returncode == 2 and "no layer named `nope`" in result.stderr and "Traceback" not in result.stderr


def test_cli_plan_without_gpu_says_so(tmp_path):
    plan = tmp_path / "x.plan"
    plan.write_bytes(b"not a plan")
    result = netdsl("inspect", str(plan))
    # 4, as `run` and `verify` exit for the same cause: this machine cannot deserialize a plan (here no GPU; on
    # a GPU, this TensorRT cannot read these bytes)
    assert result.returncode == 4, result.stderr
    assert "GPU" in result.stderr and "Traceback" not in result.stderr and result.stdout == ""
