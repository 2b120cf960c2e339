"""Running engine plans with cuda-python (`cuda.bindings`): load a plan and its manifest, allocate
device buffers, copy in, execute (`set_tensor_address` + `execute_async_v3`) with a dynamic batch or
named dynamic dimensions, copy out, and free everything, on error too.

Everything that can be decided without a GPU is decided first, so that a mistake is reported on any
machine: the manifest is read and matched to the plan (SHA-256), inputs are checked against the
engine's I/O tensors, batch range and optimization profiles (the first profile that allows their sizes
is chosen), and buffer sizes are planned: from the manifest for a -1 batch, from the shapes TensorRT's
execution context reports for named dimensions. Only then is a GPU needed; without one (or without a
TensorRT that runs on it) :class:`CannotRun` stops the command with exit code 4. The TensorRT calls for
named dimensions (`set_optimization_profile_async`, `set_input_shape`, `get_tensor_shape`) follow the
API that TensorRT 10/11 and TensorRT-RTX share; no GPU of this project runs TensorRT, so they have only
run against a stand-in context (tests/test_runtime_dynamic.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from typing import NamedTuple

from .arrays import Declared, check_arrays_sized, dim_size, fitting_profile
from .diagnostics import CannotRun, InternalError, NetdslError, UsageError

ITEMSIZE = {"float32": 4, "float16": 2}
MAX_MANIFEST_BYTES = 64 << 20  # a manifest records a few hundred bytes a weight: far below this
MAX_MANIFEST_DEPTH = 64  # a manifest nests 5 deep; json's parser recurses once a level
RTX_CAPABILITIES = {(8, 0), (8, 6), (8, 9), (12, 0), (12, 1)}  # what TensorRT-RTX 1.7 says it runs on


class DeviceError(NetdslError):
    """A CUDA or TensorRT call failed while running."""


# -- the manifest: everything decided without a GPU -----------------------------------------------------


def read_manifest(plan_path: str) -> tuple[dict, bytes]:
    """(manifest, plan bytes); the plan must be the one the manifest describes."""
    from .build import manifest_path
    from .files import input_problem, open_regular

    problem = input_problem(plan_path)
    if problem:
        raise UsageError(f"cannot read the engine plan {plan_path}: {problem}")
    if not os.path.isfile(plan_path):
        raise UsageError(f"no such engine plan: {plan_path}")
    record_path = manifest_path(plan_path)
    try:
        manifest = parse_manifest(record_path)
        plan_record, inputs, outputs = manifest["plan"], manifest["inputs"], manifest["outputs"]
        expected_hash = plan_record["sha256"]
        if not isinstance(inputs, list) or not isinstance(outputs, list):
            raise TypeError("inputs and outputs are lists")
    except FileNotFoundError:
        raise UsageError(f"{plan_path} has no manifest ({record_path}); netdsl runs plans that `netdsl build` "
                         "wrote") from None
    except OSError as error:
        raise UsageError(f"cannot read the manifest {record_path}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{record_path} is not a netdsl manifest ({str(error)[:80]})") from None
    try:
        with open_regular(plan_path) as stream:
            plan = stream.read()
    except OSError as error:
        raise UsageError(f"cannot read the engine plan {plan_path}: {error.strerror or error}") from None
    if hashlib.sha256(plan).hexdigest() != expected_hash:
        raise UsageError(f"{plan_path} does not match its manifest (SHA-256 differs): the plan was replaced or "
                         "damaged after the build; build it again")
    return manifest, plan


def parse_manifest(record_path: str) -> dict:
    """The JSON of a manifest, its size and nesting bounded before it is parsed (json recurses once a
    level, so a 100,000-deep file would end in a RecursionError); a ValueError says what is wrong."""
    from .files import open_regular

    with open_regular(record_path) as stream:
        data = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ValueError(f"it is larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    text = data.decode("utf-8")  # a UnicodeDecodeError is a ValueError
    depth = json_depth(text)
    if depth > MAX_MANIFEST_DEPTH:
        raise ValueError(f"it nests {depth:,} levels deep; a manifest nests at most {MAX_MANIFEST_DEPTH}")
    return json.loads(text)


def json_depth(text: str) -> int:
    """How deep the arrays and objects of JSON ``text`` nest (brackets inside strings do not count), in
    linear time."""
    import re

    import numpy as np

    outside_strings = re.sub(r'"[^"\\]*(?:\\.[^"\\]*)*"', "", text)
    codes = np.frombuffer(outside_strings.encode("utf-8"), np.uint8)
    if not len(codes):
        return 0
    opening = (codes == ord("[")) | (codes == ord("{"))
    closing = (codes == ord("]")) | (codes == ord("}"))
    steps = opening.view(np.int8) - closing.view(np.int8)
    return max(int(np.cumsum(steps, dtype=np.int32).max()), 0)


def engine_profiles(manifest: dict) -> list:
    """The engine's optimization profiles of named dimensions (netdsl.symbolic.Profile, in the engine's
    order) as its manifest records them; none when its only dynamic size is the -1 batch."""
    from .symbolic import Profile

    return [Profile(index, {name: (r["min"], r["opt"], r["max"]) for name, r in ranges.items()},
                    {name: r["multiple_of"] for name, r in ranges.items() if r.get("multiple_of", 1) > 1})
            for index, ranges in enumerate(manifest.get("profiles") or ())]


def declared_inputs(manifest: dict) -> list[Declared]:
    """The engine's inputs: static sizes, None for the -1 batch, a name for a named dimension."""
    from .tensors import BATCH

    profiles = tuple(engine_profiles(manifest))
    declared = []
    for entry in manifest["inputs"]:
        batch = entry.get("batch")
        shape = tuple(None if d in (-1, BATCH.name) else d for d in entry.get("dims", entry["shape"]))
        declared.append(Declared(entry["name"], shape, (batch["min"], batch["max"]) if batch else None,
                                 entry["dtype"], profiles))
    return declared


