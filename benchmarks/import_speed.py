"""Import speed: `netdsl import` (netdsl.onnx.importer.import_onnx: read, ONNX's checker, graph import,
block detection, spec check, weights written) next to `onnx.load` of the same file, in one process.

Target (issue 28): ResNet-50 <= 2x, YOLOv8n <= 3x. The files are made here, offline, with random weights:
ResNet-50 (tests/zoo/torch_models.py) through torch's TorchScript exporter with a dynamic batch (as
tests/onnx_io/onnx_helpers.torch_export writes it), and YOLOv8n through ultralytics' own exporter
(`YOLO("yolov8n.yaml").export(format="onnx", simplify=False, opset=17)`, as tests/onnx_io/test_import_yolo.py).
Runs are interleaved (one warm-up each first); medians and minimums. The checker's share is ONNX's
`checker.check_model(data, full_check=True)` on the file's bytes, as netdsl.onnx.load.check_with_onnx calls it
for a model without external data, timed on its own.

With --before OLD_CHECKOUT, that checkout's `netdsl import` of the same file and this one's are timed too, in the
same rounds, each in a child process that imported its netdsl and times each import itself when told to.

With --stages, more rounds of this checkout's import say where its time goes: each stage's wall time
(perf_counter around the importer's own functions) and the main thread's CPU time, medians.

Run: python benchmarks/import_speed.py [--runs N] [--size 640] [--before OLD_CHECKOUT] [--stages]
"""

import argparse
import os
import statistics
import sys
import tempfile
from _timing import interleaved  # noqa: E402 (benchmarks/ is on sys.path when a script runs)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "onnx_io"))
sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))
os.environ.setdefault("YOLO_OFFLINE", "1")


def make_files(folder: str, size: int) -> dict:
    import torch

    from onnx_helpers import torch_export
    from torch_models import MODELS, randomized

    torch.manual_seed(0)
    files = {}
    resnet = os.path.join(folder, "resnet50.onnx")
    torch_export(randomized(MODELS["resnet50"]()), resnet, (1, 3, 224, 224), dynamic=True)
    files["ResNet-50"] = resnet
    try:
        from ultralytics import YOLO
    except ImportError:
        print("ultralytics is not installed: YOLOv8n left out")
        return files
    here = os.getcwd()
    os.chdir(folder)  # the exporter writes next to the model's yaml name, in the working folder
    try:
        yolo = YOLO("yolov8n.yaml")
        randomized(yolo.model)
        files["YOLOv8n"] = os.path.join(folder, yolo.export(format="onnx", simplify=False, imgsz=size, opset=17, dynamic=False,
                                           verbose=False))
    finally:
        os.chdir(here)
    return files


WORKER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
from netdsl.onnx.importer import import_onnx
for line in sys.stdin:
    path, out = line.rstrip("\n").split("\t")
    start = time.perf_counter()
    import_onnx(path, out)
    print(time.perf_counter() - start, flush=True)
