"""`netdsl build` and the build API with the real TensorRT-RTX: every shipped spec builds; precision,
batch and target options; manifests checked against independently computed hashes; refit refused early
on a machine without a GPU; a failed build writes nothing and shows TensorRT's words."""

import hashlib
import io
import json
import os
import pathlib
import subprocess
import sys

import pytest

from netdsl import build
from netdsl.spec.buildopts import BuildOptions

trt = pytest.importorskip("tensorrt_rtx")
ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET = str(ROOT / "specs" / "lenet.yaml")
SPECS = sorted((ROOT / "specs").rglob("*.yaml"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))
from test_lowering import random_weights  # noqa: E402


def netdsl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd or ROOT)


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


# builds of 3 to 15 s on the CPU here: in the slow run (tests/zoo/test_zoo_vit.py and test_zoo_swin.py
# build them in every precision too)
SLOW_BUILDS = {"vit_b_16.yaml", "convnext_tiny.yaml", "swin_t.yaml"}


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_BUILDS else p
                                  for p in SPECS], ids=lambda p: p.name)
def test_every_shipped_spec_builds(path):
    checked = build.load_spec(str(path))
    has_weights = checked.graph.weights is not None and checked.graph.weights.file
    bound = build.bind_weights(checked) if has_weights else random_weights(checked)
    plan = build.build_plan(checked, bound)
    assert plan.data.nbytes > 10_000


def test_build_command_writes_plan_and_manifest(tmp_path):
    result = netdsl("build", LENET, "-o", str(tmp_path / "lenet.plan"))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "lenet.plan.json").read_text())
    assert manifest["spec"]["sha256"] == sha256(LENET)
    assert manifest["weights"]["sha256"] == sha256(ROOT / "weights" / "lenet.safetensors")
    assert manifest["plan"] == {"path": "lenet.plan", "bytes": (tmp_path / "lenet.plan").stat().st_size,
                                "sha256": sha256(tmp_path / "lenet.plan")}
    assert manifest["tensorrt"] == {"flavour": "tensorrt_rtx", "version": trt.__version__}
    assert manifest["inputs"] == [{"name": "data", "dtype": "float32", "shape": [-1, 1, 32, 32],
                                   "batch": {"min": 1, "opt": 1, "max": 64}}]
    assert manifest["outputs"] == [{"name": "prob", "dtype": "float32", "shape": [-1, 10]}]
    names = {w["name"] for w in manifest["weights_in_engine"]}
    assert names == {f"{layer}.{slot}" for layer in ("conv1", "conv2", "fc1", "fc2", "fc3") for slot in ("weight", "bias")}
    assert manifest["precision"] == "float32" and manifest["refit"] == "none"


def test_default_output_is_named_after_the_spec(tmp_path):
    result = netdsl("build", LENET, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["lenet.plan", "lenet.plan.json"]


def test_command_line_options_win_over_the_spec(tmp_path):
    spec = tmp_path / "lenet.yaml"
    spec.write_text(pathlib.Path(LENET).read_text().replace("../weights/", str(ROOT / "weights") + "/")
                    + "build: {precision: float16, workspace: 256MiB}\n")
    result = netdsl("build", str(spec), "-o", str(tmp_path / "a.plan"), "--batch", "2,8,32", "--target", "sm86,sm89")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "a.plan.json").read_text())
    assert (manifest["precision"], manifest["workspace"]) == ("float16", 256 << 20)
    assert manifest["inputs"][0]["batch"] == {"min": 2, "opt": 8, "max": 32}
    assert manifest["targets"] == ["sm86", "sm89"]
    assert {w["dtype"] for w in manifest["weights_in_engine"]} == {"float16"}
    result = netdsl("build", str(spec), "-o", str(tmp_path / "b.plan"), "--precision", "bfloat16")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "b.plan.json").read_text())["precision"] == "bfloat16"


@pytest.mark.parametrize("args,message", [
    (["--precision", "fp17"], "precision must be one of"),
    (["--precision", "int8"], "quantize explicitly"),
    (["--workspace", "1XB"], "workspace is a size"),
    (["--refit", "sometimes"], "refit must be one of"),
    (["--target", "sm90"], "unknown target sm90"),
    (["--optimization-level", "9"], "optimization_level is an integer from 0 to 5"),
    (["--batch", "8,4,2"], "batch is MIN,OPT,MAX"),
])
def test_bad_options_are_refused_before_lowering(tmp_path, args, message):
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())


def test_batch_override_needs_a_dynamic_input():
    from netdsl.spec import check_text

    checked, _ = check_text("netdsl: 1\ninputs: [{name: x, shape: [1, 4]}]\nlayers: [{name: r, kind: relu}]\n")
    with pytest.raises(build.UsageError, match="no input .* has a dynamic batch"):
        build.options_for(checked, batch="1,2,3")


def test_refit_is_refused_early_without_a_gpu(tmp_path):
    assert build.cuda_devices() == 0, "this test is for machines without a GPU"
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), "--refit", "refit")
    assert result.returncode == 2 and "needs a GPU" in result.stderr
    assert not list(tmp_path.iterdir())


def test_a_failed_build_writes_nothing_and_shows_tensorrt_errors(tmp_path, monkeypatch):
    # Pretend a GPU is there: TensorRT-RTX then really tries a refittable build on the CPU and fails.
    monkeypatch.setattr(build, "cuda_devices", lambda: 1)
    with pytest.raises(build.BuildFailed, match="TensorRT: .*Error Code"):
        build.build(LENET, output=str(tmp_path / "x.plan"), refit="refit")
    assert not list(tmp_path.iterdir())


def test_progress_monitor_draws_on_its_stream():
    from netdsl.trt.progress import make_progress

    stream = io.StringIO()
    checked = build.load_spec(LENET)
    build.build_plan(checked, build.bind_weights(checked), BuildOptions(), progress=make_progress(trt, stream))
    assert "/" in stream.getvalue() and "[" in stream.getvalue()


def test_tensorrt_log_is_shown_with_verbose_only(tmp_path):
    quiet = netdsl("build", LENET, "-o", str(tmp_path / "q.plan"))
    loud = netdsl("build", LENET, "-o", str(tmp_path / "l.plan"), "-v")
    assert "netdsl.tensorrt" not in quiet.stderr
    assert "INFO netdsl.tensorrt:" in loud.stderr


def test_timing_cache_is_a_note_on_tensorrt_rtx(tmp_path):
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), "--timing-cache", str(tmp_path / "t.cache"))
    assert result.returncode == 0 and "timing cache ignored" in result.stderr
    assert not (tmp_path / "t.cache").exists()


def test_unwritable_output_is_a_clean_error(tmp_path):
    result = netdsl("build", LENET, "-o", str(tmp_path / "missing" / "x.plan"))
    assert result.returncode == 2 and "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_plan_is_removed_when_its_manifest_cannot_be_written(tmp_path):
    (tmp_path / "x.plan.json").mkdir()  # a folder where the manifest should go
    with pytest.raises(build.UsageError, match="cannot write"):
        build.build(LENET, output=str(tmp_path / "x.plan"))
    assert not (tmp_path / "x.plan").exists()
