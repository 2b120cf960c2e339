"""`netdsl build` against the ONNX route, float16, per zoo model: netdsl (the spec, weights from a
.safetensors or --random-weights) against TensorRT's ONNX parser on torch's export of the same model
with the same weights (ultralytics' export for YOLOv8n), both built by the installed TensorRT (RTX here)
with the same optimization profiles (netdsl's, read from the spec).

Each build runs in a fresh process that imports numpy and TensorRT before its clock starts; the routes
are interleaved, so drift in machine load hits all of them. Printed per model: define time (netdsl:
everything before build_serialized_network; ONNX: network creation and parse), build time, totals, the
ratios (of medians, and the median of per-round ratios), minimums, and the layer count of each network;
then netdsl's define in parts (the spec front end, reading or drawing the weights, the rest).
``--root`` adds another checkout's netdsl as a further route (e.g. the commit before a change), so a
before/after comparison is measured in the same run.

Run: python benchmarks/build_vs_onnx.py [--repeat 3] [--models resnet50,yolov8] [--root OLD_CHECKOUT]
(needs torch, ultralytics for YOLOv8n, and tensorrt or tensorrt_rtx)
"""

import argparse
import datetime
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"resnet50": "ResNet-50", "vit_b_16": "ViT-B/16", "yolov8": "YOLOv8n", "efficientnet_b0": "EfficientNet-B0",
          "swin_t": "Swin-T"}
IMPORT_TRT = """
import sys, time, json
import numpy
try:
    import tensorrt as trt
except ImportError:
    import tensorrt_rtx as trt
"""
NETDSL = IMPORT_TRT + r"""
sys.path.insert(0, {root!r})
from netdsl import build
start = time.perf_counter()
checked = build.load_spec({spec!r})
spec = time.perf_counter()
options = build.options_for(checked, precision="float16")
if {weights!r}:
    bound = build.bind_weights(checked, {weights!r}, strict=True)
else:
    from netdsl.weights.synthetic import random_weights
    bound = random_weights(checked, 0)
weights = time.perf_counter()
layers = []
original = build.network_for
def network_for(*args, **kwargs):
    result = original(*args, **kwargs)
    layers.append(result[1].num_layers)
    return result
build.network_for = network_for
defined = []
original_cache = build._timing_cache  # the last step before build_serialized_network
def timing_cache(*args, **kwargs):
    result = original_cache(*args, **kwargs)
    defined.append(time.perf_counter())
    return result
build._timing_cache = timing_cache
plan = build.build_plan(checked, bound, options, weights_path={weights!r} or None)
total = time.perf_counter() - start
# define: up to build_serialized_network; the manifest's hashes after the build are in total only
print(json.dumps({{"total": total, "build": plan.build_seconds, "define": defined[0] - start,
                  "layers": layers[0], "spec": spec - start, "weights": weights - spec}}))
"""
ONNX = IMPORT_TRT + r"""
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
start = time.perf_counter()
flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
network = builder.create_network(1 << int(flag) if flag is not None else 0)
parser = trt.OnnxParser(network, logger)
if not parser.parse_from_file({onnx!r}):
    raise SystemExit("; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)))
config = builder.create_builder_config()
for shapes in {profiles!r}:
    profile = builder.create_optimization_profile()
    for name, (low, opt, high) in shapes.items():
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
building = time.perf_counter()
plan = builder.build_serialized_network(network, config)
end = time.perf_counter()
print(json.dumps({{"total": end - start, "build": end - building, "define": building - start,
                  "layers": network.num_layers}}))
"""


def export_onnx(name: str, folder: str) -> tuple[str, str]:
    """(weights .safetensors, float16 .onnx) of the zoo model ``name`` with the same random weights."""
    sys.path[:0] = [ROOT, os.path.join(ROOT, "tests"), os.path.join(ROOT, "tests", "zoo")]
    import torch

    from netdsl.weights.from_torch import export_weights

    weights, onnx = os.path.join(folder, f"{name}.safetensors"), os.path.join(folder, f"{name}.onnx")
    if name == "yolov8":
        os.environ.setdefault("YOLO_OFFLINE", "1")
        from ultralytics import YOLO
        from ultralytics.utils import LOGGER

        model = YOLO("yolov8n.yaml")
        export_weights(model.model, weights)
        here = os.getcwd()
        os.chdir(folder)  # ultralytics writes the .onnx beside the model's name
        LOGGER.setLevel(logging.ERROR)
        try:
            exported = model.export(format="onnx", dynamic=True, simplify=False, half=False, imgsz=640,
                                    verbose=False)
        finally:
            os.chdir(here)
        return weights, to_float16(os.path.join(folder, os.path.basename(exported)))
    from torch_models import MODELS as CNN, randomized
    from torch_models_cnn2 import MODELS as CNN2
    from torch_models_swin import MODELS as SWIN
    from torch_models_vit import MODELS as VIT

    model = randomized({**CNN, **CNN2, **SWIN, **VIT}[name](), 0)
    export_weights(model, weights)
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), onnx, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17,
                      dynamo=False)
    return weights, to_float16(onnx)


