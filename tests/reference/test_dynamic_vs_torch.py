"""The reference executor on networks with a dynamic height and width equals PyTorch at several sizes
within the profiles, and refuses inputs no profile allows, naming the limits."""

import pathlib

import numpy as np
import pytest

from netdsl import reference
from netdsl.build import load_spec
from netdsl.diagnostics import UsageError
from tests.opcases import random_weights

torch = pytest.importorskip("torch")
F = torch.nn.functional
ROOT = pathlib.Path(__file__).resolve().parents[2]


def unet(x, w):
    def conv(x, name, **kw):
        return F.conv2d(x, w(f"{name}.weight"), w(f"{name}.bias", None), **kw)

    def double(x, block):
        for i in (1, 2):
            x = F.conv2d(x, w(f"{block}.conv{i}.weight"), padding=1)
            x = F.relu(F.batch_norm(x, w(f"{block}.bn{i}.running_mean"), w(f"{block}.bn{i}.running_var"),
                                    w(f"{block}.bn{i}.weight"), w(f"{block}.bn{i}.bias"), False, 0.0, 1e-5))
        return x

    e1 = double(x, "enc1")
    e2 = double(F.max_pool2d(e1, 2), "enc2")
    b = double(F.max_pool2d(e2, 2), "bottleneck")
    u2 = F.conv_transpose2d(b, w("up2.weight"), w("up2.bias"), stride=2)
    d2 = double(torch.cat([u2, e2], 1), "dec2")
    u1 = conv(F.interpolate(d2, scale_factor=2, mode="bilinear", align_corners=False), "up1_proj")
    d1 = double(torch.cat([u1, e1], 1), "dec1")
    return conv(d1, "head")


def detector(x, w):
    def down(x, block):
        x = F.conv2d(x, w(f"{block}.conv.weight"), stride=2, padding=1)
        return F.silu(F.batch_norm(x, w(f"{block}.bn.running_mean"), w(f"{block}.bn.running_var"),
                                   w(f"{block}.bn.weight"), w(f"{block}.bn.bias"), False, 0.0, 1e-5))

    c3 = down(down(down(x, "stem"), "c2"), "c3")
    c4 = down(c3, "c4")
    lateral = F.conv2d(c4, w("lateral4.weight"), w("lateral4.bias"))
    p3 = F.interpolate(lateral, scale_factor=2, mode="nearest") + c3
    rows3 = F.conv2d(p3, w("head3.weight"), w("head3.bias")).reshape(x.shape[0], 3, 7, -1)
    rows4 = F.conv2d(lateral, w("head4.weight"), w("head4.bias")).reshape(x.shape[0], 3, 7, -1)
    return torch.sigmoid(torch.cat([rows3, rows4], 3).permute(0, 1, 3, 2))


# sizes within the profiles: both profiles, their edges, non-square; the largest ones are slow (seconds of
# numpy convolution each)
CASES = {"unet_dynamic": (unet, [(1, 64, 64), (2, 68, 100), (1, 256, 64)], [(1, 300, 512), (1, 512, 512)]),
         "detector_dynamic": (detector, [(1, 128, 128), (2, 160, 320), (3, 320, 224), (1, 640, 640)], [])}


@pytest.mark.parametrize("name, large", [(name, False) for name in CASES] + [
    pytest.param("unet_dynamic", True, marks=pytest.mark.slow)])
