"""The evaluator-vs-reference check is known to bite: each test lowers a layer, then changes one thing
TensorRT was asked for (a padding mode, a divisor flag, a transpose, a coordinate mode, an alpha) that
keeps every shape (so the lowering's own shape check passes and TensorRT would build it happily), and
asserts that the TensorRT-semantics evaluator now disagrees with the reference executor."""

import numpy as np
import pytest

from evalcommon import relative_error
from netdsl import reference
from netdsl.build import network_for
from netdsl.ops import REGISTRY
from netdsl.spec import check_text
from opcases import Case, random_weights

trt = pytest.importorskip("tensorrt_rtx")


def mutate(monkeypatch, kind, layer_type, change):
    """Lower ``kind`` as usual, then apply ``change(layer)`` to each TensorRT layer of ``layer_type``
    it emitted."""
    from netdsl.trt.inspect import concrete

    op = REGISTRY[kind]
    original = type(op).lower

    def lower(self, node, ctx, *inputs):
        first = ctx.network.num_layers
        result = original(self, node, ctx, *inputs)
        for index in range(first, ctx.network.num_layers):
            type_name, layer = concrete(trt, ctx.network.get_layer(index))
            if type_name == layer_type:
                change(layer)
        return result

    monkeypatch.setattr(type(op), "lower", lower)


def disagreement(case: Case) -> float:
    from netdsl.trt.evaluate import Evaluator

    checked, diagnostics = check_text(case.spec(), "case.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    bound = random_weights(checked, case)
    feed = {f"x{i}": a for i, a in enumerate(case.arrays())}
    expected = reference.run(checked, bound, feed)["l"]
    _, network, ctx = network_for(checked, bound)
    return relative_error(Evaluator(network, ctx).run(feed)["l"], expected)


MUTATIONS = [
    # padding counted in the average, where the spec says it is not
    ("avg_count", Case("avg_pool", {"kernel": 3, "stride": 1, "padding": 1, "count_include_pad": False},
                       inputs=[(1, 2, 5, 5)]),
     "POOLING", lambda layer: setattr(layer, "average_count_excludes_padding", False)),
    # `same` padding's odd cell before instead of after
    ("padding_mode", Case("convolution", {"out_channels": 3, "kernel": 3, "stride": 2, "padding": "same"},
                          inputs=[(1, 2, 8, 8)]),
     "CONVOLUTION", lambda layer: setattr(layer, "padding_mode", trt.PaddingMode.SAME_LOWER)),
    # the fully connected weight [out, in] used untransposed (square, so every shape still fits)
    ("fc_transpose", Case("fully_connected", {"out_features": 6, "bias": False}, inputs=[(3, 6)]),
     "MATRIX_MULTIPLY", lambda layer: setattr(layer, "op1", trt.MatrixOperation.NONE)),
    # resize coordinates from the corners instead of the pixel centres
    ("resize_coordinates", Case("upsample", {"mode": "bilinear", "scale": 2}, inputs=[(1, 2, 4, 4)]),
     "RESIZE", lambda layer: setattr(layer, "coordinate_transformation",
                                     trt.ResizeCoordinateTransformation.ALIGN_CORNERS)),
    # LRN's alpha given pre-divided by the window (as if TensorRT did not divide it)
    ("lrn_alpha", Case("lrn", {"size": 5, "alpha": 1.0, "k": 1.0}, inputs=[(1, 7, 2, 2)]),
     "LRN", lambda layer: setattr(layer, "alpha", layer.alpha / layer.window_size)),
    # deconvolution padding cropped from the wrong sides
    ("deconvolution_padding", Case("deconvolution", {"out_channels": 2, "kernel": 3, "stride": 2,
                                                     "padding": {"top": 0, "bottom": 1, "left": 2, "right": 0}},
                                   inputs=[(1, 2, 4, 4)]),
     "DECONVOLUTION", lambda layer: (setattr(layer, "pre_padding", (1, 0)), setattr(layer, "post_padding", (0, 2)))),
]


@pytest.mark.parametrize("case", [m[1] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_unmutated_lowering_agrees(case):
    assert disagreement(case) <= 1e-5


@pytest.mark.parametrize("name,case,layer_type,change", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutated_lowering_is_caught(monkeypatch, name, case, layer_type, change):
    mutate(monkeypatch, case.kind, layer_type, change)
    assert disagreement(case) > 1e-2, f"mutation {name} was not caught"