"""


class Before:
    """Another checkout's import_onnx, in a child process that times each call itself."""

    def __init__(self, tree: str):
        import subprocess

        self.child = subprocess.Popen([sys.executable, "-c", WORKER, os.path.abspath(tree)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, cwd=tree)
        self.times: list[float] = []

    def step(self, path: str, out: str):
        def run():
            self.child.stdin.write(f"{path}\t{out}\n")
            self.child.stdin.flush()
            self.times.append(float(self.child.stdout.readline()))
        return run


# (module, function, stage): the importer's steps, timed where it looks them up (read_model's time less its
# checks is the file's read and protobuf's parse)
STAGES = [("netdsl.onnx.load", "read_model", "read + parse"),
          ("netdsl.onnx.load", "check_structure", "sizes checked"),
          ("netdsl.onnx.load", "check_with_onnx", "ONNX checker"),
          ("netdsl.onnx.graph_import", "import_sized", "graph import"),
          ("netdsl.onnx.naming", "assign", "names, blocks"), ("netdsl.onnx.modules", "find_blocks", "names, blocks"),
          ("netdsl.onnx.importer", "simplified", "names, blocks"),
          ("netdsl.onnx.importer", "spec_text", "names, blocks"),
          ("netdsl.onnx.importer", "check", "spec check"), ("netdsl.onnx.importer", "same_network", "spec check"),
          ("netdsl.files", "write_together", "files written")]


def stages(path: str, out: str, runs: int) -> None:
    """Wall and CPU time (main thread) of each stage of ``runs`` imports, medians; the stages are not nested
    but for read_model, whose checks are taken out of its own figure."""
    import importlib
    import time

    from netdsl.onnx.importer import import_onnx

    spent = {}
    originals = []
    for module_name, function_name, stage in STAGES:
        module = importlib.import_module(module_name)
        original = getattr(module, function_name)
        originals.append((module, function_name, original))

        def timed(*args, _original=original, _stage=stage, **kwargs):
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
                spent[_stage] = [a + b for a, b in zip(spent.get(_stage, (0.0, 0.0)), (wall, cpu))]
                if _stage in ("sizes checked", "ONNX checker"):  # inside read_model: not its own time
                    before = spent.get("read + parse", (0.0, 0.0))
                    spent["read + parse"] = [a - b for a, b in zip(before, (wall, cpu))]
        setattr(module, function_name, timed)
    rounds = []
    try:
        for _ in range(runs):
            spent.clear()
            wall, cpu = time.perf_counter(), time.thread_time()
            import_onnx(path, out)
            spent["whole import"] = [time.perf_counter() - wall, time.thread_time() - cpu]
            rounds.append(dict(spent))
    finally:
        for module, function_name, original in originals:
            setattr(module, function_name, original)
    names = list(dict.fromkeys(["whole import"] + [stage for _, _, stage in STAGES]))
    print("    stages (medians; wall and the main thread's CPU, ms):")
    for name in names:
        wall = statistics.median(r.get(name, (0.0, 0.0))[0] for r in rounds)
        cpu = statistics.median(r.get(name, (0.0, 0.0))[1] for r in rounds)
        print(f"      {name:<15} wall {wall * 1000:7.1f}  cpu {cpu * 1000:7.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size", type=int, default=640, help="YOLOv8n's export size")
    parser.add_argument("--before", help="another netdsl checkout, timed in the same rounds")
    parser.add_argument("--stages", action="store_true", help="then where this checkout's import spends its time")
    parser.add_argument("--make-files", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_files:
        import json

        print(json.dumps(make_files(args.make_files, args.size)))
        return
    # with --before, both checkouts also run in child processes of their own, so that they compare alike
    before = Before(args.before) if args.before else None
    after = Before(ROOT) if args.before else None

    import onnx
    from onnx import checker

    from netdsl.onnx.importer import import_onnx

    targets = {"ResNet-50": 2.0, "YOLOv8n": 3.0}
    with tempfile.TemporaryDirectory() as folder:
        # made in a child process: torch's OpenMP threads, once started, spin on the cores this one measures on
        import json
        import subprocess

        made = subprocess.run([sys.executable, os.path.abspath(__file__), "--make-files", folder, "--size",
                               str(args.size)], check=True, capture_output=True, text=True)
        files = json.loads(made.stdout.strip().splitlines()[-1])
        print(f"netdsl import / onnx.load, one process, {args.runs} interleaved runs (medians; minimums)")
        for label, path in files.items():
            out = os.path.join(folder, f"{label}.yaml")
            steps = {"onnx.load": lambda: onnx.load(path), "netdsl import": lambda: import_onnx(path, out),
                     "checker": None}
            model = onnx.load(path)
            with open(path, "rb") as stream:
                data = stream.read()
            steps["checker"] = lambda: checker.check_model(data, full_check=True)  # as the importer calls it
            if before is not None:
                steps["after (child)"] = after.step(path, out + ".after.yaml")
                steps["before (child)"] = before.step(path, out + ".before.yaml")
            times = interleaved(steps, args.runs)
            if before is not None:  # the child's own clock, not the round trip
                times["after (child)"] = after.times[-args.runs:]
                times["before (child)"] = before.times[-args.runs:]
            med = {name: statistics.median(t) for name, t in times.items()}
            low = {name: min(t) for name, t in times.items()}
            ratio = med["netdsl import"] / med["onnx.load"]
            verdict = "met" if ratio <= targets[label] else "NOT met"
            print(f"  {label} ({os.path.getsize(path) / 1e6:.1f} MB, {len(model.graph.node)} nodes):")
            for name in steps:
                print(f"    {name:<15} median {med[name] * 1000:8.1f} ms  min {low[name] * 1000:8.1f} ms")
            print(f"    ratio x{ratio:.2f} (min/min x{low['netdsl import'] / low['onnx.load']:.2f}; "
                  f"target <= {targets[label]:g}: {verdict}); the checker is "
                  f"{100 * med['checker'] / med['netdsl import']:.0f}% of the import")
            if before is not None:
                for name in ("before (child)", "after (child)"):
                    print(f"    {name}: x{med[name] / med['onnx.load']:.2f} (min/min x{low[name] / low['onnx.load']:.2f})")
            if args.stages:
                stages(path, out, args.runs)


if __name__ == "__main__":
    main()
