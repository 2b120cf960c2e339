"""Hostile quantization ranges (issue 27): every range that is not finite and positive is refused where it
is written (a scales file's line and column, a calibration cache's line, a QAT buffer's key), by every
command that reads it, with exit 1 and nothing written."""

import pathlib
import struct

import numpy as np
import pytest

from netdsl.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs/quantized/lenet_int8.yaml")
SHIPPED = (ROOT / "weights/lenet_int8.scales").read_text()
BAD = ["0", "0.0", "-0.5", "nan", "inf", "-inf", "1e999"]


def scales_with(tmp_path, value: str) -> tuple[str, int, int]:
    """The shipped scales with pool2's range replaced by ``value``: (path, line, column of the value)."""
    lines = SHIPPED.splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("pool2 "))
    lines[number] = f"pool2   {value}"
    path = tmp_path / "bad.scales"
    path.write_text("\n".join(lines) + "\n")
    return str(path), number + 1, len("pool2   ") + 1


def batch(tmp_path) -> str:
    with np.load(ROOT / "weights/lenet_heldout.npz") as archive:
        np.save(tmp_path / "x.npy", archive["images"][:2])
    return str(tmp_path / "x.npy")


@pytest.mark.parametrize("value", BAD)
def test_scales_file_range_refused_by_every_reader(tmp_path, capsys, value):
    path, line, col = scales_with(tmp_path, value)
    x = batch(tmp_path)
    commands = {
        "reference": ["reference", SPEC, "--input", x, "--scales", path, "-o", str(tmp_path / "y.npy")],
        "build": ["build", SPEC, "--scales", path, "-o", str(tmp_path / "net.plan")],
        "scales export": ["scales", "export", path, "-o", str(tmp_path / "calib.table")],
    }
    for name, argv in commands.items():
        capsys.readouterr()
        assert main(argv) == 1, name
        err = capsys.readouterr().err
        assert f"{path}:{line}:{col}:" in err and "`pool2`" in err and f"`{value}`" in err, (name, err)
        assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.scales", "x.npy"]  # nothing written


def test_diff_refuses_a_bad_range(tmp_path, capsys):
    path, line, col = scales_with(tmp_path, "nan")
    assert main(["diff", str(ROOT / "weights/lenet_int8.scales"), path]) == 1
    assert f"{path}:{line}:{col}:" in capsys.readouterr().err


def test_weight_line_may_hold_zero_only_for_a_channel_of_zeros(tmp_path, capsys):
    """A QAT weight range of 0 is a pruned channel's (all-zero weights): kept; for a channel with weights, a
    range of 0 would lose them: refused when the network is built or run. Negative or NaN: refused at the line."""
    x = batch(tmp_path)
    ranges = ["0.5"] * 6
    ranges[2] = "0"
    path = tmp_path / "w.scales"
    path.write_text(SHIPPED + "weight conv1.weight " + " ".join(ranges) + "\n")
    out = str(tmp_path / "y.npy")
    assert main(["reference", SPEC, "--input", x, "--scales", str(path), "-o", out]) == 1
    err = capsys.readouterr().err
    assert "`weight conv1.weight`" in err and "output channel 2" in err and "not all zero" in err
    assert not pathlib.Path(out).exists()
    for value in ("-1", "nan"):
        path.write_text(SHIPPED + f"weight conv1.weight 0.5 {value} 0.5 0.5 0.5 0.5\n")
        assert main(["reference", SPEC, "--input", x, "--scales", str(path), "-o", out]) == 1
        line = len(SHIPPED.splitlines()) + 1
        col = len("weight conv1.weight 0.5 ") + 1
        assert f"{path}:{line}:{col}:" in capsys.readouterr().err
    assert not pathlib.Path(out).exists()


def test_weight_range_of_zero_for_a_pruned_channel_is_kept():
    from netdsl.build import load_spec
    from netdsl.quant import Quantizer, placement
    from netdsl.quant.scales import parse_scales

    scales = parse_scales(SHIPPED + "weight conv1.weight 0.5 0.5 0 0.5 0.5 0.5\n")
    quantizer = Quantizer(placement(load_spec(SPEC)), scales)
    pruned = np.ones((6, 1, 5, 5), np.float32)
    pruned[2] = 0
    scale, axis = quantizer.weight_scale("conv1", "weight", pruned)
    assert axis == 0 and scale[2] == 1.0 and scale[0] == np.float32(0.5 / 127)


def cache(tmp_path, lines: list[str]) -> str:
    path = tmp_path / "calib.table"
    path.write_text("TRT-8601-EntropyCalibration2\n" + "".join(line + "\n" for line in lines))
    return str(path)


def bits(value: float) -> str:
    return f"{int.from_bytes(struct.pack('>f', value), 'big'):x}"


def test_calib_table_ranges_refused_at_their_lines(tmp_path, capsys):
    good = bits(1.0 / 127)
    bad = {"pool1": "7fc00000", "pool2": "7f800000", "relu3": "ff800000", "relu4": bits(-0.5), "conv1": "0"}
    lines = [f"data: {good}"] + [f"{name}: {value}" for name, value in bad.items()]
    path = cache(tmp_path, lines)
    out = tmp_path / "out.scales"
    assert main(["scales", "import", SPEC, path, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    for number, (name, value) in enumerate(bad.items(), 3):
        assert f"{path}:{number}:{len(name) + 3}:" in err and f"`{name}`" in err and value in err, err
    assert "Traceback" not in err and not out.exists()


def test_calib_table_too_large_is_said(tmp_path, capsys):
    path = tmp_path / "calib.table"
    line = f"data: {bits(1.0 / 127)}\n".encode()
    with open(path, "wb") as stream:
        stream.write(b"TRT-8601-EntropyCalibration2\n")
        stream.write(line * ((64 << 20) // len(line) + 1))
    out = tmp_path / "out.scales"
    assert main(["scales", "import", SPEC, str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "too large" in err and "64 MiB" in err and str(path) in err and not out.exists()


@pytest.mark.parametrize("which, value", [("_input_quantizer", np.nan), ("_input_quantizer", np.inf),
                                          ("_input_quantizer", 0.0), ("_input_quantizer", -2.0),
                                          ("_weight_quantizer", np.nan), ("_weight_quantizer", -1.0)])
def test_qat_ranges_refused_by_key(tmp_path, capsys, which, value):
    from netdsl.weights import write_weights

    amax = np.full((6, 1, 1, 1) if which == "_weight_quantizer" else (), 0.5, np.float32)
    amax.reshape(-1)[-1] = value
    path = str(tmp_path / "qat.safetensors")
    write_weights(path, {f"conv1.{which}._amax": amax, "fc1._input_quantizer._amax": np.float32(3.0)})
    out = tmp_path / "out.scales"
    assert main(["scales", "import", SPEC, path, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:" in err and f"`conv1.{which}._amax`" in err and repr(float(value)) in err, err
    assert "Traceback" not in err and not out.exists()
