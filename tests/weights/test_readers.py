"""Weight readers: every .wts variant, safetensors against the reference implementation, npz. Hostile
weight files are a corpus of files: tests/hostile/corpus (tests/hostile/test_corpus.py)."""

import json
import struct

import numpy as np
import pytest

from netdsl.weights import WeightFileError, read_weights, write_weights

RNG = np.random.default_rng(0)


def arrays():
    return {"conv1.weight": RNG.standard_normal((6, 1, 5, 5)).astype(np.float32),
            "conv1.bias": RNG.standard_normal(6).astype(np.float32),
            "fc.weight": np.array([[0.0, -0.0, np.inf, -np.inf]], np.float32),
            "empty": np.zeros(0, np.float32)}


def hexf(value):
    return struct.pack(">f", value).hex()


@pytest.mark.parametrize("extension", ["wts", "safetensors", "npz"])
def test_float32_round_trip_is_exact(tmp_path, extension):
    original = arrays()
    path = str(tmp_path / f"w.{extension}")
    write_weights(path, original)
    loaded = read_weights(path)
    assert list(loaded) == list(original)
    for name, array in original.items():
        got = loaded[name].data
        assert got.dtype == np.float32
        assert got.reshape(-1).view(np.uint32).tolist() == array.reshape(-1).view(np.uint32).tolist()


def test_nan_bit_patterns_survive_wts(tmp_path):
    path = tmp_path / "nan.wts"
    path.write_text("1\nx 2 7fc00000 ffc00001\n")
    assert read_weights(str(path))["x"].data.view(np.uint32).tolist() == [0x7FC00000, 0xFFC00001]


def test_safetensors_against_reference_implementation(tmp_path):
    reference = pytest.importorskip("safetensors.numpy")
    original = {"a": RNG.standard_normal((3, 4)).astype(np.float32), "b": np.arange(5, dtype=np.float16),
                "step": np.array(7, np.int64), "ids": np.arange(3, dtype=np.int32)}
    theirs = str(tmp_path / "theirs.safetensors")
    reference.save_file(original, theirs)
    loaded = read_weights(theirs)
    for name, array in original.items():
        assert loaded[name].shape == array.shape and np.array_equal(loaded[name].data, array)
    ours = str(tmp_path / "ours.safetensors")
    write_weights(ours, original)
    back = reference.load_file(ours)
    assert all(np.array_equal(back[name], array) and back[name].dtype == array.dtype for name, array in original.items())


def test_safetensors_is_memory_mapped_not_copied(tmp_path):
    path = str(tmp_path / "m.safetensors")
    write_weights(path, {"w": np.ones((256, 256), np.float32)})
    tensor = read_weights(path)["w"]
    assert not tensor.data.flags.owndata and not tensor.data.flags.writeable


def test_bfloat16_is_converted_exactly(tmp_path):
    values = np.array([1.0, -2.5, 3.140625, 0.0], np.float32)  # all exactly representable in bfloat16
    bits = (values.view(np.uint32) >> 16).astype(np.uint16)
    header = json.dumps({"x": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}).encode()
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bits.tobytes())
    tensor = read_weights(str(path))["x"]
    assert tensor.dtype == "bfloat16" and tensor.as_float32().tolist() == values.tolist()


@pytest.mark.parametrize("text, expected", [
    ("2\na 2 3f800000 40000000\nb 1 c0000000\n", {"a": [1.0, 2.0], "b": [-2.0]}),
    ("1\na 2  3f800000 40000000\n", {"a": [1.0, 2.0]}),                        # two spaces (tensorrtx lenet)
    ("1\na 2 0x3f800000 0x40000000\n", {"a": [1.0, 2.0]}),                     # 0x-prefixed (ppocrv5)
    ("1\na 3 0x0 0x3f800000 0X40000000\n", {"a": [0.0, 1.0, 2.0]}),            # unpadded
    ("1\na 0 2 3f800000 40000000\n", {"a": [1.0, 2.0]}),                       # typed, float32
    ("1\na 1 2 3c00 c000\n", {"a": [1.0, -2.0]}),                              # typed, float16
    ("3\nbn.running_var 1 3f800000\nbn.num_batches_tracked 1 42c80000\nfc 1 3F800000\n",
     {"bn.running_var": [1.0], "bn.num_batches_tracked": [100.0], "fc": [1.0]}),  # buffers, upper case
    ("1\r\na 1 3f800000\r\n", {"a": [1.0]}),                                   # CRLF
    ("1\na 1 3f800000", {"a": [1.0]}),                                         # no final newline
])
def test_wts_variants(tmp_path, text, expected):
    path = tmp_path / "v.wts"
    path.write_bytes(text.encode())
    loaded = read_weights(str(path))
    assert {name: t.as_float32().tolist() for name, t in loaded.items()} == expected


