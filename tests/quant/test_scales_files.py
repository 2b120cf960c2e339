"""Scales files, calibration caches and QAT ranges: formats, round trips, reports, determinism."""

import pathlib

import numpy as np
import pytest

from netdsl.build import bind_weights, load_spec
from netdsl.cli import main
from netdsl.quant.calibrate import calibrate
from netdsl.quant.calibtable import format_table, import_table, parse_table
from netdsl.quant.qat import import_qat
from netdsl.quant.scales import MAGIC, Scales, ScalesError, format_scales, parse_scales, read_scales, write_scales

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs/quantized/lenet_int8.yaml")


def test_format_is_sorted_and_reads_back_the_same():
    scales = Scales({"pool2": 6.4612164, "data": 1.0, "a.b": 0.5227681398391724},
                    {"fc1.weight": [0.25, 0.5]}, {"method": "max"})
    text = format_scales(scales)
    assert text.splitlines() == [MAGIC, "# amax per tensor; scale = amax / 127 (int8) or amax / 448 (fp8)",
                                 "# method: max", "a.b 0.5227681398391724", "data 1.0", "pool2 6.4612164",
                                 "weight fc1.weight 0.25 0.5"]
    again = parse_scales(text)
    assert again.activations == scales.activations and again.weights == scales.weights
    assert format_scales(again) == text


def test_every_problem_with_its_line():
    text = MAGIC + "\nconv1 1.0\nconv1 2.0\nbad name 1\nx -1\ny nan\nz 1 2\n"
    with pytest.raises(ScalesError) as raised:
        parse_scales(text, "s.scales")
    lines = sorted(d.pos.line for d in raised.value.diagnostics)
    assert lines == [3, 4, 5, 6, 7]
    with pytest.raises(ScalesError):
        parse_scales("conv1 1.0\n")  # no header: not a scales file


def test_calibration_is_deterministic_and_covers_the_quantized_inputs(tmp_path):
    checked = load_spec(SPEC)
    bound = bind_weights(checked)
    data = str(ROOT / "weights/lenet_heldout.npz")
    first = calibrate(checked, bound, data, "entropy", limit=64, progress=False)
    assert format_scales(calibrate(checked, bound, data, "entropy", limit=64, progress=False)) == format_scales(first)
    # another batch size: numpy sums the products in another order, the last float32 bit may move
    other = calibrate(checked, bound, data, "entropy", limit=64, batch=7, progress=False)
    for name, amax in first.activations.items():
        assert other.activations[name] == pytest.approx(amax, rel=1e-6)
    assert sorted(first.activations) == ["data", "pool1", "pool2", "relu3", "relu4"]
    maxima = calibrate(checked, bound, data, "max", limit=64, progress=False)
    assert all(0 < first.activations[n] <= maxima.activations[n] * (1 + 1e-6) for n in maxima.activations)
    assert maxima.activations["data"] == 1.0  # the images are in 0..1


def test_folder_of_samples(tmp_path):
    checked = load_spec(SPEC)
    with np.load(ROOT / "weights/lenet_heldout.npz") as archive:
        images = archive["images"][:12]
    np.save(tmp_path / "b.npy", images[4:])  # a batch
    for k in range(4):
        np.save(tmp_path / f"a{k}.npy", images[k])  # single samples
    by_files = calibrate(checked, bind_weights(checked), str(tmp_path), "max", progress=False)
    np.save(tmp_path.parent / "all.npy", images)
    at_once = calibrate(checked, bind_weights(checked), str(tmp_path.parent / "all.npy"), "max", progress=False)
    assert by_files.activations == at_once.activations


def test_calib_table_round_trip_is_byte_stable(tmp_path):
    checked = load_spec(SPEC)
    # as TensorRT writes a cache for this network: its tensors in network order, hex without leading zeros
    # (the last one a subnormal scale)
    text = ("TRT-8601-EntropyCalibration2\ndata: 3c010204\npool1: 3d0b5ed0\nconv2: 3d9f8e21\npool2: 3d50a9c3\n"
            "relu3: 3e4ad1f7\nrelu4: 3e7e8a10\nfc3: 116c2\n")
    path = tmp_path / "calib.table"
    path.write_text(text)
    scales, report = import_table(checked, str(path))
    assert report.unmatched == [] and report.missing == [] and len(report.matched) == 7
    assert format_table(scales, checked) == text
    write_scales(str(tmp_path / "s.scales"), scales)  # through the scales file too
    assert format_table(read_scales(str(tmp_path / "s.scales")), checked) == text
    assert scales.activations["data"] == pytest.approx(1.0, rel=1e-3)  # 0x3c010204 = 1/127


