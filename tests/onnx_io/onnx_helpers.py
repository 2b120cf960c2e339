"""Shared by tests/onnx_io: ONNX Runtime sessions, and TensorRT-RTX's ONNX parser building a model."""

import numpy as np


def run_onnxruntime(model_or_bytes, feed: dict) -> list:
    """ONNX Runtime's outputs for a model, its bytes, or a file's path (a path reads external data beside
    it, which torch's dynamo exporter writes)."""
    import os

    import onnxruntime as ort

    if isinstance(model_or_bytes, (str, os.PathLike)):
        data = str(model_or_bytes)
    else:
        data = model_or_bytes if isinstance(model_or_bytes, bytes) else model_or_bytes.SerializeToString()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2  # the test machine's share
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def build_with_tensorrt_rtx(data: bytes, batch=(1, 1, 2), profiles: list | None = None) -> bytes:
    """The serialized engine TensorRT-RTX builds from the ONNX model through its ONNX parser (every
    dynamic dimension of an input gets the range ``batch``, or ``profiles`` gives optimization profiles:
    input name -> its (min, opt, max) shapes); raises AssertionError with the parser's or the builder's
    errors."""
    from netdsl.trt import make_logger

    import tensorrt_rtx as trt

    errors: list[str] = []
    builder = trt.Builder(make_logger(trt, errors))
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, make_logger(trt, errors))
    if not parser.parse(data):
        raise AssertionError("TensorRT-RTX's ONNX parser: " + "; ".join(parser.get_error(i).desc()
                                                                        for i in range(parser.num_errors)))
    config = builder.create_builder_config()
    dynamic = [network.get_input(i) for i in range(network.num_inputs) if -1 in tuple(network.get_input(i).shape)]
    for shapes in profiles or ():
        profile = builder.create_optimization_profile()
        for name, (low, opt, high) in shapes.items():
            profile.set_shape(name, low, opt, high)
        config.add_optimization_profile(profile)
    if dynamic and not profiles:
        profile = builder.create_optimization_profile()
        for tensor in dynamic:
            shapes = [tuple(size if d == -1 else d for d in tensor.shape) for size in batch]
            profile.set_shape(tensor.name, *shapes)
        config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, config)
    assert plan is not None, "TensorRT-RTX could not build the parsed network:\n" + "\n".join(errors[-10:])
    return bytes(plan)


def random_inputs(checked, batch: int = 2, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {i.name: rng.standard_normal([d if isinstance(d, int) else batch for d in i.shape]).astype(np.float32)
            for i in checked.graph.inputs}


def torch_export(model, path, shape, dynamic: bool = True, opset: int = 17) -> None:
    """torch.onnx.export as users run it, offline (the TorchScript exporter: the dynamo one needs
    onnxscript), keeping batch norm as its own nodes (TrainingMode.PRESERVE on a model in eval mode:
    EVAL would fold it into the convolutions), the batch dynamic."""
    import warnings

    import torch

    x = torch.randn(*shape)
    axes = {"input": {0: "batch"}, "output": {0: "batch"}} if dynamic else None
    # (no torch.no_grad(): under it nn.MultiheadAttention takes a fused path the exporter cannot write)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), str(path), dynamo=False, input_names=["input"],
                          output_names=["output"], dynamic_axes=axes, opset_version=opset,
                          training=torch.onnx.TrainingMode.PRESERVE)


def dynamo_export(model, path, shape, dynamic_shapes=None) -> None:
    """torch.onnx.export with torch's defaults (since torch 2.9 the dynamo exporter, through onnxscript):
    no names, opset or options of ours, so the file is what a user gets from `torch.onnx.export(model,
    (x,), path)`; ``dynamic_shapes`` as torch.export takes them."""
    import contextlib
    import io
    import warnings

    import torch

    x = torch.randn(*shape)
    # the exporter prints its progress; the test's output stays the test's
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (x,), str(path), dynamic_shapes=dynamic_shapes)


def randomized(model, seed: int = 0):
    """tests/zoo's random weights (one definition for the zoo and the import tests)."""
    import pathlib
    import sys

    zoo = str(pathlib.Path(__file__).resolve().parents[1] / "zoo")
    if zoo not in sys.path:
        sys.path.insert(0, zoo)
    from torch_models import randomized as zoo_randomized

    return zoo_randomized(model, seed)


def bound_weights(imported) -> dict:
    """The imported weights as bound to the imported spec (by the importer's own strict check)."""
    return imported.bound
