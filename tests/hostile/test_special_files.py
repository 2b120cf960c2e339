"""Input paths that name a FIFO, a device or a socket: every reader refuses them at once with a message
naming the path and what it is (exit 1 for a spec or weight file, 2 for a command-line input), where
reading a FIFO with no writer used to wait forever. Each case runs in a subprocess with a timeout, so a
hang fails the test instead of stopping the suite; nothing is written."""

import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET = (ROOT / "specs" / "lenet.yaml").read_text()
TIMEOUT = 20  # a refusal takes as long as netdsl's start-up; a hang would be forever

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


def netdsl(*args, cwd):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "netdsl", *map(str, args)], capture_output=True, text=True,
                            timeout=TIMEOUT, cwd=cwd)
    return result, time.monotonic() - started


def listing(folder: pathlib.Path) -> set:
    return {(p.name, p.stat().st_size if p.is_file() else None) for p in folder.iterdir()}


def fifo(path: pathlib.Path) -> pathlib.Path:
    os.mkfifo(path)
    return path


def refused(folder, expected_code, path_text, kind, *args):
    before = listing(folder)
    result, elapsed = netdsl(*args, cwd=folder)
    output = result.stdout + result.stderr
    assert result.returncode == expected_code, output
    assert path_text in output and f"it is {kind}, not a regular file" in output, output
    assert "Traceback" not in output
    assert listing(folder) == before
    return output, elapsed


def test_a_spec_that_is_a_fifo_is_refused_at_once(tmp_path):
    fifo(tmp_path / "spec.yaml")
    output, elapsed = refused(tmp_path, 1, "spec.yaml", "a FIFO (named pipe)", "validate", "spec.yaml")
    assert "spec.yaml: error[file-unreadable]" in output
    baseline, baseline_elapsed = netdsl("validate", ROOT / "specs" / "lenet.yaml", cwd=tmp_path)
    assert baseline.returncode == 0
    assert elapsed < baseline_elapsed + 5  # no waiting beyond start-up


@pytest.mark.parametrize("command", [["validate"], ["summary"], ["fmt", "--check"], ["inspect"]])
def test_every_spec_reader_refuses_a_device(tmp_path, command):
    refused(tmp_path, 1, os.devnull, "a character device", *command, os.devnull)


def test_a_spec_that_is_a_socket_is_refused(tmp_path):
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "s.yaml"))
        refused(tmp_path, 1, "s.yaml", "a socket", "validate", "s.yaml")
    finally:
        server.close()


@pytest.mark.parametrize("name", ["w.safetensors", "w.wts", "w.npz"])
def test_a_weight_file_that_is_a_fifo_is_refused(tmp_path, name):
    fifo(tmp_path / name)
    refused(tmp_path, 1, name, "a FIFO (named pipe)", "weights", "ls", name)
    spec = tmp_path / "lenet.yaml"
    spec.write_text(LENET.replace("../weights/lenet.safetensors", name))
    output, _ = refused(tmp_path, 1, name, "a FIFO (named pipe)", "build", "lenet.yaml", "-o", "out.plan")
    output, _ = refused(tmp_path, 1, name, "a FIFO (named pipe)", "validate", "lenet.yaml", "--weights")


def test_an_input_array_that_is_a_fifo_is_refused(tmp_path):
    fifo(tmp_path / "x.npy")
    (tmp_path / "lenet.yaml").write_text(LENET.replace("../weights/", str(ROOT / "weights") + "/"))
    refused(tmp_path, 2, "x.npy", "a FIFO (named pipe)", "reference", "lenet.yaml", "--input", "x.npy")


def test_an_onnx_model_that_is_a_fifo_is_refused(tmp_path):
    pytest.importorskip("onnx")
    fifo(tmp_path / "m.onnx")
    result, _ = netdsl("import", "m.onnx", "-o", "m.yaml", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode in (1, 2) and "m.onnx" in output and "FIFO" in output and "Traceback" not in output
    assert not (tmp_path / "m.yaml").exists()


def test_a_scales_file_that_is_a_fifo_is_refused(tmp_path):
    fifo(tmp_path / "s.scales")
    refused(tmp_path, 2, "s.scales", "a FIFO (named pipe)", "scales", "export", "s.scales", "-o", "calib.table")


def test_an_engine_plan_or_manifest_that_is_a_fifo_is_refused(tmp_path):
    fifo(tmp_path / "e.plan")
    refused(tmp_path, 2, "e.plan", "a FIFO (named pipe)", "run", "e.plan", "--input", "x.npy")
    (tmp_path / "f.plan").write_bytes(b"plan")
    fifo(tmp_path / "f.plan.json")
    refused(tmp_path, 2, "f.plan.json", "a FIFO (named pipe)", "run", "f.plan", "--input", "x.npy")
    refused(tmp_path, 2, "f.plan.json", "a FIFO (named pipe)", "refit", "f.plan", "--weights",
            ROOT / "weights" / "lenet.safetensors", "--check")


def test_open_regular_refuses_without_waiting(tmp_path):
    from netdsl.files import NotRegularFile, open_regular

    path = fifo(tmp_path / "p")
    with pytest.raises(NotRegularFile, match="FIFO"):
        open_regular(path)  # would block here if it opened the FIFO for reading the ordinary way
    with pytest.raises(IsADirectoryError):
        open_regular(tmp_path)
    (tmp_path / "r").write_bytes(b"data")
    with open_regular(tmp_path / "r") as stream:
        assert stream.read() == b"data"
    with open_regular(tmp_path / "r", "r", encoding="utf-8") as stream:
        assert stream.read() == "data"
