"""docs/deploying.md stays true: every netdsl command it shows is one netdsl's parser takes, the Python
line compiles and names what netdsl exports, and the commands it says run without a GPU do run and write
what the page says. The five-command block needs full TensorRT on a GPU (TensorRT-RTX cannot build the
NMS layer): it is parsed here, not run."""

import importlib
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

from netdsl.cli import build_parser

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "deploying.md"
BLOCKS = re.findall(r"```sh\n(.*?)```", PAGE.read_text(), re.S)


def commands(block):
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_page_shows_five_commands_then_the_ones_run_here():
    assert len(BLOCKS) == 3 and len(commands(BLOCKS[0])) == 5


@pytest.mark.parametrize("line", [c for b in BLOCKS for c in commands(b) if c.startswith("netdsl ")])
def test_every_netdsl_command_parses(line):
    build_parser().parse_args(shlex.split(line)[1:])  # argparse exits (SystemExit) on an unknown flag


def test_the_python_line_names_what_netdsl_has():
    [line] = [c for c in commands(BLOCKS[0]) if c.startswith("python -c")]
    source = shlex.split(line)[2]
    compile(source, "deploying.md", "exec")
    module, name = re.search(r"from (netdsl[\w.]*) import (\w+)", source).groups()
    assert hasattr(importlib.import_module(module), name)


def test_the_commands_that_need_no_gpu_run(tmp_path):
    pytest.importorskip("tensorrt_rtx")
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    (tmp_path / "weights").symlink_to(ROOT / "weights")
    (tmp_path / "imagenet.txt").write_text("".join(f"class {i}\n" for i in range(1000)))  # --labels
    for line in commands(BLOCKS[1]) + commands(BLOCKS[2]):  # the DeepStream section's tasks, too
        result = subprocess.run([sys.executable, "-m", "netdsl", *shlex.split(line)[1:]], capture_output=True,
                                text=True, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, (line, result.stderr)
    assert (tmp_path / "deepstream" / "config_infer_primary_yolov8.txt").is_file()
    assert (tmp_path / "deepstream" / "labels.txt").read_text().splitlines()[0] == "person"
    assert (tmp_path / "cls" / "labels.txt").read_text().count(";") == 999  # a classifier's: one line
    assert "network-type=100" in (tmp_path / "seg" / "config_infer_primary_yolo11.txt").read_text()
    assert "maintain-aspect-ratio=0" in (tmp_path / "rtdetr" / "config_infer_primary_rtdetr-l.txt").read_text()
    for model in ("lenet", "resnet18"):
        assert (tmp_path / "models" / model / "config.pbtxt").is_file()
        assert (tmp_path / "models" / model / "1" / "model.plan.json").is_file()
