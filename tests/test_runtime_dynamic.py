"""The runtime on engines with named dynamic dimensions, as far as a machine without a GPU allows. The
engine is specs/dynamic/detector_dynamic.yaml built here by `netdsl build` (TensorRT-RTX builds on the
CPU; its manifest is what everything reads): inputs are checked against it and the first profile that
allows their sizes is chosen; buffers are planned from shapes that TensorRT-RTX's own shape inference
gives; `run`, `bench` and `verify` check their inputs, then stop with exit 4.

No GPU that TensorRT runs on is available to this project, so the execution context is never real here:
:class:`InferringContext` stands in for it, answering `get_tensor_shape` from TensorRT-RTX's shape
inference over the same network. The tests that use it check what netdsl does around the context (the
profile selected before the shapes are set, output buffers sized from the context's answers), not
TensorRT's execution."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import build, runtime
from netdsl.diagnostics import UsageError
from tests.opcases import random_weights
from tests.reference.test_dynamic_vs_torch import detector
from tests.test_runtime import NO_GPU, RecordingCuda

trt = pytest.importorskip("tensorrt_rtx")
torch = pytest.importorskip("torch")
ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "dynamic" / "detector_dynamic.yaml"
# the spec's profiles: height and width multiples of 32, 128..320 in profile 0 and 320..640 in profile 1
LIMITS = ("profile 0: batch 1..4, height 128..320 (multiples of 32), width 128..320 (multiples of 32); "
          "profile 1: batch 1..4, height 320..640 (multiples of 32), width 320..640 (multiples of 32)")


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "detector.plan"
    result = netdsl("build", str(SPEC), "--random-weights", "-o", str(path))
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="module")
def manifest(plan):
    return runtime.read_manifest(str(plan))[0]


def torch_shape(shape):
    """The detector's output shape for an input shape, from PyTorch (on the meta device)."""
    checked = build.load_spec(str(SPEC))
    weights = {k: torch.from_numpy(w.array).to("meta") for k, w in random_weights(checked).items()}
    with torch.no_grad():
        return tuple(detector(torch.empty(shape, device="meta"), lambda k, d=0: weights.get(k)).shape)


@pytest.mark.parametrize("shape,profile", [((2, 3, 160, 288), 0), ((1, 3, 480, 640), 1), ((4, 3, 320, 320), 0)])
def test_inputs_choose_the_first_profile_that_allows_their_sizes(manifest, shape, profile):
    checked = runtime.check_inputs(manifest, {"image": np.ones(shape)})  # float64: converted
    assert checked.profile == profile and checked.batch is None
    assert checked.sizes == dict(zip(("batch", "height", "width"), (shape[0], shape[2], shape[3])))
    assert checked.arrays["image"].dtype == np.float32


@pytest.mark.parametrize("shape,message", [
    ((2, 3, 160, 352), "sizes batch=2, height=160, width=352 fit no optimization profile (" + LIMITS + ")"),
    ((1, 3, 136, 160), "height=136, width=160 fit no optimization profile"),  # in range, not a multiple of 32
    ((5, 3, 160, 160), "batch=5, height=160, width=160 fit no"),
    ((1, 4, 160, 160), "has shape [1, 4, 160, 160], expected [batch, 3, height, width]"),
])
def test_inputs_outside_the_engine_are_refused_naming_every_profile(manifest, shape, message):
    with pytest.raises(UsageError) as caught:
        runtime.check_inputs(manifest, {"image": np.zeros(shape, np.float32)})
    assert message in str(caught.value)


def test_a_named_dimension_shared_by_inputs_needs_one_size():
    manifest = {"inputs": [{"name": a, "dtype": "float32", "shape": [-1, 8], "dims": ["tokens", 8]} for a in "qk"],
                "outputs": [], "profiles": [{"tokens": {"min": 1, "opt": 4, "max": 16}}]}
    with pytest.raises(UsageError, match="dimension `tokens` is 3 in input `q` but 5 in input `k`"):
        runtime.check_inputs(manifest, {"q": np.zeros((3, 8), np.float32), "k": np.zeros((5, 8), np.float32)})
    assert runtime.check_inputs(manifest, {"q": np.zeros((5, 8)), "k": np.zeros((5, 8))}).profile == 0