def test_malformed_cache():
    with pytest.raises(ScalesError) as raised:
        parse_table("TRT-8601-EntropyCalibration2\ndata 3c010204\nx: zz\ny: 123456789\n")
    assert sorted(d.pos.line for d in raised.value.diagnostics) == [2, 3, 4]


def test_qat_amax_buffers(tmp_path):
    from netdsl.weights import write_weights

    checked = load_spec(SPEC)
    amax = {"conv1._input_quantizer._amax": np.array(1.0, np.float32),
            "conv1._weight_quantizer._amax": np.linspace(0.1, 0.6, 6, dtype=np.float32).reshape(6, 1, 1, 1),
            "conv2.input_quantizer._amax": np.array([3.5], np.float32),  # modelopt's spelling
            "fc1._input_quantizer._amax": np.array(6.25, np.float32),
            "head._input_quantizer._amax": np.array(2.0, np.float32),
            "conv1.weight": np.zeros((6, 1, 5, 5), np.float32)}
    path = str(tmp_path / "qat.safetensors")
    write_weights(path, amax)
    scales, report = import_qat(checked, path)
    assert scales.activations == {"data": 1.0, "pool1": 3.5, "pool2": 6.25}
    assert scales.weights["conv1.weight"] == pytest.approx(np.linspace(0.1, 0.6, 6))
    assert report.unmatched == [("head._input_quantizer._amax", "no layer `head` in the spec")]
    assert report.missing == ["relu3", "relu4"]


def test_qat_weight_ranges_are_used(tmp_path):
    from netdsl import reference
    from netdsl.quant import Quantizer, placement

    checked = load_spec(SPEC)
    bound = bind_weights(checked)
    shipped = read_scales(str(ROOT / "weights/lenet_int8.scales"))
    x = {"data": np.load(ROOT / "weights/lenet_heldout.npz")["images"][:4]}
    plain = reference.run(checked, bound, x, quantizer=Quantizer(placement(checked), shipped))["prob"]
    wide = Scales(shipped.activations, {"conv1.weight": [100.0] * 6})  # a range far too wide: coarse weights
    coarse = reference.run(checked, bound, x, quantizer=Quantizer(placement(checked), wide))["prob"]
    assert not np.allclose(plain, coarse)


def test_cli_calibrate_export_import_diff(tmp_path, capsys):
    data = str(ROOT / "weights/lenet_heldout.npz")
    a, b = str(tmp_path / "a.scales"), str(tmp_path / "b.scales")
    assert main(["calibrate", SPEC, "--data", data, "--limit", "32", "-o", a]) == 0
    assert main(["calibrate", SPEC, "--data", data, "--limit", "32", "--method", "max", "-o", b]) == 0
    capsys.readouterr()
    assert main(["diff", a, b]) == 1
    out = capsys.readouterr().out
    assert "scales: " in out and "~ relu3:" in out and "method: entropy" in out
    assert main(["diff", a, a]) == 0
    table = str(tmp_path / "calib.table")
    assert main(["scales", "export", a, "-o", table, "--spec", SPEC]) == 0
    assert main(["scales", "import", SPEC, table, "-o", str(tmp_path / "c.scales")]) == 0
    again = str(tmp_path / "again.table")
    assert main(["scales", "export", str(tmp_path / "c.scales"), "-o", again, "--spec", SPEC]) == 0
    assert pathlib.Path(table).read_bytes() == pathlib.Path(again).read_bytes()
    assert main(["calibrate", SPEC, "--data", str(tmp_path), "-o", a]) == 2  # no arrays there: a usage error


def test_cli_reference_runs_the_quantized_network(tmp_path):
    from netdsl import reference
    from netdsl.quant import quantizer_for

    checked = load_spec(SPEC)
    bound = bind_weights(checked)
    x = np.load(ROOT / "weights/lenet_heldout.npz")["images"][:8]
    np.save(tmp_path / "x.npy", x)
    for flags, quantizer in (([], quantizer_for(checked)), (["--float"], None)):
        assert main(["reference", SPEC, "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")] + flags) == 0
        expected = reference.run(checked, bound, {"data": x}, quantizer=quantizer)["prob"]
        assert np.array_equal(np.load(tmp_path / "y.npy"), expected)
    quantized = reference.run(checked, bound, {"data": x}, quantizer=quantizer_for(checked))["prob"]
    assert not np.array_equal(quantized, reference.run(checked, bound, {"data": x})["prob"])
