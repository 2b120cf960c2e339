"""Hostile calibration (issue 27): constant and all-zero tensors under every method (no numpy warning,
the max as the range, or a refusal naming the tensor), NaN samples named by file and index, and cache
matching that stays linear in the number of names."""

import pathlib
import time
import warnings

import numpy as np
import pytest

from netdsl.cli import main
from netdsl.quant.calibrate import METHODS
from netdsl.quant.scales import read_scales

from quant.helpers import quantized_spec

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs/quantized/lenet_int8.yaml")


def samples(tmp_path, value: float) -> str:
    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "a.npy", np.full((4, 1, 32, 32), value, np.float32))
    return str(folder)


@pytest.mark.parametrize("method", METHODS)
def test_constant_tensor_gets_its_max_without_warnings(tmp_path, capsys, method):
    data = samples(tmp_path, 0.447)
    out = tmp_path / "c.scales"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy RuntimeWarning fails the test
        assert main(["calibrate", SPEC, "--data", data, "--method", method, "-o", str(out)]) == 0
    assert "Warning" not in capsys.readouterr().err
    expected = float(np.abs(np.full(4, 0.447, np.float32)).max())  # the samples' largest |value|
    assert read_scales(str(out)).activations["data"] == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("method", METHODS)
def test_all_zero_tensor_is_refused_by_name(tmp_path, capsys, method):
    data = samples(tmp_path, 0.0)
    out = tmp_path / "z.scales"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["calibrate", SPEC, "--data", data, "--method", method, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "`data`" in err and "0 for every one of the 4 samples" in err and data in err, err
    assert "Warning" not in err and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("method", METHODS)
def test_zeros_and_one_value_keep_the_max(tmp_path, method):
    """Zeros and one other magnitude (a ReLU over a constant): the largest |value|, not a bin edge."""
    data = tmp_path / "data"
    data.mkdir()
    x = np.zeros((4, 1, 32, 32), np.float32)
    x[:, :, ::2] = -2.5
    np.save(data / "a.npy", x)
    out = tmp_path / "s.scales"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["calibrate", SPEC, "--data", str(data), "--method", method, "-o", str(out)]) == 0
    assert read_scales(str(out)).activations["data"] == 2.5


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_name_the_file_and_index(tmp_path, capsys, value):
    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "a.npy", np.ones((3, 1, 32, 32), np.float32))
    bad = np.ones((5, 1, 32, 32), np.float32)
    bad[3, 0, 7, 11] = value
    np.save(folder / "b.npy", bad)
    out = tmp_path / "s.scales"
    assert main(["calibrate", SPEC, "--data", str(folder), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(folder / "b.npy") in err and "sample 3" in err and "[0, 7, 11]" in err and str(float(value)) in err
    assert "Traceback" not in err and not out.exists()


def chain_spec(layers: int):
    """A spec of ``layers`` ReLUs: many tensors for a cache's unnamed names to be aligned with."""
    body = "\n".join(f"  - {{name: r{i}, kind: relu}}" for i in range(layers))
    return quantized_spec(body, inputs="  - {name: x, shape: [1, 8]}")


def unnamed(start: int, count: int, kinds) -> list[str]:
    return [f"(Unnamed Layer* {i}) [{kinds[i % len(kinds)]}]_output" for i in range(start, start + count)]


def test_cache_matching_is_linear_in_the_names():
    """Against a spec of 300 tensors: names no layer can take, a run of one layer type (before `r200`),
    and alternating types (after it). The alignment weighed (spec tensors x names) before: minutes."""
    from netdsl.quant.layer_order import match_names

    checked = chain_spec(300)

    def seconds(count: int) -> float:
        names = ([f"junk{i}" for i in range(count)] + unnamed(0, count, ["Activation"]) + ["r200"]
                 + unnamed(count, count, ["Activation", "Pooling", "Convolution"]))
        start = time.process_time()
        matching = match_names(names, checked)
        took = time.process_time() - start
        assert len(matching.by_order) == 200  # r0..r199 (x is an input): the last 200 of the run, in order
        assert matching.by_order[names[2 * count - 1]] == "r199" and matching.by_order[names[2 * count - 200]] == "r0"
        assert len(matching.unmatched) == len(names) - 201
        too_many = matching.unmatched[names[-1]]
        assert "too many to match by order" in too_many and "after `r200`" in too_many
        return took

    small = min(seconds(10_000) for _ in range(3))  # the least disturbed of three: a loaded machine inflates one
    large = min(seconds(80_000) for _ in range(2))
    assert large < 30  # 240,001 names: a few seconds at most on a loaded machine
    # linear: 8x the names, 8x the time; quadratic would be 64x. 3x headroom for cache and allocator effects
    assert large / max(small, 1e-3) < 8 * 3


def test_cache_with_many_unmatched_names_imports_quickly(tmp_path, capsys):
    hexvalue = "3c010a14"
    path = tmp_path / "calib.table"
    path.write_text("TRT-8601-EntropyCalibration2\n" + "".join(f"junk_{i}: {hexvalue}\n" for i in range(200_000))
                    + f"data: {hexvalue}\n")
    out = tmp_path / "out.scales"
    start = time.process_time()
    assert main(["scales", "import", SPEC, str(path), "-o", str(out)]) == 0
    assert time.process_time() - start < 30
    err = capsys.readouterr().err
    assert "200000 name(s) in the file match no tensor" in err and "... and 199,800 more" in err
    scale = float(np.frombuffer(bytes.fromhex(hexvalue), ">f4")[0])  # the cache holds amax / 127 as float32 bits
    assert read_scales(str(out)).activations == {"data": scale * 127.0}