def tensorrt_shapes(shape):
    """Name -> shape of the detector's input and output as TensorRT-RTX's shape inference gives them for
    this input shape (the network the plan was built from; no engine, no GPU)."""
    checked = build.load_spec(str(SPEC))
    keep = build.network_for(checked, random_weights(checked))  # the builder and weights stay alive
    network = keep[1]
    network.get_input(0).shape = shape
    tensors = [network.get_input(0), network.get_output(0)]
    return {t.name: tuple(t.shape) for t in tensors}


@pytest.mark.parametrize("shape", [(2, 3, 160, 288), (1, 3, 640, 384)])
def test_buffers_take_the_shapes_tensorrt_infers(manifest, shape):
    shapes = tensorrt_shapes(shape)
    assert set(shapes) == {"image", "predictions"}
    buffers = {b.name: b for b in runtime.buffer_plan(manifest, None, shapes)}
    expected = torch_shape(shape)
    assert buffers["predictions"].shape == expected and buffers["predictions"].nbytes == 4 * int(np.prod(expected))
    assert buffers["image"].shape == shape and buffers["image"].is_input


def test_shapes_that_do_not_fit_the_manifest_are_device_errors(manifest):
    good = {"image": (1, 3, 128, 128), "predictions": (1, 3, 320, 7)}
    with pytest.raises(runtime.DeviceError, match=r"gives `predictions` the shape \[1, 3, 320, 8\]"):
        runtime.buffer_plan(manifest, None, {**good, "predictions": (1, 3, 320, 8)})
    with pytest.raises(runtime.DeviceError, match="leaves `predictions` at shape .*depends on the data"):
        runtime.buffer_plan(manifest, None, {**good, "predictions": (1, 3, -1, 7)})
    with pytest.raises(Exception, match="must come from TensorRT"):  # a bug in netdsl, not a user error
        runtime.buffer_plan(manifest, None)


def test_bench_inputs_take_the_chosen_profiles_opt_or_the_given_sizes(manifest):
    for profile, size in ((None, 256), (0, 256), (1, 640)):  # the spec's opt per profile
        inputs = runtime.bench_inputs(manifest, None, profile)
        assert inputs.arrays["image"].shape == (2, 3, size, size) and inputs.profile == (profile or 0)
    inputs = runtime.bench_inputs(manifest, None, 1, {"height": 320, "batch": 4})
    assert inputs.arrays["image"].shape == (4, 3, 320, 640) and inputs.profile == 1  # 320 fits 0 too: 1 stays
    for args, message in (((None, 0, {"height": 640}), "height=640, width=256 are outside profile 0: batch 1..4, "
                                                       "height 128..320 (multiples of 32)"),
                          ((None, 2), "--profile 2: the engine has optimization profiles 0..1"),
                          ((None, None, {"depth": 3}), "--dim depth: the engine's named dimensions are batch, height"),
                          ((2,), "no -1 batch; its dynamic sizes are named (batch, height, width)")):
        with pytest.raises(UsageError) as caught:
            runtime.bench_inputs(manifest, *args)
        assert message in str(caught.value)


class InferringContext:
    """Stands in for TensorRT's IExecutionContext (see the module docstring): shapes come from TensorRT-RTX's
    shape inference over the network, and every call is recorded."""

    def __init__(self, network):
        self.network, self.calls, self.profile = network, [], None
        self.tensors = {t.name: t for t in [network.get_input(i) for i in range(network.num_inputs)] +
                        [network.get_output(i) for i in range(network.num_outputs)]}

    def set_optimization_profile_async(self, index, stream):
        self.calls.append(("profile", index))
        self.profile = index
        return True

    def set_input_shape(self, name, shape):
        assert self.profile is not None, "TensorRT needs the profile selected before input shapes are set"
        self.calls.append(("shape", name, tuple(shape)))
        self.tensors[name].shape = shape
        return True

    def get_tensor_shape(self, name):
        self.calls.append(("get", name))
        return tuple(self.tensors[name].shape)

    def set_tensor_address(self, name, pointer):
        self.calls.append(("address", name))
        return True

    def execute_async_v3(self, stream):
        self.calls.append(("execute",))
        return True


