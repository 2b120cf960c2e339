"""Build options for deployment: weight-stripped plans, hardware and version compatibility. Their effect
on TensorRT's builder configuration is read back from the installed TensorRT (here TensorRT-RTX on a
CPU); the builds RTX can make are made; the others are refused with exit 2, nothing written."""

import json
import pathlib
import subprocess
import sys
import types

import pytest

from netdsl.build import NotHere, configure_deployment
from netdsl.spec.buildopts import BuildOptions

trt = pytest.importorskip("tensorrt_rtx")
ROOT = pathlib.Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet.yaml")
WEIGHTS = str(ROOT / "weights" / "lenet.safetensors")


def netdsl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd or ROOT)


def config():
    from netdsl.trt import make_logger

    return trt.Builder(make_logger(trt)).create_builder_config()


def configured(**options):
    """A builder configuration as `netdsl build` sets it up (refit flags and deployment options)."""
    from netdsl.build import _configure

    made = config()
    _configure(trt, None, made, _Static(), BuildOptions(**options).resolved())
    return made


class _Static:
    """A checked spec with static inputs only (no optimization profile to make)."""

    graph = types.SimpleNamespace(inputs=[], profiles=[])


FLAGS = ("STRIP_PLAN", "REFIT", "REFIT_IDENTICAL", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME")


def flags_of(made) -> set:
    return {flag for flag in FLAGS if made.get_flag(getattr(trt.BuilderFlag, flag))}


@pytest.mark.parametrize("options,flags", [
    ({}, set()),
    ({"strip_weights": True}, {"STRIP_PLAN", "REFIT_IDENTICAL"}),  # the weights given are the ones deployed
    ({"strip_weights": True, "refit": "refit"}, {"STRIP_PLAN", "REFIT"}),  # any weights later
    ({"refit": "weightless"}, {"STRIP_PLAN", "REFIT_IDENTICAL"}),  # the older spelling of the same plan
    ({"version_compatible": True}, {"VERSION_COMPATIBLE"}),
    ({"version_compatible": True, "exclude_lean_runtime": True}, {"VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME"}),
])
def test_options_set_the_builder_flags_tensorrt_reads_back(options, flags):
    assert flags_of(configured(**options)) == flags


def test_stripping_implies_refit_identical_and_weightless_implies_stripping():
    assert BuildOptions(strip_weights=True).resolved().refit == "refit-identical"
    assert BuildOptions(strip_weights=True, refit="refit").resolved().refit == "refit"
    assert BuildOptions(refit="weightless").resolved().strip_weights is True
    assert BuildOptions().resolved() == BuildOptions()
    with pytest.raises(ValueError, match="--version-compatible"):
        BuildOptions(exclude_lean_runtime=True).resolved()


def test_tensorrt_rtx_ignores_the_hardware_compatibility_level_so_it_is_refused():
    made = config()
    with pytest.raises(NotHere, match=r"ignores HardwareCompatibilityLevel.AMPERE_PLUS.*full TensorRT"):
        configure_deployment(trt, made, BuildOptions(hardware_compatibility="ampere+"))
    # what netdsl saw: RTX takes the setting and reads back NONE
    assert made.hardware_compatibility_level == trt.HardwareCompatibilityLevel.NONE


class FakeConfig:
    """A builder configuration that keeps what it is given, as full TensorRT's does (none is installable
    here): the other branch of the one code path."""

    def __init__(self):
        self.flags, self.hardware_compatibility_level = set(), "NONE"

    def set_flag(self, flag):
        self.flags.add(flag)

    def get_flag(self, flag):
        return flag in self.flags


def fake_tensorrt(flags=("STRIP_PLAN", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME"), levels=("AMPERE_PLUS",)):
    return types.SimpleNamespace(__name__="tensorrt", __version__="10.x",
                                 BuilderFlag=types.SimpleNamespace(**{f: f for f in flags}),
                                 HardwareCompatibilityLevel=types.SimpleNamespace(**{lv: lv for lv in levels}))


def test_a_tensorrt_that_keeps_the_level_gets_it():
    made = FakeConfig()
    configure_deployment(fake_tensorrt(), made, BuildOptions(hardware_compatibility="ampere+"))
    assert made.hardware_compatibility_level == "AMPERE_PLUS"


@pytest.mark.parametrize("options,says", [
    ({"hardware_compatibility": "same-cc"}, "lacks HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY"),
    ({"strip_weights": True}, "--strip-weights: tensorrt 10.x lacks BuilderFlag.STRIP_PLAN"),
])
def test_a_tensorrt_without_the_feature_is_refused_by_name(options, says):
    with pytest.raises(NotHere, match=says):
        configure_deployment(fake_tensorrt(flags=(), levels=("AMPERE_PLUS",)), FakeConfig(), BuildOptions(**options))


def test_version_compatible_build_without_the_lean_runtime_is_built_recorded_and_inspected(tmp_path):
    plan = tmp_path / "lenet.plan"
    result = netdsl("build", LENET, "-o", str(plan), "--versionCompatible", "--excludeLeanRuntime")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "lenet.plan.json").read_text())
    assert (record["version_compatible"], record["exclude_lean_runtime"]) == (True, True)
    assert (record["strip_weights"], record["hardware_compatibility"], record["refit"]) == (False, "none", "none")
    shown = netdsl("inspect", str(plan) + ".json")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "version_compatible      true" in lines and "exclude_lean_runtime    true" in lines
    assert "strip_weights           false" in lines and "hardware_compatibility  none" in lines
    as_json = json.loads(netdsl("inspect", str(plan) + ".json", "--format", "json").stdout)
    assert as_json == record


@pytest.mark.parametrize("args,says", [
    (["--strip-weights"], "full TensorRT 10/11 on a GPU builds a weight-stripped plan"),
    (["--stripWeights", "--refit", "refit"], "--strip-weights needs a GPU"),
    (["--hardware-compatibility", "ampere+"], "tensorrt_rtx 1.7.1.116 ignores HardwareCompatibilityLevel.AMPERE_PLUS"),
    (["--hardwareCompatibilityLevel=sameComputeCapability"], "ignores HardwareCompatibilityLevel.SAME_COMPUTE"),
    (["--version-compatible"], "cannot load TensorRT's lean runtime (libnvinfer_lean.so.1)"),
    (["--exclude-lean-runtime"], "is for a version-compatible plan: add --version-compatible"),
    (["--hardware-compatibility", "turing+"], "hardware_compatibility is none, ampere+"),
])
def test_what_tensorrt_rtx_here_cannot_build_is_refused_with_exit_2_and_nothing_written(tmp_path, args, says):
    if trt.__version__ != "1.7.1.116":
        says = says.replace("tensorrt_rtx 1.7.1.116 ", "")
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), *args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("line,says", [
    ("strip_weights: yes", "`build.strip_weights`: strip_weights is true or false"),
    ("hardware_compatibility: turing", "`build.hardware_compatibility`: hardware_compatibility is none"),
])
def test_spec_build_section_takes_the_options_and_locates_bad_values(tmp_path, line, says):
    spec = tmp_path / "s.yaml"
    spec.write_text(pathlib.Path(LENET).read_text().replace("layers:", f"build:\n  {line}\nlayers:", 1)
                    .replace("../weights", str(ROOT / "weights")))
    result = netdsl("validate", str(spec))
    assert result.returncode == 1 and says in result.stderr
    assert f"{spec}:" in result.stderr  # located: file, line, column


