"""`netdsl build` as people coming from trtexec and Polygraphy type it, `--format json`,
`--random-weights`, and errors reported by the subcommand they concern."""

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl.diagnostics import UsageError

pytest.importorskip("tensorrt_rtx")
ROOT = pathlib.Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet.yaml")
NO_WEIGHTS = """\
netdsl: 1
inputs: [{name: image, shape: [-1, 3, 16, 16], batch: {min: 1, opt: 2, max: 4}}]
layers:
  - {name: conv, kind: convolution, out_channels: 8, kernel: 3}
  - {name: bn, kind: batch_norm}
  - {name: pool, kind: global_avg_pool}
  - {name: fc, kind: fully_connected, out_features: 5}
"""


def netdsl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd or ROOT)


def manifest(path):
    return json.loads(pathlib.Path(str(path) + ".json").read_text())


def test_trtexec_spellings_build(tmp_path):
    plan = tmp_path / "lenet.engine"
    result = netdsl("build", LENET, "--fp16", f"--saveEngine={plan}", "--shapes", "data:8x1x32x32",
                    "--memPoolSize", "workspace:64")
    assert result.returncode == 0, result.stderr
    record = manifest(plan)
    assert record["precision"] == "float16" and record["workspace"] == 64 << 20
    assert record["inputs"][0]["batch"] == {"min": 8, "opt": 8, "max": 8}
    assert "--shapes fixes the batch at 8" in result.stderr


@pytest.mark.parametrize("spelling,canonical", [("half", "float16"), ("bf16", "bfloat16"), ("fp32", "float32")])
def test_precision_spellings_are_recorded_canonically(tmp_path, spelling, canonical):
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), "--precision", spelling)
    assert result.returncode == 0, result.stderr
    assert manifest(tmp_path / "x.plan")["precision"] == canonical and f", {canonical})" in result.stdout


@pytest.mark.parametrize("args,says", [
    (["--int8"], "--int8: netdsl has no implicit quantization"),
    (["--loadEngine", "x.plan"], "`netdsl run ENGINE"),
    (["--precison", "fp16"], "did you mean `--precision`?"),
])
def test_unknown_flags_get_builds_usage_and_the_netdsl_spelling(tmp_path, args, says):
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), *args)
    assert result.returncode == 2 and "usage: netdsl build SPEC" in result.stderr
    assert "netdsl build: error: unrecognized arguments" in result.stderr and says in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("args,says", [
    (["--int8"], "--int8: netdsl has no implicit quantization"),
    (["--fp8"], "--fp8: netdsl has no implicit quantization"),
    (["--best"], "--best: netdsl has no implicit quantization"),
    (["--precision", "int8"], "INT8 is not a netdsl precision"),
    (["--precision", "fp8"], "FP8 is not a netdsl precision"),
])
def test_implicit_quantization_points_to_the_quantization_section_and_calibrate(tmp_path, args, says):
    """What to do instead of --int8: a `quantization:` section, and ranges from `netdsl calibrate`."""
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), *args)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr
    assert "add a `quantization:` section to the spec" in result.stderr.replace("Add a", "add a")
    assert "`netdsl calibrate SPEC --data DIR -o SCALES`" in result.stderr
    assert not list(tmp_path.iterdir())


def test_unknown_flags_of_nested_commands_get_their_usage():
    result = netdsl("weights", "ls", LENET, "--bogus")
    assert result.returncode == 2 and "usage: netdsl weights ls" in result.stderr


def test_shapes_beyond_the_batch_are_refused_with_what_netdsl_supports(tmp_path):
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), "--shapes", "data:1x1x64x64")
    assert result.returncode == 2 and "netdsl varies only the batch" in result.stderr
    assert not list(tmp_path.iterdir())


def test_format_json(tmp_path):
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), "--format", "json", "--batch", "1,2,4")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["plan"] == str(tmp_path / "x.plan") and record["manifest"] == str(tmp_path / "x.plan.json")
    assert record["bytes"] == (tmp_path / "x.plan").stat().st_size
    assert record["inputs"][0]["batch"] == {"min": 1, "opt": 2, "max": 4} and record["random_weights"] is None
    assert record["weights"]["path"].endswith("lenet.safetensors") and record["diagnostics"] == []


def test_format_json_errors_are_json(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(NO_WEIGHTS.replace("out_channels: 8", "out_channel: 8"))
    result = netdsl("build", str(spec), "--format", "json", "--random-weights")
    assert result.returncode == 1
    assert json.loads(result.stderr)[0]["code"] == "unknown-param"


def test_random_weights_build_is_marked_and_refused_by_verify(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(NO_WEIGHTS)
    refused = netdsl("build", str(spec), "-o", str(tmp_path / "x.plan"))
    assert refused.returncode == 2 and "--random-weights" in refused.stderr
    result = netdsl("build", str(spec), "-o", str(tmp_path / "x.plan"), "--random-weights", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "RANDOM WEIGHTS (seed 3): not a real model" in result.stdout
    record = manifest(tmp_path / "x.plan")
    assert record["random_weights"]["seed"] == 3 and record["weights"] is None
    from netdsl.runtime import check_engine_matches

    with pytest.raises(UsageError, match="--random-weights"):
        check_engine_matches(record, str(spec), None)
    again = netdsl("build", str(spec), "-o", str(tmp_path / "y.plan"), "--random-weights", "--seed", "3")
    assert again.returncode == 0 and manifest(tmp_path / "y.plan")["engine_weights_sha256"] == record[
        "engine_weights_sha256"]  # one seed, one engine's weights
    other = netdsl("build", str(spec), "-o", str(tmp_path / "z.plan"), "--random-weights")
    assert manifest(tmp_path / "z.plan")["engine_weights_sha256"] != record["engine_weights_sha256"]
    both = netdsl("build", str(spec), "--random-weights", "--weights", "w.npz")
    assert both.returncode == 2 and "drop --weights or --random-weights" in both.stderr


def test_random_weights_keep_activations_in_range():
    from netdsl import reference
    from netdsl.spec import load
    from netdsl.weights.synthetic import random_weights

    checked = load(str(ROOT / "specs" / "zoo" / "resnet18.yaml"))
    bound = random_weights(checked, seed=0)
    [output] = reference.run(checked, bound, {"input": np.random.default_rng(0).standard_normal(
        (1, 3, 224, 224)).astype(np.float32)}).values()
    assert np.isfinite(output).all() and 1e-3 < np.abs(output).max() < 1e3  # float16 holds it


def test_prefixed_checkpoint_builds_with_one_warning(tmp_path):
    from netdsl.weights import read_weights, write_weights

    tensors = read_weights(str(ROOT / "weights" / "lenet.safetensors"))
    write_weights(str(tmp_path / "dp.safetensors"), {"module." + k: t.data for k, t in tensors.items()})
    result = netdsl("build", LENET, "-o", str(tmp_path / "x.plan"), "--weights", str(tmp_path / "dp.safetensors"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("warning[weights-prefix]") == 1 and "prefix: module." in result.stderr
