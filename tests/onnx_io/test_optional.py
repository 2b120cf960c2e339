"""ONNX, ONNX Runtime and torch stay optional: `netdsl validate` and `netdsl build` work where none of
them can be imported, and `netdsl export` says what to install (exit 2) instead of a traceback."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BLOCK = ("import sys\n"
         "class Block:\n"
         "    def find_spec(self, name, path=None, target=None):\n"
         "        if name.split('.')[0] in ('onnx', 'onnxruntime', 'torch'):\n"
         "            raise ImportError(f'{name} is not installed (blocked by the test)')\n"
         "sys.meta_path.insert(0, Block())\n"
         "from netdsl.cli import main\n")


def run(code: str):
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_validate_and_build_without_onnx_onnxruntime_torch(tmp_path):
    plan = tmp_path / "lenet.plan"
    result = run(f"sys.exit(main(['validate', 'specs/lenet.yaml']) or main(['build', 'specs/lenet.yaml', '-o', "
                 f"{str(plan)!r}]))")
    assert result.returncode == 0, result.stdout + result.stderr
    assert plan.exists()


def test_export_without_onnx_is_a_usage_error(tmp_path):
    result = run(f"sys.exit(main(['export', 'specs/lenet.yaml', '-o', {str(tmp_path / 'l.onnx')!r}]))")
    assert result.returncode == 2 and "needs the onnx package" in result.stderr and "Traceback" not in result.stderr
