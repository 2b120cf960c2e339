"""The reference executor against PyTorch CPU and ONNX Runtime, one thread each: time and peak memory.

Four networks (issue 28): ResNet-50 batch 8, ViT-B/16 batch 2, YOLOv8n at 640 batch 1, EfficientNet-B0
batch 8, random weights. Every run is a fresh process that loads its network, runs one warm-up pass and
then REPEAT timed passes, and reports the median and minimum pass, its peak RSS over the whole process
(getrusage ru_maxrss: imports, weights and working memory) and the growth of peak RSS over the passes
(the working memory; /proc/self/clear_refs resets the peak once the network is loaded; PyTorch's
allocator keeps what the warm-up took, so the warm-up counts). Rounds
are interleaved (netdsl, PyTorch, ONNX Runtime, netdsl, ...), so a busy moment of the shared machine
hits every side; ratios are medians over rounds of the per-round ratio of median times, and the ratio
of the best times; "cpu" is the same median ratio of the passes' process CPU time (time.process_time,
every thread of the process), which other processes' load moves less than the wall time: a pass waiting
for the CPU does not count, a pass slowed by shared caches and memory still does.

One thread each: numpy's BLAS through OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS=1 set
before numpy is imported, torch.set_num_threads(1), ONNX Runtime with intra_op_num_threads=1 and
inter_op_num_threads=1. This machine may set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE), which pins an
older OpenBLAS kernel and slows numpy: the child processes run without both (the output says so; tests
and CI keep them). PyTorch's ONNX export (for ONNX Runtime) runs once per network before the rounds.

Run: python benchmarks/reference_speed.py [--rounds 3] [--repeat 3] [--models resnet50 vit_b_16 ...]
     [--before TREE]  (TREE: an earlier checkout, e.g. `git archive main | tar -x -C TREE`, timed in the same rounds)
Targets (issue 28): reference / PyTorch <= 1.0 with peak memory <= PyTorch's; reference / ONNX Runtime <= 1.5.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {  # spec, batch, height and width, the PyTorch module
    "resnet50": ("resnet50", 8, 224),
    "vit_b_16": ("vit_b_16", 2, 224),
    "yolov8n": ("yolov8", 1, 640),
    "efficientnet_b0": ("efficientnet_b0", 8, 224),
}
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def torch_module(model: str):
    import torch

    torch.manual_seed(0)
    if model == "yolov8n":
        from ultralytics.nn import tasks

        return tasks.DetectionModel("yolov8n.yaml", verbose=False).eval()
    sys.path.insert(0, os.path.join(ROOT, "tests", "zoo"))
    from torch_models import MODELS as CNN
    from torch_models_cnn2 import MODELS as CNN2
    from torch_models_vit import MODELS as VIT

    return {**CNN, **CNN2, **VIT}[model]().eval()


def peak_rss_bytes(field: str = "VmHWM:") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(run, repeat: int) -> dict:
    import gc
    import resource

    gc.collect()
    before = peak_rss_bytes("VmRSS:")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM to the current RSS: the network and its weights are loaded
    run()  # warm-up: first-call costs (allocator, dispatch, ONNX Runtime's first run)
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"median": statistics.median(times), "min": min(times), "cpu": statistics.median(cpu),
            "working": peak_rss_bytes() - before, "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def side_netdsl(model: str, repeat: int, onnx_path: str, root: str = ROOT) -> dict:
    import numpy as np

    sys.path.insert(0, root)  # --before: another checkout's netdsl (its tools/reference_outputs.py too)
    sys.path.insert(0, os.path.join(root, "tools"))
    from reference_outputs import weights

    from netdsl import reference
    from netdsl.build import load_spec

    spec, batch, size = MODELS[model]
    checked = load_spec(os.path.join(root, "specs", "zoo", f"{spec}.yaml"))
    bound = weights(checked)
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    feeds = {checked.graph.inputs[0].name: x}
    return measure(lambda: reference.run(checked, bound, feeds), repeat)


def side_torch(model: str, repeat: int, onnx_path: str) -> dict:
    import torch

    torch.set_num_threads(1)
    net = torch_module(model)
    _, batch, size = MODELS[model]
    x = torch.randn(batch, 3, size, size)

    def run():
        with torch.no_grad():
            net(x)

    return measure(run, repeat)


def side_ort(model: str, repeat: int, onnx_path: str) -> dict:
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    _, batch, size = MODELS[model]
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    name = session.get_inputs()[0].name
    return measure(lambda: session.run(None, {name: x}), repeat)


def export(model: str, path: str) -> None:
    import torch

    _, batch, size = MODELS[model]
    torch.onnx.export(torch_module(model), (torch.randn(batch, 3, size, size),), path, dynamo=False,
                      opset_version=17, input_names=["input"])


def blas_kernel() -> str:
    """OpenBLAS's kernel and thread count as numpy's bundled library reports them (best effort)."""
    import ctypes
    import glob

    import numpy as np

    for library in glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*")):
        lib = ctypes.CDLL(library)
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            if hasattr(lib, symbol):
                getattr(lib, symbol).restype = ctypes.c_char_p
                threads = next((getattr(lib, name)() for name in ("scipy_openblas_get_num_threads64_",
                                "scipy_openblas_get_num_threads", "openblas_get_num_threads") if hasattr(lib, name)), "?")
                return f"{getattr(lib, symbol)().decode()}, {threads} thread(s)"
    return "unknown"


SIDES = {"netdsl": side_netdsl, "torch": side_torch, "ort": side_ort}
BEFORE = "before"  # the side for --before: the reference of another checkout (e.g. `git archive` of main)


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(ONE_THREAD)
    return env


def run_side(side: str, model: str, repeat: int, onnx_path: str, before: str | None) -> dict:
    command = [sys.executable, __file__, "--side", side, "--models", model, "--repeat", str(repeat), "--onnx", onnx_path]
    if side == BEFORE:
        command[3:4] = ["netdsl", "--before", before]
    out = subprocess.run(command, capture_output=True, text=True, env=child_env())
    if out.returncode:
        raise SystemExit(f"{side} {model} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--onnx", help=argparse.SUPPRESS)
    parser.add_argument("--blas", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--before", metavar="TREE", help="also time the reference of this checkout, interleaved")
    args = parser.parse_args()
    if args.blas:
        print(blas_kernel())
        return 0
    if args.side:
        extra = {"root": os.path.abspath(args.before)} if args.before else {}
        print(json.dumps(SIDES[args.side](args.models[0], args.repeat, args.onnx, **extra)))
        return 0
    kernel = subprocess.run([sys.executable, __file__, "--blas"], capture_output=True, text=True, env=child_env())
    print(f"{platform.node()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"{datetime.date.today()}; numpy's OpenBLAS kernel: {kernel.stdout.strip() or 'unknown'}")
    unset = [name for name in UNSET if name in os.environ]
    if unset:
        print(f"(the runs unset {', '.join(f'{n}={os.environ[n]}' for n in unset)}, which slow numpy here)")
    print(f"one thread each; {args.rounds} interleaved rounds of fresh processes, {args.repeat} passes each\n")
    print(f"{'model':16} {'side':7} {'median s':>9} {'min s':>7} {'cpu s':>7} {'working MiB':>12} {'maxrss MiB':>11}")
    with tempfile.TemporaryDirectory() as folder:
        for model in args.models:
            onnx_path = os.path.join(folder, f"{model}.onnx")
            subprocess.run([sys.executable, "-c", f"import sys; sys.argv = ['x']; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
                            f"import reference_speed as r; r.export({model!r}, {onnx_path!r})"], check=True,
                           env=child_env(), capture_output=True)
            sides = list(SIDES) + ([BEFORE] if args.before else [])
            rounds = [{side: run_side(side, model, args.repeat, onnx_path, args.before) for side in sides}
                      for _ in range(args.rounds)]
            for side in sides:
                runs = [r[side] for r in rounds]
                print(f"{model:16} {side:7} {statistics.median(r['median'] for r in runs):9.3f} "
                      f"{min(r['min'] for r in runs):7.3f} {statistics.median(r['cpu'] for r in runs):7.3f} "
                      f"{statistics.median(r['working'] for r in runs) / 2**20:12.0f} "
                      f"{statistics.median(r['maxrss'] for r in runs) / 2**20:11.0f}")
            for mine in ["netdsl"] + ([BEFORE] if args.before else []):
                for base in ("torch", "ort"):
                    ratio = statistics.median(r[mine]["median"] / r[base]["median"] for r in rounds)
                    best = min(r[mine]["min"] for r in rounds) / min(r[base]["min"] for r in rounds)
                    cpu = statistics.median(r[mine]["cpu"] / r[base]["cpu"] for r in rounds)
                    memory = statistics.median(r[mine]["working"] / max(r[base]["working"], 1) for r in rounds)
                    rss = statistics.median(r[mine]["maxrss"] / r[base]["maxrss"] for r in rounds)
                    print(f"{'':16} {mine} / {base}: time {ratio:.2f}x (best {best:.2f}x, cpu {cpu:.2f}x), working memory "
                          f"{memory:.2f}x, maxrss {rss:.2f}x")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
