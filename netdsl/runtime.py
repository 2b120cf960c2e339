"""Running engine plans with cuda-python (`cuda.bindings`): load a plan and its manifest, allocate
device buffers, copy in, execute (`set_tensor_address` + `execute_async_v3`) with a dynamic batch, copy
out, and free everything, on error too.

Everything that can be decided without a GPU is decided first, so that a mistake is reported on any
machine: the manifest is read and matched to the plan (SHA-256), inputs are checked against the
engine's I/O tensors and batch range, and buffer sizes are derived from the manifest. Only then is a
GPU needed; without one (or without a TensorRT that runs on it) :class:`CannotRun` stops the command
with exit code 4.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass

from .arrays import Declared, check_arrays
from .diagnostics import NetdslError, UsageError

ITEMSIZE = {"float32": 4, "float16": 2}
RTX_CAPABILITIES = {(8, 0), (8, 6), (8, 9), (12, 0), (12, 1)}  # what TensorRT-RTX 1.7 says it runs on


class CannotRun(NetdslError):
    """This machine cannot run engines: no CUDA GPU, no cuda-python, or no TensorRT that runs here."""

    exit_code = 4


class DeviceError(NetdslError):
    """A CUDA or TensorRT call failed while running."""


# -- the manifest: everything decided without a GPU -----------------------------------------------------


def read_manifest(plan_path: str) -> tuple[dict, bytes]:
    """(manifest, plan bytes); the plan must be the one the manifest describes."""
    from .build import manifest_path

    if not os.path.isfile(plan_path):
        raise UsageError(f"no such engine plan: {plan_path}")
    record_path = manifest_path(plan_path)
    try:
        with open(record_path, encoding="utf-8") as stream:
            manifest = json.load(stream)
        plan_record, inputs, outputs = manifest["plan"], manifest["inputs"], manifest["outputs"]
        expected_hash = plan_record["sha256"]
        if not isinstance(inputs, list) or not isinstance(outputs, list):
            raise TypeError("inputs and outputs are lists")
    except FileNotFoundError:
        raise UsageError(f"{plan_path} has no manifest ({record_path}); netdsl runs plans that `netdsl build` "
                         "wrote") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{record_path} is not a netdsl manifest ({str(error)[:80]})") from None
    with open(plan_path, "rb") as stream:
        plan = stream.read()
    if hashlib.sha256(plan).hexdigest() != expected_hash:
        raise UsageError(f"{plan_path} does not match its manifest (SHA-256 differs): the plan was replaced or "
                         "damaged after the build; build it again")
    return manifest, plan


def declared_inputs(manifest: dict) -> list[Declared]:
    if manifest.get("profiles"):
        raise UsageError("this engine has named dynamic dimensions (its manifest's `profiles`); netdsl's runtime "
                         "runs engines whose only dynamic size is the -1 batch. Run it with TensorRT directly, or "
                         "check the spec with `netdsl reference`, which takes any size its profiles allow")
    declared = []
    for entry in manifest["inputs"]:
        batch = entry.get("batch")
        shape = tuple(None if d == -1 else int(d) for d in entry["shape"])
        declared.append(Declared(entry["name"], shape, (batch["min"], batch["max"]) if batch else None, entry["dtype"]))
    return declared


@dataclass(frozen=True)
class Buffer:
    name: str
    shape: tuple
    dtype: str
    nbytes: int
    is_input: bool


def buffer_plan(manifest: dict, batch: int | None) -> list[Buffer]:
    """The device buffer of every I/O tensor at this batch size (the dynamic dimension filled in)."""
    declared_inputs(manifest)  # refuses named dynamic dimensions
    buffers = []
    for entries, is_input in ((manifest["inputs"], True), (manifest["outputs"], False)):
        for entry in entries:
            dims = entry["shape"]
            if -1 in dims and batch is None:
                raise UsageError(f"`{entry['name']}` has a dynamic batch; a batch size is needed")
            shape = tuple(batch if d == -1 else int(d) for d in dims)
            count = 1
            for d in shape:
                count *= d
            if entry["dtype"] not in ITEMSIZE:
                raise UsageError(f"`{entry['name']}` has dtype {entry['dtype']}, which netdsl cannot run")
            buffers.append(Buffer(entry["name"], shape, entry["dtype"], count * ITEMSIZE[entry["dtype"]], is_input))
    return buffers


def batch_of(manifest: dict, requested: int | None) -> int | None:
    """A batch size for `bench`: the requested one, within the engine's profile; default its opt."""
    ranges = [entry["batch"] for entry in manifest["inputs"] if entry.get("batch")]
    if not ranges:
        if requested not in (None,) + tuple(entry["shape"][0] for entry in manifest["inputs"]):
            raise UsageError(f"the engine has a static batch of {manifest['inputs'][0]['shape'][0]}")
        return None
    low, opt, high = ranges[0]["min"], ranges[0]["opt"], ranges[0]["max"]
    if requested is None:
        return opt
    if not low <= requested <= high:
        raise UsageError(f"batch {requested} is outside the engine's range {low}..{high}")
    return requested


