"""Named dynamic dimensions on TensorRT-RTX: the U-Net and detector specs build with two optimization
profiles; at each profile's min, opt and max, TensorRT's own shape inference gives every tensor the shape
netdsl's symbolic shape evaluates to there, and the network outputs the shape PyTorch gives; sizes that
need shape tensors get them, and only then."""

import pathlib

import pytest

from netdsl import build
from netdsl.spec import check_text
from netdsl.symbolic import evaluate
from netdsl.trt.dims import check_corners, corners
from tests.opcases import random_weights
from tests.reference.test_dynamic_vs_torch import detector, unet

trt = pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = {"unet_dynamic": unet, "detector_dynamic": detector}
MULTIPLE_OF = {"unet_dynamic": 4, "detector_dynamic": 32}  # the specs' `multiple_of` of height (and width)


def load(name):
    checked = build.load_spec(str(ROOT / "specs" / "dynamic" / f"{name}.yaml"))
    return checked, random_weights(checked)


@pytest.mark.parametrize("name", SPECS)
def test_builds_with_one_optimization_profile_per_spec_profile(name):
    checked, bound = load(name)
    options = build.options_for(checked)
    shapes = build.profile_shapes(checked, options)
    spec_ranges = [p.ranges for p in checked.graph.profiles]
    assert len(shapes) == 2
    for profile, ranges in zip(shapes, spec_ranges):
        low, opt, high = profile["image"]
        assert low == (ranges["batch"][0], 3, ranges["height"][0], ranges["width"][0])
        assert high == (ranges["batch"][2], 3, ranges["height"][2], ranges["width"][2])
    plan = build.build_plan(checked, bound, options)
    record = build.manifest(plan, f"{name}.plan")
    assert record["inputs"][0]["shape"] == [-1, 3, -1, -1]
    assert record["inputs"][0]["dims"] == ["batch", 3, "height", "width"]
    assert [p["height"] for p in record["profiles"]] == [
        {**dict(zip(("min", "opt", "max"), r["height"])), "multiple_of": MULTIPLE_OF[name]} for r in spec_ranges]
    runtime = trt.Runtime(trt.Logger(trt.Logger.ERROR))
    engine = runtime.deserialize_cuda_engine(plan.data) if hasattr(runtime, "deserialize_cuda_engine") else None
    if engine is not None:  # needs a GPU with TensorRT-RTX; the build above does not
        assert engine.num_optimization_profiles == 2


def weight_tensors(bound):
    return lambda key, default=0: torch.from_numpy(bound[key].array) if key in bound else None


@pytest.mark.parametrize("name", SPECS)
def test_tensorrt_shapes_at_every_corner_equal_netdsl_and_pytorch(name):
    checked, bound = load(name)
    _, network, _ = build.network_for(checked, bound)
    tensors = sum(1 for i in range(network.num_layers) for j in range(network.get_layer(i).num_outputs)
                  if network.get_layer(i).get_output(j).name in checked.types)
    assert check_corners(network, checked.types, checked.graph.profiles) == 6 * tensors
    output = network.get_output(0)
    symbolic = checked.types[checked.graph.outputs[0].source].shape
    w = weight_tensors(bound)
    for where, sizes in corners(checked.graph.profiles):
        shape = (sizes["batch"], 3, sizes["height"], sizes["width"])
        network.get_input(0).shape = shape
        meta = torch.empty(shape, device="meta")
        with torch.no_grad():
            expected = tuple(SPECS[name](meta, lambda k, d=0: w(k, d).to("meta") if w(k, d) is not None else None).shape)
        assert tuple(output.shape) == tuple(evaluate(d, sizes) for d in symbolic) == expected, where


FLATTEN = """netdsl: 1
inputs:
  - {name: x, shape: [%s, 4, %s, 6]}
%s
layers:
  - {name: merged, kind: flatten, start_dim: 0, end_dim: 1}
  - {name: rows, kind: reshape, shape: [-1, 6]}
"""


def layer_types(text):
    checked, diagnostics = check_text(text)
    assert checked is not None, [d.message for d in diagnostics]
    _, network, _ = build.network_for(checked, random_weights(checked))
    if any(not isinstance(d, int) for d in checked.graph.inputs[0].shape):
        check_corners(network, checked.types, checked.graph.profiles)
    return [str(network.get_layer(i).type).rsplit(".", 1)[-1] for i in range(network.num_layers)]


def test_shape_tensors_only_where_a_dynamic_size_needs_them():
    dynamic = layer_types(FLATTEN % ("n", "length", "dims: {n: {min: 1, opt: 2, max: 4}, length: {min: 1, opt: 5, "
                                                    "max: 9}}"))
    assert "SHAPE" in dynamic and "CONCATENATION" in dynamic  # [n*4, length, 6]: two sizes TensorRT cannot infer
    assert layer_types(FLATTEN % (2, 5, "")) == ["SHUFFLE", "SHUFFLE"]
    assert layer_types(FLATTEN % (2, "length", "dims: {length: {min: 1, opt: 5, max: 9}}")) == ["SHUFFLE", "SHUFFLE"]


def test_a_classifier_head_over_any_image_size_builds_and_matches_at_every_corner():
    checked, diagnostics = check_text("""netdsl: 1
inputs:
  - {name: image, shape: [batch, 3, height, width]}
dims:
  batch: {min: 1, opt: 2, max: 8}
  height: {min: 17, opt: 64, max: 97}
  width: {min: 5, opt: 64, max: 128}
layers:
  - {name: conv, kind: convolution, out_channels: 8, kernel: 3, stride: 2}
  - {name: pool, kind: global_avg_pool}
  - {name: flat, kind: flatten}
  - {name: fc, kind: linear, out_features: 10}
""")
    assert checked is not None, [d.message for d in diagnostics]
    assert str(checked.types["conv"].shape) == "(batch, 8, (height+1)//2-1, (width+1)//2-1)"  # = floor((h-3)/2)+1
    assert checked.types["fc"].shape[1:] == (10,)
    plan = build.build_plan(checked, random_weights(checked), build.options_for(checked))  # corners checked inside
    assert plan.data.nbytes > 0
