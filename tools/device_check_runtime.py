"""The CUDA half of netdsl's runtime on a real GPU, without TensorRT: device buffers sized from a
manifest, host -> device -> host round trips, every allocation freed (after success, after an error
raised inside, and when an allocation fails), and `require_gpu` reporting a missing TensorRT as exit 4.

Run on a machine with a GPU and cuda-python:  python tools/device_check_runtime.py
Prints one JSON line per check and exits 1 if any check failed.
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from netdsl import runtime  # noqa: E402

MANIFEST = {"inputs": [{"name": "data", "dtype": "float32", "shape": [-1, 3, 224, 224],
                        "batch": {"min": 1, "opt": 8, "max": 64}},
                       {"name": "mask", "dtype": "float16", "shape": [-1, 1, 224, 224],
                        "batch": {"min": 1, "opt": 8, "max": 64}}],
            "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 1000]}]}
results = []


def report(name, ok, **details):
    results.append(ok)
    print(json.dumps({"check": name, "ok": bool(ok), **details}), flush=True)


def free_bytes(cudart):
    free, _ = runtime.call(cudart.cudaMemGetInfo(), "cudaMemGetInfo")
    return free


def main() -> int:
    cudart = runtime.cuda_runtime()
    properties = runtime.call(cudart.cudaGetDeviceProperties(0), "cudaGetDeviceProperties")
    name = properties.name.decode(errors="replace").rstrip("\0") if isinstance(properties.name, bytes) else properties.name
    runtime.call(cudart.cudaFree(0), "context")  # create the context before measuring memory
    baseline = free_bytes(cudart)
    rng = np.random.default_rng(0)
    for batch in (1, 8, 64):
        buffers = runtime.buffer_plan(MANIFEST, batch)
        with runtime.DeviceBuffers(cudart, buffers) as device:
            exact = True
            for buffer in buffers:
                array = rng.standard_normal(buffer.shape).astype(buffer.dtype)
                device.upload(buffer.name, array)
                exact &= np.array_equal(device.download(buffer.name), array)
            used = baseline - free_bytes(cudart)
        report(f"round trip, batch {batch}", exact and used >= sum(b.nbytes for b in buffers),
               bytes=sum(b.nbytes for b in buffers), device_bytes_in_use=used, gpu=str(name))
    report("freed after use", baseline - free_bytes(cudart) < 4 << 20, leaked=baseline - free_bytes(cudart))
    try:
        with runtime.DeviceBuffers(cudart, runtime.buffer_plan(MANIFEST, 64)):
            raise RuntimeError("raised inside")
    except RuntimeError:
        pass
    report("freed after an error inside", baseline - free_bytes(cudart) < 4 << 20, leaked=baseline - free_bytes(cudart))
    huge = dict(MANIFEST, outputs=[{"name": "huge", "dtype": "float32", "shape": [-1, 1 << 40]}])
    try:
        with runtime.DeviceBuffers(cudart, runtime.buffer_plan(huge, 1)):
            report("failed allocation raises", False)
    except runtime.DeviceError as error:
        report("failed allocation raises", "cudaMalloc" in str(error), message=str(error))
    report("freed after a failed allocation", baseline - free_bytes(cudart) < 4 << 20,
           leaked=baseline - free_bytes(cudart))
    try:
        capability = runtime.require_gpu(cudart)
        report("require_gpu without TensorRT", False, capability=capability)
    except runtime.CannotRun as error:
        report("require_gpu without TensorRT", "TensorRT" in str(error) and error.exit_code == 4, message=str(error))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
