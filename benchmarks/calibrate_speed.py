"""Calibration speed: `netdsl calibrate specs/zoo/yolov8.yaml --set quantize=int8` (entropy) over a folder
of pictures, next to ultralytics' own PyTorch forward of the same YOLOv8n over the same pictures (read
with OpenCV, letterboxed by ultralytics' LetterBox, batches of 32, torch.no_grad), both in this process,
interleaved; medians and minimums.

Target (issue 28): <= 1.5x on 500 pictures at 640. On a 2-core shared machine that takes minutes per
run, so the default is --count 32 --size 320 (say which in any figure you quote). The pictures are
synthetic (smooth gradients and noise, 480x640 JPEGs), the weights ultralytics' initialisation of
yolov8n.yaml (nothing downloaded), converted with `netdsl weights convert`.

Run: python benchmarks/calibrate_speed.py [--count 32] [--size 320] [--runs 3]
"""

import argparse
import os
import statistics
import sys
import tempfile
from _timing import interleaved  # noqa: E402 (benchmarks/ is on sys.path when a script runs)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("YOLO_OFFLINE", "1")


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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import contextlib
    import io

    import cv2
    import numpy as np
    import torch
    from ultralytics import YOLO
    from ultralytics.data.augment import LetterBox

    from netdsl.cli import main as netdsl

    with tempfile.TemporaryDirectory() as folder:
        data = os.path.join(folder, "pictures")
        os.mkdir(data)
        paths = pictures(data, args.count)
        model = YOLO("yolov8n.yaml").model.float().eval()
        torch.save(model.state_dict(), os.path.join(folder, "state_dict.pt"))
        weights = os.path.join(folder, "yolov8n.safetensors")
        with contextlib.redirect_stdout(io.StringIO()):
            assert netdsl(["weights", "convert", os.path.join(folder, "state_dict.pt"), weights]) == 0
        command = ["calibrate", "specs/zoo/yolov8.yaml", "--set", "quantize=int8", "--data", data, "--imgsz",
                   str(args.size), "--weights", weights, "-o", os.path.join(folder, "out.scales")]
        letterbox = LetterBox((args.size, args.size), auto=False)

        def ours():
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                assert netdsl(command) == 0

        def theirs():
            with torch.no_grad():
                for start in range(0, len(paths), 32):
                    batch = [letterbox(image=cv2.imread(p))[..., ::-1].transpose(2, 0, 1) for p in paths[start:start + 32]]
                    model(torch.from_numpy(np.ascontiguousarray(np.stack(batch))).float() / 255)

        here = os.getcwd()
        os.chdir(ROOT)
        try:
            steps = {"ultralytics forward": theirs, "netdsl calibrate": ours}
            # warm-up of torch (its first pass sets up kernels); netdsl's is a fresh calibrate each run
            times = interleaved(steps, args.runs, warm_up=["ultralytics forward"])
        finally:
            os.chdir(here)
    med = {name: statistics.median(t) for name, t in times.items()}
    low = {name: min(t) for name, t in times.items()}
    print(f"YOLOv8n INT8 calibration (entropy), {args.count} pictures at {args.size}, {args.runs} interleaved runs, "
          f"torch threads {torch.get_num_threads()}")
    for name in steps:
        print(f"  {name:<20} median {med[name]:7.2f} s  min {low[name]:7.2f} s")
    ratio = med["netdsl calibrate"] / med["ultralytics forward"]
    print(f"  ratio x{ratio:.2f} (min/min x{low['netdsl calibrate'] / low['ultralytics forward']:.2f}; "
          f"target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
