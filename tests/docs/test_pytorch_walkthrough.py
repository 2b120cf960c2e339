"""docs/pytorch.md stays true: its PyTorch module and its spec bind strictly, and the reference
executor computes what the module computes."""

import pathlib
import re

import numpy as np
import pytest

from netdsl import reference
from netdsl.diagnostics import Diagnostics
from netdsl.spec import load
from netdsl.weights import read_weights
from netdsl.weights.bind import bind
from netdsl.weights.from_torch import export_weights

torch = pytest.importorskip("torch")
PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "pytorch.md"


def blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), re.S)


def test_the_walkthrough_spec_matches_the_module(tmp_path):
    namespace = {}
    exec(blocks("python")[0], namespace)
    torch.manual_seed(0)
    model = namespace["SmallNet"]().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
    [spec] = blocks("yaml")
    (tmp_path / "smallnet.yaml").write_text(spec)
    export_weights(model, str(tmp_path / "smallnet.safetensors"))
    checked = load(str(tmp_path / "smallnet.yaml"))
    diagnostics = Diagnostics()
    path = str(tmp_path / "smallnet.safetensors")
    bound = bind(checked, read_weights(path), path, strict=True, diagnostics=diagnostics)
    assert list(diagnostics) == []
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    [got] = reference.run(checked, bound, {"image": x}).values()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape == (2, 10)
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())
