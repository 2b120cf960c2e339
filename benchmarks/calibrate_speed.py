"""Calibration speed: `netdsl calibrate specs/zoo/yolov8.yaml --set quantize=int8` (entropy) over a folder
of pictures, next to ultralytics' own PyTorch forward of the same YOLOv8n with the same weights over the
same pictures (read with OpenCV, letterboxed by ultralytics' LetterBox, batches of 32, torch.no_grad).
Each side runs in a child process of its own (torch's OpenMP threads and numpy's OpenBLAS threads in one
process slow each other down on a small machine), timed inside the child from the first picture read to
the last result (no interpreter start-up, imports or model construction; torch warmed up by one batch),
the sides interleaved round by round; medians, minimums and the median of the per-round ratios.

Target (issue 28): <= 1.5x on 500 pictures at 640 (`--count 500 --size 640 --runs 1`: minutes per side
on 2 shared cores). The default, --count 32 --size 320, is the quick setting: say which in any figure you
quote. The pictures are synthetic (smooth gradients and noise, 480x640 JPEGs; 640 letterboxes them without
resizing, 320 halves them), the weights ultralytics' initialisation of yolov8n.yaml (nothing downloaded),
converted with `netdsl weights convert`.

Besides the totals it prints where netdsl's time goes, from perf_counter around its stages: reading and
letterboxing the pictures (`netdsl.images.prepare`), the reference executor's forward passes (two for
entropy: the ranges, then the histograms), the per-tensor statistics (each calibrated tensor's max in
pass 1, its histogram in pass 2), the entropy search (`scales_of`), and the rest (spec, weights,
batching, writing); and ultralytics' split between reading and its forward, so that the reference's
forward can be set against torch's, pass for pass. Peak RSS of each child too.

    --before TREE  an earlier checkout (e.g. `git archive main | tar -x -C TREE`), its calibrate timed in
                   the same rounds

Run: python benchmarks/calibrate_speed.py [--count 32] [--size 320] [--runs 3] [--threads N] [--before TREE]
"""

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("YOLO_OFFLINE", "1")
CLEAN = dict(os.environ)  # for the children: importing ultralytics sets OMP_NUM_THREADS=1, which OpenBLAS reads too
BATCH = 32
STAGES = ("read+letterbox", "forward", "statistics", "entropy search", "other")


def pictures(folder: str, count: int) -> list[str]:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:480, 0:640]
    paths = []
    for index in range(count):
        base = np.stack([(x * (index + 1) % 256), (y * 2 + index * 7) % 256, (x + y + index * 13) % 256], -1)
        image = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        paths.append(os.path.join(folder, f"{index:04d}.jpg"))
        cv2.imwrite(paths[-1], image)
    return paths


def peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(root: str, folder: str, size: int) -> dict:
    """A child: `netdsl calibrate` of ``root``'s netdsl, its stages timed by wrapping their functions."""
    sys.path.insert(0, root)
    os.chdir(root)
    import netdsl.images as images
    import netdsl.quant.calibrate as calibrate
    import netdsl.reference as reference
    from netdsl.cli import main as netdsl

    clock = dict.fromkeys(STAGES, 0.0)

    def timed(module, name, label):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            start, inside = time.perf_counter(), clock["statistics"]
            try:
                return original(*args, **kwargs)
            finally:  # a forward's own time leaves out the statistics taken while it runs
                during = clock["statistics"] - inside if label == "forward" else 0.0
                clock[label] += time.perf_counter() - start - during
        setattr(module, name, wrapper)

    timed(images, "prepare", "read+letterbox")
    timed(reference, "run", "forward")
    timed(calibrate, "observe", "statistics")
    timed(calibrate, "scales_of", "entropy search")
    command = ["calibrate", "specs/zoo/yolov8.yaml", "--set", "quantize=int8", "--data",
               os.path.join(folder, "pictures"), "--imgsz", str(size), "--weights",
               os.path.join(folder, "yolov8n.safetensors"), "-o", os.path.join(folder, f"out-{os.getpid()}.scales")]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert netdsl(command) == 0
    seconds = time.perf_counter() - start
    clock["other"] = seconds - sum(clock.values())
    return {"seconds": seconds, "stages": clock, "peak_mib": peak_mib()}