def test_wts_float16_keeps_its_dtype(tmp_path):
    path = tmp_path / "h.wts"
    path.write_text("1\na 1 1 3c00\n")
    assert read_weights(str(path))["a"].dtype == "float16"


def test_npz_refuses_pickles(tmp_path):
    path = str(tmp_path / "p.npz")
    np.savez(path, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(WeightFileError, match="cannot read array"):
        read_weights(path)


def test_npz_not_a_zip(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(WeightFileError, match="not a valid .npz"):
        read_weights(str(path))


def test_unknown_extension_is_a_clean_error(tmp_path):
    from netdsl.diagnostics import NetdslError

    with pytest.raises(NetdslError, match=r"weight file .*model.pt: its extension is `.pt`"):
        read_weights(str(tmp_path / "model.pt"))


def test_npz_with_an_encrypted_member_is_a_clean_error(tmp_path):
    # Found by tests/hostile/test_fuzz.py: zipfile raises RuntimeError for a member flagged as encrypted.
    path = tmp_path / "enc.npz"
    write_weights(str(path), {"a.weight": np.ones((2, 2), np.float32)})
    data = bytearray(path.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local header, central directory
        start = data.index(signature)
        data[start + flag_offset] |= 1
    path.write_bytes(bytes(data))
    with pytest.raises(WeightFileError) as caught:
        read_weights(str(path))
    assert caught.value.diagnostics[0].code == "bad-weights" and "encrypted" in caught.value.diagnostics[0].message


def test_long_wts_lines_are_decoded_piece_by_piece_and_errors_keep_their_line(tmp_path, monkeypatch):
    from netdsl.weights import wts

    monkeypatch.setattr(wts, "PIECE", 3)  # 10 values: pieces of 3, 3, 3 and 1
    values = RNG.standard_normal(10).astype(np.float32)
    line = " ".join(hexf(v) for v in values)
    path = tmp_path / "long.wts"
    path.write_text(f"2\nshort 1 3f800000\nlong 10 {line}\n")
    assert read_weights(str(path))["long"].data.view(np.uint32).tolist() == values.view(np.uint32).tolist()
    broken = line[:9 * 7] + "zz" + line[9 * 7 + 2:]  # the eighth value, in the third piece
    path.write_text(f"2\nshort 1 3f800000\nlong 10 {broken}\n")
    with pytest.raises(WeightFileError) as error:
        read_weights(str(path))
    assert ":3:" in str(error.value) and "value 8" in str(error.value)


def test_wts_reader_releases_the_pages_it_has_read(tmp_path, monkeypatch):
    import mmap

    from netdsl.weights import wts

    released = []

    class Mapping(mmap.mmap):
        def madvise(self, option, start, length):
            released.append((option, start, length))
            return super().madvise(option, start, length)

    monkeypatch.setattr(wts, "RELEASE", 1)
    monkeypatch.setattr(mmap, "mmap", Mapping)
    path = str(tmp_path / "big.wts")
    write_weights(path, {f"w{i}": RNG.standard_normal(4096).astype(np.float32) for i in range(4)})
    assert len(read_weights(path)) == 4
    assert released and all(option == mmap.MADV_DONTNEED and start % mmap.PAGESIZE == 0 for option, start, _ in released)
    assert released[-1][1] + released[-1][2] > 3 * 4096 * 9  # most of the file was handed back


@pytest.mark.parametrize("extension", ["safetensors", "wts"])
def test_writers_stream_instead_of_building_the_file_in_memory(tmp_path, extension):
    import tracemalloc

    big = {f"w{i}": RNG.standard_normal(1 << 20).astype(np.float32) for i in range(4)}  # 16 MiB
    tracemalloc.start()
    try:
        write_weights(str(tmp_path / f"w.{extension}"), big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    largest_chunk = {"safetensors": 1 << 12, "wts": 4 * 9 << 20}[extension]  # a header; one tensor's text (x2)
    assert peak < 2 * largest_chunk + (1 << 20), f"{peak:,} bytes allocated while writing"
    loaded = read_weights(str(tmp_path / f"w.{extension}"))
    assert all(np.array_equal(loaded[name].data, array) for name, array in big.items())
