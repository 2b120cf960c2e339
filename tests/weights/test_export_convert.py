"""PyTorch export (checked with the reference safetensors package and a tensorrtx-style C++ loader),
and `netdsl weights ls/convert`."""

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from netdsl.diagnostics import NetdslError
from netdsl.weights import read_weights, write_weights
from netdsl.weights.convert import convert
from netdsl.weights.from_torch import export_weights

torch = pytest.importorskip("torch")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(),
                               torch.nn.Linear(8 * 6 * 6, 10))


@pytest.fixture(scope="module")
def cpp_loader(tmp_path_factory):
    """benchmarks/wts_loader.cpp: reads .wts the way tensorrtx's C++ samples do (>> std::hex)."""
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    binary = tmp_path_factory.mktemp("cpp") / "wts_loader"
    subprocess.run(["g++", "-O2", "-o", str(binary), str(ROOT / "benchmarks" / "wts_loader.cpp")], check=True)
    return binary


def test_safetensors_export_reads_back_with_the_reference_package(tmp_path):
    from safetensors.torch import load_file

    net = model()
    path = str(tmp_path / "m.safetensors")
    export_weights(net, path, metadata={"source": "test"})
    reference = load_file(path)
    state = net.state_dict()
    assert list(reference) == list(state)
    for name, tensor in state.items():
        assert reference[name].dtype == tensor.dtype and torch.equal(reference[name], tensor)


def test_bfloat16_is_kept_in_safetensors_and_widened_in_wts(tmp_path):
    from safetensors.torch import load_file

    net = model().to(torch.bfloat16)
    export_weights(net, str(tmp_path / "m.safetensors"))
    export_weights(net, str(tmp_path / "m.wts"))
    reference = load_file(str(tmp_path / "m.safetensors"))
    wts = read_weights(str(tmp_path / "m.wts"))
    for name, tensor in net.state_dict().items():
        assert torch.equal(reference[name], tensor)
        assert np.array_equal(wts[name].data, tensor.float().reshape(-1).numpy())


def test_wts_export_is_accepted_by_a_tensorrtx_style_cpp_loader(tmp_path, cpp_loader):
    net = model()
    path = tmp_path / "m.wts"
    export_weights(net, str(path))
    entries, values, checksum, _ = subprocess.run([str(cpp_loader), str(path)], capture_output=True, text=True,
                                                  check=True).stdout.split()
    state = net.state_dict()  # num_batches_tracked included, as tensorrtx's gen_wts.py writes it
    expected = sum(int(t.float().numpy().reshape(-1).view(np.uint32).astype(np.uint64).sum()) for t in state.values())
    assert int(entries) == len(state)
    assert int(values) == sum(t.numel() for t in state.values())
    assert int(checksum) == expected % 2**64


def test_export_refuses_what_is_not_a_state_dict(tmp_path):
    with pytest.raises(TypeError):
        export_weights([1, 2], str(tmp_path / "x.safetensors"))
    assert not (tmp_path / "x.safetensors").exists()


def bits(array):
    return np.ascontiguousarray(array, np.float32).reshape(-1).view(np.uint32)


def test_float32_round_trip_through_every_format(tmp_path):
    rng = np.random.default_rng(1)
    original = {"a.weight": rng.standard_normal((4, 3, 2, 2)).astype(np.float32),
                "a.bias": np.array([0.0, -0.0, 1e-45, np.inf], np.float32)}
    write_weights(str(tmp_path / "0.safetensors"), original)
    chain = ["0.safetensors", "1.wts", "2.npz", "3.safetensors", "4.wts"]
    for source, target in zip(chain, chain[1:]):
        convert(str(tmp_path / source), str(tmp_path / target))
    for name in chain[1:]:
        loaded = read_weights(str(tmp_path / name))
        assert list(loaded) == list(original)
        for key, array in original.items():
            assert bits(loaded[key].data).tolist() == bits(array).tolist(), (name, key)


def test_convert_refuses_lossy_values_and_writes_nothing(tmp_path):
    write_weights(str(tmp_path / "w.npz"), {"x": np.array([0.1], np.float64)})
    with pytest.raises(NetdslError, match="`x` is float64"):
        convert(str(tmp_path / "w.npz"), str(tmp_path / "w.wts"))
    assert not (tmp_path / "w.wts").exists()
    with pytest.raises(NetdslError, match="onto itself"):
        convert(str(tmp_path / "w.npz"), str(tmp_path / "w.npz"))


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=60)


def test_weights_ls_and_convert_commands(tmp_path):
    export_weights(model(), str(tmp_path / "m.safetensors"))
    listed = netdsl("weights", "ls", str(tmp_path / "m.safetensors"), "--format", "json")
    assert listed.returncode == 0
    rows = {row["name"]: row for row in json.loads(listed.stdout)["tensors"]}
    assert rows["0.weight"] == {"name": "0.weight", "dtype": "float32", "shape": [8, 3, 3, 3], "values": 216,
                                "bytes": 864}
    assert rows["1.num_batches_tracked"]["dtype"] == "int64"
    text = netdsl("weights", "ls", str(tmp_path / "m.safetensors")).stdout
    assert text.splitlines()[0].split() == ["name", "dtype", "shape", "bytes"]
    assert text.splitlines()[-1].startswith(f"{len(rows)} tensors, ")
    converted = netdsl("weights", "convert", str(tmp_path / "m.safetensors"), str(tmp_path / "m.wts"))
    assert converted.returncode == 0 and "num_batches_tracked (int64)" in converted.stderr
    assert "shapes are not kept" in converted.stderr
    bad = tmp_path / "bad.wts"
    bad.write_text("1\nx 2 3f800000\n")
    failed = netdsl("weights", "convert", str(bad), str(tmp_path / "out.safetensors"))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert not (tmp_path / "out.safetensors").exists()
    assert netdsl("weights", "ls", str(tmp_path / "m.bin")).returncode == 2
