""".wts parsing: netdsl's reader against two baselines in the same run, on a generated ResNet-50-sized
file (25.6 M float32 values, about 230 MB of text):

- a straightforward line-by-line Python parser (split each line, int(value, 16) per value);
- a C++ loader reading the way tensorrtx's samples do (`>> std::hex` into uint32_t), compiled here with
  g++ -O2 from benchmarks/wts_loader.cpp. Its time is measured inside the program (file open to last
  value), so process start-up does not count against it.

Target (issue 3): netdsl faster than the C++ loader. Every parser's values are checked against the
generated ones, so a fast wrong parser cannot win.
Run: python benchmarks/wts_speed.py [--values 25600000] [--keep FILE]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl.weights import read_weights, write_weights  # noqa: E402


def generate(path: str, total: int) -> dict:
    """Tensors with ResNet-50's mix of sizes (many small, a few over 2 M values), summing to ``total``."""
    rng = np.random.default_rng(0)
    sizes, left = [], total
    pattern = [64, 256, 4_096, 36_864, 147_456, 589_824, 1_048_576, 2_359_296]
    index = 0
    while left > 0:
        size = min(pattern[index % len(pattern)], left)
        sizes.append(size)
        left -= size
        index += 1
    arrays = {f"layer{i}.weight": rng.standard_normal(size).astype(np.float32) for i, size in enumerate(sizes)}
    write_weights(path, arrays)
    return arrays


def python_baseline(path: str) -> dict:
    weights = {}
    with open(path) as stream:
        count = int(stream.readline())
        for _ in range(count):
            parts = stream.readline().split()
            name, size = parts[0], int(parts[1])
            values = [int(value, 16) for value in parts[2:2 + size]]
            weights[name] = np.array(values, dtype=np.uint32).view(np.float32)
    return weights


def checksum(arrays) -> int:
    return sum(int(a.reshape(-1).view(np.uint32).astype(np.uint64).sum()) for a in arrays) % 2**64


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=25_600_000)
    parser.add_argument("--keep", help="write the generated file here and keep it")
    args = parser.parse_args()
    if shutil.which("g++") is None:
        print("g++ is needed for the C++ baseline (apt install g++)", file=sys.stderr)
        return 2
    folder = tempfile.mkdtemp()
    try:
        path = args.keep or os.path.join(folder, "resnet50_sized.wts")
        arrays = generate(path, args.values)
        expected = checksum(arrays.values())
        del arrays
        size = os.path.getsize(path)
        print(f"file: {size / 1e6:.0f} MB, {args.values:,} values")
        binary = os.path.join(folder, "wts_loader")
        subprocess.run(["g++", "-O2", "-o", binary, os.path.join(ROOT, "benchmarks", "wts_loader.cpp")], check=True)

        start = time.perf_counter()
        tensors = read_weights(path)
        netdsl_s = time.perf_counter() - start
        assert checksum(t.data for t in tensors.values()) == expected, "netdsl read wrong values"
        del tensors

        result = subprocess.run([binary, path], capture_output=True, text=True, check=True).stdout.split()
        cpp_s = float(result[3])
        assert int(result[2]) == expected, "C++ loader read wrong values"

        start = time.perf_counter()
        baseline = python_baseline(path)
        python_s = time.perf_counter() - start
        assert checksum(baseline.values()) == expected, "Python baseline read wrong values"
        del baseline

        rows = [("netdsl (numpy hex decode on an mmap)", netdsl_s), ("C++ >> std::hex (tensorrtx style)", cpp_s),
                ("Python line-by-line int(v, 16)", python_s)]
        for label, seconds in rows:
            print(f"{label:38s} {seconds:7.2f} s  {args.values / seconds / 1e6:6.1f} M values/s")
        print(f"netdsl vs C++ loader: {cpp_s / netdsl_s:.2f}x faster   netdsl vs Python: {python_s / netdsl_s:.1f}x "
              "faster")
        print("target: faster than the C++ loader:", "met" if netdsl_s < cpp_s else "NOT met")
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
