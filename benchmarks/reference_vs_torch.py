"""The reference executor against PyTorch eager on the same network and input: time and peak memory.

Each side runs in a fresh process: it loads the network with random weights, resets the process's peak
RSS (Linux: /proc/self/clear_refs), runs the forward pass REPEAT times and reports the median time and
the growth of peak RSS during the runs (the working memory of a forward pass; weights and imports are
there before the reset and are not counted). PyTorch uses the same number of threads as numpy's BLAS
is allowed here (both default to every core).

Run: python benchmarks/reference_vs_torch.py [--model resnet50] [--batch 8] [--repeat 3]
Goal (issue 21): netdsl's time <= PyTorch's, peak working memory <= 1.2x PyTorch's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def measure(run, repeat: int) -> dict:
    import gc

    run()  # warm-up (first-call costs: BLAS threads, torch dispatch)
    gc.collect()
    before = rss_bytes()
    reset_peak()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "peak_extra": peak_rss_bytes() - before}


def side_netdsl(model: str, batch: int, repeat: int) -> dict:
    import numpy as np

    sys.path.insert(0, ROOT)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from netdsl import reference
    from netdsl.build import load_spec
    from opcases import random_weights

    checked = load_spec(os.path.join(ROOT, "specs", "zoo", f"{model}.yaml"))
    bound = random_weights(checked)
    name = checked.graph.inputs[0].name
    shape = [batch if not isinstance(d, int) else d for d in checked.graph.inputs[0].shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return measure(lambda: reference.run(checked, bound, {name: x}), repeat)


def side_torch(model: str, batch: int, repeat: int) -> dict:
    import torch

    sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))
    from torch_models import MODELS

    net = MODELS[model]().eval()
    x = torch.randn(batch, 3, 224, 224)

    def run():
        with torch.no_grad():
            net(x)

    return measure(run, repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", choices=["netdsl", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side = side_netdsl if args.side == "netdsl" else side_torch
        print(json.dumps(side(args.model, args.batch, args.repeat)))
        return 0
    results = {}
    for side in ("torch", "netdsl"):
        out = subprocess.run([sys.executable, __file__, "--side", side, "--model", args.model, "--batch",
                              str(args.batch), "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
        results[side] = json.loads(out.stdout)
    t, n = results["torch"], results["netdsl"]
    print(f"{args.model}, batch {args.batch}, median of {args.repeat} forward passes, each side in a fresh process")
    print(f"  PyTorch eager : {t['seconds']:.3f} s, peak working memory {t['peak_extra'] / 2**20:.0f} MiB")
    print(f"  netdsl reference: {n['seconds']:.3f} s, peak working memory {n['peak_extra'] / 2**20:.0f} MiB")
    print(f"  ratio netdsl/PyTorch: time {n['seconds'] / t['seconds']:.2f}x (goal <= 1), "
          f"memory {n['peak_extra'] / max(t['peak_extra'], 1):.2f}x (goal <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
