"""Run every zoo spec on the reference executor at a small size with seeded random weights, and save the
outputs (``save DIR``); or compare two such folders (``compare BEFORE AFTER``): the largest difference per
output, absolute, relative to the output's largest magnitude, and in float32 ulps of the larger value.

Used to show that a change to the reference's kernels keeps its results (issue 28: within float32
rounding). Weights are normal, scaled by 1/sqrt(fan-in) so that deep networks stay finite; batch 1, and
160 for another named size (YOLO's height and width), brought within the range of the spec's first profile.

    python tools/reference_outputs.py save /tmp/before
    python tools/reference_outputs.py compare /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def weights(checked, seed: int = 0) -> dict:
    from netdsl.weights.bind import BoundWeight

    rng = np.random.default_rng(seed)
    bound = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            shape = tuple(slot.shape)
            scale = 1 / np.sqrt(max(1, int(np.prod(shape[1:])))) if len(shape) >= 2 else 0.1
            array = (rng.standard_normal(shape) * scale).astype(np.float32)
            if slot.name == "running_var":
                array = np.abs(array) + 0.5
            name = f"{node.name}.{slot.name}"
            bound[name] = BoundWeight(name, node.name, slot.name, array)
    return bound


def inputs(checked, seed: int = 1) -> dict:
    from netdsl.ops import BATCH
    from netdsl.symbolic import evaluate

    rng = np.random.default_rng(seed)
    result = {}
    for spec_input in checked.graph.inputs:
        names = set().union(*(d.names() for d in spec_input.shape if hasattr(d, "names")))
        sizes = {name: 1 if name in ("batch", BATCH.name) or name.endswith("_batch") else 160 for name in names}
        if checked.graph.profiles:  # within the first profile's range (CLIP's sequence <= 32, GPT-2's past 0)
            ranges = checked.graph.profiles[0].ranges
            sizes = {name: min(max(size, ranges[name][0]), ranges[name][-1]) if name in ranges else size
                     for name, size in sizes.items()}
        shape = [evaluate(d, sizes) for d in spec_input.shape]
        if spec_input.dtype.startswith(("int", "uint")):  # token ids and masks (GPT-2): 0 and 1
            result[spec_input.name] = rng.integers(0, 2, shape).astype(spec_input.dtype)
        else:
            result[spec_input.name] = rng.standard_normal(shape).astype(np.float32)
    return result


def save(folder: str) -> None:
    from netdsl import reference
    from netdsl.build import load_spec

    os.makedirs(folder, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(ROOT, "specs", "zoo", "*.yaml"))):
        checked = load_spec(path)
        outputs = reference.run(checked, weights(checked), inputs(checked))
        name = os.path.splitext(os.path.basename(path))[0]
        np.savez(os.path.join(folder, f"{name}.npz"), **outputs)
        print(name, {k: v.shape for k, v in outputs.items()}, flush=True)


def ulps(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| in units of the float32 spacing at the larger of |a|, |b| (where both are finite)."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    finite = np.isfinite(a) & np.isfinite(b)
    spacing = np.spacing(np.maximum(np.abs(a[finite]), np.abs(b[finite])))
    return float(np.max(np.abs(a[finite].astype(np.float64) - b[finite]) / spacing, initial=0.0))


def compare(before: str, after: str) -> int:
    worst = 0.0
    for path in sorted(glob.glob(os.path.join(before, "*.npz"))):
        old, new = np.load(path), np.load(os.path.join(after, os.path.basename(path)))
        for key in old.files:
            a, b = old[key], new[key]
            if a.shape != b.shape or (np.isfinite(a) != np.isfinite(b)).any():
                print(f"{os.path.basename(path)} {key}: shapes or non-finite values differ")
                return 1
            if not np.issubdtype(a.dtype, np.floating):
                same = np.array_equal(a, b)
                print(f"{os.path.basename(path)[:-4]:22} {key:10} {a.dtype} {'identical' if same else 'DIFFERENT'}")
                continue
            diff = float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0))
            scale = float(np.max(np.abs(a), initial=0.0))
            worst = max(worst, diff / scale if scale else diff)
            print(f"{os.path.basename(path)[:-4]:22} {key:10} max |diff| {diff:.3g}, relative to max |out| "
                  f"{diff / scale if scale else diff:.3g}, {ulps(a, b):.0f} ulps, max |out| {scale:.3g}")
    print(f"largest relative change: {worst:.3g}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("save").add_argument("folder")
    both = sub.add_parser("compare")
    both.add_argument("before")
    both.add_argument("after")
    args = parser.parse_args()
    if args.command == "save":
        save(args.folder)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
