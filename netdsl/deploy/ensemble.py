"""Triton ensembles for specs that can take raw frames (a `frames` parameter: uint8 NHWC BGR, converted
in the engine by an `image_to_tensor` layer): the conversion becomes its own model, so clients send
frames and several models can share it.

    <name>_preprocess   a TensorRT engine of the spec's `image_to_tensor` layer alone (built here from a
                        spec this module writes: same input, dims and profiles as frames=true gives)
    <name>              the network itself, built with frames=false (float NCHW input)
    <name>_ensemble     platform "ensemble": frames -> <name>_preprocess -> <name> -> the outputs
"""

from __future__ import annotations

import json
import os

from . import DeployError
from .pbtxt import Enum, text
from .triton import CONFIG, TYPES, Deployed, staging_folder, write_file

CONVERTED = "preprocessed"  # the preprocessing model's output, the network's input


def preprocess_spec(checked, name: str) -> str:
    """The spec (JSON, which YAML reads) of ``checked``'s `image_to_tensor` layer alone: ``checked`` is
    the spec loaded with frames=true."""
    graph = checked.graph
    inputs = {i.name: i for i in graph.inputs}
    layers = [node for node in graph.nodes if node.kind == "image_to_tensor" and list(node.inputs)[0] in inputs]
    if len(layers) != 1:
        raise DeployError(f"{checked.path}: with frames=true it has {len(layers)} `image_to_tensor` layers reading "
                          "an input; --ensemble moves exactly one into its own model")
    [layer] = layers
    source = inputs[list(layer.inputs)[0]]
    named = [d.name for d in source.shape if not isinstance(d, int)]
    profiles = graph.profiles
    dims = {}
    for dim in named:
        ranges = [p.ranges[dim] for p in profiles if dim in p.ranges]
        if len(ranges) != len(profiles):
            raise DeployError(f"{checked.path}: input {source.name}'s dim `{dim}` has no range in every profile")
        dims[dim] = {"min": min(r[0] for r in ranges), "opt": ranges[0][1], "max": max(r[2] for r in ranges),
                     **({"multiple_of": profiles[0].steps[dim]} if profiles[0].steps.get(dim, 1) > 1 else {})}
    document = {
        "netdsl": 1, "name": name,
        "description": f"{graph.name}'s frame conversion (`{layer.name}`), written by netdsl deploy triton --ensemble",
        "inputs": [{"name": source.name, "dtype": source.dtype,
                    "shape": [d if isinstance(d, int) else d.name for d in source.shape]}],
        **({"dims": dims} if dims else {}),
        **({"profiles": [{dim: list(p.ranges[dim]) for dim in named} for p in profiles]} if len(profiles) > 1 else {}),
        "layers": [{"name": "convert", "kind": "image_to_tensor",
                    **{k: v for k, v in layer.params.items() if v is not None}}],
        "outputs": [{"name": CONVERTED, "from": "convert"}],
    }
    return json.dumps(document, indent=1) + "\n"


def ensemble_config(name: str, preprocess: Deployed, network: Deployed) -> dict:
    """config.pbtxt of the ensemble: the preprocessing model's input in, the network's outputs out."""
    pre, net = preprocess.manifest, network.manifest
    [frames] = pre["inputs"]
    [image] = net["inputs"] if len(net["inputs"]) == 1 else [None]
    [converted] = pre["outputs"]
    if image is None or (converted["dtype"], converted["shape"]) != (image["dtype"], image["shape"]):
        raise DeployError(f"{network.name}: its input ({', '.join(e['name'] for e in net['inputs'])}) is not what "
                          f"{preprocess.name} gives ({converted['dtype']} {converted['shape']})")
    size = min(preprocess.batching.max_batch_size, network.batching.max_batch_size)

    def tensor(entry):
        return {"name": entry["name"], "data_type": Enum(TYPES[entry["dtype"]]),
                "dims": entry["shape"][1:] if size else entry["shape"]}

    return {
        "name": name, "platform": "ensemble", "max_batch_size": size,
        "input": [tensor(frames)], "output": [tensor(entry) for entry in net["outputs"]],
        "ensemble_scheduling": {"step": [
            {"model_name": preprocess.name, "model_version": -1,
             "input_map": [{"key": frames["name"], "value": frames["name"]}],
             "output_map": [{"key": CONVERTED, "value": CONVERTED}]},
            {"model_name": network.name, "model_version": -1,
             "input_map": [{"key": image["name"], "value": CONVERTED}],
             "output_map": [{"key": entry["name"], "value": entry["name"]} for entry in net["outputs"]]},
        ]},
    }


def stage_ensemble(repo: str, name: str, preprocess: Deployed, network: Deployed,
                   version: int | None = None) -> Deployed:
    """The ensemble model staged like a plan model: config.pbtxt and an empty version folder (Triton
    loads an ensemble from a version folder too)."""
    import shutil

    folder, chosen, staging = staging_folder(repo, name, version)
    try:
        config = ensemble_config(name, preprocess, network)
        write_file(os.path.join(staging, CONFIG), (f"# written by netdsl deploy triton --ensemble: frames -> "
                                                   f"{preprocess.name} -> {network.name}\n" + text(config)).encode())
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Deployed(name, chosen, folder, staging, config, network.batching, False)


def preprocess_writer(checked, name: str):
    """``write_plan`` for triton.stage: the preprocessing spec written beside the plan (model.yaml, which
    the manifest names) and built, float32, no weights."""

    def write(path: str) -> None:
        from ..build import build

        spec_path = os.path.join(os.path.dirname(path), "model.yaml")
        write_file(spec_path, preprocess_spec(checked, name).encode())
        build(spec_path, output=path)

    return write


__all__ = ["preprocess_spec", "preprocess_writer", "ensemble_config", "stage_ensemble"]