def theirs(folder: str, size: int) -> dict:
    """A child: ultralytics' model with the same weights over the same pictures, read and forward timed apart."""
    import cv2
    import numpy as np
    import torch

    threads = torch.get_num_threads()  # torch's default (every core, as numpy's OpenBLAS has them) or --threads
    from ultralytics import YOLO
    from ultralytics.data.augment import LetterBox

    paths = sorted(os.path.join(folder, "pictures", name) for name in os.listdir(os.path.join(folder, "pictures")))
    model = YOLO("yolov8n.yaml").model.float().eval()
    torch.set_num_threads(threads)  # (ultralytics' device selection may have set cores - 1)
    model.load_state_dict(torch.load(os.path.join(folder, "state_dict.pt")))
    letterbox = LetterBox((size, size), auto=False)
    reading = forward = 0.0
    with torch.no_grad():
        model(torch.zeros(min(BATCH, len(paths)), 3, size, size))  # warm-up: torch sets up its kernels
        start = time.perf_counter()
        for first in range(0, len(paths), BATCH):
            began = time.perf_counter()
            batch = [letterbox(image=cv2.imread(p))[..., ::-1].transpose(2, 0, 1) for p in paths[first:first + BATCH]]
            tensor = torch.from_numpy(np.ascontiguousarray(np.stack(batch))).float() / 255
            middle = time.perf_counter()
            model(tensor)
            reading, forward = reading + middle - began, forward + time.perf_counter() - middle
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "stages": {"read+letterbox": reading, "forward": forward}, "peak_mib": peak_mib(),
            "threads": torch.get_num_threads()}


def child(*arguments, threads: int | None = None) -> dict:
    env = dict(CLEAN, **({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)} if threads else {}))
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *arguments], capture_output=True,
                          text=True, cwd=ROOT, env=env)
    if done.returncode:
        raise SystemExit(f"child {arguments[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--before", metavar="TREE", help="an earlier checkout, timed in the same rounds")
    parser.add_argument("--threads", type=int, help="threads for torch and numpy's OpenBLAS on both sides (default: "
                        "their default, every core)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, folder = args.child[0], args.child[1]
        result = theirs(folder, args.size) if side == "theirs" else ours(args.child[2], folder, args.size)
        print(json.dumps(result))
        return

    import torch
    from ultralytics import YOLO

    sys.path.insert(0, ROOT)
    from netdsl.cli import main as netdsl

    with tempfile.TemporaryDirectory() as folder:
        os.mkdir(os.path.join(folder, "pictures"))
        pictures(os.path.join(folder, "pictures"), args.count)
        model = YOLO("yolov8n.yaml").model.float().eval()
        torch.save(model.state_dict(), os.path.join(folder, "state_dict.pt"))
        with contextlib.redirect_stdout(io.StringIO()):
            assert netdsl(["weights", "convert", os.path.join(folder, "state_dict.pt"),
                           os.path.join(folder, "yolov8n.safetensors")]) == 0
        size = ["--size", str(args.size)]
        steps = {"ultralytics forward": ["theirs", folder, *size], "netdsl calibrate": ["ours", folder, ROOT, *size]}
        if args.before:
            steps["netdsl calibrate, before"] = ["ours", folder, os.path.abspath(args.before), *size]
        results = {name: [] for name in steps}
        for _ in range(args.runs):
            for name, arguments in steps.items():
                results[name].append(child(*arguments, threads=args.threads))
    report(results, args)


def report(results: dict, args) -> None:
    seconds = {name: [r["seconds"] for r in runs] for name, runs in results.items()}
    theirs_name = "ultralytics forward"
    print(f"YOLOv8n INT8 calibration (entropy), {args.count} pictures at {args.size}, {args.runs} interleaved "
          f"runs, torch threads {results[theirs_name][0]['threads']}, each side in a child process")
    for name, times in seconds.items():
        peak = max(r["peak_mib"] for r in results[name])
        print(f"  {name:<26} median {statistics.median(times):7.2f} s  min {min(times):7.2f} s  "
              f"peak RSS {peak:6.0f} MiB")
    for name in seconds:
        if name == theirs_name:
            continue
        ratio = statistics.median(seconds[name]) / statistics.median(seconds[theirs_name])
        per_round = statistics.median(a / b for a, b in zip(seconds[name], seconds[theirs_name]))
        print(f"  {name}: x{ratio:.2f} (median of per-round ratios x{per_round:.2f}, min/min "
              f"x{min(seconds[name]) / min(seconds[theirs_name]):.2f}; target <= 1.5: "
              f"{'met' if ratio <= 1.5 else 'NOT met'})")
    torch_forward = statistics.median(r["stages"]["forward"] for r in results[theirs_name])
    torch_reading = statistics.median(r["stages"]["read+letterbox"] for r in results[theirs_name])
    print(f"  ultralytics: reading+letterbox {torch_reading:.2f} s, forward {torch_forward:.2f} s (medians)")
    for name, runs in results.items():
        if name == theirs_name:
            continue
        stages = {stage: statistics.median(r["stages"][stage] for r in runs) for stage in STAGES}
        total = statistics.median(seconds[name])
        shares = ", ".join(f"{stage} {value:.2f} s ({100 * value / total:.0f}%)" for stage, value in stages.items())
        print(f"  {name}: {shares}; one reference forward pass / torch's forward "
              f"x{stages['forward'] / 2 / torch_forward:.2f}")


if __name__ == "__main__":
    main()
