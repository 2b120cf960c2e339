"""A model or weight file given where a spec belongs (`netdsl build model.onnx`, trtexec's
`--onnx=model.onnx`, `netdsl summary best.pt`): exit 2, the netdsl command that takes that file, nothing
written, instead of an error about the file's bytes. The ONNX file is a real one (`netdsl export`), the
checkpoint a real `torch.save`."""

import os
import pathlib
import shutil

import pytest

from netdsl.cli import main
from netdsl.spec.foreign import kind_of

ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET = str(ROOT / "specs" / "lenet.yaml")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("foreign")
    onnx = pytest.importorskip("onnx")
    assert main(["export", LENET, "-o", str(folder / "lenet.onnx")]) == 0
    onnx.checker.check_model(str(folder / "lenet.onnx"))  # a real ONNX model
    shutil.copy(folder / "lenet.onnx", folder / "lenet_model")  # no extension: found by its first bytes
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(2)}, folder / "best.pt")
    shutil.copy(folder / "best.pt", folder / "best_checkpoint")  # a zip archive without extension
    torch.save({"w": torch.zeros(2)}, folder / "legacy", _use_new_zipfile_serialization=False)  # a bare pickle
    (folder / "model.plan").write_bytes(os.urandom(64))
    shutil.copy(ROOT / "weights" / "lenet.safetensors", folder / "lenet.safetensors")
    return folder


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("command", ["build", "validate", "summary", "reference", "compare", "export"])
def test_an_onnx_model_for_a_spec_says_import_it_first(files, capsys, monkeypatch, command):
    monkeypatch.chdir(files)
    before = sorted(os.listdir(files))
    extra = {"reference": ["--input", "x.npy"], "export": ["-o", "out.onnx"]}.get(command, [])
    code, text = run(capsys, command, "lenet.onnx", *extra)
    assert code == 2 and "an ONNX model: `netdsl import lenet.onnx -o lenet.yaml` first" in text, text
    assert "UTF-8" not in text and "Traceback" not in text
    assert sorted(os.listdir(files)) == before  # nothing written (no plan, no manifest, no outputs)


@pytest.mark.parametrize("argv", [["build", "--onnx=lenet.onnx"], ["build", "--onnx", "lenet.onnx", "--fp16"],
                                  ["build", "--fp16", "--onnx=lenet.onnx", "--saveEngine=lenet.plan"]])
def test_trtexec_onnx_flag_says_import_it_first(files, capsys, monkeypatch, argv):
    monkeypatch.chdir(files)
    before = sorted(os.listdir(files))
    code, text = run(capsys, *argv)
    assert code == 2 and "`netdsl import lenet.onnx -o lenet.yaml` first" in text, text
    assert "required" not in text  # not argparse's complaint about the missing SPEC
    assert sorted(os.listdir(files)) == before


@pytest.mark.parametrize("name, expected", [
    ("lenet_model", "an ONNX model"),
    ("best.pt", "`netdsl weights convert best.pt best.safetensors`"),
    ("best_checkpoint", "a PyTorch checkpoint"),
    ("legacy", "a PyTorch checkpoint"),
    ("model.plan", "a TensorRT engine plan"),
    ("lenet.safetensors", "a weight file, not a spec"),
])
def test_other_files_name_the_command_that_takes_them(files, capsys, monkeypatch, name, expected):
    monkeypatch.chdir(files)
    code, text = run(capsys, "validate", name)
    assert code == 2 and expected in text and "Traceback" not in text, text


def test_specs_and_text_are_not_taken_for_other_files():
    for path in ROOT.glob("specs/**/*.yaml"):
        assert kind_of(str(path), path.read_bytes()[:128]) is None, path
    assert kind_of("notes.txt", b"netdsl: 1\n") is None
    assert kind_of("spec", b"# a spec\nnetdsl: 1") is None


def test_a_missing_onnx_file_is_reported_as_missing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, text = run(capsys, "validate", "missing.onnx")
    assert code == 1 and "no such file" in text
