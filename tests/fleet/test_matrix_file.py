"""The matrix file's schema: every problem at its file:line:col, all in one run, exit 1 from the CLI."""

import json
import shutil

import pytest

from netdsl.cli import main
from netdsl.diagnostics import SpecError
from netdsl.fleet.matrix import entries, read_matrix

from .helpers import ROOT


def test_a_good_matrix_expands_to_every_entry(tmp_path):
    path = tmp_path / "fleet.yaml"
    path.write_text(f"""matrix: 1
models:
  - {{spec: {ROOT}/specs/lenet.yaml}}
  - {{name: v8n, spec: {ROOT}/specs/zoo/yolov8.yaml, set: {{scale: n}}, random_weights: 3}}
precisions: [fp32, half]
batches: ["1,1,4", [1, 8, 16]]
targets:
  - {{name: l4, accelerator_type: L4}}
  - {{name: rtx, flavour: tensorrt_rtx, resource: rtx_box, compute_capabilities: [sm89, sm86], num_gpus: 0}}
output: {{path: out}}
""")
    matrix = read_matrix(str(path))
    assert [m.name for m in matrix.models] == ["lenet", "v8n"]
    assert matrix.models[1].params == {"scale": "n"} and matrix.models[1].random_seed == 3
    assert matrix.precisions == ["float32", "float16"]
    assert matrix.batches == [(1, 1, 4), (1, 8, 16)]
    assert matrix.targets[1].compute_capabilities == ("sm89", "sm86") and matrix.targets[1].num_gpus == 0
    assert matrix.targets[0].num_gpus == 1 and matrix.targets[0].flavour == "tensorrt"
    assert matrix.output == str(tmp_path / "out")
    names = [entry.name for entry in entries(matrix)]
    assert len(names) == 2 * 2 * 2 * 2 == len(set(names))
    assert names[0] == "l4/lenet/float32_b1-1-4" and names[-1] == "rtx/v8n/float16_b1-8-16"


BAD = """matrix: 2
models:
  - {spec: nowhere.yaml, weights: w.safetensors, random_weights: 1}
  - {spec: SPEC, colour: red}
precisions: [fp64]
batches: ["4,2,1"]
targets:
  - {name: a, flavour: tensorrt, compute_capabilities: [sm86]}
  - {name: a, flavour: tensorrt-rtx, accelerator_type: A100, resource: x}
output: {path: out, format: zip}
"""


def test_every_problem_is_reported_with_its_position(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    shutil.copy(ROOT / "specs" / "lenet.yaml", tmp_path / "lenet.yaml")
    path.write_text(BAD.replace("SPEC", "lenet.yaml"))
    with pytest.raises(SpecError) as caught:
        read_matrix(str(path))
    found = {(d.code, d.pos.line, d.pos.col) for d in caught.value.diagnostics}
    assert found == {("unknown-version", 1, 9), ("missing-file", 3, 12), ("missing-file", 3, 35),
                     ("conflict", 3, 66), ("unknown-key", 4, 24), ("bad-option", 5, 14), ("bad-option", 6, 11),
                     ("bad-option", 8, 56), ("unknown-flavour", 9, 24), ("conflict", 9, 72),
                     ("duplicate-name", 9, 5), ("unknown-format", 10, 29)}, found
    assert main(["matrix", "plan", str(path), "--format", "json"]) == 1
    records = json.loads(capsys.readouterr().err)
    assert {r["file"] for r in records} == {str(path)} and len(records) == len(caught.value.diagnostics)


def test_not_yaml_and_not_a_mapping(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text("- just a list\n")
    assert main(["matrix", "plan", str(path)]) == 1
    assert f"{path}:1:1: error[wrong-type]: the matrix file must be a mapping" in capsys.readouterr().err
