"""The normalization and activation kinds bound strictly to a PyTorch model's own state_dict (the
weight names torch.nn gives them) and run on the reference executor against the model."""

import numpy as np
import pytest

from netdsl import reference
from netdsl.build import bind_weights
from netdsl.spec import check_text
from netdsl.weights.from_torch import export_weights

torch = pytest.importorskip("torch")
nn = torch.nn

SPEC = """netdsl: 1
inputs: [{name: x, shape: [3, 6, 5, 5]}]
layers:
  - {name: gn, kind: group_norm, num_groups: 2}
  - {name: act, kind: mish}
  - {name: inorm, kind: instance_norm, affine: true}
  - {name: p, kind: prelu, num_parameters: 6}
  - {name: ln, kind: layer_norm, normalized_shape: [5, 5]}
  - {name: sp, kind: softplus, beta: 2, threshold: 5}
  - {name: rms, kind: rms_norm, normalized_shape: 5}
  - {name: bn, kind: batch_norm}
  - {name: sel, kind: selu}
outputs: [sel]
"""


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.gn, self.act, self.inorm = nn.GroupNorm(2, 6), nn.Mish(), nn.InstanceNorm2d(6, affine=True)
        self.p, self.ln, self.sp = nn.PReLU(6), nn.LayerNorm([5, 5]), nn.Softplus(2, 5)
        self.rms, self.bn, self.sel = nn.RMSNorm(5), nn.BatchNorm2d(6), nn.SELU()

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x


def test_state_dict_binds_strictly_and_matches(tmp_path):
    torch.manual_seed(0)
    model = Net().eval()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if name.endswith("var") else torch.randn_like(tensor))
    export_weights(model, str(tmp_path / "net.safetensors"))
    checked, diagnostics = check_text(SPEC, "net.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    bound = bind_weights(checked, str(tmp_path / "net.safetensors"), strict=True)
    x = np.random.default_rng(0).standard_normal((3, 6, 5, 5)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = reference.run(checked, bound, {"x": x})["sel"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
