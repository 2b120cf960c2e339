"""Where commands write: `-o ''` is refused by every command that writes (it used to fall back to a default
name), `-` is standard output where a stream makes sense and refused, with the reason, elsewhere; and
`calibrate` never replaces the spec's own scales file unasked. Run as a script would run them: real
processes, exit codes, and the folder they ran in looked at afterwards."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet.yaml")
INT8 = str(ROOT / "specs" / "quantized" / "lenet_int8.yaml")
SHIPPED_SCALES = ROOT / "weights" / "lenet_int8.scales"
WEIGHTS = str(ROOT / "weights" / "lenet.safetensors")

# every command that writes a file, with OUT where the path goes
WRITERS = {
    "build": ["build", LENET, "-o", "OUT"],
    "refit": ["refit", "x.plan", "--weights", WEIGHTS, "-o", "OUT"],
    "export": ["export", LENET, "-o", "OUT"],
    "import": ["import", "m.onnx", "-o", "OUT"],
    "calibrate": ["calibrate", INT8, "--data", "samples", "-o", "OUT"],
    "scales import": ["scales", "import", INT8, "calib.table", "-o", "OUT"],
    "scales export": ["scales", "export", str(SHIPPED_SCALES), "-o", "OUT"],
    "reference": ["reference", LENET, "--input", "x.npy", "-o", "OUT"],
    "run": ["run", "x.plan", "--input", "x.npy", "-o", "OUT"],
    "graph": ["graph", LENET, "-o", "OUT"],
    "schema": ["schema", "-o", "OUT"],
    "docs": ["docs", "-o", "OUT"],
    "detect": ["detect", LENET, "a.png", "--draw", "OUT"],
    "weights convert": ["weights", "convert", WEIGHTS, "OUT"],
}
# where `-` is refused, and the reason given
NOT_STREAMS = {
    "build": "a plan and its manifest (OUT.json) are written together",
    "refit": "a plan and its manifest (OUT.json) are written together",
    "import": "the spec and its weights (.safetensors beside it) are written together",
    "reference": "the format follows the extension (.npy or .npz)",
    "run": "the format follows the extension (.npy or .npz)",
    "graph": "the format follows the extension (.dot, .svg or .png)",
    "detect": "a picture's format follows its extension",
    "weights convert": "the format follows the extension",
}


def netdsl(*args, cwd):
    environment = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, cwd=cwd,
                          env=environment, timeout=120)


def with_output(name: str, path: str) -> list:
    return [path if arg == "OUT" else arg for arg in WRITERS[name]]


def shipped() -> bytes:
    return SHIPPED_SCALES.read_bytes()


@pytest.mark.parametrize("name", list(WRITERS))
def test_an_empty_output_path_is_refused(tmp_path, name):
    before = shipped()
    result = netdsl(*with_output(name, ""), cwd=tmp_path)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "an empty path; name the file to write" in stderr and "Traceback" not in stderr
    assert result.stdout == b""
    assert list(tmp_path.iterdir()) == [] and shipped() == before  # no default name written instead


@pytest.mark.parametrize("name", list(NOT_STREAMS))
def test_standard_output_is_refused_where_it_is_no_stream(tmp_path, name):
    result = netdsl(*with_output(name, "-"), cwd=tmp_path)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert f"`-` (standard output) is not taken here: {NOT_STREAMS[name]}" in stderr
    assert result.stdout == b"" and list(tmp_path.iterdir()) == []


def test_every_writer_has_its_stream_decided():
    """A command that writes either takes `-` (tested below) or refuses it with a reason (above)."""
    streams = {"export", "calibrate", "scales import", "scales export", "schema", "docs"}
    assert set(NOT_STREAMS) | streams == set(WRITERS) and not set(NOT_STREAMS) & streams


def test_schema_and_docs_stream_what_they_write_to_a_file(tmp_path):
    for command in ("schema", "docs"):
        streamed = netdsl(command, "-o", "-", cwd=tmp_path)
        assert streamed.returncode == 0, streamed.stderr
        written = netdsl(command, "-o", str(tmp_path / "out"), cwd=tmp_path)
        assert written.returncode == 0 and streamed.stdout == (tmp_path / "out").read_bytes()
        os.remove(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
    result = netdsl("docs", "--check", "-o", "-", cwd=tmp_path)
    assert result.returncode == 2 and b"--check needs -o FILE" in result.stderr


def samples(folder: pathlib.Path) -> str:
    rng = np.random.default_rng(0)
    np.save(folder / "samples.npy", rng.random((6, 1, 32, 32), dtype=np.float32))
    return str(folder / "samples.npy")


def test_scales_stream_what_they_write_to_a_file(tmp_path):
    data = samples(tmp_path)
    file = netdsl("calibrate", INT8, "--data", data, "--method", "max", "-o", "a.scales", cwd=tmp_path)
    assert file.returncode == 0, file.stderr
    streamed = netdsl("calibrate", INT8, "--data", data, "--method", "max", "-o", "-", cwd=tmp_path)
    assert streamed.returncode == 0 and streamed.stdout == (tmp_path / "a.scales").read_bytes()
    assert b"wrote -:" in streamed.stderr  # what is said about it stays off the stream
    file = netdsl("scales", "export", "a.scales", "-o", "calib.table", cwd=tmp_path)
    streamed = netdsl("scales", "export", "a.scales", "-o", "-", cwd=tmp_path)
    assert file.returncode == streamed.returncode == 0
    assert streamed.stdout == (tmp_path / "calib.table").read_bytes() and streamed.stdout.startswith(b"TRT-")
    file = netdsl("scales", "import", INT8, "calib.table", "-o", "b.scales", cwd=tmp_path)
    streamed = netdsl("scales", "import", INT8, "calib.table", "-o", "-", cwd=tmp_path)
    assert file.returncode == streamed.returncode == 0
    assert streamed.stdout == (tmp_path / "b.scales").read_bytes() and b"\ndata " in streamed.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.scales", "b.scales", "calib.table", "samples.npy"]


def test_export_streams_the_model_it_writes_to_a_file(tmp_path):
    onnx = pytest.importorskip("onnx")
    file = netdsl("export", LENET, "-o", "a.onnx", cwd=tmp_path)
    assert file.returncode == 0, file.stderr
    streamed = netdsl("export", LENET, "-o", "-", "--format", "json", cwd=tmp_path)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout == (tmp_path / "a.onnx").read_bytes()
    assert b'"path": "-"' in streamed.stderr
    assert [node.op_type for node in onnx.load_from_string(streamed.stdout).graph.node][0] == "Conv"
    assert [p.name for p in tmp_path.iterdir()] == ["a.onnx"]


def test_calibrate_without_output_never_replaces_the_specs_scales(tmp_path):
    """Following the spec's comment must not dirty the shipped weights/lenet_int8.scales."""
    before, stamp = shipped(), SHIPPED_SCALES.stat().st_mtime_ns
    result = netdsl("calibrate", INT8, "--data", samples(tmp_path), "--method", "max", cwd=tmp_path)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert f"give -o SCALES, the scales file to write; to replace the spec's own file, name it: -o {SHIPPED_SCALES}" \
        in stderr
    assert shipped() == before and SHIPPED_SCALES.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == ["samples.npy"]
    comment = next(line for line in pathlib.Path(INT8).read_text().splitlines() if "netdsl calibrate" in line)
    assert "-o NEW.scales" in comment
