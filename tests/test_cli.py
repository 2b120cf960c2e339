"""The command line: exit codes, text and JSON output, colour, and no heavy imports on the fast path."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet.yaml")
BAD = str(ROOT / "tests" / "spec" / "malformed" / "layer_unknown_param.yaml")


def netdsl(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True,
                          env=environment, cwd=ROOT, timeout=60)


def test_validate_valid_spec_exits_0():
    result = netdsl("validate", LENET)
    assert result.returncode == 0
    assert "valid (12 layers)" in result.stdout


def test_validate_invalid_spec_exits_1_with_located_message_and_frame():
    result = netdsl("validate", BAD)
    assert result.returncode == 1
    assert f"{BAD}:6:51: error[unknown-param]: unknown parameter `kernal`" in result.stderr
    assert "^^^^^^" in result.stderr and "help: did you mean `kernel`?" in result.stderr
    assert "\033[" not in result.stderr  # not a terminal: no colour
    assert "Traceback" not in result.stderr


def test_validate_reports_every_file():
    result = netdsl("validate", LENET, BAD, "--format", "json")
    assert result.returncode == 1
    records = json.loads(result.stdout)
    assert [r["valid"] for r in records] == [True, False]
    first = records[1]["diagnostics"][0]
    assert {k: first[k] for k in ("code", "line", "column", "layer")} == {
        "code": "unknown-param", "line": 6, "column": 51, "layer": "c"}
    assert first["hint"] == "did you mean `kernel`?"


def test_colour_is_forced_only_when_asked_and_no_color_wins():
    assert "\033[" in netdsl("validate", BAD, env={"FORCE_COLOR": "1"}).stderr
    assert "\033[" not in netdsl("validate", BAD, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stderr


def test_summary_text_and_json():
    text = netdsl("summary", LENET)
    assert text.returncode == 0 and "61,706" in text.stdout and "[N, 6, 28, 28]" in text.stdout
    data = json.loads(netdsl("summary", LENET, "--format", "json").stdout)
    assert data["total_params"] == 61706
    assert data["layers"][0] == {"name": "conv1", "kind": "convolution", "inputs": ["data"],
                                 "shape": ["N", 6, 28, 28], "dtype": "float32", "params": 156, "buffers": 0,
                                 "macs": 6 * 28 * 28 * 25}


def test_summary_of_invalid_spec_exits_1():
    result = netdsl("summary", BAD)
    assert result.returncode == 1 and "error[unknown-param]" in result.stderr


def test_usage_errors_exit_2():
    assert netdsl().returncode == 2
    assert netdsl("validate").returncode == 2
    assert netdsl("frobnicate").returncode == 2


def test_missing_file_is_a_clean_error():
    result = netdsl("validate", "no/such/spec.yaml")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"no/such/spec.yaml: error[file-not-found]: no such file: no/such/spec.yaml "
                                    f"(resolved: {ROOT}/no/such/spec.yaml)")


def test_help_names_the_commands_and_exit_codes():
    out = netdsl("--help").stdout
    for word in ("validate", "summary", "schema", "exit codes"):
        assert word in out


def test_help_lists_each_command_once():
    from netdsl.cli import build_parser

    out = netdsl("--help").stdout
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name in commands:
        rows = [line for line in out.splitlines() if line.startswith("  ") and line.split()[0] == name]
        assert len(rows) == (1 if name not in ("weights", "scales", "deploy", "matrix") else 2), (name, rows)  # weights ls/convert...
    assert "{" not in out  # argparse's own {validate,summary,...} list is not shown


def test_schema_command_writes_json(tmp_path):
    target = tmp_path / "schema.json"
    assert netdsl("schema", "-o", str(target)).returncode == 0
    assert json.loads(target.read_text())["$schema"].startswith("http://json-schema.org/draft-07")


def test_validate_path_imports_nothing_heavy():
    code = ("import sys; from netdsl.cli import main; main(['validate', %r]); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'torch', 'tensorrt', 'tensorrt_rtx', 'numpy', 'onnx'}))"
            % LENET)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_validate_with_weights(tmp_path):
    import numpy as np

    from netdsl.weights import write_weights

    shapes = {"conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,), "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
              "fc1.weight": (120, 400), "fc1.bias": (120,), "fc2.weight": (84, 120), "fc2.bias": (84,),
              "fc3.weight": (10, 84), "fc3.bias": (10,)}
    good = str(tmp_path / "good.wts")
    write_weights(good, {name: np.zeros(shape, np.float32) for name, shape in shapes.items()})
    result = netdsl("validate", LENET, "--weights", good)
    assert result.returncode == 0 and "weights" in result.stdout
    bad = str(tmp_path / "bad.wts")
    write_weights(bad, {name: np.zeros(shape, np.float32) for name, shape in shapes.items() if name != "fc2.bias"})
    result = netdsl("validate", LENET, "--weights", bad)
    assert result.returncode == 1 and "error[missing-weight]" in result.stderr and "fc2.bias" in result.stderr
    truncated = tmp_path / "truncated.wts"
    truncated.write_bytes(pathlib.Path(good).read_bytes()[:500])
    result = netdsl("validate", LENET, "--weights", str(truncated))
    assert result.returncode == 1 and "error[bad-weights]" in result.stderr and "Traceback" not in result.stderr
    assert netdsl("validate", LENET, LENET, "--weights", good).returncode == 2
