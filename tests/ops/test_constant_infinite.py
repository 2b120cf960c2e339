"""`constant` takes -.inf and .inf in `value` (TorchScript's export of transformers' attention fills masked
scores with -inf, which a softmax turns into 0) and still refuses .nan, with its location. Oracle: torch's
tensor of the same numbers."""

import numpy as np
import torch

from netdsl import reference
from netdsl.spec import check_text

SPEC = """netdsl: 1
inputs: [{name: unused, shape: [1]}]
layers:
  - {name: fill, kind: constant, value: %s}
"""


def test_infinite_values_are_taken():
    checked, diagnostics = check_text(SPEC % "[0.0, -.inf, .inf]", "fill.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    [ours] = reference.run(checked, {}, {"unused": np.zeros(1, np.float32)}).values()
    theirs = torch.tensor([0.0, float("-inf"), float("inf")]).numpy()
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_nan_is_refused_where_it_is():
    checked, diagnostics = check_text(SPEC % "[1.0, .nan]", "fill.yaml")
    assert checked is None
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.code == "invalid-param" and "-.inf and .inf" in error.message and error.pos.line == 4
