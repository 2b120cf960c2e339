"""Integer buffers (Swin's relative_position_index) exported as the integers they are, with trained or
random weights, and `netdsl reference --random-weights` as `export --random-weights` computes it.
Oracles: onnx.checker's full check and ONNX Runtime."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

from netdsl.weights import write_weights

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET = str(ROOT / "specs" / "lenet.yaml")

TABLE = """\
netdsl: 1
name: table_lookup
inputs: [{name: x, shape: [6, 3]}]
layers:
  - {name: table, kind: constant, shape: [5, 3], weights: {value: bias_table}}
  - {name: index, kind: constant, shape: [6], dtype: int64, weights: {value: position_index}}
  - {name: rows, kind: gather, inputs: [table, index], dim: 0}
  - {name: out, kind: add, inputs: [x, rows]}
"""


def netdsl(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "netdsl", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def run_onnx(path, inputs: dict):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def test_an_int64_buffer_from_the_weight_file_is_exported_as_int64(tmp_path):
    (tmp_path / "table.yaml").write_text(TABLE)
    table = np.arange(15, dtype=np.float32).reshape(5, 3) / 4
    index = np.array([4, 0, 3, 3, 1, 2], np.int64)
    write_weights(str(tmp_path / "w.safetensors"), {"bias_table": table, "position_index": index})
    result = netdsl("export", tmp_path / "table.yaml", "--weights", tmp_path / "w.safetensors", "-o",
                    tmp_path / "table.onnx")
    assert result.returncode == 0, result.stderr
    model = onnx.load(str(tmp_path / "table.onnx"))
    onnx.checker.check_model(model, full_check=True)
    stored = {t.name: t for t in model.graph.initializer}["index.value"]
    assert stored.data_type == onnx.TensorProto.INT64
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(stored), index)
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    [got] = run_onnx(tmp_path / "table.onnx", {"x": x})
    np.testing.assert_array_equal(got, x + table[index])  # float32 additions: exact against numpy's own


def test_reference_random_weights_equal_onnx_runtime_on_the_random_export(tmp_path):
    x = np.random.default_rng(1).random((2, 1, 32, 32), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    assert netdsl("export", LENET, "--random-weights", "--seed", 3, "-o", tmp_path / "r.onnx").returncode == 0
    [expected] = run_onnx(tmp_path / "r.onnx", {"data": x})
    result = netdsl("reference", LENET, "--random-weights", "--seed", 3, "--input", tmp_path / "x.npy", "-o",
                    tmp_path / "y.npy")
    assert result.returncode == 0, result.stderr
    assert "RANDOM WEIGHTS (seed 3)" in result.stderr
    got = np.load(tmp_path / "y.npy")
    # float32 sums in other orders over at most 400 terms: a few units in the last place of the output's scale
    assert np.abs(got - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))
    result = netdsl("reference", LENET, "--random-weights", "--seed", 4, "--input", tmp_path / "x.npy", "-o",
                    tmp_path / "y4.npy")
    assert result.returncode == 0 and np.abs(np.load(tmp_path / "y4.npy") - got).max() > 1e-3  # the seed counts


def test_reference_refuses_weights_and_random_weights_together(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 32, 32), np.float32))
    result = netdsl("reference", LENET, "--random-weights", "--weights", ROOT / "weights" / "lenet.safetensors",
                    "--input", tmp_path / "x.npy")
    assert result.returncode == 2 and "--random-weights" in result.stderr


@pytest.mark.slow  # Swin-T: export (110 MB) and ONNX Runtime, about 15 s
def test_swin_t_random_weights_export_passes_the_checker_and_runs(tmp_path):
    result = netdsl("export", "specs/zoo/swin_t.yaml", "--random-weights", "-o", tmp_path / "swin.onnx")
    assert result.returncode == 0, result.stderr
    model = onnx.load(str(tmp_path / "swin.onnx"))
    onnx.checker.check_model(model, full_check=True)
    indices = [t for t in model.graph.initializer if t.name.endswith("relative_position_index.value")]
    assert len(indices) == 12 and all(t.data_type == onnx.TensorProto.INT64 for t in indices)
    x = np.random.default_rng(2).standard_normal((1, 3, 224, 224)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    [expected] = run_onnx(tmp_path / "swin.onnx", {model.graph.input[0].name: x})
    result = netdsl("reference", "specs/zoo/swin_t.yaml", "--random-weights", "--input", tmp_path / "x.npy", "-o",
                    tmp_path / "y.npy")
    assert result.returncode == 0, result.stderr
    got = np.load(tmp_path / "y.npy")
    assert np.abs(got - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))