def fake_engine(plan):
    engine = runtime.Engine.open(str(plan))
    checked = build.load_spec(str(SPEC))
    engine.keep = build.network_for(checked, random_weights(checked))
    engine.context, engine.cudart = InferringContext(engine.keep[1]), RecordingCuda()
    return engine


def test_run_selects_the_profile_then_sizes_outputs_as_the_context_says(plan):
    engine = fake_engine(plan)
    shape = (1, 3, 480, 640)
    outputs = engine.run({"image": np.zeros(shape, np.float32)})
    assert outputs["predictions"].shape == torch_shape(shape)  # values are not computed: no GPU
    calls = engine.context.calls
    assert calls[:2] == [("profile", 1), ("shape", "image", shape)]
    assert calls.index(("get", "predictions")) < calls.index(("address", "predictions")) < calls.index(("execute",))
    copies = engine.cudart.copies
    assert copies == [(1, 4 * int(np.prod(shape))), (2, 4 * int(np.prod(torch_shape(shape))))]
    assert engine.cudart.live == set() and engine.cudart.streams == 0


def test_check_comes_before_any_device_call(plan):
    engine = fake_engine(plan)
    with pytest.raises(UsageError, match="fit no optimization profile"):
        engine.run({"image": np.zeros((1, 3, 160, 352), np.float32)})
    assert engine.context.calls == [] and engine.cudart.streams == 0 and engine.cudart.next == 1


@pytest.mark.skipif(not NO_GPU, reason="checks the no-GPU path")
def test_commands_check_inputs_then_stop_with_exit_4(plan, tmp_path):
    np.save(tmp_path / "ok.npy", np.zeros((2, 3, 160, 288), np.float32))
    np.save(tmp_path / "odd.npy", np.zeros((2, 3, 160, 352), np.float32))
    refused = netdsl("run", str(plan), "--input", str(tmp_path / "odd.npy"))
    assert refused.returncode == 2 and f"fit no optimization profile ({LIMITS})" in refused.stderr
    for args in (["run", str(plan), "--input", str(tmp_path / "ok.npy")], ["bench", str(plan)],
                 ["bench", str(plan), "--profile", "1", "--dim", "height=320"]):
        result = netdsl(*args)
        assert result.returncode == 4 and "GPU" in result.stderr and "Traceback" not in result.stderr, args
    for args, message in ((["--dim", "height=100"], "height=100, width=256 are outside profile 0"),
                          (["--dim", "height"], "--dim takes NAME=SIZE"), (["--batch", "2"], "no -1 batch")):
        result = netdsl("bench", str(plan), *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, args


@pytest.mark.skipif(not NO_GPU, reason="checks the no-GPU path")
def test_verify_checks_inputs_against_the_engine_before_the_gpu(tmp_path):
    from netdsl.weights import write_weights

    checked = build.load_spec(str(SPEC))
    write_weights(str(tmp_path / "w.safetensors"), {k: w.array for k, w in random_weights(checked).items()})
    weights = ["--weights", str(tmp_path / "w.safetensors")]
    # an engine built for a narrower profile than the spec's: its own limits decide
    assert netdsl("build", str(SPEC), *weights, "-o", str(tmp_path / "d.plan"),
                  "--profile", "height=128:160:192,width=128:160:192").returncode == 0
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 256, 256), np.float32))  # the spec allows it, the engine not
    refused = netdsl("verify", str(SPEC), *weights, "--engine", str(tmp_path / "d.plan"), "--input",
                     str(tmp_path / "x.npy"))
    assert refused.returncode == 2 and "height=256, width=256 fit no optimization profile (profile 0: batch 1..4, " \
        "height 128..192 (multiples of 32), width 128..192 (multiples of 32))" in refused.stderr, refused.stderr
    result = netdsl("verify", str(SPEC), *weights, "--engine", str(tmp_path / "d.plan"))  # sizes from the engine
    assert result.returncode == 4 and "GPU" in result.stderr and "Traceback" not in result.stderr
