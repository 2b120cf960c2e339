"""scaled_dot_product_attention lowers to TensorRT's attention layer (implementation fused, or auto where
the shapes allow) or to its expansion (matmul); both build (tests/opcases/attention.py)."""

import json

import pytest

from netdsl.build import network_for
from netdsl.spec import check_text
from opcases import random_weights

trt = pytest.importorskip("tensorrt_rtx")


def layer_types(implementation, v_features=8):
    spec = json.dumps({"netdsl": 1, "inputs": [{"name": "q", "shape": [2, 3, 5, 8]}, {"name": "k", "shape": [2, 3, 6, 8]},
                                              {"name": "v", "shape": [2, 3, 6, v_features]}],
                       "layers": [{"name": "a", "kind": "scaled_dot_product_attention", "inputs": ["q", "k", "v"],
                                   "implementation": implementation}]})
    checked, diagnostics = check_text(spec)
    assert checked is not None, [str(d) for d in diagnostics]
    _, network, _ = network_for(checked, random_weights(checked))
    return [network.get_layer(i).type.name for i in range(network.num_layers)]


@pytest.mark.parametrize("implementation", ["fused", "auto"])
def test_fused_uses_the_attention_layer(implementation):
    types = layer_types(implementation)
    assert "MATRIX_MULTIPLY" not in types and "SOFTMAX" not in types, types
    assert any("ATTENTION" in t for t in types), types


def test_matmul_uses_the_expansion():
    types = layer_types("matmul")
    assert types.count("MATRIX_MULTIPLY") == 2 and "SOFTMAX" in types, types


def test_auto_falls_back_where_the_attention_layer_does_not_fit():
    assert "SOFTMAX" in layer_types("auto", v_features=4)  # k and v of different shapes


@pytest.mark.parametrize("implementation", ["fused", "auto", "matmul"])
def test_multihead_attention_passes_its_implementation_on(implementation):
    spec = json.dumps({"netdsl": 1, "inputs": [{"name": "x", "shape": [2, 7, 16]}],
                       "layers": [{"name": "a", "kind": "multihead_attention", "embed_dim": 16, "num_heads": 4,
                                   "batch_first": True, "implementation": implementation}]})
    checked, diagnostics = check_text(spec)
    assert checked is not None, [str(d) for d in diagnostics]
    _, network, _ = network_for(checked, random_weights(checked))
    types = [network.get_layer(i).type.name for i in range(network.num_layers)]
    fused = any("ATTENTION" in t for t in types)
    assert fused == (implementation != "matmul") and ("SOFTMAX" in types) == (implementation == "matmul"), types
