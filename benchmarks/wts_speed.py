""".wts reading and conversion, each against baselines measured in the same run, on a generated
ResNet-50-sized file (25.6 M float32 values, about 230 MB of text).

Reading: netdsl's reader against
- a straightforward line-by-line Python parser (split each line, int(value, 16) per value);
- a C++ loader reading the way tensorrtx's samples do (`>> std::hex` into uint32_t), compiled here with
  g++ -O2 from benchmarks/wts_loader.cpp. Its time is measured inside the program (file open to last
  value), so process start-up does not count against it.

Conversion (issue 5): `.wts` to `.safetensors` with netdsl (read, write, fsync, rename), timed inside a
fresh process from the call to convert() to its return, against the C++ loader's read alone, also in
a fresh process; and the peak RSS of both processes (from wait4). Targets: the conversion 5x faster
than the C++ reader; peak memory near the output size (the printed base is the peak of the same
netdsl process converting a one-tensor file: the interpreter, numpy and netdsl themselves).

Every parser's values are checked against the generated ones, and so is the converted file, so a
fast wrong one cannot win. The page cache is flushed (sync) before each conversion process.
Run: python benchmarks/wts_speed.py [--values 25600000] [--repeat 5] [--keep FILE]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl.weights import read_weights, write_weights  # noqa: E402

CONVERT = r"""
import sys, time
sys.path.insert(0, {root!r})
import numpy
from netdsl.weights.convert import convert
start = time.perf_counter()
convert({source!r}, {target!r})
print(time.perf_counter() - start)
"""


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


# Spawns the measured command and prints its peak RSS (KiB) last. A process started straight from this
# one would inherit this process's own high-water mark at exec, so a small launcher stands between.
LAUNCHER = r"""
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stdout.flush()
print(usage.ru_maxrss, flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def fresh_process(command: list[str]) -> tuple[list[str], float, float]:
    """What a fresh process prints (split), its wall time in seconds (with the launcher's) and its peak
    RSS in MiB."""
    os.sync()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", LAUNCHER, *command], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed with exit code {result.returncode}: {result.stderr[-500:]}")
    words = result.stdout.split()
    return words[:-1], wall, int(words[-1]) / 1024


def reading(path: str, binary: str, values: int, expected: int, repeat: int) -> None:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        tensors = read_weights(path)
        times.append(time.perf_counter() - start)
        assert checksum(t.data for t in tensors.values()) == expected, "netdsl read wrong values"
        del tensors
    netdsl_s = statistics.median(times)
    cpp = [subprocess.run([binary, path], capture_output=True, text=True, check=True).stdout.split()
           for _ in range(repeat)]
    assert all(int(result[2]) == expected for result in cpp), "C++ loader read wrong values"
    cpp_s = statistics.median(float(result[3]) for result in cpp)
    start = time.perf_counter()
    baseline = python_baseline(path)
    python_s = time.perf_counter() - start
    assert checksum(baseline.values()) == expected, "Python baseline read wrong values"
    del baseline
    print(f"reading ({repeat} runs, medians; the Python parser once):")
    rows = [("netdsl (hex decode on an mmap)", netdsl_s), ("C++ >> std::hex (tensorrtx style)", cpp_s),
            ("Python line-by-line int(v, 16)", python_s)]
    for label, seconds in rows:
        print(f"  {label:36s} {seconds:7.3f} s  {values / seconds / 1e6:6.1f} M values/s")
    print(f"  netdsl vs C++ loader: {cpp_s / netdsl_s:.2f}x faster   netdsl vs Python: {python_s / netdsl_s:.1f}x faster")


def conversion(path: str, binary: str, folder: str, expected: int, repeat: int) -> None:
    target = os.path.join(folder, "converted.safetensors")
    netdsl = [sys.executable, "-c", CONVERT.format(root=ROOT, source=path, target=target)]
    tiny = os.path.join(folder, "tiny.wts")
    write_weights(tiny, {"w": np.ones(4, np.float32)})
    base = [sys.executable, "-c", CONVERT.format(root=ROOT, source=tiny, target=tiny + ".safetensors")]
    runs = {"netdsl": [], "cpp": [], "base": []}
    for _ in range(repeat):  # interleaved, so drift in machine load hits both
        runs["netdsl"].append(fresh_process(netdsl))
        runs["cpp"].append(fresh_process([binary, path]))
        runs["base"].append(fresh_process(base))
        assert checksum(t.data for t in read_weights(target).values()) == expected, "netdsl converted wrong values"
    output_mib = os.path.getsize(target) / 2**20

    def median(who, pick):
        return statistics.median(pick(run) for run in runs[who])

    netdsl_s, netdsl_wall, netdsl_rss = (median("netdsl", lambda r: float(r[0][0])), median("netdsl", lambda r: r[1]),
                                         median("netdsl", lambda r: r[2]))
    cpp_s, cpp_wall, cpp_rss = (median("cpp", lambda r: float(r[0][3])), median("cpp", lambda r: r[1]),
                                median("cpp", lambda r: r[2]))
    base_rss = median("base", lambda r: r[2])
    print(f"conversion .wts -> .safetensors ({output_mib:.0f} MiB out), fresh processes, {repeat} runs, medians:")
    print(f"  {'':36s} {'timed inside':>12s} {'whole process':>14s} {'peak RSS':>9s}")
    print(f"  {'netdsl convert (read, write, fsync)':36s} {netdsl_s:10.3f} s {netdsl_wall:12.3f} s {netdsl_rss:6.0f} MiB")
    print(f"  {'C++ loader (read only)':36s} {cpp_s:10.3f} s {cpp_wall:12.3f} s {cpp_rss:6.0f} MiB")
    ratio = cpp_s / netdsl_s
    print(f"  netdsl conversion vs C++ read: {ratio:.2f}x faster (target 5x: {'met' if ratio >= 5 else 'NOT met'}); "
          f"whole processes: {cpp_wall / netdsl_wall:.2f}x")
    print(f"  peak RSS: netdsl / C++ = {netdsl_rss / cpp_rss:.2f}; netdsl above its base ({base_rss:.0f} MiB, the "
          f"same process converting a tiny file) = {netdsl_rss - base_rss:.0f} MiB = "
          f"{(netdsl_rss - base_rss) / output_mib:.2f}x the output")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=25_600_000)
    parser.add_argument("--repeat", type=int, default=5)
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
        print(f"file: {os.path.getsize(path) / 1e6:.0f} MB, {args.values:,} values")
        binary = os.path.join(folder, "wts_loader")
        subprocess.run(["g++", "-O2", "-o", binary, os.path.join(ROOT, "benchmarks", "wts_loader.cpp")], check=True)
        reading(path, binary, args.values, expected, args.repeat)
        conversion(path, binary, folder, expected, args.repeat)
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
