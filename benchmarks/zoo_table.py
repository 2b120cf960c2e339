"""The model zoo table of docs/zoo.md: parameters and multiply-accumulates (netdsl summary), the number of layers
in the TensorRT network netdsl defines (before TensorRT fuses any) and the time of a TensorRT-RTX build of
each spec in specs/zoo (random weights, float32, this machine, one build each after a warm-up build of
LeNet).

Run: python benchmarks/zoo_table.py   (prints a Markdown table)
     python benchmarks/zoo_table.py --tasks   (the rows of the YOLO specs' other tasks, n scale)
     python benchmarks/zoo_table.py specs/zoo/bert_base_uncased.yaml:preset=all_minilm_l6_v2   (chosen specs,
     each with its --set values; named dimensions at profile 0's opt, as `netdsl summary` counts them)
"""

import glob
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl import build, summary  # noqa: E402
from netdsl.spec.specparams import parse_override  # noqa: E402
from netdsl.weights.bind import BoundWeight  # noqa: E402


def random_weights(checked):
    rng = np.random.default_rng(0)
    bound = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            array = rng.standard_normal(slot.shape, dtype=np.float32) * 0.05
            if slot.name == "running_var":
                array = np.abs(array) + 0.5
            bound[f"{node.name}.{slot.name}"] = BoundWeight(f"{node.name}.{slot.name}", node.name, slot.name, array)
    return bound


TASKS = ("segment", "pose", "obb", "classify")  # `--set task=...` of specs/zoo/yolov8.yaml and yolo11.yaml


def row(path: str, label: str, params: dict | None = None) -> str:
    checked = build.load_spec(path, params=params)
    table = summary.to_json(checked)
    bound = random_weights(checked)
    layers = build.network_for(checked, bound)[1].num_layers
    start = time.perf_counter()
    plan = build.build_plan(checked, bound)
    seconds = time.perf_counter() - start
    if checked.graph.inputs[0].shape[2:] and not isinstance(checked.graph.inputs[0].shape[2], int):
        opt = checked.graph.profiles[0].ranges  # named sizes: the profile's opt, where MACs are counted
        shape = f"3x{opt['height'][1]}x{opt['width'][1]}"
    else:
        shape = "x".join(str(d) for d in checked.graph.inputs[0].shape[1:])
    return (f"| {label} | {shape} | {table['total_params']:,} | {table['total_macs']:,} | {layers} | "
            f"{seconds:.1f} | {plan.data.nbytes / 1e6:.0f} |")


def main() -> int:
    lenet = build.load_spec(os.path.join(ROOT, "specs", "lenet.yaml"))
    build.build_plan(lenet, build.bind_weights(lenet))  # warm-up: TensorRT's one-time start
    print("| network | input | parameters | MACs per sample | TensorRT layers | TensorRT-RTX build (s) | plan (MB) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    if "--tasks" in sys.argv[1:]:
        for family in ("yolov8", "yolo11"):
            for task in TASKS:
                path = os.path.join(ROOT, "specs", "zoo", f"{family}.yaml")
                print(row(path, f"`{family}` n, `--set task={task}`", {"task": task}))
        return 0
    chosen = [argument.partition(":") for argument in sys.argv[1:]]
    for path, _, values in chosen or [(p, "", "") for p in sorted(glob.glob(os.path.join(ROOT, "specs", "zoo", "*.yaml")))]:
        params = dict(parse_override(value) for value in values.split(",") if value)
        print(row(path, build.load_spec(path, params=params).graph.name, params or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