def to_float16(path: str) -> str:
    """The ONNX route at float16, as its users take it to a strongly typed network: float initializers,
    constants and casts to float16, the input cast to float16 and the outputs back to float32 (what
    onnxconverter-common's convert_float_to_float16 with keep_io_types does)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(path)
    graph = model.graph
    for index, tensor in enumerate(graph.initializer):
        if tensor.data_type == TensorProto.FLOAT:
            graph.initializer[index].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(tensor).astype(np.float16), tensor.name))
    for node in graph.node:
        for attribute in node.attribute:
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                attribute.i = TensorProto.FLOAT16
            if attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_type == TensorProto.FLOAT:
                attribute.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attribute.t).astype(np.float16)))
    del graph.value_info[:]
    casts = []
    for graph_input in graph.input:
        for node in graph.node:
            node.input[:] = [f"{graph_input.name}/half" if i == graph_input.name else i for i in node.input]
        casts.append(helper.make_node("Cast", [graph_input.name], [f"{graph_input.name}/half"],
                                      to=TensorProto.FLOAT16))
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    for output in graph.output:
        for node in graph.node:
            node.output[:] = [f"{output.name}/half" if o == output.name else o for o in node.output]
            node.input[:] = [f"{output.name}/half" if i == output.name else i for i in node.input]
        graph.node.append(helper.make_node("Cast", [f"{output.name}/half"], [output.name], to=TensorProto.FLOAT))
    half = path[:-5] + "-fp16.onnx"
    onnx.save(model, half)
    return half


def run(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr[-2000:])
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--root", help="another netdsl checkout, measured as a further route (before/after)")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from netdsl.build import load_spec, options_for, profile_shapes

    print(f"{datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
          f", Python {platform.python_version()}, {args.repeat} rounds, float16")
    roots = {"netdsl": ROOT, **({"before": os.path.abspath(args.root)} if args.root else {})}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models.split(","):
            spec = os.path.join(ROOT, "specs", "zoo", f"{name}.yaml")
            checked = load_spec(spec)
            profiles = profile_shapes(checked, options_for(checked, precision="float16"))
            start = time.perf_counter()
            weights, onnx = export_onnx(name, folder)
            print(f"\n{MODELS[name]}: export and float16 conversion (once, not counted) {time.perf_counter() - start:.1f} s")
            routes = {"onnx": ONNX.format(onnx=onnx, profiles=profiles)}
            for label, root in roots.items():
                for source, path in (("file", weights), ("random", "")):
                    routes[f"{label} {source}"] = NETDSL.format(root=root, spec=spec, weights=path)
            runs = {label: [] for label in routes}
            for _ in range(args.repeat):
                for label, code in routes.items():
                    runs[label].append(run(code))
            report(runs)


def report(runs: dict) -> None:
    onnx = runs["onnx"]
    print(f"  {'route':16s} {'define':>7s} {'(min)':>6s} {'build':>7s} {'(min)':>6s} {'total':>7s} {'(min)':>6s} "
          f"{'layers':>6s} {'define/parse':>12s} {'build/build':>11s} {'total/total':>11s}")
    for label, results in runs.items():
        m = {key: statistics.median(r[key] for r in results) for key in ("define", "build", "total")}
        low = {key: min(r[key] for r in results) for key in ("define", "build", "total")}
        ratios = {key: statistics.median(r[key] / o[key] for r, o in zip(results, onnx))
                  for key in ("define", "build", "total")}
        print(f"  {label:16s} {m['define']:7.2f} {low['define']:6.2f} {m['build']:7.2f} {low['build']:6.2f} "
              f"{m['total']:7.2f} {low['total']:6.2f} {results[0]['layers']:6d} {ratios['define']:11.2f}x "
              f"{ratios['build']:10.2f}x {ratios['total']:10.2f}x")
    for label, results in runs.items():  # netdsl's define in parts: the spec front end, the weights, the rest
        if "spec" in results[0]:
            parts = {key: statistics.median(r[key] for r in results) for key in ("spec", "weights", "define")}
            print(f"  {label:16s} define = load_spec {parts['spec']:.3f} + weights {parts['weights']:.3f} + lowering "
                  f"and configuration {parts['define'] - parts['spec'] - parts['weights']:.3f} s (medians)")


if __name__ == "__main__":
    main()
