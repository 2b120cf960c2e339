"""Refit preparation on real specs and weights. The arrays prepared for TensorRT's Refitter must be
bit-identical to those the build gave TensorRT: the build records a digest of exactly those arrays in
the manifest, and the preparation must reproduce it from the same values in another file format.

Refittable builds need a GPU, so these tests take a plan built here (refit: none) and write the
manifest a refittable build records (the same fields, with `refit` set and the refittable weights
listed); the plan and its hash are real."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl import build, refit
from netdsl.diagnostics import SpecError, UsageError
from netdsl.weights import read_weights, write_weights

pytest.importorskip("tensorrt_rtx")
ROOT = pathlib.Path(__file__).resolve().parent.parent
LENET = ROOT / "specs" / "lenet.yaml"
SMALL = """\
netdsl: 1
inputs: [{name: x, shape: [-1, 3, 16, 16], batch: {min: 1, opt: 2, max: 4}}]
layers:
  - {name: conv, kind: convolution, out_channels: 8, kernel: 3, bias: false}
  - {name: bn, kind: batch_norm}
  - {name: act, kind: relu}
  - {name: up, kind: deconvolution, out_channels: 4, kernel: 2, stride: 2}
  - {name: fc, kind: fully_connected, out_features: 5}
"""


def refittable(plan_path, mode="refit"):
    """Rewrite the manifest as a refittable build of the same plan writes it."""
    record_path = pathlib.Path(str(plan_path) + ".json")
    record = json.loads(record_path.read_text())
    record["refit"] = mode
    record["refittable_weights"] = record["weights_in_engine"]
    record_path.write_text(json.dumps(record))
    return record


def random_state(spec_path, seed):
    checked = build.load_spec(str(spec_path))
    rng = np.random.default_rng(seed)
    state = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            array = rng.standard_normal(slot.shape).astype(np.float32)
            state[f"{node.name}.{slot.name}"] = np.abs(array) + 0.5 if slot.name == "running_var" else array
    return state


@pytest.fixture
def small(tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL)
    write_weights(str(tmp_path / "w.safetensors"), random_state(spec, 0))
    return spec, tmp_path


@pytest.fixture
def small_plan(small):
    """A refittable-manifest plan of the small spec, built on its weights."""
    spec, folder = small
    plan = folder / "small.plan"
    build.build(str(spec), output=str(plan), weights=str(folder / "w.safetensors"))
    refittable(plan)
    return spec, folder, plan


@pytest.mark.parametrize("precision", ["float32", "float16", "bfloat16"])
def test_prepared_arrays_are_bit_identical_to_the_build(small, precision):
    spec, folder = small
    plan = folder / "small.plan"
    build.build(str(spec), output=str(plan), weights=str(folder / "w.safetensors"), precision=precision)
    refittable(plan)
    # The same values from another format: the derivations (folded batch norm, conversion) must match.
    write_weights(str(folder / "w.wts"), {k: t.data for k, t in read_weights(str(folder / "w.safetensors")).items()})
    prepared = refit.prepare(str(plan), str(folder / "w.wts"))
    assert build.weights_digest(prepared.arrays) == prepared.manifest["engine_weights_sha256"]
    assert refit.check(prepared) == []
    # bn is folded into conv: conv.weight and conv.bias are derived from both layers' weights
    assert {"conv.weight", "conv.bias", "up.weight", "up.bias", "fc.weight", "fc.bias"} == set(prepared.arrays)
    wanted = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}[precision]
    deconv = np.float32 if precision == "bfloat16" else wanted  # TensorRT-RTX: bfloat16 deconvolution runs in float32
    assert all(a.dtype == (deconv if name.startswith("up.") else wanted) for name, a in prepared.arrays.items())


def test_folded_batch_norm_matches_pytorch(small_plan):
    torch = pytest.importorskip("torch")
    spec, folder, plan = small_plan
    prepared = refit.prepare(str(plan), str(folder / "w.safetensors"))
    w = {k: torch.from_numpy(np.array(t.data)) for k, t in read_weights(str(folder / "w.safetensors")).items()}
    x = torch.randn(2, 3, 16, 16)
    expected = torch.nn.functional.batch_norm(torch.nn.functional.conv2d(x, w["conv.weight"]), w["bn.running_mean"],
                                              w["bn.running_var"], w["bn.weight"], w["bn.bias"], False, 0.0, 1e-5)
    folded = torch.nn.functional.conv2d(x, torch.from_numpy(prepared.arrays["conv.weight"]),
                                        torch.from_numpy(prepared.arrays["conv.bias"]))
    # float32 sums of 27 products, outputs up to about 30: a few float32 roundings of that size
    assert torch.allclose(folded, expected, atol=1e-4), (folded - expected).abs().max()


def independently_folded(state, eps=1e-5):
    """conv's weight and bias with bn folded in, in float64 numpy (not netdsl's code)."""
    scale = state["bn.weight"].astype(np.float64) / np.sqrt(state["bn.running_var"].astype(np.float64) + eps)
    weight = state["conv.weight"].astype(np.float64) * scale[:, None, None, None]
    bias = state["bn.bias"].astype(np.float64) - state["bn.running_mean"].astype(np.float64) * scale
    return weight, bias


@pytest.mark.parametrize("precision", ["float32", "float16"])
def test_refit_derives_the_folded_weights_the_build_gave_tensorrt(small, precision):
    spec, folder = small
    state = {k: np.array(t.data) for k, t in read_weights(str(folder / "w.safetensors")).items()}
    plan = folder / "small.plan"
    record = build.build(str(spec), output=str(plan), weights=str(folder / "w.safetensors"), precision=precision)[1]
    derived = {w["name"]: w.get("derived_from") for w in record["weights_in_engine"]}
    assert derived["conv.weight"] == derived["conv.bias"] == ["conv.weight", "bn.weight", "bn.bias",
                                                              "bn.running_mean", "bn.running_var"]
    prepared = refit.prepare(str(plan), str(folder / "w.safetensors"), check_only=True)  # refit --check
    assert refit.check(prepared) == []
    assert build.weights_digest(prepared.arrays) == record["engine_weights_sha256"]  # what the build gave TensorRT
    weight, bias = independently_folded(state)
    got_weight, got_bias = (prepared.arrays[f"conv.{slot}"].astype(np.float64) for slot in ("weight", "bias"))
    # float32: the product of two float32 roundings (scale, then weight * scale); float16: its own rounding
    rtol = 2.5e-7 if precision == "float32" else 2 ** -11
    assert np.allclose(got_weight, weight, rtol=rtol, atol=0) and np.allclose(got_bias, bias, rtol=rtol, atol=1e-7)


def test_new_weights_fit_and_in_memory_mappings_work(small_plan):
    spec, folder, plan = small_plan
    new = random_state(spec, 1)
    prepared = refit.prepare(str(plan), new)
    assert refit.check(prepared) == [] and prepared.weights_path is None
    weight, _ = independently_folded(new)
    assert np.allclose(prepared.arrays["conv.weight"], weight, rtol=2.5e-7, atol=0)


def test_missing_and_misshapen_new_weights_are_all_reported(small_plan):
    spec, folder, plan = small_plan
    new = random_state(spec, 1)
    del new["bn.running_var"]
    new["fc.weight"] = new["fc.weight"][:, :10]
    with pytest.raises(SpecError) as caught:
        refit.prepare(str(plan), new)
    assert {d.code for d in caught.value.diagnostics} == {"missing-weight", "weight-shape"}


def test_spec_changes_that_alter_weights_name_the_layer(small_plan):
    spec, folder, plan = small_plan
    spec.write_text(SMALL.replace("out_features: 5", "out_features: 6").replace("{name: act, kind: relu}",
                                                                               "{name: act, kind: relu6}"))
    prepared = refit.prepare(str(plan), random_state(spec, 2), strict=True)
    problems = refit.check(prepared)
    # fc's input: conv 16 -> 14, deconvolution x2 -> 28, 4 channels: 4 * 28 * 28 = 3136 features
    assert problems == ["weight `fc.weight` is [6, 3136] now, the engine has [5, 3136] (layer `fc` changed since the build)",
                        "weight `fc.bias` is [1, 6] now, the engine has [1, 5] (layer `fc` changed since the build)"]


def test_spec_changes_that_keep_weights_only_warn(small_plan):
    spec, folder, plan = small_plan
    spec.write_text(SMALL.replace("{name: act, kind: relu}", "{name: act, kind: relu6}"))
    prepared = refit.prepare(str(plan), str(folder / "w.safetensors"))
    assert refit.check(prepared) == [] and prepared.spec_changed


@pytest.mark.parametrize("mode", ["refit-identical", "weightless"])
def test_identical_modes_take_back_only_the_build_weights(small_plan, mode):
    spec, folder, plan = small_plan
    refittable(plan, mode)
    assert refit.check(refit.prepare(str(plan), str(folder / "w.safetensors"))) == []
    [problem] = refit.check(refit.prepare(str(plan), random_state(spec, 3)))
    assert f"built `{mode}`" in problem


def test_an_engine_built_without_refit_is_refused(tmp_path):
    plan = tmp_path / "lenet.plan"
    build.build(str(LENET), output=str(plan))
    with pytest.raises(UsageError, match="built without refit support"):
        refit.prepare(str(plan), str(ROOT / "weights" / "lenet.wts"))


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_refit_command_checks_then_stops_without_a_gpu(tmp_path):
    plan = tmp_path / "lenet.plan"
    build.build(str(LENET), output=str(plan))
    refittable(plan)
    before = plan.read_bytes(), pathlib.Path(str(plan) + ".json").read_bytes()
    checked = netdsl("refit", str(plan), "--weights", str(ROOT / "weights" / "lenet.wts"), "--check")
    assert checked.returncode == 0 and "all 10 refittable weights present" in checked.stdout
    if build.cuda_devices() == 0:
        result = netdsl("refit", str(plan), "--weights", str(ROOT / "weights" / "lenet.wts"))
        assert result.returncode == 4 and "GPU" in result.stderr
    assert (plan.read_bytes(), pathlib.Path(str(plan) + ".json").read_bytes()) == before
    bad = tmp_path / "bad.wts"
    write_weights(str(bad), {k: t.data[:-1] if k == "fc3.bias" else t.data
                             for k, t in read_weights(str(ROOT / "weights" / "lenet.wts")).items()})
    result = netdsl("refit", str(plan), "--weights", str(bad), "--check")
    assert result.returncode == 1 and "fc3.bias" in result.stderr


# Without a GPU no refittable engine can be built here; the check works against the manifest of any
# build (it records the same names, dtypes and shapes) or against the spec itself, and says which.

def test_check_against_a_build_without_refit(small):
    spec, folder = small
    plan = folder / "small.plan"
    build.build(str(spec), output=str(plan), weights=str(folder / "w.safetensors"), precision="float16")
    with pytest.raises(UsageError, match="`--check` works with it"):
        refit.prepare(str(plan), str(folder / "w.safetensors"))
    prepared = refit.prepare(str(plan), random_state(spec, 4), check_only=True)
    assert refit.check(prepared) == [] and prepared.precision == "float16"
    assert "cannot take new weights" in refit.speaks_for(prepared) and "float16" in refit.speaks_for(prepared)
    spec.write_text(SMALL.replace("out_features: 5", "out_features: 6"))
    problems = refit.check(refit.prepare(str(plan), random_state(spec, 4), check_only=True))
    assert problems[0].startswith("weight `fc.weight` is [6, 3136] now, the engine has [5, 3136]")


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_check_against_the_spec_gives_what_a_refittable_build_records(small, precision):
    spec, folder = small
    from_spec = refit.prepare_spec(str(spec), str(folder / "w.safetensors"), precision)
    assert refit.check(from_spec) == [] and from_spec.manifest is None
    assert f"engines built from {spec} at {precision} with --refit refit" in refit.speaks_for(from_spec)
    # The same names, dtypes and shapes as a real build records (its manifest's weights_in_engine).
    plan = folder / "small.plan"
    build.build(str(spec), output=str(plan), weights=str(folder / "w.safetensors"), precision=precision)
    recorded = {w["name"]: (w["dtype"], tuple(w["shape"])) for w in json.loads(
        pathlib.Path(str(plan) + ".json").read_text())["weights_in_engine"]}
    assert from_spec.recorded == recorded


def test_refit_check_command_without_any_refittable_engine(small):
    spec, folder = small
    result = netdsl("refit", str(spec), "--weights", str(folder / "w.safetensors"), "--check", "--precision", "fp16")
    assert result.returncode == 0, result.stderr
    assert f"fits engines built from {spec} at float16 with --refit refit" in result.stdout
    assert "TensorRT's Refitter did not run" in result.stdout
    bad = random_state(spec, 5)
    bad["conv.weight"] = bad["conv.weight"][:4]
    write_weights(str(folder / "bad.safetensors"), bad)
    result = netdsl("refit", str(spec), "--weights", str(folder / "bad.safetensors"), "--check")
    assert result.returncode == 1 and "error[weight-shape]" in result.stderr and "conv.weight" in result.stderr
    result = netdsl("refit", str(spec), "--weights", str(folder / "w.safetensors"))
    assert result.returncode == 2 and "is a spec: refit needs an engine" in result.stderr
    plan = folder / "small.plan"
    build.build(str(spec), output=str(plan), weights=str(folder / "w.safetensors"))
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    result = netdsl("refit", str(plan), "--weights", str(folder / "w.safetensors"), "--check")
    # the weights fit engines built with refit, and the text says so; but this engine takes none, and a CI
    # gate on --check must fail where `netdsl refit` itself would
    assert result.returncode == 1, result.stderr
    assert "fits engines built like" in result.stdout and "with --refit refit" in result.stdout
    assert "small.plan itself was built without refit support and cannot take new weights" in result.stdout
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


DYNAMIC = """\
netdsl: 1
inputs: [{name: image, shape: [batch, 3, height, width]}]
dims:
  batch: {min: 1, opt: 1, max: 2}
  height: {min: 16, opt: 32, max: 64, multiple_of: 8}
  width: {min: 16, opt: 32, max: 64}
