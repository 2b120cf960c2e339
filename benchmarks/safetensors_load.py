"""safetensors loading: time and peak memory of netdsl's reader (then touching every value, as a build
does) against `numpy.fromfile` of the same data bytes, each in a fresh process, on a generated file of
25.6 M float32 values (102 MB, ResNet-50-sized).

Peak RSS is the process's high-water mark (VmHWM, so Linux only) minus its mark after imports, so the interpreter
and numpy do not count. Target (issue 3): netdsl's peak within 1.1x the weight bytes (a memory map holds
the file once; a reader that copies would need 2x).
Run: python benchmarks/safetensors_load.py [--values 25600000]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl.weights import write_weights  # noqa: E402

CHILD = r"""
import sys, time
sys.path.insert(0, {root!r})
import numpy as np
from netdsl.weights import read_weights
def high_water():  # VmHWM: this process's own peak RSS (ru_maxrss would include the parent's, via fork)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = high_water()
start = time.perf_counter()
if {mode!r} == "netdsl":
    tensors = read_weights({path!r})
    total = sum(float(t.as_float32().sum(dtype=np.float64)) for t in tensors.values())
else:
    data = np.fromfile({path!r}, dtype=np.float32, offset={offset})
    total = float(data.sum(dtype=np.float64))
seconds = time.perf_counter() - start
peak = high_water()
print(seconds, (peak - before) * 1024, total)
"""


def run(mode: str, path: str, offset: int) -> tuple[float, int, float]:
    code = CHILD.format(root=ROOT, mode=mode, path=path, offset=offset)
    seconds, peak, total = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                          check=True).stdout.split()
    return float(seconds), int(peak), float(total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=25_600_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    try:
        rng = np.random.default_rng(0)
        per_tensor = 1_048_576
        arrays = {f"layer{i}.weight": rng.standard_normal(min(per_tensor, args.values - start)).astype(np.float32)
                  for i, start in enumerate(range(0, args.values, per_tensor))}
        path = os.path.join(folder, "w.safetensors")
        write_weights(path, arrays)
        del arrays
        weight_bytes = args.values * 4
        offset = os.path.getsize(path) - weight_bytes  # header; tensors are stored back to back after it
        print(f"file: {os.path.getsize(path) / 1e6:.0f} MB, {args.values:,} float32 values, "
              f"{weight_bytes / 1e6:.0f} MB of weights")
        netdsl = run("netdsl", path, offset)
        numpy = run("numpy", path, offset)
        assert abs(netdsl[2] - numpy[2]) <= 1e-6 * max(1.0, abs(numpy[2])), "the two read different values"
        for label, (seconds, peak, _) in (("netdsl read_weights + touch", netdsl), ("numpy.fromfile + touch", numpy)):
            print(f"{label:28s} {seconds:6.3f} s   peak RSS +{peak / 1e6:6.1f} MB = {peak / weight_bytes:.2f}x "
                  "weight bytes")
        print(f"netdsl / numpy.fromfile: time {netdsl[0] / numpy[0]:.2f}x, peak RSS {netdsl[1] / numpy[1]:.2f}x")
        print("target: peak RSS within 1.1x the weight bytes:", "met" if netdsl[1] <= 1.1 * weight_bytes else "NOT met")
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
