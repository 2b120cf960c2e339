"""The math kinds on a dynamic batch N: TensorRT-RTX builds them (checking every layer's shape against
netdsl's), and the reference on a batch of 3 agrees with PyTorch."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.build import build_plan
from netdsl.spec import check_text
from netdsl.spec.buildopts import BuildOptions
from opcases import random_weights

torch = pytest.importorskip("torch")
pytest.importorskip("tensorrt_rtx")
F = torch.nn.functional

SPEC = """
netdsl: 1
inputs:
  - {name: x, shape: [-1, 4, 6], batch: {min: 1, opt: 3, max: 8}}
  - {name: c, shape: [4, 1], dtype: bool}
layers:
  - {name: fc, kind: linear, inputs: [x], out_features: 6}
  - {name: scores, kind: matmul, inputs: [x, fc], transpose_b: true}
  - {name: same, kind: einsum, inputs: [x, fc], equation: "bij,bkj->bik"}
  - {name: p, kind: softmax, inputs: [scores], axis: -1}
  - {name: lp, kind: log_softmax, inputs: [same], axis: 1}
  - {name: chosen, kind: where, inputs: [c, p, lp]}
  - {name: total, kind: reduce_sum, inputs: [chosen], dim: [1, 2]}
  - {name: mean, kind: reduce_mean, inputs: [x]}
  - {name: running, kind: cumsum, inputs: [x], dim: 0}
  - {name: best, kind: topk, inputs: [x], k: 2}
  - {name: where_max, kind: argmax, inputs: [x]}
  - {name: row_min, kind: argmin, inputs: [x], dim: 0, keepdim: true}
outputs: [total, mean, running, best.values, best.indices, where_max, row_min]
"""


def oracle(x, c, w):
    fc = F.linear(x, w["weight"], w["bias"])
    scores = x @ fc.transpose(-1, -2)
    chosen = torch.where(c, torch.softmax(scores, -1), torch.log_softmax(torch.einsum("bij,bkj->bik", x, fc), 1))
    best = torch.topk(x, 2)
    return [chosen.sum((1, 2)), x.mean(), torch.cumsum(x, 0), best.values, best.indices, torch.argmax(x),
            torch.argmin(x, 0, keepdim=True)]


@pytest.fixture(scope="module")
def checked():
    checked, diagnostics = check_text(SPEC, "dynamic.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_builds(checked, precision):
    assert build_plan(checked, random_weights(checked), BuildOptions(precision=precision)).data


def test_reference_matches_torch(checked):
    bound = random_weights(checked)
    rng = np.random.default_rng(0)
    x, c = rng.standard_normal((3, 4, 6)).astype(np.float32), rng.random((4, 1)) < 0.5
    ours = reference.run(checked, bound, {"x": x, "c": c})
    weights = {b.slot: torch.from_numpy(b.array) for b in bound.values()}
    with torch.no_grad():
        theirs = oracle(torch.from_numpy(x), torch.from_numpy(c), weights)
    for output, expected in zip(checked.graph.outputs, theirs):
        np.testing.assert_allclose(ours[output.name], expected.numpy(), rtol=1e-5, atol=1e-5, err_msg=output.name)
