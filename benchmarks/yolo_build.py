"""YOLOv8n define-and-build: netdsl (specs/zoo/yolov8.yaml with the model's weights in a .safetensors)
against the ONNX route (ultralytics' own ONNX export of the same model, parsed by TensorRT's ONNX parser
and built), with the same optimization profile (batch 1..16, height and width 128..1280, opt 1x640x640),
float32, each build in a fresh process, interleaved, in the same run.

netdsl's time: load and check the spec, read and bind the weights, lower, build. The ONNX route's: parse
the .onnx file, build. ultralytics' export itself (PyTorch tracing, once, before the runs) is printed
separately, not counted: a user of the ONNX route pays it once per model, as a netdsl user pays writing
the spec. Both processes import TensorRT before the clock starts.

Run: python benchmarks/yolo_build.py [--repeat 3]   (needs ultralytics, torch and tensorrt or tensorrt_rtx)
"""

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEC = os.path.join(ROOT, "specs", "zoo", "yolov8.yaml")
IMPORT_TRT = """
try:
    import tensorrt as trt
except ImportError:
    import tensorrt_rtx as trt
"""
NETDSL = IMPORT_TRT + r"""
import sys, time
sys.path.insert(0, {root!r})
from netdsl import build
start = time.perf_counter()
checked = build.load_spec({spec!r})
bound = build.bind_weights(checked, {weights!r}, strict=True)
plan = build.build_plan(checked, bound, build.options_for(checked), weights_path={weights!r})
print(time.perf_counter() - start, plan.build_seconds, plan.data.nbytes)
"""
ONNX = IMPORT_TRT + r"""
import time
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
start = time.perf_counter()
network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
                                 if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED") else 0)
parser = trt.OnnxParser(network, logger)
if not parser.parse_from_file({onnx!r}):
    raise SystemExit("; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)))
config = builder.create_builder_config()
profile = builder.create_optimization_profile()
profile.set_shape("images", (1, 3, 128, 128), (1, 3, 640, 640), (16, 3, 1280, 1280))
config.add_optimization_profile(profile)
building = time.perf_counter()
plan = builder.build_serialized_network(network, config)
end = time.perf_counter()
print(end - start, end - building, plan.nbytes)
"""


def prepare(folder: str) -> tuple[str, str, float]:
    """The model (ultralytics' yolov8n.yaml, its own random initialisation), its weights for netdsl, and
    ultralytics' ONNX export of it (dynamic batch and size); returns the paths and the export's seconds."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    sys.path.insert(0, ROOT)
    from ultralytics import YOLO
    from ultralytics.utils import LOGGER

    from netdsl.weights.from_torch import export_weights

    model = YOLO("yolov8n.yaml")
    weights = os.path.join(folder, "yolov8n.safetensors")
    export_weights(model.model, weights)
    os.chdir(folder)  # ultralytics writes the .onnx beside the model's name
    start = time.perf_counter()
    LOGGER.setLevel(logging.ERROR)  # the exporter's progress report
    onnx = model.export(format="onnx", dynamic=True, simplify=False, imgsz=640, verbose=False)
    return weights, os.path.abspath(onnx), time.perf_counter() - start


def run(code: str) -> list[float]:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [float(v) for v in result.stdout.split()[-3:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        weights, onnx, export_seconds = prepare(folder)
        netdsl_code = NETDSL.format(root=ROOT, spec=SPEC, weights=weights)
        onnx_code = ONNX.format(onnx=onnx)
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(run(netdsl_code))
            theirs.append(run(onnx_code))
    median = [statistics.median(column) for column in zip(*ours)]
    their_median = [statistics.median(column) for column in zip(*theirs)]
    print(f"ultralytics ONNX export (once, not counted): {export_seconds:.2f} s")
    print(f"netdsl   define + build: {median[0]:.2f} s (TensorRT build {median[1]:.2f} s), plan {median[2] / 1e6:.1f} MB")
    print(f"ONNX     parse + build:  {their_median[0]:.2f} s (TensorRT build {their_median[1]:.2f} s), "
          f"plan {their_median[2] / 1e6:.1f} MB")
    print(f"ratio netdsl / ONNX: {median[0] / their_median[0]:.2f}x (medians of {args.repeat}, interleaved)")


if __name__ == "__main__":
    main()