def test_reference_equals_pytorch_at_several_sizes(name, large):
    forward, small_sizes, large_sizes = CASES[name]
    checked = load_spec(str(ROOT / "specs" / "dynamic" / f"{name}.yaml"))
    bound = random_weights(checked)

    def w(key, default=0):
        return torch.from_numpy(bound[key].array) if key in bound else (None if default is None else bound[key])

    rng = np.random.default_rng(0)
    for batch, height, width in large_sizes if large else small_sizes:
        x = rng.standard_normal((batch, 3, height, width)).astype(np.float32)
        [got] = reference.run(checked, bound, {"image": x}).values()
        with torch.no_grad():
            expected = forward(torch.from_numpy(x), w).numpy()
        assert got.shape == expected.shape
        # float32 on both sides; 3x3 convolutions over up to 9 * 64 = 576 terms, chained: relative 1e-4
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_inputs_outside_every_profile_are_refused_naming_the_limits():
    checked = load_spec(str(ROOT / "specs" / "dynamic" / "unet_dynamic.yaml"))
    bound = random_weights(checked)
    with pytest.raises(UsageError, match=r"sizes batch=1, height=600, width=64 fit no optimization profile "
                                         r"\(profile 0: batch 1\.\.4, height 64\.\.256 \(multiples of 4\), width "
                                         r"64\.\.256 \(multiples of 4\); profile 1: .*height 256\.\.512"):
        reference.run(checked, bound, {"image": np.zeros((1, 3, 600, 64), np.float32)})
    with pytest.raises(UsageError, match="height=66, .*multiples of 4"):
        reference.run(checked, bound, {"image": np.zeros((1, 3, 66, 64), np.float32)})
    with pytest.raises(UsageError, match=r"shape \[1, 4, 64, 64\], expected \[batch, 3, height, width\]"):
        reference.run(checked, bound, {"image": np.zeros((1, 4, 64, 64), np.float32)})


def test_a_size_in_one_profile_and_another_in_the_other_fits_neither():
    checked = load_spec(str(ROOT / "specs" / "dynamic" / "unet_dynamic.yaml"))
    with pytest.raises(UsageError, match="height=64, width=512 fit no optimization profile"):
        reference.run(checked, random_weights(checked), {"image": np.zeros((1, 3, 64, 512), np.float32)})


def test_reference_and_verify_commands_take_any_allowed_size_and_refuse_others(tmp_path):
    import subprocess
    import sys

    from netdsl.weights import write_weights

    spec = ROOT / "specs" / "dynamic" / "detector_dynamic.yaml"
    checked = load_spec(str(spec))
    write_weights(str(tmp_path / "w.safetensors"), {k: w.array for k, w in random_weights(checked).items()})
    rng = np.random.default_rng(0)
    for name, shape in (("ok", (2, 3, 160, 352)), ("odd", (1, 3, 100, 160)), ("big", (1, 3, 704, 160))):
        np.save(tmp_path / f"{name}.npy", rng.standard_normal(shape).astype(np.float32))

    def netdsl(*args):
        return subprocess.run([sys.executable, "-m", "netdsl", *args, "--weights", str(tmp_path / "w.safetensors")],
                              capture_output=True, text=True, timeout=300, cwd=ROOT)

    # 160 rows fit profile 0 only (128..320), 352 columns profile 1 only (320..640): no profile takes both
    mixed = netdsl("reference", str(spec), "--input", str(tmp_path / "ok.npy"))
    assert mixed.returncode == 2 and "height=160, width=352 fit no optimization profile" in mixed.stderr
    np.save(tmp_path / "ok.npy", rng.standard_normal((2, 3, 160, 288)).astype(np.float32))
    result = netdsl("reference", str(spec), "--input", str(tmp_path / "ok.npy"))
    # one row per anchor and cell of both levels: 20x36 cells at stride 8, 10x18 at stride 16
    assert result.returncode == 0 and "predictions: shape [2, 3, 900, 7]" in result.stdout
    limits = ("(profile 0: batch 1..4, height 128..320 (multiples of 32), width 128..320 (multiples of 32); "
              "profile 1: batch 1..4, height 320..640 (multiples of 32), width 320..640 (multiples of 32))")
    for name, sizes, command in (("odd", "batch=1, height=100, width=160", "reference"),
                                 ("big", "batch=1, height=704, width=160", "verify")):  # verify: before it needs a GPU
        refused = netdsl(command, str(spec), "--input", str(tmp_path / f"{name}.npy"))
        assert refused.returncode == 2 and f"the inputs' sizes {sizes} fit no optimization profile {limits}" \
            in refused.stderr, (command, refused.stderr)
