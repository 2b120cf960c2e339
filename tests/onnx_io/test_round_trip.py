"""Round trips. spec -> ONNX -> spec gives the same network for every zoo spec: the same layers under
the same names, kinds, parameters, wiring, output types and weight shapes (ResNet-18 and MobileNetV2
come back identical for `netdsl diff`, blocks included in meaning). ONNX -> spec -> ONNX runs the same
in ONNX Runtime."""

import pathlib

import numpy as np
import pytest

from netdsl.spec import load
from netdsl.weights.synthetic import random_weights
from onnx_helpers import bound_weights, randomized, run_onnxruntime, torch_export

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = ["lenet.yaml", "zoo/resnet18.yaml", "zoo/mobilenet_v2.yaml", "zoo/unet_small.yaml",
         "dynamic/detector_dynamic.yaml", "dynamic/unet_dynamic.yaml",  # named dimensions (their first profile)
         *(pytest.param(f"zoo/{name}.yaml", marks=pytest.mark.slow) for name in ("resnet50", "alexnet", "vgg16"))]


def network(checked) -> list:
    """Each layer as (name, kind, parameters, inputs, output types, weight shapes), with what ONNX
    cannot carry written one way: pooling's default stride as the kernel, fully_connected's optional
    in_features check left out, `upsample` as `interpolate` (the same kind under torch.nn.Upsample's
    name, with `scale` for `scale_factor`)."""
    rows = []
    for node in checked.graph.nodes:
        kind, params = node.kind, dict(node.params)
        if kind in ("max_pool", "avg_pool") and params.get("stride") is None:
            params["stride"] = params["kernel"]
        if kind == "fully_connected":
            params.pop("in_features", None)
        if kind == "upsample":
            kind, params["scale_factor"] = "interpolate", params.pop("scale")
        params = {key: tuple(value) if isinstance(value, (list, tuple)) else value for key, value in params.items()}
        slots = [(s.name, tuple(s.shape)) for s in node.weight_slots(checked.types)]
        rows.append((node.name, kind, params, list(node.inputs), [checked.types[o] for o in node.outputs], slots))
    outputs = [(o.name, o.source) for o in checked.graph.outputs]
    inputs = [(i.name, i.shape, i.dtype, i.batch) for i in checked.graph.inputs]
    return [inputs, rows, outputs]


@pytest.mark.parametrize("name", SPECS)
def test_spec_to_onnx_to_spec_is_the_same_network(name):
    from netdsl.onnx.export import to_model
    from netdsl.onnx.importer import import_model

    checked = load(str(ROOT / "specs" / name))
    bound = random_weights(checked, seed=2)
    imported = import_model(to_model(checked, bound), str(ROOT / "specs" / name), "weights.safetensors")
    assert network(imported.checked) == network(checked)
    if checked.graph.profiles:  # the first profile's ranges come back (netdsl export records them)
        assert imported.checked.graph.profiles[0] == checked.graph.profiles[0]
    for key, weight in bound.items():  # the weights come back under their names, unchanged
        np.testing.assert_array_equal(imported.weights[key], weight.array)


@pytest.mark.parametrize("name", ["zoo/resnet18.yaml", "zoo/mobilenet_v2.yaml"])
def test_round_trip_is_identical_for_netdsl_diff(name):
    from netdsl.diff import compare, format_text
    from netdsl.onnx.export import to_model
    from netdsl.onnx.importer import import_model

    checked = load(str(ROOT / "specs" / name))
    imported = import_model(to_model(checked, random_weights(checked)), "back.yaml", "back.safetensors")
    difference = compare(checked, imported.checked)
    assert difference.identical, format_text(difference)


def test_onnx_to_spec_to_onnx_runs_the_same_in_onnxruntime(tmp_path):
    import sys

    import torch  # noqa: F401 - PyTorch writes the first ONNX file

    from netdsl.onnx.export import to_model
    from netdsl.onnx.importer import import_onnx

    sys.path.insert(0, str(ROOT / "tests" / "zoo"))
    from torch_models import MODELS

    path = tmp_path / "resnet18.onnx"
    torch_export(randomized(MODELS["resnet18"]()), path, (1, 3, 224, 224))
    imported = import_onnx(str(path), str(tmp_path / "resnet18.yaml"))
    again = to_model(imported.checked, bound_weights(imported))
    onnx.checker.check_model(again, full_check=True)
    x = np.random.default_rng(3).standard_normal((2, 3, 224, 224)).astype(np.float32)
    [first] = run_onnxruntime(path.read_bytes(), {"input": x})
    [second] = run_onnxruntime(again, {"input": x})
    np.testing.assert_allclose(second, first, rtol=1e-5, atol=1e-5 * float(np.abs(first).max()))


def test_gather_by_an_index_tensor_comes_back_as_one():
    # ONNX Gather with computed indices (not an initializer) is gather with an index tensor (input 2)
    from netdsl.onnx.export import to_model
    from netdsl.onnx.importer import import_model
    from netdsl.spec import check_text

    text = """netdsl: 1
name: lookup
inputs: [{name: table, shape: [13, 3]}, {name: index, shape: [4, 5], dtype: int64}]
layers:
  - {name: rows, kind: gather, dim: 0, inputs: [table, index]}
outputs: [rows]
"""
    checked, diagnostics = check_text(text, "lookup.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    imported = import_model(to_model(checked, {}), "back.yaml", "back.safetensors")
    assert network(imported.checked) == network(checked)
