"""anchor_points, reshape_as and image_to_tensor over named dynamic sizes (a YOLO detector's input, grid
and attention reshape for any image size): TensorRT-RTX builds them with two optimization profiles, its
own shape inference agrees with netdsl's at every profile's min, opt and max, and the network's values,
computed by the TensorRT-semantics evaluator, the reference and ONNX Runtime (the exported model) at
several sizes, equal ultralytics' make_anchors and PyTorch. Static sizes lower to constants and plain
reshapes, without shape tensors."""

import numpy as np
import pytest

from netdsl import build, reference
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions
from netdsl.trt.dims import check_corners

from yolo_oracle import ultralytics_module

trt = pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
tal = ultralytics_module("ultralytics.utils.tal")

SPEC = """netdsl: 1
inputs:
  - {name: frames, shape: [batch, height, width, 3], dtype: uint8}
dims:
  batch: {min: 1, opt: 1, max: 4}
  height: {min: 64, opt: 320, max: 640, multiple_of: 32}
  width: {min: 64, opt: 320, max: 640, multiple_of: 32}
profiles:
  - {height: [64, 128, 320], width: [64, 128, 320]}
  - {height: [320, 640, 640], width: [320, 640, 640]}
layers:
  - {name: image, kind: image_to_tensor, channels: bgr}
  - {name: p8, kind: max_pool, kernel: 8}
  - {name: a8, kind: anchor_points, stride: 8}
  - {name: p32, kind: max_pool, kernel: 4, inputs: p8}
  - {name: a32, kind: anchor_points, stride: 32, offset: 0.25}
  - {name: flat, kind: reshape, shape: [0, 3, -1], inputs: p32}
  - {name: back, kind: reshape_as, inputs: [flat, p32]}
outputs: [a8.points, a8.strides, a32.points, a32.strides, back, image]
"""
SIZES = [(1, 64, 96), (2, 320, 640), (1, 640, 352)]  # both profiles, their edges, not square