class CheckedInputs(NamedTuple):
    """Inputs ready to run, and what they decide about the engine's dynamic sizes."""

    arrays: dict  # name -> array in the engine's dtype
    batch: int | None  # the -1 batch
    sizes: dict  # named dimension -> size
    profile: int | None  # the optimization profile to select; None for an engine without named dimensions


def check_inputs(manifest: dict, inputs: dict) -> CheckedInputs:
    """The inputs checked against the engine as `netdsl reference` checks them against a spec (names,
    static sizes, dtypes, the batch range, named sizes the same in every input and within a profile), and
    the first optimization profile that allows their sizes."""
    arrays, sizes = check_arrays_sized(declared_inputs(manifest), inputs)
    batch = sizes.pop(None, None)
    profile = fitting_profile(engine_profiles(manifest), sizes) if manifest.get("profiles") else None
    return CheckedInputs(arrays, batch, sizes, profile)


@dataclass(frozen=True)
class Buffer:
    name: str
    shape: tuple
    dtype: str
    nbytes: int
    is_input: bool


def buffer_plan(manifest: dict, batch: int | None, shapes: dict | None = None) -> list[Buffer]:
    """The device buffer of every I/O tensor. Without named dimensions its shape is the manifest's with
    the -1 batch filled in; with them, ``shapes`` (name -> shape) is what TensorRT's execution context
    reports once the input shapes are set (``get_tensor_shape``), never netdsl's own size expressions."""
    buffers = []
    for entries, is_input in ((manifest["inputs"], True), (manifest["outputs"], False)):
        for entry in entries:
            if entry["dtype"] not in ITEMSIZE:
                raise UsageError(f"`{entry['name']}` has dtype {entry['dtype']}, which netdsl cannot run")
            shape = tensor_shape(entry, batch, shapes)
            buffers.append(Buffer(entry["name"], shape, entry["dtype"], math.prod(shape) * ITEMSIZE[entry["dtype"]],
                                  is_input))
    return buffers


