"""The reference executor's in-place steps (a layer writing into an input that dies there) and its batch
norms folded into convolutions, against PyTorch 2.13 (CPU) as the oracle on a network where some tensors
have a second consumer, one is the caller's input and one is viewed by a reshape; maximum absolute error
<= 1e-4 in float32 (inputs and weights are standard normal, a few hundred terms per sum)."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import check_text
from tests.opcases import random_weights

torch = pytest.importorskip("torch")
F = torch.nn.functional

SPEC = """netdsl: 1
inputs:
  - {name: x, shape: [2, 3, 9, 9]}
layers:
  - {name: c1, kind: convolution, out_channels: 8, kernel: 3, padding: 1, bias: false}
  - {name: b1, kind: batch_norm}
  - {name: r1, kind: relu}
  - {name: skip, kind: add, inputs: [r1, c1]}
  - {name: c2, kind: convolution, out_channels: 8, kernel: 3, padding: 1, groups: 8, bias: true}
  - {name: b2, kind: batch_norm}
  - {name: s2, kind: silu}
  - {name: flat, kind: flatten, inputs: s2}
  - {name: r3, kind: relu, inputs: s2}
  - {name: sum, kind: add, inputs: [r3, s2]}
  - {name: rx, kind: relu, inputs: x}
outputs: [flat, sum, rx, skip]
"""


def oracle(w, x):
    def bn(y, name):
        return F.batch_norm(y, w[f"{name}.running_mean"], w[f"{name}.running_var"], w[f"{name}.weight"],
                            w[f"{name}.bias"], False, 0.0, 1e-5)

    c1 = F.conv2d(x, w["c1.weight"], padding=1)
    skip = F.relu(bn(c1, "b1")) + c1
    s2 = F.silu(bn(F.conv2d(skip, w["c2.weight"], w["c2.bias"], padding=1, groups=8), "b2"))
    return {"flat": s2.flatten(1), "sum": F.relu(s2) + s2, "rx": F.relu(x), "skip": skip}


def test_in_place_steps_and_folded_batch_norms_match_torch_and_leave_the_input_alone():
    checked, diagnostics = check_text(SPEC)
    assert checked is not None, [str(d) for d in diagnostics]
    bound = random_weights(checked, seed=1)
    x = np.random.default_rng(2).standard_normal((2, 3, 9, 9)).astype(np.float32)
    given = x.copy()
    weights = {name: b.array.copy() for name, b in bound.items()}
    got = reference.run(checked, bound, {"x": x})
    np.testing.assert_array_equal(x, given)  # the caller's input is never a result's buffer
    for name, b in bound.items():
        np.testing.assert_array_equal(b.array, weights[name])
    w = {name: torch.from_numpy(array) for name, array in weights.items()}
    with torch.no_grad():
        expected = {name: t.numpy() for name, t in oracle(w, torch.from_numpy(given)).items()}
    for name, value in expected.items():
        error = float(np.abs(got[name] - value).max())
        assert error <= 1e-4, f"{name}: max abs error {error:g}"
    # keeping every tensor (nothing dies, nothing is folded) gives the same results within rounding
    kept = reference.run(checked, bound, {"x": x}, keep={n.outputs[0] for n in checked.graph.nodes})
    for name in expected:
        np.testing.assert_allclose(kept[name], got[name], rtol=0, atol=1e-5)
