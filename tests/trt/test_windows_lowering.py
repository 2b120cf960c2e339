"""The window kinds' TensorRT paths that go beyond one layer (1-D windows through 2-D, slices for
dilated max pooling, adaptive pooling and output_padding) with a dynamic batch: the slices then take
their batch size from a shape tensor."""

import pytest

from netdsl.build import build_plan
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions
from opcases import random_weights

pytest.importorskip("tensorrt_rtx")

LAYERS = [
    ("kind: convolution, out_channels: 4, kernel: 3, padding: 1", (2, 3, 11)),
    ("kind: deconvolution, out_channels: 2, kernel: 2, stride: 3, output_padding: 1", (2, 3, 5, 6)),
    ("kind: deconvolution, out_channels: 2, kernel: 2, stride: 2, dilation: 2", (2, 4, 5)),
    ("kind: max_pool, kernel: 2, stride: 1, dilation: 2, padding: 1", (2, 3, 6, 7)),
    ("kind: avg_pool, kernel: 2", (2, 3, 4, 6, 8)),
    ("kind: adaptive_max_pool, output_size: [3, 2]", (2, 3, 7, 5)),
    ("kind: adaptive_avg_pool, output_size: 5", (2, 3, 12)),
    ("kind: global_avg_pool", (2, 3, 4, 5, 6)),
    ("kind: interpolate, mode: bicubic, scale_factor: 1.5", (2, 3, 4, 6)),
    ("kind: interpolate, mode: area, size: 3", (2, 3, 7)),
]


@pytest.mark.parametrize("precision", ["float32", "float16"])
@pytest.mark.parametrize("layer,shape", LAYERS, ids=[layer for layer, _ in LAYERS])
def test_builds_with_dynamic_batch(layer, shape, precision):
    dims = [-1, *shape[1:]]
    checked, diagnostics = check_text(f"netdsl: 1\ninputs:\n  - {{name: x, shape: {dims}, batch: {{min: 1, opt: 2, "
                                      f"max: 4}}}}\nlayers:\n  - {{name: l, {layer}}}\n")
    assert checked is not None, [str(d) for d in diagnostics]
    plan = build_plan(checked, random_weights(checked), BuildOptions(precision=precision))
    assert plan.data.nbytes > 1000
