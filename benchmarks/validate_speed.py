"""Validation speed: check (parse, expand, shape inference) of generated specs at 1k, 5k and 10k layers,
and `netdsl validate specs/lenet.yaml` start-up next to `python -c pass`.

Targets (issue 2): 10k layers in under 1 s, time growing linearly; validate under 3x `python -c pass`.
Run: python benchmarks/validate_speed.py [--repeat N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl.spec import check  # noqa: E402


def generate(layers: int) -> str:
    """A residual network of conv/batch_norm/relu triples with an add every 4th triple."""
    lines = ["netdsl: 1", "inputs:", "  - {name: data, shape: [-1, 16, 32, 32], batch: {min: 1, opt: 4, max: 8}}",
             "layers:"]
    count, unit, skip = 0, 0, "data"
    while count < layers:
        lines.append(f"  - {{name: conv{unit}, kind: convolution, out_channels: 16, kernel: 3, padding: 1, bias: false}}")
        lines.append(f"  - {{name: bn{unit}, kind: batch_norm}}")
        lines.append(f"  - {{name: relu{unit}, kind: relu}}")
        count += 3
        if unit % 4 == 3 and count < layers:
            lines.append(f"  - {{name: add{unit}, kind: add, inputs: [relu{unit}, {skip}]}}")
            skip = f"add{unit}"
            count += 1
        unit += 1
    return "\n".join(lines) + "\n"


def time_check(path: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        checked, diagnostics = check(path)
        times.append(time.perf_counter() - start)
        assert checked is not None, list(diagnostics)[:3]
    return min(times)


def time_command(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    print("validate + shape inference of generated specs (best of", args.repeat, "runs)")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for layers in (1000, 5000, 10000):
            path = os.path.join(folder, f"net{layers}.yaml")
            with open(path, "w") as handle:
                handle.write(generate(layers))
            results[layers] = time_check(path, args.repeat)
            print(f"  {layers:>6} layers: {results[layers] * 1000:8.1f} ms  "
                  f"({results[layers] / layers * 1e6:5.1f} us/layer)")
    print(f"  growth 1k -> 10k: x{results[10000] / results[1000]:.1f} for x10 layers (linear: ~10)")
    print(f"  10k layers {'under' if results[10000] < 1 else 'OVER'} 1 s target")

    baseline = time_command([sys.executable, "-c", "pass"], args.repeat * 2)
    validate = time_command([sys.executable, "-m", "netdsl", "validate", "specs/lenet.yaml"], args.repeat * 2)
    print("start-up (median):")
    print(f"  python -c pass:                    {baseline * 1000:7.1f} ms")
    print(f"  netdsl validate specs/lenet.yaml:  {validate * 1000:7.1f} ms  (x{validate / baseline:.2f}; target < 3)")


if __name__ == "__main__":
    main()
