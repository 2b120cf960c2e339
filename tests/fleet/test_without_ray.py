"""Ray stays out unless --ray is given, and --ray without Ray says how to install it (exit 2)."""

import subprocess
import sys

from netdsl.cli import main

from .helpers import ROOT, RTX, lenet_copy, write_matrix


def test_plan_imports_no_ray(tmp_path):
    matrix = write_matrix(tmp_path / "m.yaml", [{"spec": str(ROOT / "specs/lenet.yaml")}], [RTX])
    code = ("import sys; from netdsl.cli import main; "
            f"code = main(['matrix', 'plan', {str(matrix)!r}, '--cache', {str(tmp_path / 'cache')!r}]); "
            "assert 'ray' not in sys.modules, 'ray imported'; sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 engines: 1 to build, 0 cached" in result.stdout


def test_ray_missing_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    matrix = write_matrix(tmp_path / "m.yaml", [{"spec": str(lenet_copy(tmp_path))}], [RTX])
    assert main(["matrix", "build", str(matrix), "--cache", str(tmp_path / "cache"), "--ray", "auto"]) == 2
    assert "netdsl: error: Ray is not installed: `pip install 'netdsl[ray]'`" in capsys.readouterr().err
    assert not (tmp_path / "engines").exists()
    data = str(ROOT / "weights/lenet_heldout.npz")
    assert main(["calibrate", str(ROOT / "specs/quantized/lenet_int8.yaml"), "--data", data, "-o",
                 str(tmp_path / "s.scales"), "--ray", "auto"]) == 2
    assert "Ray is not installed" in capsys.readouterr().err
    assert not (tmp_path / "s.scales").exists()


def test_ray_only_options_without_ray(tmp_path, capsys):
    matrix = write_matrix(tmp_path / "m.yaml", [{"spec": str(ROOT / "specs/lenet.yaml")}], [RTX])
    assert main(["matrix", "build", str(matrix), "--timeout", "5"]) == 2
    assert "--timeout, --retries and --shared are for --ray builds" in capsys.readouterr().err


def test_plan_as_json_and_bad_numbers(tmp_path, capsys):
    import json

    matrix = write_matrix(tmp_path / "m.yaml", [{"spec": str(ROOT / "specs/lenet.yaml")}], [RTX],
                          ["float32", "float16"])
    assert main(["matrix", "plan", str(matrix), "--cache", str(tmp_path / "cache"), "--format", "json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert (planned["build"], planned["cached"]) == (2, 0)
    assert [e["entry"] for e in planned["entries"]] == ["rtx/lenet/float32_spec-shapes", "rtx/lenet/float16_spec-shapes"]
    for flags in (["--local", "0"], ["--ray", "auto", "--timeout", "-1"], ["--ray", "auto", "--retries", "x"]):
        try:
            main(["matrix", "build", str(matrix), *flags])
        except SystemExit as exit:
            assert exit.code == 2, flags
        else:
            raise AssertionError(f"{flags} accepted")
    assert not (tmp_path / "engines").exists()