def tensor_shape(entry: dict, batch: int | None, shapes: dict | None) -> tuple:
    name, dims = entry["name"], entry["shape"]
    if shapes is None:
        if "dims" in entry:
            raise InternalError(f"`{name}` has named dimensions: its shape must come from TensorRT")
        if -1 in dims and batch is None:
            raise UsageError(f"`{name}` has a dynamic batch; a batch size is needed")
        return tuple(batch if d == -1 else int(d) for d in dims)
    shape = tuple(int(d) for d in shapes[name])
    if len(shape) != len(dims) or any(d not in (-1, s) for d, s in zip(dims, shape)):
        raise DeviceError(f"TensorRT gives `{name}` the shape {list(shape)}, which does not fit the manifest's "
                          f"{entry.get('dims', dims)}")
    if min(shape, default=0) < 0:
        raise DeviceError(f"TensorRT leaves `{name}` at shape {list(shape)}: netdsl's runtime needs every output "
                          "size to follow from the input sizes (an output whose size depends on the data needs "
                          "TensorRT's output allocator)")
    return shape


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


def bench_inputs(manifest: dict, batch: int | None, profile: int | None = None, sizes: dict | None = None
                 ) -> CheckedInputs:
    """Zero inputs for `bench`, checked as `run` checks its inputs: the -1 batch at ``batch`` (default its
    opt); named dimensions at ``sizes`` (name -> size), the others at the opt of optimization profile
    ``profile`` (default 0), which is the profile selected."""
    import numpy as np

    from .tensors import BATCH

    profiles, sizes = engine_profiles(manifest), dict(sizes or {})
    if not profiles and (profile is not None or sizes):
        raise UsageError("--profile and --dim set named dynamic dimensions; this engine has none")
    index = None
    if profiles:
        names = sorted({n for p in profiles for n in p.ranges} - {BATCH.name})
        if batch is not None and not any(entry.get("batch") for entry in manifest["inputs"]):
            raise UsageError(f"this engine has no -1 batch; its dynamic sizes are named ({', '.join(names)}): set "
                             "them with --dim NAME=SIZE")
        index = 0 if profile is None else profile
        if not 0 <= index < len(profiles):
            raise UsageError(f"--profile {index}: the engine has optimization profiles 0..{len(profiles) - 1}")
        unknown = sorted(set(sizes) - set(names))
        if unknown:
            raise UsageError(f"--dim {', '.join(unknown)}: the engine's named dimensions are {', '.join(names)}")
        chosen = profiles[index]
        sizes = {**{n: r[1] for n, r in chosen.ranges.items() if n in names}, **sizes}
        if not chosen.allows(sizes):
            raise UsageError(f"sizes {', '.join(f'{n}={v}' for n, v in sizes.items())} are outside "
                             f"{chosen.describe(sizes)}")
    batch = batch_of(manifest, batch)
    zeros = {d.name: np.zeros(tuple(batch if dim is None else dim_size(dim, sizes) if isinstance(dim, str) else dim
                                    for dim in d.shape), d.dtype) for d in declared_inputs(manifest)}
    return check_inputs(manifest, zeros)._replace(profile=index)


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
    """A stream and device memory for buffers (given here, or to :meth:`allocate` once their sizes are
    known); everything is freed on exit, error or not."""

    def __init__(self, cudart, buffers: list[Buffer] = ()):
        self.cudart = cudart
        self.initial = list(buffers)
        self.buffers: dict[str, Buffer] = {}
        self.pointers: dict[str, int] = {}
        self.stream = None

    def __enter__(self):
        try:
            self.stream = call(self.cudart.cudaStreamCreate(), "cudaStreamCreate")
            self.allocate(self.initial)
        except BaseException:
            self.close()
            raise
        return self

    def allocate(self, buffers: list[Buffer]) -> None:
        for buffer in buffers:
            self.buffers[buffer.name] = buffer
            self.pointers[buffer.name] = call(self.cudart.cudaMalloc(max(buffer.nbytes, 1)),
                                              f"cudaMalloc({buffer.nbytes:,} bytes for `{buffer.name}`)")

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

    def check(self, inputs: dict) -> CheckedInputs:
        return check_inputs(self.manifest, inputs)

    def __enter__(self):
        from .trt import backend, make_logger

        if self.manifest.get("strip_weights") and not self.manifest.get("refitted"):
            raise UsageError(f"{self.path} is a weight-stripped plan: fill it first with `netdsl refit {self.path} "
                             "--weights FILE` (the weights it was built with, unless built with --refit refit)")
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
        checked = self.check(inputs)
        with DeviceBuffers(self.cudart) as device:
            self.prepare(device, checked)
            self.execute(device)
            return {entry["name"]: device.download(entry["name"]) for entry in self.manifest["outputs"]}

    def prepare(self, device: DeviceBuffers, checked: CheckedInputs) -> None:
        """Select the optimization profile (engines with named dimensions), set every input's shape, then
        allocate, bind and upload. Output sizes are what the context reports for these input shapes."""
        context = self.context
        if checked.profile is not None and not context.set_optimization_profile_async(checked.profile,
                                                                                       int(device.stream)):
            raise DeviceError(f"TensorRT refused optimization profile {checked.profile}")
        for name, array in checked.arrays.items():
            if not context.set_input_shape(name, array.shape):
                raise DeviceError(f"TensorRT refused shape {list(array.shape)} for `{name}`")
        shapes = None
        if checked.profile is not None:
            shapes = {entry["name"]: tuple(context.get_tensor_shape(entry["name"]))
                      for entry in self.manifest["inputs"] + self.manifest["outputs"]}
        device.allocate(buffer_plan(self.manifest, checked.batch, shapes))
        for name, pointer in device.pointers.items():
            if not context.set_tensor_address(name, pointer):
                raise DeviceError(f"TensorRT refused the address of `{name}`")
        for name, array in checked.arrays.items():
            device.upload(name, array)

    def execute(self, device: DeviceBuffers) -> None:
        if not self.context.execute_async_v3(int(device.stream)):
            raise DeviceError("TensorRT could not enqueue the engine")
        device.synchronize()

    def bench(self, checked: CheckedInputs, iterations: int = 200, warmup: int = 20) -> dict:
        """Latency percentiles (ms) and throughput (samples/s) of execution alone (no copies), on the
        inputs of :func:`bench_inputs`."""
        import numpy as np

        with DeviceBuffers(self.cudart) as device:
            self.prepare(device, checked)
            for _ in range(warmup):
                self.execute(device)
            times = []
            for _ in range(iterations):
                start = time.perf_counter()
                self.execute(device)
                times.append(time.perf_counter() - start)
        first = next(iter(checked.arrays.values()))
        samples = checked.batch or (first.shape[0] if first.ndim else 1)
        latencies = np.array(times) * 1e3
        return {"batch": samples, "sizes": checked.sizes, "profile": checked.profile, "iterations": iterations,
                "p50_ms": float(np.percentile(latencies, 50)), "p99_ms": float(np.percentile(latencies, 99)),
                "throughput": samples / float(np.mean(times))}


# -- verify ---------------------------------------------------------------------------------------------

TOLERANCES = {"float32": (1e-4, 1e-3), "float16": (1e-2, 1e-2), "bfloat16": (5e-2, 5e-2)}  # (atol, rtol)


def compare(expected: dict, got: dict, precision: str) -> list[dict]:
    """Per output: max absolute and relative error, and whether |got - expected| <= atol + rtol * |expected|
    holds everywhere, with the tolerances of ``precision``; an output of another shape than its reference fails
    with infinite errors."""
    import numpy as np

    atol, rtol = TOLERANCES[precision]
    rows = []
    for name, reference in expected.items():
        value = got[name].astype(np.float32)
        if value.shape != reference.shape:  # numpy would broadcast one over the other, or raise
            rows.append({"output": name, "max_abs": float("inf"), "max_rel": float("inf"), "atol": atol,
                         "rtol": rtol, "pass": False})
            continue
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
        largest = {name: r[2] for name, r in entry.profiles[0].ranges.items()} if entry.profiles else {}
        return entry.batch[1] if dim is None else dim_size(dim, largest) if isinstance(dim, str) else dim

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
