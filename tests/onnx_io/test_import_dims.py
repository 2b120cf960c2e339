"""Dynamic dimensions other than the batch (netdsl/onnx/dims.py): a fully convolutional net exported
with dynamic_axes {0: batch, 2: height, 3: width} imports into a spec with named dimensions and a
`dims:` section, validates, and runs in the reference at several sizes as ONNX Runtime runs the file."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import reference
from onnx_helpers import randomized, run_onnxruntime

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from torch import nn  # noqa: E402

AXES = {0: "batch", 2: "height", 3: "width"}
ROOT = pathlib.Path(__file__).resolve().parents[2]


class FullyConvolutional(nn.Module):
    """A stride-4 path upsampled back and concatenated with the full-size one: heights must be
    multiples of 4 for the concat to line up."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.down = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.mid = nn.Conv2d(16, 16, 3, padding=1)
        self.up = nn.Upsample(scale_factor=4, mode="nearest")
        self.head = nn.Conv2d(24, 2, 1)

    def forward(self, x):
        skip = self.stem(x)
        y = self.pool(self.down(skip))
        return self.head(torch.cat([self.up(y + self.mid(y)), skip], 1))


class Tokens(nn.Module):
    """Features flattened to tokens whatever the size (Shape -> Gather -> Mul -> Concat -> Reshape)."""

    def __init__(self):
        super().__init__()
        self.conv, self.proj = nn.Conv2d(3, 8, 4, stride=4), nn.Linear(8, 5)

    def forward(self, x):
        y = self.conv(x)
        b, c, h, w = y.shape
        return self.proj(y.reshape(b, c, h * w).transpose(1, 2))


def export(model, path, axes=AXES):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(randomized(model).eval(), (torch.randn(1, 3, 64, 64),), str(path), dynamo=False,
                          input_names=["input"], output_names=["output"], dynamic_axes={"input": axes},
                          opset_version=17, training=torch.onnx.TrainingMode.PRESERVE)


def assert_runs_as_onnxruntime(path, imported, shapes):
    for seed, shape in enumerate(shapes):
        x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        [ours] = reference.run(imported.checked, imported.bound, {"input": x}).values()
        [theirs] = run_onnxruntime(path.read_bytes(), {"input": x})
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_height_and_width_become_named_dimensions(tmp_path):
    from netdsl.onnx.importer import import_onnx

    model = FullyConvolutional()
    export(model, tmp_path / "fcn.onnx")
    imported = import_onnx(str(tmp_path / "fcn.onnx"), str(tmp_path / "fcn.yaml"))
    text = imported.text
    assert "  - {name: input, shape: [batch, 3, height, width]}\n" in text
    assert "  batch: {min: 1, opt: 1, max: 32}  # netdsl import's default\n" in text
    # the concat of the stride-4 path (upsampled) with the full-size one needs multiples of 4: found
    assert ("  height: {min: 32, opt: 224, max: 1024, multiple_of: 4}  # netdsl import's default; the smallest step "
            "at which every layer's sizes agree\n") in text
    assert "{name: up, kind: interpolate, scale_factor: 4.0}" in text
    params = sum(s.count for n in imported.checked.graph.nodes for s in n.weight_slots(imported.checked.types)
                 if s.trainable)
    assert params == sum(p.numel() for p in model.parameters())
    assert_runs_as_onnxruntime(tmp_path / "fcn.onnx", imported, [(1, 3, 32, 48), (2, 3, 68, 100)])
    # TensorRT-RTX builds its profile, its inferred shapes equal to netdsl's at min, opt and max
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import build_plan

    assert len(build_plan(imported.checked, imported.bound).data) > 0


def test_a_size_computed_from_height_and_width_is_a_reshape(tmp_path):
    from netdsl.onnx.importer import import_onnx

    export(Tokens(), tmp_path / "tokens.onnx")
    imported = import_onnx(str(tmp_path / "tokens.onnx"), str(tmp_path / "tokens.yaml"))
    assert "{name: reshape, kind: reshape, shape: [0, 8, -1]}" in imported.text  # h * w, inferred
    assert "multiple_of" not in imported.text  # no layer needs one
    assert_runs_as_onnxruntime(tmp_path / "tokens.onnx", imported, [(1, 3, 32, 36), (3, 3, 64, 100)])


def test_ranges_from_the_command_line(tmp_path):
    export(FullyConvolutional(), tmp_path / "fcn.onnx")

    def netdsl_import(*options):
        return subprocess.run([sys.executable, "-m", "netdsl", "import", str(tmp_path / "fcn.onnx"), "-o",
                               str(tmp_path / "fcn.yaml"), *options], capture_output=True, text=True, timeout=300, cwd=ROOT)

    result = netdsl_import("--dim", "height=64:128:256", "--dim", "width=64:128:512:32", "--batch", "1,2,8")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "fcn.yaml").read_text()
    assert "  batch: {min: 1, opt: 2, max: 8}  # --batch\n" in text
    assert "  height: {min: 64, opt: 128, max: 256, multiple_of: 4}  # --dim; the smallest step" in text
    assert "  width: {min: 64, opt: 128, max: 512, multiple_of: 32}  # --dim\n" in text
    result = netdsl_import("--dim", "heigth=64:128:256")
    assert result.returncode == 2 and "--dim heigth: fcn.onnx has no dynamic dimension of that name (its dynamic " \
        "dimensions: batch, height, width)" in result.stderr
    result = netdsl_import("--dim", "height=64:128")
    assert result.returncode == 2 and "--dim takes NAME=MIN:OPT:MAX" in result.stderr
    result = netdsl_import("--dim", "height=64:128:256:48")
    assert result.returncode == 2 and "multiples of STEP" in result.stderr


def test_a_resize_by_a_fraction_of_a_named_size_is_refused_by_name(tmp_path):
    from netdsl.onnx.importer import NotImportable, import_onnx

    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Upsample(scale_factor=1.5, mode="nearest"))
    export(model, tmp_path / "up.onnx")
    with pytest.raises(NotImportable, match=r"node `/1/Resize` \(Resize\): Resize of the dynamic dimension height "
                       r"by 1.5 \(netdsl resizes a named dimension by whole factors\)"):
        import_onnx(str(tmp_path / "up.onnx"), str(tmp_path / "up.yaml"))
    assert not (tmp_path / "up.yaml").exists()

