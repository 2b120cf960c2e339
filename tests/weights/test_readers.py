"""Weight readers: every .wts variant, safetensors against the reference implementation, npz, and
hostile files (each must give a located error quickly, never a traceback or a huge allocation)."""

import json
import struct
import time

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


HOSTILE_WTS = {
    "empty": (b"", "the file is empty"),
    "no_count": (b"conv 1 3f800000\n", "line 1 must be the number of entries"),
    "count_too_high": (b"5\na 1 3f800000\n", "announces 5 entries but the file holds 1"),
    "count_too_low": (b"1\na 1 3f800000\nb 1 3f800000\n", "announces 1 entries but the file holds more"),
    "billions_claimed": (b"4000000000\na 1 3f800000\n", "announces 4,000,000,000 entries"),
    "value_count_lies": (b"1\na 3000000000 3f800000\n", "announces 3,000,000,000 values"),
    "values_missing": (b"1\na 3 3f800000 40000000\n", "announces 3 values but holds 2"),
    "bad_hex": (b"1\na 2 3f800000 4000z000\n", "is not a 8-digit hex number"),
    "too_many_digits": (b"1\na 1 3f8000000\n", "is not a 8-digit hex number"),
    "misaligned_digits": (b"1\na 2 3f8000 0000400000\n", "is not a 8-digit hex number"),
    "negative_count": (b"1\na -1 3f800000\n", "is not a number"),
    "name_only": (b"1\na\n", "an entry needs"),
    "not_utf8_name": (b"1\n\xff\xfe 1 3f800000\n", "not valid UTF-8"),
    "duplicate_name": (b"2\na 1 3f800000\na 1 3f800000\n", "appears twice"),
    "binary_garbage": (bytes(range(256)) * 4, "line 1 must be the number of entries"),
    "huge_count_digits": (b"9" * 5000 + b"\n", "line 1 must be the number of entries"),
}


def assert_rejected(path, data: bytes, message: str):
    """One located error containing `message`, within 2 seconds."""
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(WeightFileError) as caught:
        read_weights(str(path))
    assert time.perf_counter() - start < 2
    [diagnostic] = caught.value.diagnostics
    assert message in diagnostic.message and diagnostic.pos.path == str(path), diagnostic.message


@pytest.mark.parametrize("name", HOSTILE_WTS)
def test_hostile_wts(tmp_path, name):
    assert_rejected(tmp_path / f"{name}.wts", *HOSTILE_WTS[name])


def safetensors_bytes(header, data=b"", length=None):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return (len(raw) if length is None else length).to_bytes(8, "little") + raw + data


HOSTILE_SAFETENSORS = {
    "too_short": (b"\x01\x02", "too short for a safetensors header"),
    "header_longer_than_file": (safetensors_bytes(b"{}", length=10**9), "header claims 1,000,000,000 bytes"),
    "tiny_file_claims_10GB": (safetensors_bytes({"w": {"dtype": "F32", "shape": [2500000000],
                                                       "data_offsets": [0, 10**10]}}, b"\0" * 16),
                              "fall outside the 16 data bytes"),
    "size_disagrees_with_shape": (safetensors_bytes({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}},
                                                    b"\0" * 8), "needs 12 bytes, data_offsets give 8"),
    "negative_offset": (safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}, b"\0" * 4),
                        "fall outside"),
    "overlap": (safetensors_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12),
                "overlap"),
    "unknown_dtype": (safetensors_bytes({"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16),
                      "dtype `F128` is not supported"),
    "shape_not_list": (safetensors_bytes({"w": {"dtype": "F32", "shape": "big", "data_offsets": [0, 4]}}, b"\0" * 4),
                       "shape must be a list"),
    "extra_key": (safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}},
                                    b"\0" * 4), "exactly dtype, shape and data_offsets"),
    "not_json": (safetensors_bytes(b"{nope", b""), "not valid JSON"),
    "not_utf8": (safetensors_bytes(b'{"\xff": 1}', b""), "not valid UTF-8"),
    "header_is_list": (safetensors_bytes([1, 2]), "must be a JSON object"),
    "deep_json": (safetensors_bytes(b"[" * 100000 + b"]" * 100000), "not valid JSON"),
    "huge_number": (safetensors_bytes(b'{"w": {"dtype": "F32", "shape": [' + b"9" * 5000 + b'], "data_offsets": [0, 4]}}',
                                      b"\0" * 4), "not valid JSON"),
    "bad_metadata": (safetensors_bytes({"__metadata__": {"a": 1}}), "`__metadata__` must map strings to strings"),
}


@pytest.mark.parametrize("name", HOSTILE_SAFETENSORS)
def test_hostile_safetensors(tmp_path, name):
    assert_rejected(tmp_path / f"{name}.safetensors", *HOSTILE_SAFETENSORS[name])


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

    with pytest.raises(NetdslError, match="unknown weight file type `.pt`"):
        read_weights(str(tmp_path / "model.pt"))
