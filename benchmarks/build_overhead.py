"""`netdsl build` overhead: ResNet-50 (specs/zoo/resnet50.yaml, 25.6 M parameters, random weights in a
.safetensors) built by netdsl and by a hand-written TensorRT script making the same calls with the same
weights (benchmarks/handwritten_resnet50.py), each in a fresh process, in the same run.

netdsl's overhead is everything it does except TensorRT's build_serialized_network: reading and checking
the spec and weights, lowering, and writing the plan and manifest (SHA-256 of spec, weights and plan).
Target (issue 4): under 5% of the hand-written script's total time.
Run: python benchmarks/build_overhead.py [--repeat 3]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl.spec import load  # noqa: E402
from netdsl.weights import write_weights  # noqa: E402

SPEC = os.path.join(ROOT, "specs", "zoo", "resnet50.yaml")
NETDSL = r"""
import sys, time
sys.path.insert(0, {root!r})
import numpy
try:
    import tensorrt
except ImportError:
    import tensorrt_rtx  # imported before the clock starts, as in the hand-written script
from netdsl import build
start = time.perf_counter()
checked = build.load_spec({spec!r})
options = build.options_for(checked)
bound = build.bind_weights(checked, {weights!r})
plan = build.build_plan(checked, bound, options, weights_path={weights!r})
saving = time.perf_counter()
build.save(plan, {out!r})
end = time.perf_counter()
print(end - start, plan.build_seconds, end - saving)
"""


def random_weights(path: str) -> None:
    checked = load(SPEC)
    rng = np.random.default_rng(0)
    arrays = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            array = rng.standard_normal(slot.shape, dtype=np.float32) * 0.05
            arrays[f"{node.name}.{slot.name}"] = np.abs(array) + 0.5 if slot.name == "running_var" else array
    write_weights(path, arrays)


def timed(command: list[str]) -> tuple[float, ...]:
    return tuple(float(v) for v in subprocess.run(command, capture_output=True, text=True, check=True).stdout.split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    try:
        weights = os.path.join(folder, "resnet50.safetensors")
        random_weights(weights)
        netdsl_code = NETDSL.format(root=ROOT, spec=SPEC, weights=weights, out=os.path.join(folder, "netdsl.plan"))
        hand = [sys.executable, os.path.join(ROOT, "benchmarks", "handwritten_resnet50.py"), weights,
                os.path.join(folder, "hand.plan")]
        runs = {"netdsl": [], "hand": []}
        for _ in range(args.repeat):  # interleaved, so drift in machine load hits both
            runs["netdsl"].append(timed([sys.executable, "-c", netdsl_code]))
            runs["hand"].append(timed(hand))
        netdsl_total = statistics.median(t for t, _, _ in runs["netdsl"])
        netdsl_overhead = statistics.median(t - b for t, b, _ in runs["netdsl"])
        netdsl_save = statistics.median(s for _, _, s in runs["netdsl"])
        hand_total = statistics.median(t for t, _ in runs["hand"])
        hand_rest = statistics.median(t - b for t, b in runs["hand"])
        print(f"ResNet-50, {args.repeat} runs each, medians (seconds, in-process, after importing numpy and TensorRT):")
        print(f"  hand-written script  total {hand_total:7.3f}   outside build_serialized_network {hand_rest:6.3f}")
        print(f"  netdsl build         total {netdsl_total:7.3f}   outside build_serialized_network {netdsl_overhead:6.3f}"
              f" (of which writing plan + manifest with fsync {netdsl_save:.3f}; the script writes without fsync)")
        ratio = netdsl_overhead / hand_total
        print(f"netdsl overhead / hand-written total = {ratio:.1%} (target < 5%: {'met' if ratio < 0.05 else 'NOT met'})")
        print(f"netdsl overhead without the durable write / hand-written total = "
              f"{(netdsl_overhead - netdsl_save) / hand_total:.1%}")
        print(f"netdsl total / hand-written total = {netdsl_total / hand_total:.3f}")
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