def test_spec_build_section_options_reach_the_manifest(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(pathlib.Path(LENET).read_text().replace(
        "layers:", "build:\n  version_compatible: true\n  exclude_lean_runtime: true\nlayers:", 1)
        .replace("../weights", str(ROOT / "weights")))
    result = netdsl("build", str(spec), "-o", str(tmp_path / "s.plan"), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version_compatible"] is True


def test_refit_check_of_a_stripped_plan_takes_back_only_its_own_weights(tmp_path):
    """A stripped plan cannot be built here (no GPU): its manifest is the one a real build writes with the
    two keys a stripped build changes. `refit --check` needs no GPU."""
    plan = tmp_path / "lenet.plan"
    assert netdsl("build", LENET, "-o", str(plan)).returncode == 0
    record = json.loads((tmp_path / "lenet.plan.json").read_text())
    record.update(strip_weights=True, refit="refit-identical", refittable_weights=record["weights_in_engine"])
    (tmp_path / "lenet.plan.json").write_text(json.dumps(record))
    same = netdsl("refit", str(plan), "--weights", WEIGHTS, "--check")
    assert same.returncode == 0, same.stderr
    import numpy as np
    from safetensors.numpy import load_file, save_file

    other = {k: v + np.float32(0.5) for k, v in load_file(WEIGHTS).items()}
    save_file(other, str(tmp_path / "other.safetensors"))
    changed = netdsl("refit", str(plan), "--weights", str(tmp_path / "other.safetensors"), "--check")
    assert changed.returncode == 1 and "built `refit-identical`" in changed.stderr


def test_a_stripped_plan_is_not_run_before_it_is_filled(tmp_path):
    """As above, the manifest of a real build with the keys a stripped build writes; `run` refuses it before
    it needs a GPU (exit 2, not the no-GPU exit 4), and a refitted one (`refitted` set) goes on to that check."""
    import numpy as np

    plan = tmp_path / "lenet.plan"
    assert netdsl("build", LENET, "-o", str(plan)).returncode == 0
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 32, 32), np.float32))
    record = json.loads((tmp_path / "lenet.plan.json").read_text())
    record.update(strip_weights=True, refit="refit-identical")
    (tmp_path / "lenet.plan.json").write_text(json.dumps(record))
    result = netdsl("run", str(plan), "--input", str(tmp_path / "x.npy"))
    assert result.returncode == 2 and "is a weight-stripped plan: fill it first with `netdsl refit" in result.stderr
    record["refitted"] = "2026-12-06T05:00:00+00:00"
    (tmp_path / "lenet.plan.json").write_text(json.dumps(record))
    filled = netdsl("run", str(plan), "--input", str(tmp_path / "x.npy"))
    assert "weight-stripped" not in filled.stderr and filled.returncode in (0, 4)  # 4: no GPU here


