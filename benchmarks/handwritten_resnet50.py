"""ResNet-50 written by hand against the TensorRT Python API, the way tensorrtx-style scripts do: the
baseline of benchmarks/build_overhead.py. It makes the same network-API calls netdsl makes for
specs/zoo/resnet50.yaml (batch norm folded into scale layers, fully connected as constant + matrix
multiply + bias) with the same weights, read with numpy from the same .safetensors file.

    python benchmarks/handwritten_resnet50.py WEIGHTS.safetensors OUT.plan [--durable]

It writes the plan with open() and write(), as such scripts do; `--durable` writes it the way netdsl
must (a temporary in the same folder, fsync, rename, fsync of the folder), to show what durability
alone costs. Prints: total seconds, seconds in build_serialized_network, seconds writing the plan.
"""

import json
import os
import sys
import time

import numpy as np

try:
    import tensorrt as trt
except ImportError:
    import tensorrt_rtx as trt


def load_safetensors(path):
    with open(path, "rb") as stream:
        length = int.from_bytes(stream.read(8), "little")
        header = json.loads(stream.read(length))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + length)
    weights = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        weights[name] = data[begin:end].view(np.float32).reshape(entry["shape"])
    return weights


def build(weights_path, plan_path, durable=False):
    start = time.perf_counter()
    w = load_safetensors(weights_path)
    keep = []
    logger = trt.Logger(trt.Logger.ERROR)
    builder = trt.Builder(logger)
    flag = getattr(getattr(trt, "NetworkDefinitionCreationFlag", None), "STRONGLY_TYPED", None)
    network = builder.create_network(1 << int(flag) if flag is not None else 0)

    def weights(array):
        array = np.ascontiguousarray(array, np.float32)
        keep.append(array)
        return trt.Weights(array)

    def conv(x, name, out, kernel, stride=1, padding=0):
        layer = network.add_convolution_nd(x, out, (kernel, kernel), weights(w[name + ".weight"]), trt.Weights(trt.float32))
        layer.stride_nd, layer.padding_nd = (stride, stride), (padding, padding)
        layer.name = name
        return layer.get_output(0)

    def bn(x, name):
        scale = w[name + ".weight"] / np.sqrt(w[name + ".running_var"] + 1e-5)
        shift = w[name + ".bias"] - w[name + ".running_mean"] * scale
        layer = network.add_scale_nd(x, trt.ScaleMode.CHANNEL, weights(shift), weights(scale), trt.Weights(trt.float32), 1)
        layer.name = name
        return layer.get_output(0)

    def relu(x):
        return network.add_activation(x, trt.ActivationType.RELU).get_output(0)

    def bottleneck(x, name, width, out, stride, downsample):
        y = relu(bn(conv(x, name + ".conv1", width, 1), name + ".bn1"))
        y = relu(bn(conv(y, name + ".conv2", width, 3, stride, 1), name + ".bn2"))
        y = bn(conv(y, name + ".conv3", out, 1), name + ".bn3")
        if downsample:
            x = bn(conv(x, name + ".downsample.0", out, 1, stride), name + ".downsample.1")
        return relu(network.add_elementwise(y, x, trt.ElementWiseOperation.SUM).get_output(0))

    x = network.add_input("input", trt.float32, (-1, 3, 224, 224))
    y = relu(bn(conv(x, "conv1", 64, 7, 2, 3), "bn1"))
    pool = network.add_pooling_nd(y, trt.PoolingType.MAX, (3, 3))
    pool.stride_nd, pool.padding_nd = (2, 2), (1, 1)
    y = pool.get_output(0)
    for index, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)]):
        for block in range(blocks):
            stride = 2 if index > 0 and block == 0 else 1
            y = bottleneck(y, f"layer{index + 1}.{block}", width, width * 4, stride, block == 0)
    y = network.add_reduce(y, trt.ReduceOperation.AVG, (1 << 2) | (1 << 3), True).get_output(0)
    shuffle = network.add_shuffle(y)
    shuffle.reshape_dims = (0, 2048)
    fc_w = network.add_constant((1000, 2048), weights(w["fc.weight"])).get_output(0)
    y = network.add_matrix_multiply(shuffle.get_output(0), trt.MatrixOperation.NONE, fc_w,
                                    trt.MatrixOperation.TRANSPOSE).get_output(0)
    fc_b = network.add_constant((1, 1000), weights(w["fc.bias"].reshape(1, 1000))).get_output(0)
    y = network.add_elementwise(y, fc_b, trt.ElementWiseOperation.SUM).get_output(0)
    y.name = "logits"
    network.mark_output(y)
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("input", (1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224))
    config.add_optimization_profile(profile)
    build_start = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    build_seconds = time.perf_counter() - build_start
    if plan is None:
        raise SystemExit("build failed")
    write_start = time.perf_counter()
    write(plan_path, plan, durable)
    end = time.perf_counter()
    return end - start, build_seconds, end - write_start


def write(path, plan, durable):
    if not durable:
        with open(path, "wb") as stream:
            stream.write(plan)
        return
    temporary = path + ".tmp"
    with open(temporary, "wb") as stream:
        stream.write(plan)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temporary, path)
    folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    os.fsync(folder)
    os.close(folder)


if __name__ == "__main__":
    print(*build(sys.argv[1], sys.argv[2], "--durable" in sys.argv[3:]))