# -- the device side ------------------------------------------------------------------------------------


def cuda_runtime():
    """cuda-python's runtime module, or CannotRun."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        try:
            from cuda import cudart as runtime  # cuda-python before 12.6
        except ImportError:
            raise CannotRun("running engines needs cuda-python: pip install cuda-python") from None
    return runtime


def call(result, what: str):
    """Unpack a cuda-python result tuple, raising DeviceError with the error's name."""
    error, *values = result if isinstance(result, tuple) else (result,)
    if int(error) != 0:
        raise DeviceError(f"{what} failed: {getattr(error, 'name', error)}")
    return values[0] if len(values) == 1 else values


def require_gpu(cudart) -> tuple[int, int]:
    """The compute capability of GPU 0; CannotRun when there is none, or no TensorRT runs on it."""
    from .trt import TensorRTMissing, backend

    result = cudart.cudaGetDeviceCount()
    if int(result[0]) != 0 or result[1] == 0:
        raise CannotRun(f"this machine has no CUDA GPU that the driver can use ({getattr(result[0], 'name', result[0])});"
                        " netdsl can build here, but running needs a GPU")
    major = call(cudart.cudaDeviceGetAttribute(cudart.cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor, 0), "query")
    minor = call(cudart.cudaDeviceGetAttribute(cudart.cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor, 0), "query")
    supported = ", ".join(f"{a}.{b}" for a, b in sorted(RTX_CAPABILITIES))
    try:
        is_rtx = backend().is_rtx
    except TensorRTMissing:
        hint = ("`pip install tensorrt-rtx`, or NVIDIA TensorRT 10/11" if (major, minor) in RTX_CAPABILITIES else
                f"NVIDIA TensorRT 10/11 (TensorRT-RTX supports compute capabilities {supported} only)")
        raise CannotRun(f"running engines needs TensorRT, which is not installed; for this GPU (compute capability "
                        f"{major}.{minor}) install {hint}") from None
    if is_rtx and (major, minor) not in RTX_CAPABILITIES:
        raise CannotRun(f"TensorRT-RTX does not run on compute capability {major}.{minor} (it supports {supported}); "
                        "install NVIDIA TensorRT 10/11")
    return major, minor


class DeviceBuffers:
    """Device memory for a list of buffers and a stream; everything is freed on exit, error or not."""

    def __init__(self, cudart, buffers: list[Buffer]):
        self.cudart = cudart
        self.buffers = {b.name: b for b in buffers}
        self.pointers: dict[str, int] = {}
        self.stream = None

    def __enter__(self):
        try:
            self.stream = call(self.cudart.cudaStreamCreate(), "cudaStreamCreate")
            for buffer in self.buffers.values():
                self.pointers[buffer.name] = call(self.cudart.cudaMalloc(max(buffer.nbytes, 1)),
                                                  f"cudaMalloc({buffer.nbytes:,} bytes for `{buffer.name}`)")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for pointer in self.pointers.values():
            self.cudart.cudaFree(pointer)
        self.pointers.clear()
        if self.stream is not None:
            self.cudart.cudaStreamDestroy(self.stream)
            self.stream = None

    def upload(self, name: str, array) -> None:
        import numpy as np

        array = np.ascontiguousarray(array)
        assert array.nbytes == self.buffers[name].nbytes, (name, array.nbytes, self.buffers[name].nbytes)
        call(self.cudart.cudaMemcpyAsync(self.pointers[name], array.ctypes.data, array.nbytes,
                                         self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream),
             f"copying `{name}` to the GPU")
        self.synchronize()  # the host array may go once this returns

    def download(self, name: str):
        import numpy as np

        buffer = self.buffers[name]
        array = np.empty(buffer.shape, dtype=buffer.dtype)
        call(self.cudart.cudaMemcpyAsync(array.ctypes.data, self.pointers[name], buffer.nbytes,
                                         self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream),
             f"copying `{name}` from the GPU")
        self.synchronize()
        return array

    def synchronize(self) -> None:
        call(self.cudart.cudaStreamSynchronize(self.stream), "cudaStreamSynchronize")


