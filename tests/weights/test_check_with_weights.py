"""Spec and weights checked in one run: a missing weight file is reported at the spec's `weights:` line
with its resolved path, and an edited layer's weight shapes are checked even when the spec has errors."""

import numpy as np

from netdsl.render import Painter, format_diagnostic
from netdsl.weights import write_weights
from netdsl.weights.bind import check_with_weights

SPEC = """\
netdsl: 1
weights: ../w/net.wts
inputs: [{name: x, shape: [1, 3, 8, 8]}]
layers:
  - {name: stem, kind: convolution, out_channels: 4, kernel: 3, padding: 1}
  - {name: conv, kind: convolution, out_channels: 4, kernel: 3, padding: 1}
  - {name: add, kind: add, inputs: [stem, conv]}
"""
WEIGHTS = {"stem.weight": (4, 3, 3, 3), "stem.bias": (4,), "conv.weight": (4, 4, 3, 3), "conv.bias": (4,)}


def write(tmp_path, spec=SPEC, weights=True):
    (tmp_path / "specs").mkdir()
    (tmp_path / "w").mkdir()
    path = tmp_path / "specs" / "net.yaml"
    path.write_text(spec)
    if weights:
        write_weights(str(tmp_path / "w" / "net.wts"), {k: np.ones(s, np.float32) for k, s in WEIGHTS.items()})
    return str(path)


def test_valid_spec_and_weights(tmp_path):
    result = write(tmp_path)
    checked = check_with_weights(result)
    assert checked.spec is not None and sorted(checked.weights) == sorted(WEIGHTS)
    assert checked.weights_path == str(tmp_path / "w" / "net.wts")


def test_missing_weight_file_points_at_the_weights_line(tmp_path):
    result = check_with_weights(write(tmp_path, weights=False))
    [error] = result.diagnostics
    assert (error.code, error.pos.line, error.pos.col) == ("file-not-found", 2, 10)
    assert str(tmp_path / "w" / "net.wts") in error.message
    assert str(tmp_path / "specs") in error.hint
    assert "^^^^^^^^^^^^" in format_diagnostic(error, Painter(False))


def test_edited_layer_reports_its_weights_beside_the_downstream_mismatch(tmp_path):
    path = write(tmp_path, SPEC.replace("{name: conv, kind: convolution, out_channels: 4",
                                        "{name: conv, kind: convolution, out_channels: 8"))
    result = check_with_weights(path)
    assert result.spec is None
    found = [(d.code, d.layer, d.weight) for d in result.diagnostics]
    assert found == [("shape-mismatch", "add", None), ("weight-shape", "conv", "conv.weight"),
                     ("weight-shape", "conv", "conv.bias")]
    assert any("`conv` makes axis 1 8" in note.message for note in result.diagnostics[0].notes)
    # Layers after the broken one have no shapes: their weights are not called unused.
    assert all(d.code != "unused-weight" for d in result.diagnostics)


def test_missing_files_are_reported_about_the_file_not_a_line_in_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = check_with_weights("nothere.yaml")
    [error] = result.diagnostics
    assert format_diagnostic(error, Painter(False)) == (
        f"nothere.yaml: error[file-not-found]: no such file: nothere.yaml (resolved: {tmp_path}/nothere.yaml)")
    result = check_with_weights(write(tmp_path), weights="gone.npz")  # given on the command line
    [error] = result.diagnostics
    assert format_diagnostic(error, Painter(False)).startswith(
        f"gone.npz: error[file-not-found]: no such weight file: gone.npz (resolved: {tmp_path}/gone.npz)")


def test_a_weights_path_without_an_extension_is_named_at_the_weights_line(tmp_path):
    path = write(tmp_path, SPEC.replace("../w/net.wts", "../w/net"))
    (tmp_path / "w" / "net").write_bytes((tmp_path / "w" / "net.wts").read_bytes())
    result = check_with_weights(path)
    [error] = result.diagnostics
    assert (error.code, error.pos.line, error.pos.col) == ("bad-weights", 2, 10)
    assert f"weight file {tmp_path / 'w' / 'net'}: it has no extension" in error.message
    assert ".safetensors, .wts and .npz" in error.message


def test_the_cli_names_a_weight_file_without_an_extension(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, SPEC.replace("../w/net.wts", "../w/net"))
    before = sorted(p.name for p in (tmp_path / "w").iterdir())
    for args in (["build", path, "-o", str(tmp_path / "w" / "x.plan")], ["validate", path, "--weights"],
                 ["validate", path, "--weights", str(tmp_path / "w" / "other")]):
        result = subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=120)
        output = result.stdout + result.stderr
        assert result.returncode in (1, 2) and "Traceback" not in output, output
        named = str(tmp_path / "w" / ("other" if "other" in args[-1] else "net"))
        assert f"weight file {named}: it has no extension" in output, output
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == before
