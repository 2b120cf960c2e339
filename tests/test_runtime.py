"""The engine runtime, as far as a machine without a GPU allows: manifests matched to plans, buffer
sizes from the manifest, input validation, tolerances, device-memory cleanup on error (with a recording
stand-in for cuda-python), and exit code 4 from `run`, `bench` and `verify`. The real CUDA path ran on
the lent H100 (tools/device_check_runtime.py; see the issue notes)."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import build, runtime
from netdsl.diagnostics import UsageError

pytest.importorskip("tensorrt_rtx")
ROOT = pathlib.Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet.yaml")
NO_GPU = build.cuda_devices() == 0


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def lenet_plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("engine") / "lenet.plan"
    build.build(LENET, output=str(path))
    return path


def test_buffer_sizes_come_from_the_manifest(lenet_plan):
    manifest, _ = runtime.read_manifest(str(lenet_plan))
    buffers = {b.name: b for b in runtime.buffer_plan(manifest, 7)}
    assert buffers["data"] == runtime.Buffer("data", (7, 1, 32, 32), "float32", 7 * 32 * 32 * 4, True)
    assert buffers["prob"] == runtime.Buffer("prob", (7, 10), "float32", 7 * 10 * 4, False)
    with pytest.raises(UsageError, match="a batch size is needed"):
        runtime.buffer_plan(manifest, None)


def test_float16_io_halves_the_buffers(tmp_path):
    spec = tmp_path / "h.yaml"
    spec.write_text("netdsl: 1\ninputs: [{name: x, dtype: float16, shape: [3, 8]}]\nlayers: [{name: r, kind: relu}]\n")
    plan = build.build(str(spec), output=str(tmp_path / "h.plan"))[1]
    sizes = {b.name: b.nbytes for b in runtime.buffer_plan(plan, None)}
    assert sizes == {"x": 3 * 8 * 2, "r": 3 * 8 * 2}


def test_manifest_must_match_the_plan(lenet_plan, tmp_path):
    copy = tmp_path / "x.plan"
    copy.write_bytes(lenet_plan.read_bytes()[:-1] + b"\0")
    (tmp_path / "x.plan.json").write_text(pathlib.Path(str(lenet_plan) + ".json").read_text())
    with pytest.raises(UsageError, match="does not match its manifest"):
        runtime.read_manifest(str(copy))
    (tmp_path / "x.plan.json").write_text("{not json")
    with pytest.raises(UsageError, match="is not a netdsl manifest"):
        runtime.read_manifest(str(copy))
    (tmp_path / "x.plan.json").unlink()
    with pytest.raises(UsageError, match="has no manifest"):
        runtime.read_manifest(str(copy))


@pytest.mark.parametrize("inputs,message", [
    ({"data": np.zeros((2, 1, 32, 31), np.float32)}, "has shape [2, 1, 32, 31], expected [N, 1, 32, 32]"),
    ({"data": np.zeros((2, 1, 32, 32), np.int32)}, "is int32; it must be floating point"),
    ({"data": np.zeros((65, 1, 32, 32), np.float32)}, "batch 65, outside the range 1..64"),
    ({"image": np.zeros((1, 1, 32, 32), np.float32)}, "unknown input(s) image"),
    ({}, "input `data` [N, 1, 32, 32] is not given"),
])
def test_inputs_are_checked_against_the_engine(lenet_plan, inputs, message):
    with pytest.raises(UsageError) as caught:
        runtime.Engine.open(str(lenet_plan)).check(inputs)
    assert message in str(caught.value)


def test_float64_inputs_are_converted_to_the_engine_dtype(lenet_plan):
    arrays, batch, sizes, profile = runtime.Engine.open(str(lenet_plan)).check({"data": np.ones((3, 1, 32, 32))})
    assert arrays["data"].dtype == np.float32 and batch == 3 and sizes == {} and profile is None


def test_bench_batch_defaults_to_opt_and_stays_in_range(lenet_plan):
    manifest, _ = runtime.read_manifest(str(lenet_plan))
    assert runtime.batch_of(manifest, None) == 1
    assert runtime.batch_of(manifest, 64) == 64
    with pytest.raises(UsageError, match="outside the engine's range 1..64"):
        runtime.batch_of(manifest, 0)
    inputs = runtime.bench_inputs(manifest, 5)
    assert inputs.arrays["data"].shape == (5, 1, 32, 32) and inputs.batch == 5 and inputs.profile is None
    with pytest.raises(UsageError, match="this engine has none"):
        runtime.bench_inputs(manifest, None, sizes={"height": 32})


def test_compare_applies_precision_tolerances():
    reference = {"y": np.array([1.0, -2.0, 100.0], np.float32)}
    close = {"y": reference["y"] + np.array([5e-5, -1e-4, 0.09], np.float32)}
    [row] = runtime.compare(reference, close, "float32")
    assert row["pass"] and row["max_abs"] == pytest.approx(0.09, rel=1e-3)
    [row] = runtime.compare(reference, {"y": reference["y"] + np.float32(0.2)}, "float32")
    assert not row["pass"]
    [row] = runtime.compare(reference, {"y": reference["y"] * np.float32(1.005)}, "float16")
    assert row["pass"] and row["max_rel"] == pytest.approx(0.005, rel=1e-2)


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_compare_fails_on_one_bad_element(precision):
    # every element but one within tolerance: `verify` must still fail (each element counts, not most)
    reference = {"y": np.linspace(-3, 3, 24, dtype=np.float32).reshape(2, 3, 4)}
    atol, rtol = runtime.TOLERANCES[precision]
    bad = reference["y"].copy()
    bad[1, 2, 3] += np.float32(3 * (atol + rtol * abs(bad[1, 2, 3])))
    [row] = runtime.compare(reference, {"y": bad}, precision)
    assert not row["pass"] and row["max_abs"] == pytest.approx(3 * (atol + rtol * 3.0), rel=1e-3)
    [row] = runtime.compare(reference, {"y": reference["y"].copy()}, precision)  # the same array passes
    assert row["pass"] and row["max_abs"] == 0


def test_compare_fails_on_one_nan():
    reference = {"y": np.ones((4, 5), np.float32), "z": np.zeros(3, np.float32)}
    got = {"y": reference["y"].copy(), "z": np.zeros(3, np.float32)}
    got["y"][2, 1] = np.nan
    rows = {row["output"]: row for row in runtime.compare(reference, got, "float32")}
    assert not rows["y"]["pass"] and rows["z"]["pass"]


@pytest.mark.parametrize("shape", [(1, 6), (2, 6), (7,), (6, 1)])
def test_compare_fails_on_an_output_of_another_shape(shape):
    # (1, 6), (2, 6) and (6, 1) would broadcast against the (6,) reference, (7,) would not: all fail, none raises
    reference = {"y": np.ones(6, np.float32)}
    [row] = runtime.compare(reference, {"y": np.ones(shape, np.float32)}, "float32")
    assert not row["pass"]


class RecordingCuda:
    """Stands in for cuda.bindings.runtime: hands out fake pointers, records what is freed and copied (copies
    move nothing)."""

    class cudaMemcpyKind:
        cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost = 1, 2

    def __init__(self, fail_at=None):
        self.live, self.next, self.fail_at, self.streams, self.copies = set(), 1, fail_at, 0, []

    def cudaStreamCreate(self):
        self.streams += 1
        return 0, 99

    def cudaStreamDestroy(self, stream):
        self.streams -= 1
        return (0,)

    def cudaMalloc(self, size):
        if self.next == self.fail_at:
            return 2, None  # cudaErrorMemoryAllocation
        self.next += 1
        self.live.add(self.next)
        return 0, self.next

    def cudaFree(self, pointer):
        self.live.remove(pointer)
        return (0,)

    def cudaMemcpyAsync(self, destination, source, nbytes, kind, stream):
        self.copies.append((kind, nbytes))
        return (0,)

    def cudaStreamSynchronize(self, stream):
        return (0,)


def test_device_buffers_are_freed_on_error(lenet_plan):
    manifest, _ = runtime.read_manifest(str(lenet_plan))
    cuda = RecordingCuda()
    with pytest.raises(RuntimeError):
        with runtime.DeviceBuffers(cuda, runtime.buffer_plan(manifest, 4)) as device:
            assert len(device.pointers) == 2 and len(cuda.live) == 2
            raise RuntimeError("failure while running")
    assert cuda.live == set() and cuda.streams == 0
    cuda = RecordingCuda(fail_at=2)  # the second allocation fails
    with pytest.raises(runtime.DeviceError, match="cudaMalloc"):
        with runtime.DeviceBuffers(cuda, runtime.buffer_plan(manifest, 4)):
            pass
    assert cuda.live == set() and cuda.streams == 0


@pytest.mark.skipif(not NO_GPU, reason="checks the no-GPU path")
def test_commands_stop_with_exit_4_without_a_gpu(lenet_plan, tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 1, 32, 32), np.float32))
    for args in (["run", str(lenet_plan), "--input", str(x)], ["bench", str(lenet_plan)], ["verify", LENET]):
        result = netdsl(*args)
        assert result.returncode == 4 and "GPU" in result.stderr and "Traceback" not in result.stderr, args


def test_input_errors_come_before_the_gpu_check(lenet_plan, tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 3), np.float32))
    result = netdsl("run", str(lenet_plan), "--input", str(x))
    assert result.returncode == 2 and "expected [N, 1, 32, 32]" in result.stderr
    assert netdsl("bench", str(lenet_plan), "--batch", "100").returncode == 2
    pickled = tmp_path / "p.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    result = netdsl("run", str(lenet_plan), "--input", str(pickled))
    assert result.returncode == 2 and "not a readable" in result.stderr


def test_verify_refuses_an_engine_from_another_spec(lenet_plan, tmp_path):
    spec = tmp_path / "lenet.yaml"
    spec.write_text(pathlib.Path(LENET).read_text().replace("../weights/", str(ROOT / "weights") + "/"))
    result = netdsl("verify", str(spec), "--engine", str(lenet_plan))
    assert result.returncode == 2 and "another version" in result.stderr


def test_reference_command_writes_what_the_api_computes(tmp_path):
    from netdsl import reference

    with np.load(ROOT / "weights" / "lenet_heldout.npz") as data:
        images = data["images"][:8]
    np.save(tmp_path / "x.npy", images)
    result = netdsl("reference", LENET, "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npz"))
    assert result.returncode == 0, result.stderr
    checked = build.load_spec(LENET)
    expected = reference.run(checked, build.bind_weights(checked), {"data": images})["prob"]
    with np.load(tmp_path / "y.npz") as written:
        assert np.array_equal(written["prob"], expected)


def fake_engine(tmp_path, manifest_text: str) -> pathlib.Path:
    plan = tmp_path / "e.plan"
    plan.write_bytes(b"plan")
    (tmp_path / "e.plan.json").write_text(manifest_text)
    return plan


@pytest.mark.parametrize("command", [["run", "{plan}", "--input", "x.npy"],
                                     ["refit", "{plan}", "--weights", str(ROOT / "weights" / "lenet.safetensors"),
                                      "--check"]])
def test_a_deeply_nested_manifest_is_refused_before_parsing(tmp_path, command):
    plan = fake_engine(tmp_path, "[" * 100_000 + "]" * 100_000)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = netdsl(*[part.format(plan=plan) for part in command])
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    assert f"{plan}.json is not a netdsl manifest (it nests 100,000 levels deep" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_manifest_over_the_size_bound_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "MAX_MANIFEST_BYTES", 1000)
    plan = fake_engine(tmp_path, '{"pad": "' + "x" * 1000 + '"}')
    with pytest.raises(UsageError, match="larger than"):
        runtime.read_manifest(str(plan))


def nested(depth: int, leaf):
    """A JSON value nesting ``depth`` arrays and objects (alternating), with ``leaf`` inside."""
    for level in range(depth):
        leaf = [leaf, 1] if level % 2 else {"k[": leaf, "s": "}}"}
    return leaf


@pytest.mark.parametrize("depth", [0, 1, 2, 5, 64, 65, 300])
def test_json_depth_counts_what_json_nests(depth):
    # the leaf is a string full of brackets and escaped quotes: only structure may count
    text = json.dumps(nested(depth, '[[{"\\\\" ]] \\" {{'))
    assert runtime.json_depth(text) == depth
    assert json.loads(text) == nested(depth, '[[{"\\\\" ]] \\" {{')  # the text is the JSON the oracle reads


def test_a_manifest_at_the_depth_bound_is_parsed(tmp_path):
    plan = fake_engine(tmp_path, json.dumps(nested(runtime.MAX_MANIFEST_DEPTH, 0)))
    with pytest.raises(UsageError, match="is not a netdsl manifest") as raised:
        runtime.read_manifest(str(plan))
    assert "nests" not in str(raised.value)  # parsed, and refused for its contents, not its depth
    (tmp_path / "e.plan.json").write_text(json.dumps(nested(runtime.MAX_MANIFEST_DEPTH + 1, 0)))
    with pytest.raises(UsageError, match="nests 65 levels deep"):
        runtime.read_manifest(str(plan))