class Engine:
    """A deserialized plan with an execution context. Use as a context manager."""

    def __init__(self, manifest: dict, plan, path: str = "(in memory)"):
        self.path = path
        self.manifest, self.plan = manifest, plan
        self.engine = self.context = None

    @classmethod
    def open(cls, plan_path: str) -> "Engine":
        return cls(*read_manifest(plan_path), plan_path)

    def check(self, inputs: dict) -> tuple[dict, int | None]:
        return check_arrays(declared_inputs(self.manifest), inputs)

    def __enter__(self):
        from .trt import backend, make_logger

        self.cudart = cuda_runtime()
        require_gpu(self.cudart)
        trt = backend().trt
        errors: list[str] = []
        self.runtime = trt.Runtime(make_logger(trt, errors))
        self.engine = self.runtime.deserialize_cuda_engine(self.plan)
        if self.engine is None:
            raise CannotRun(f"TensorRT could not load {self.path} here: " + ("; ".join(errors[-3:]) or "no reason given"))
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise DeviceError("TensorRT could not create an execution context: " + "; ".join(errors[-3:]))
        return self

    def __exit__(self, *exc):
        self.context = self.engine = None

    def run(self, inputs: dict) -> dict:
        arrays, batch = self.check(inputs)
        with DeviceBuffers(self.cudart, buffer_plan(self.manifest, batch)) as device:
            self.bind(device)
            for name, array in arrays.items():
                device.upload(name, array)
            self.execute(device)
            return {entry["name"]: device.download(entry["name"]) for entry in self.manifest["outputs"]}

    def bind(self, device: DeviceBuffers) -> None:
        for buffer in device.buffers.values():
            if buffer.is_input and not self.context.set_input_shape(buffer.name, buffer.shape):
                raise DeviceError(f"TensorRT refused shape {list(buffer.shape)} for `{buffer.name}`")
            if not self.context.set_tensor_address(buffer.name, device.pointers[buffer.name]):
                raise DeviceError(f"TensorRT refused the address of `{buffer.name}`")

    def execute(self, device: DeviceBuffers) -> None:
        if not self.context.execute_async_v3(int(device.stream)):
            raise DeviceError("TensorRT could not enqueue the engine")
        device.synchronize()

    def bench(self, batch: int | None, iterations: int = 200, warmup: int = 20) -> dict:
        """Latency percentiles (ms) and throughput (samples/s) of execution alone (no copies)."""
        import numpy as np

        batch = batch_of(self.manifest, batch)
        buffers = buffer_plan(self.manifest, batch)
        with DeviceBuffers(self.cudart, buffers) as device:
            self.bind(device)
            for buffer in buffers:
                if buffer.is_input:
                    device.upload(buffer.name, np.zeros(buffer.shape, buffer.dtype))
            for _ in range(warmup):
                self.execute(device)
            times = []
            for _ in range(iterations):
                start = time.perf_counter()
                self.execute(device)
                times.append(time.perf_counter() - start)
        samples = batch or buffers[0].shape[0]
        latencies = np.array(times) * 1e3
        return {"batch": samples, "iterations": iterations, "p50_ms": float(np.percentile(latencies, 50)),
                "p99_ms": float(np.percentile(latencies, 99)), "throughput": samples / float(np.mean(times))}


# -- verify ---------------------------------------------------------------------------------------------

TOLERANCES = {"float32": (1e-4, 1e-3), "float16": (1e-2, 1e-2), "bfloat16": (5e-2, 5e-2)}  # (atol, rtol)


def compare(expected: dict, got: dict, precision: str) -> list[dict]:
    """Per output: max absolute and relative error, and whether |got - expected| <= atol + rtol * |expected|
    holds everywhere, with the tolerances of ``precision``."""
    import numpy as np

    atol, rtol = TOLERANCES[precision]
    rows = []
    for name, reference in expected.items():
        value = got[name].astype(np.float32)
        difference = np.abs(value - reference)
        rows.append({"output": name, "max_abs": float(difference.max(initial=0)),
                     "max_rel": float((difference / np.maximum(np.abs(reference), 1e-6)).max(initial=0)),
                     "atol": atol, "rtol": rtol, "pass": bool((difference <= atol + rtol * np.abs(reference)).all())})
    return rows


def sample_inputs(declared: list[Declared], seed: int = 0) -> dict:
    """Standard-normal inputs (seeded) at each dynamic input's largest batch: what `verify` runs when
    given no inputs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    def size(entry, dim):  # the batch's largest; a named dimension's largest in the first profile
        return entry.batch[1] if dim is None else entry.profiles[0][dim][1] if isinstance(dim, str) else dim

    return {d.name: rng.standard_normal(tuple(size(d, dim) for dim in d.shape)).astype(np.float32) for d in declared}


def check_engine_matches(manifest: dict, spec_path: str, weights_path: str | None) -> None:
    """`verify --engine`: the engine must come from this spec and these weights (SHA-256 in its manifest)."""
    from .build import sha256_file

    if manifest.get("random_weights"):
        raise UsageError("the engine was built with --random-weights: it computes nothing the reference could "
                         "match; build it on the spec's weights to verify it")
    if manifest["spec"]["sha256"] != sha256_file(spec_path):
        raise UsageError(f"the engine was built from another version of {spec_path} (its SHA-256 differs from the "
                         "manifest's); build it again or verify against the spec it was built from")
    recorded = (manifest.get("weights") or {}).get("sha256")
    if weights_path and recorded and recorded != sha256_file(weights_path):
        raise UsageError(f"the engine holds other weights than {weights_path} (SHA-256 differs from the manifest's)")