profiles:
  - {height: [16, 16, 32], width: [16, 16, 32]}
  - {height: [32, 64, 64], width: [32, 64, 64]}
layers:
  - {name: conv, kind: convolution, out_channels: 4, kernel: 3, padding: 1, bias: false}
  - {name: bn, kind: batch_norm}
  - {name: act, kind: relu}
"""


def test_refit_check_says_the_engine_was_built_for_other_profiles(tmp_path):
    spec, weights, plan = tmp_path / "dynamic.yaml", tmp_path / "w.safetensors", tmp_path / "dynamic.plan"
    spec.write_text(DYNAMIC)
    write_weights(str(weights), random_state(spec, 0))
    build.build(str(spec), output=str(plan), weights=str(weights))
    refittable(plan)
    write_weights(str(tmp_path / "new.safetensors"), random_state(spec, 1))
    same = netdsl("refit", str(plan), "--weights", str(tmp_path / "new.safetensors"), "--check")
    assert same.returncode == 0 and "refittable weights present" in same.stdout and "profiles" not in same.stderr
    # a step (multiple_of) is netdsl's check, not the engine's: the engine's ranges are unchanged
    spec.write_text(DYNAMIC.replace("multiple_of: 8", "multiple_of: 16"))
    assert refit.profile_changes(refit.prepare(str(plan), str(weights))) == []
    spec.write_text(DYNAMIC.replace("max: 64, multiple_of", "max: 128, multiple_of")
                    .replace("{height: [32, 64, 64]", "{height: [32, 48, 128]"))
    prepared = refit.prepare(str(plan), str(tmp_path / "new.safetensors"))
    assert refit.check(prepared) == []  # the weights do not depend on the ranges
    assert refit.profile_changes(prepared) == ["profile 1 `height`: 32..64 (opt 64) -> 32..128 (opt 48)"]
    result = netdsl("refit", str(plan), "--weights", str(tmp_path / "new.safetensors"), "--check")
    assert result.returncode == 0 and "refittable weights present" in result.stdout
    assert (f"note: {plan} was built for other optimization profiles than {spec} gives now (engine -> spec):\n"
            "  profile 1 `height`: 32..64 (opt 64) -> 32..128 (opt 48)\n"
            "A refit keeps the engine's ranges; serving the new ones needs a rebuild. The weights fit either way.") \
        in result.stderr
