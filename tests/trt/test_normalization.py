"""Normalization layers on TensorRT-RTX beyond the op cases: a dynamic batch, the weight names, and the
group-norm path for TensorRT before 10.15 (one scale per group in add_normalization)."""

import pytest

from netdsl.build import build_plan, network_for
from netdsl.ops import normalization
from netdsl.spec.buildopts import BuildOptions
from opcases import random_weights

pytest.importorskip("tensorrt_rtx")

from test_lowering import one_layer  # noqa: E402

DYNAMIC = [
    ("kind: layer_norm, normalized_shape: [4, 5]", (2, 3, 4, 5)),
    ("kind: group_norm, num_groups: 2", (2, 6, 4, 5)),
    ("kind: group_norm, num_groups: 3", (2, 6)),
    ("kind: instance_norm, affine: true", (2, 3, 7)),
    ("kind: rms_norm, normalized_shape: 5", (2, 3, 5)),
    ("kind: batch_norm", (2, 3, 7)),
    ("kind: batch_norm", (2, 3, 2, 3, 4)),
]


@pytest.mark.parametrize("precision", ["float32", "float16"])
@pytest.mark.parametrize("layer,shape", DYNAMIC, ids=[f"{layer}-{len(shape)}" for layer, shape in DYNAMIC])
def test_dynamic_batch_builds(layer, shape, precision):
    checked = one_layer(layer, shape, dynamic=True)
    assert build_plan(checked, random_weights(checked), BuildOptions(precision=precision)).data.nbytes > 0


def test_layer_norm_over_the_dynamic_batch_is_refused():
    from netdsl.spec import check_text

    checked, diagnostics = check_text("netdsl: 1\ninputs: [{name: x, shape: [-1, 4], batch: {min: 1, opt: 2, max: 4}}]\n"
                                      "layers:\n  - {name: l, kind: layer_norm, normalized_shape: [2, 4]}\n")
    assert checked is None
    assert any("must be the last dimensions" in d.message and d.hint for d in diagnostics)


def test_weights_are_named_after_the_layer():
    checked = one_layer("kind: layer_norm, normalized_shape: 4, bias: false", (2, 3, 4))
    _, _, ctx = network_for(checked, random_weights(checked), BuildOptions())
    assert set(ctx.names) == {"l.weight"}
    checked = one_layer("kind: group_norm, num_groups: 2", (2, 4, 3))
    _, _, ctx = network_for(checked, random_weights(checked), BuildOptions())
    assert set(ctx.names) == {"l.weight", "l.bias"}


@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_before_tensorrt_10_15(monkeypatch, affine):
    """Without add_normalization_v2, group norm normalizes with ones and zeros per group, then applies
    the per-channel weight and bias itself (RTX still has the old call, so the path really builds)."""
    monkeypatch.setattr(normalization, "has_v2", lambda network: False)
    checked = one_layer(f"kind: group_norm, num_groups: 2, affine: {str(affine).lower()}", (2, 6, 4, 5))
    _, network, _ = network_for(checked, random_weights(checked), BuildOptions())
    names = [network.get_layer(i).name for i in range(network.num_layers)]
    assert "l/normalize" in names and ("l/scale" in names) == affine
    assert build_plan(checked, random_weights(checked), BuildOptions(precision="float16")).data.nbytes > 0


def test_rms_norm_statistics_stay_float32_in_float16_builds():
    import tensorrt_rtx as trt

    checked = one_layer("kind: rms_norm, normalized_shape: 8", (2, 8))
    _, network, _ = network_for(checked, random_weights(checked), BuildOptions(precision="float16"))
    dtypes = {network.get_layer(i).name: network.get_layer(i).get_output(0).dtype for i in range(network.num_layers)}
    assert dtypes["l/mean"] == dtypes["l/sqrt"] == trt.float32
    assert dtypes["l"] == trt.float16


@pytest.mark.parametrize("layer,shape", DYNAMIC + [("kind: softplus, beta: 2", (2, 3, 5))],
                         ids=[f"{layer}-{len(shape)}" for layer, shape in DYNAMIC] + ["softplus"])
def test_bfloat16_builds(layer, shape):
    """bfloat16 builds, including scalar constants (softplus), whose bfloat16 bits are a 0-d array."""
    checked = one_layer(layer, shape, dynamic=True)
    assert build_plan(checked, random_weights(checked), BuildOptions(precision="bfloat16")).data.nbytes > 0