def checked_spec(text=SPEC):
    checked, diagnostics = check_text(text, "detection.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


def expected(frames):
    """What ultralytics and PyTorch give for these frames."""
    _, height, width, _ = frames.shape
    level8 = tal.make_anchors([torch.zeros(1, 3, height // 8, width // 8)], [8], 0.5)
    level32 = tal.make_anchors([torch.zeros(1, 3, height // 32, width // 32)], [32], 0.25)
    image = torch.from_numpy(frames).permute(0, 3, 1, 2).flip(1).float() / 255
    p32 = torch.nn.functional.max_pool2d(image, 32)
    back = p32.reshape(p32.shape[0], 3, -1).view(p32.shape)  # what ultralytics' attention does
    return {"a8.points": level8[0].T, "a8.strides": level8[1].T, "a32.points": level32[0].T,
            "a32.strides": level32[1].T, "back": back, "image": image}


def frames_of(batch, height, width):
    return np.random.default_rng(height * width).integers(0, 256, (batch, height, width, 3)).astype(np.uint8)


@pytest.mark.parametrize("precision", ["float32", "float16", "bfloat16"])
def test_builds_with_two_profiles_and_tensorrt_agrees_at_every_corner(precision):
    checked = checked_spec()
    _, network, _ = build.network_for(checked, {}, BuildOptions(precision=precision))
    tensors = sum(1 for i in range(network.num_layers) for j in range(network.get_layer(i).num_outputs)
                  if network.get_layer(i).get_output(j).name in checked.types)
    assert tensors == 9  # image, p8, a8.points, a8.strides, p32, a32.points, a32.strides, flat, back
    assert check_corners(network, checked.types, checked.graph.profiles) == 6 * tensors
    plan = build.build_plan(checked, {}, build.options_for(checked, precision=precision))  # checks the corners too
    assert len(plan.data) > 0


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_evaluator_and_reference_equal_make_anchors_and_torch_at_several_sizes(precision):
    from netdsl.trt.evaluate import Evaluator

    checked = checked_spec()
    _, network, ctx = build.network_for(checked, {}, BuildOptions(precision=precision))
    evaluator = Evaluator(network, ctx)
    for size in SIZES:
        frames = frames_of(*size)
        got, ours = evaluator.run({"frames": frames}), reference.run(checked, {}, {"frames": frames})
        want = expected(frames)
        for name, value in want.items():
            value = value.numpy()
            # anchors are integers + 0.25 or 0.5 below 80: exact in float16 too; pixels are within 1 ulp
            # of x / 255 in float32 (x * (1/255)) and within float16's half-ulp rounding of values <= 1
            tolerance = 0 if name.startswith("a") else 1e-7 if precision == "float32" else 2.0 ** -11
            assert got[name].shape == ours[name].shape == value.shape, (name, size)
            assert np.abs(got[name] - value).max() <= tolerance, (name, size, precision)
            assert np.abs(ours[name] - value).max() <= 1e-7, (name, size)


def test_exported_onnx_model_computes_the_grid_for_the_size_it_runs_at():
    ort = pytest.importorskip("onnxruntime")
    from netdsl.onnx.export import to_model

    session = ort.InferenceSession(to_model(checked_spec(), {}).SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for size in SIZES[:2]:
        frames = frames_of(*size)
        got = dict(zip(names, session.run(None, {"frames": frames})))
        for name, value in expected(frames).items():
            assert np.abs(got[name] - value.numpy()).max() <= (0 if name.startswith("a") else 1e-7), (name, size)


def layer_types(text):
    checked = checked_spec(text)
    _, network, _ = build.network_for(checked, {})
    return {str(network.get_layer(i).type).rsplit(".", 1)[-1] for i in range(network.num_layers)}


STATIC = """netdsl: 1
inputs:
  - {name: x, shape: [%s, 8, 20, 20]}
%s
layers:
  - {name: grid, kind: anchor_points, stride: 16}
  - {name: flat, kind: reshape, shape: [0, 8, -1], inputs: x}
  - {name: back, kind: reshape_as, inputs: [flat, x]}
outputs: [grid.points, grid.strides, back]
"""


def test_static_sizes_lower_to_constants_and_plain_reshapes():
    assert layer_types(STATIC % (2, "")) == {"CONSTANT", "SHUFFLE"}
    dynamic = layer_types(STATIC.replace("20, 20", "side, side") % (2, "dims: {side: {min: 4, opt: 20, max: 40}}"))
    assert {"SHAPE", "FILL"} <= dynamic  # the grid and the reshape's target come from shapes at run time


def test_a_grid_too_large_for_a_constant_is_filled_at_run_time(monkeypatch):
    from netdsl.ops import anchors
    from netdsl.trt.evaluate import Evaluator

    monkeypatch.setattr(anchors, "MAX_CONSTANT_CELLS", 100)  # 20 x 20 cells are over it
    checked = checked_spec(STATIC % (2, ""))
    _, network, ctx = build.network_for(checked, {})
    assert "FILL" in {str(network.get_layer(i).type).rsplit(".", 1)[-1] for i in range(network.num_layers)}
    x = np.zeros((2, 8, 20, 20), np.float32)
    got = Evaluator(network, ctx).run({"x": x})
    points, strides = tal.make_anchors([torch.from_numpy(x)], [16], 0.5)
    np.testing.assert_array_equal(got["grid.points"], points.T.numpy())
    np.testing.assert_array_equal(got["grid.strides"], strides.T.numpy())


RESHAPE_AS = """netdsl: 1
inputs:
  - {name: x, shape: [1, 2, height]}
  - {name: y, shape: [1, height]}
dims:
  height: {min: 4, opt: 8, max: %s}
layers:
  - {name: half, kind: max_pool, kernel: 2, inputs: x}
  - {name: back, kind: reshape_as, inputs: [y, half]}
"""


def test_reshape_as_checks_the_element_counts_at_every_allowed_size():
    # [1, height] as [1, 2, height//2]: the counts agree for even heights only
    checked, diagnostics = check_text(RESHAPE_AS % "9", "spec.yaml")
    assert checked is None
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert (error.code, error.layer, error.pos.line) == ("shape-mismatch", "back", 9)
    assert "height elements become 2*(height//2) at height=5 (profile 0: height 4..9)" in error.message, error.message
    checked = checked_spec(RESHAPE_AS % "10, multiple_of: 2")
    assert str(checked.types["back"].shape) == "(1, 2, height//2)"
    _, network, ctx = build.network_for(checked, {})
    check_corners(network, checked.types, checked.graph.profiles)
    from netdsl.trt.evaluate import Evaluator

    y = np.arange(8, dtype=np.float32).reshape(1, 8)
    got = Evaluator(network, ctx).run({"x": np.zeros((1, 2, 8), np.float32), "y": y})
    np.testing.assert_array_equal(got["back"], torch.from_numpy(y).reshape_as(torch.zeros(1, 2, 4)).numpy())