def test_the_python_api_takes_the_same_options(tmp_path):
    import netdsl

    network = netdsl.load(LENET).bind(WEIGHTS)
    engine = network.build(str(tmp_path / "l.plan"), version_compatible=True, exclude_lean_runtime=True)
    assert (engine.manifest["version_compatible"], engine.manifest["exclude_lean_runtime"]) == (True, True)
    with pytest.raises(NotHere, match="ignores HardwareCompatibilityLevel.SAME_COMPUTE_CAPABILITY"):
        network.build(hardware_compatibility="same-cc")
    from netdsl.diagnostics import UsageError

    with pytest.raises(UsageError, match="hardware_compatibility is none, ampere\\+"):
        network.build(hardware_compatibility="hopper")


def test_a_filled_stripped_plan_is_serialized_with_its_weights():
    """netdsl.refit.serialize_with_weights against TensorRT-RTX's serialization API: the configuration it
    hands the engine has EXCLUDE_WEIGHTS cleared (an engine cannot be made here: it needs a GPU)."""
    from netdsl.refit import serialize_with_weights

    class Engine:  # records what TensorRT's engine would be asked
        def create_serialization_config(self):
            self.config = _RealConfig()
            return self.config

        def serialize_with_config(self, config):
            return config

    engine = Engine()
    config = serialize_with_weights(trt, engine)
    assert config is engine.config and not config.get_flag(trt.SerializationFlag.EXCLUDE_WEIGHTS)


class _RealConfig:
    """The flags of an ISerializationConfig, which only an engine creates; TensorRT sets EXCLUDE_WEIGHTS on
    a stripped engine's."""

    def __init__(self):
        self.flags = {trt.SerializationFlag.EXCLUDE_WEIGHTS}

    def clear_flag(self, flag):
        self.flags.discard(flag)

    def get_flag(self, flag):
        return flag in self.flags
