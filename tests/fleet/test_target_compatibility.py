"""A target's deployment options (issue 31's build options: hardware_compatibility, version_compatible,
exclude_lean_runtime, strip_weights) in the matrix file: checked and located like the spec's `build:` keys,
part of each entry's cache key, passed to the build and recorded in the manifest."""

import json

import pytest

from netdsl.cli import main
from netdsl.diagnostics import SpecError
from netdsl.fleet.jobs import plan_jobs
from netdsl.fleet.matrix import read_matrix

from .helpers import RTX, lenet_copy, write_matrix


def test_options_are_checked_keyed_and_unchanged_without_them(tmp_path):
    lenet = lenet_copy(tmp_path / "models")
    plain = read_matrix(str(write_matrix(tmp_path / "a.yaml", [{"spec": str(lenet)}], [RTX])))
    compatible = read_matrix(str(write_matrix(tmp_path / "b.yaml", [{"spec": str(lenet)}], [
        {**RTX, "hardware_compatibility": "Ampere+", "version_compatible": True, "exclude_lean_runtime": True}])))
    assert plain.targets[0].compatibility == {} and "compatibility" not in plain.targets[0].describe()
    assert compatible.targets[0].compatibility == {"hardware_compatibility": "ampere+", "version_compatible": True,
                                                   "exclude_lean_runtime": True}
    first, second = plan_jobs(plain, None)[0], plan_jobs(compatible, None)[0]
    assert first.key != second.key
    assert second.options["version_compatible"] is True and "version_compatible" not in first.options


def test_bad_options_are_located(tmp_path, capsys):
    path = tmp_path / "fleet.yaml"
    path.write_text(f"""matrix: 1
models: [{{spec: {lenet_copy(tmp_path / 'models')}}}]
targets:
  - {{name: a, hardware_compatibility: turing}}
  - {{name: b, version_compatible: "yes"}}
""")
    with pytest.raises(SpecError):
        read_matrix(str(path))
    assert main(["matrix", "plan", str(path)]) == 1
    text = capsys.readouterr().err
    assert "fleet.yaml:4:" in text and "hardware_compatibility" in text and "ampere+" in text
    assert "fleet.yaml:5:" in text and "version_compatible is true or false" in text


@pytest.mark.slow
def test_a_version_compatible_target_builds_and_records_it(tmp_path, capsys):
    # TensorRT-RTX on a CPU builds VERSION_COMPATIBLE with EXCLUDE_LEAN_RUNTIME (tests/test_build_deployment.py)
    lenet = lenet_copy(tmp_path / "models")
    target = {**RTX, "version_compatible": True, "exclude_lean_runtime": True}
    matrix = write_matrix(tmp_path / "fleet.yaml", [{"spec": str(lenet)}], [target])
    code = main(["matrix", "build", str(matrix), "--cache", str(tmp_path / "cache"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["built"] == 1, report
    plan = next((tmp_path / "engines").rglob("*.plan.json"))
    manifest = json.loads(plan.read_text())
    assert manifest["version_compatible"] is True and manifest["exclude_lean_runtime"] is True
