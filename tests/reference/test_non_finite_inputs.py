"""NaN and infinity are data: an additive attention mask of -inf (how PyTorch writes masks), the values
isnan/isinf look at, a float16 input holding what a large value becomes in float16. `netdsl reference`
takes them; PyTorch is the oracle."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]

MASKED = """netdsl: 1
name: masked
inputs:
  - {name: scores, shape: [2, 4]}
  - {name: mask, shape: [2, 4]}
layers:
  - {name: masked, kind: add, inputs: [scores, mask]}
  - {name: attention, kind: softmax, axis: -1}
outputs: [attention]
"""

LOOK = """netdsl: 1
name: look
inputs:
  - {name: x, shape: [2, 3], dtype: %s}
layers:
  - {name: nan, kind: isnan, inputs: x}
  - {name: inf, kind: isinf, inputs: x}
outputs: [nan, inf]
"""


def run_reference(text: str, inputs: dict) -> dict:
    from netdsl import reference
    from netdsl.spec import check_text

    checked, diagnostics = check_text(text, "spec.yaml")
    assert checked is not None, diagnostics
    return reference.run(checked, {}, inputs)


def test_an_additive_mask_of_minus_infinity():
    scores = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    mask = np.where(np.tril(np.ones((2, 4), bool)), 0, -np.inf).astype(np.float32)  # a causal mask
    ours = run_reference(MASKED, {"scores": scores, "mask": mask})["attention"]
    want = torch.softmax(torch.from_numpy(scores) + torch.from_numpy(mask), dim=-1).numpy()
    assert (ours[mask == -np.inf] == 0).all()
    # float32 softmax of four values: a few ulps of values at most 1
    np.testing.assert_allclose(ours, want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_isnan_and_isinf_through_the_cli(tmp_path, dtype):
    (tmp_path / "look.yaml").write_text(LOOK % dtype)
    # float16: 1e5 is past float16's largest value (65504) and becomes inf, as a float16 cast makes it
    with np.errstate(over="ignore"):
        x = np.array([[np.nan, 1.0, np.inf], [-np.inf, 0.0, 1e5]], np.float32).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    result = subprocess.run([sys.executable, "-m", "netdsl", "reference", str(tmp_path / "look.yaml"), "--input",
                             str(tmp_path / "x.npy"), "-o", str(tmp_path / "out.npz")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    out = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(out["nan"], torch.isnan(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(out["inf"], torch.isinf(torch.from_numpy(x)).numpy())
    assert out["inf"][1, 2] == (dtype == "float16")


def test_outputs_holding_nan_and_inf_are_described():
    from netdsl.arrays import describe_outputs

    line = describe_outputs({"y": np.array([np.nan, 1.0, 3.0, -np.inf, np.inf], np.float32)})
    assert line == "y: shape [5], float32, min 1, max 3, mean 2, 1 NaN, 1 +inf, 1 -inf"
