"""`netdsl weights convert` of PyTorch checkpoints (torch.load with weights_only=True) and of flat `.wts`
files given the spec that binds them. Oracles: torch's own state_dict values, the shipped
weights/lenet.safetensors (the same values as weights/lenet.wts, saved with shapes by
tools/train_lenet.py), and ultralytics' own YOLO loader for the command netdsl prints."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl.weights import read_weights

torch = pytest.importorskip("torch")
ROOT = pathlib.Path(__file__).resolve().parents[2]
# the commands netdsl prints say `python`: this interpreter, as in the user's environment
USER_ENV = {**os.environ, "YOLO_OFFLINE": "1", "PATH": os.path.dirname(sys.executable) + os.pathsep
            + os.environ.get("PATH", "")}


def netdsl(*args, cwd=ROOT, env=None, python=(sys.executable, "-m", "netdsl")):
    return subprocess.run([*python, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env=env)


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(),
                               torch.nn.Linear(8 * 6 * 6, 10))


def assert_equals_state(path, state):
    tensors = read_weights(str(path))
    assert set(tensors) == set(state)
    for name, value in state.items():
        expected = value.float().numpy() if value.dtype == torch.bfloat16 else value.numpy()
        got = tensors[name].as_float32() if value.dtype == torch.bfloat16 else tensors[name].data
        assert tensors[name].shape == tuple(value.shape), name
        assert got.dtype == expected.dtype, name
        np.testing.assert_array_equal(got, expected, err_msg=name)


@pytest.mark.parametrize("target", ["out.safetensors", "out.npz"])
def test_a_state_dict_converts_with_its_values_shapes_and_dtypes(tmp_path, target):
    state = small_model().state_dict()
    state["extra.half"] = torch.arange(6, dtype=torch.float16).reshape(2, 3) / 7
    state["extra.index"] = torch.arange(12, dtype=torch.int64).reshape(3, 4) * 1000003
    if target.endswith(".safetensors"):
        state["extra.bf16"] = (torch.arange(4, dtype=torch.float32) / 3).to(torch.bfloat16)
    torch.save(state, tmp_path / "model.pt")
    result = netdsl("weights", "convert", tmp_path / "model.pt", tmp_path / target)
    assert result.returncode == 0, result.stderr
    assert_equals_state(tmp_path / target, state)


def test_a_training_checkpoint_is_read_from_its_state_dict_key_with_a_note(tmp_path):
    model = small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    torch.save({"epoch": 7, "model_state_dict": model.state_dict(), "optimizer_state_dict": optimizer.state_dict()},
               tmp_path / "train.pth")
    result = netdsl("weights", "convert", tmp_path / "train.pth", tmp_path / "out.safetensors")
    assert result.returncode == 0, result.stderr
    assert "under key 'model_state_dict'" in result.stderr
    assert_equals_state(tmp_path / "out.safetensors", model.state_dict())


def test_a_whole_model_pickle_is_refused_with_the_command_that_saves_its_state_dict(tmp_path):
    torch.save(small_model(), tmp_path / "whole.pt")
    result = netdsl("weights", "convert", "whole.pt", "whole.safetensors", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "torch.nn.modules.container.Sequential" in result.stderr and "weights_only" in result.stderr
    assert not (tmp_path / "whole.safetensors").exists()
    command = next(line.strip() for line in result.stderr.splitlines() if line.strip().startswith("python -c"))
    # the printed command, run where the class can be imported, gives the state_dict netdsl reads
    subprocess.run(command, shell=True, check=True, cwd=tmp_path, timeout=120, env=USER_ENV)
    assert netdsl("weights", "convert", "state_dict.pt", "whole.safetensors", cwd=tmp_path).returncode == 0
    assert_equals_state(tmp_path / "whole.safetensors", small_model().state_dict())


@pytest.mark.parametrize("content, expected", [
    (b"not a checkpoint", "not a PyTorch checkpoint"),
    ("tensor", "not a state_dict"),
    ("float8", "float8_e4m3fn"),
])
def test_files_that_hold_no_readable_state_dict_are_refused(tmp_path, content, expected):
    path = tmp_path / "bad.pt"
    if content == "tensor":
        torch.save(torch.zeros(3), path)
    elif content == "float8":
        torch.save({"w": torch.zeros(2, dtype=torch.float8_e4m3fn)}, path)
    else:
        path.write_bytes(content)
    result = netdsl("weights", "convert", path, tmp_path / "out.safetensors")
    assert result.returncode == 1 and expected in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.safetensors").exists()


def test_without_torch_a_checkpoint_is_a_clean_usage_error(tmp_path):
    torch.save(small_model().state_dict(), tmp_path / "model.pt")
    block = ("import sys; sys.modules['torch'] = None; from netdsl.cli import main; "
             f"sys.exit(main(['weights', 'convert', {str(tmp_path / 'model.pt')!r}, "
             f"{str(tmp_path / 'out.npz')!r}]))")
    result = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and "needs torch" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.slow  # ultralytics builds YOLOv8n twice and saves it: about 10 s
def test_an_ultralytics_checkpoint_is_refused_and_the_printed_command_makes_weights_the_zoo_spec_binds(tmp_path):
    from yolo_oracle import ultralytics_module

    YOLO = ultralytics_module("ultralytics").YOLO
    model = YOLO("yolov8n.yaml")  # built from the config ultralytics ships: nothing downloaded
    model.save(str(tmp_path / "best.pt"))  # as ultralytics writes best.pt: {'model': DetectionModel, 'ema': ...}
    result = netdsl("weights", "convert", "best.pt", "best.safetensors", cwd=tmp_path)
    assert result.returncode == 1 and "ultralytics checkpoint" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "best.safetensors").exists()
    command = next(line.strip() for line in result.stderr.splitlines() if line.strip().startswith("python -c"))
    assert command == ("python -c \"import torch; from ultralytics import YOLO; "
                       "torch.save(YOLO('best.pt').model.float().state_dict(), 'state_dict.pt')\"")
    subprocess.run(command, shell=True, check=True, cwd=tmp_path, timeout=300, env=USER_ENV)
    result = netdsl("weights", "convert", "state_dict.pt", "best.safetensors", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    state = YOLO(str(tmp_path / "best.pt")).model.float().state_dict()
    assert_equals_state(tmp_path / "best.safetensors", state)
    result = netdsl("validate", "specs/zoo/yolov8.yaml", "--weights", tmp_path / "best.safetensors", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


# -- .wts: flat tensors, shapes from the spec ---------------------------------------------------------------


def test_wts_with_spec_gets_the_shapes_of_the_layers_and_binds_again(tmp_path):
    out = tmp_path / "lenet.safetensors"
    result = netdsl("weights", "convert", "weights/lenet.wts", out, "--spec", "specs/lenet.yaml")
    assert result.returncode == 0, result.stderr
    shipped = read_weights(str(ROOT / "weights" / "lenet.safetensors"))  # saved with shapes by train_lenet.py
    converted = read_weights(str(out))
    assert set(converted) == set(shipped)
    for name, tensor in shipped.items():
        assert converted[name].shape == tensor.shape, name
        np.testing.assert_array_equal(converted[name].data, tensor.data, err_msg=name)
    result = netdsl("validate", "specs/lenet.yaml", "--weights", out, "--strict")
    assert result.returncode == 0, result.stdout + result.stderr


def test_wts_without_spec_says_that_shapes_stay_flat(tmp_path):
    out = tmp_path / "flat.safetensors"
    result = netdsl("weights", "convert", "weights/lenet.wts", out)
    assert result.returncode == 0 and "--spec" in result.stderr and "flat" in result.stderr
    assert read_weights(str(out))["conv1.weight"].shape == (150,)
    assert netdsl("validate", "specs/lenet.yaml", "--weights", out).returncode == 1  # why --spec exists


def test_wts_that_does_not_fit_the_spec_is_refused_with_every_problem(tmp_path):
    text = (ROOT / "weights" / "lenet.wts").read_text().splitlines()
    kept = [line for line in text[1:] if not line.startswith(("fc3.weight", "conv2.bias"))]
    (tmp_path / "broken.wts").write_text("\n".join([str(len(kept))] + kept) + "\n")
    out = tmp_path / "out.safetensors"
    result = netdsl("weights", "convert", tmp_path / "broken.wts", out, "--spec", "specs/lenet.yaml")
    assert result.returncode == 1
    assert "fc3.weight" in result.stdout + result.stderr and "conv2.bias" in result.stdout + result.stderr
    assert not out.exists()


def test_weights_ls_lists_a_state_dict(tmp_path):
    state = small_model().state_dict()
    torch.save({"state_dict": state, "epoch": 1}, tmp_path / "model.ckpt")
    result = netdsl("weights", "ls", tmp_path / "model.ckpt", "--format", "json")
    assert result.returncode == 0, result.stderr
    import json

    rows = {row["name"]: row for row in json.loads(result.stdout)["tensors"]}
    assert {name: rows[name]["shape"] for name in rows} == {name: list(v.shape) for name, v in state.items()}
    assert "under key 'state_dict'" in result.stderr
