"""`.safetensors`: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and byte range, then the data. Tensors are numpy views into a read-only memory map: nothing is
copied into RAM until a conversion needs it.

The header comes from someone else: its length, every offset and every size are checked against the
file's real size, and ranges must not overlap, before any tensor is mapped.
"""

from __future__ import annotations

import json
import os

from .stored import Tensor, fail

MAX_HEADER = 100 * 1024 * 1024
MAX_RANK = 8
DTYPES = {"F64": ("float64", 8), "F32": ("float32", 4), "F16": ("float16", 2), "BF16": ("bfloat16", 2),
          "I64": ("int64", 8), "I32": ("int32", 4), "I16": ("int16", 2), "I8": ("int8", 1), "U8": ("uint8", 1),
          "BOOL": ("bool", 1)}
CODES = {name: code for code, (name, _) in DTYPES.items()}


def read_safetensors(path: str) -> dict[str, Tensor]:
    import mmap

    import numpy as np

    from ..files import open_regular

    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        prefix = handle.read(8)
        if len(prefix) < 8:
            fail(path, f"file is {size} bytes: too short for a safetensors header")
        length = int.from_bytes(prefix, "little")
        if length > min(MAX_HEADER, size - 8):
            fail(path, f"header claims {length:,} bytes but the file has {size - 8:,} after the length field",
                 hint="the file is truncated or not a safetensors file")
        header = _parse_header(path, handle.read(length))
        data_size = size - 8 - length
        entries = _check_entries(path, header, data_size)
        if not entries:
            return {}
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    tensors = {}
    base = 8 + length
    for name, dtype, shape, begin, end in entries:
        storage = "uint16" if dtype == "bfloat16" else dtype
        count = (end - begin) // DTYPES[CODES[dtype]][1]
        array = np.frombuffer(mapping, dtype=storage, count=count, offset=base + begin).reshape(shape)
        tensors[name] = Tensor(name, dtype, tuple(shape), array)
    return tensors


def _parse_header(path: str, raw: bytes) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        fail(path, "the header is not valid UTF-8")
    except (ValueError, RecursionError) as error:
        fail(path, f"the header is not valid JSON ({str(error)[:80]})")
    if not isinstance(header, dict):
        fail(path, "the header must be a JSON object")
    return header


def _check_entries(path: str, header: dict, data_size: int) -> list:
    entries = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                fail(path, "`__metadata__` must map strings to strings")
            continue
        where = f"tensor `{name[:80]}`"
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            fail(path, f"{where}: an entry has exactly dtype, shape and data_offsets")
        if entry["dtype"] not in DTYPES:
            fail(path, f"{where}: dtype `{str(entry['dtype'])[:20]}` is not supported",
                 hint="supported: " + ", ".join(DTYPES))
        dtype, itemsize = DTYPES[entry["dtype"]]
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not (isinstance(shape, list) and len(shape) <= MAX_RANK
                and all(type(d) is int and 0 <= d < 2**40 for d in shape)):
            fail(path, f"{where}: shape must be a list of at most {MAX_RANK} non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data_size):
            fail(path, f"{where}: data_offsets {str(offsets)[:60]} fall outside the {data_size:,} data bytes",
                 hint="the file is truncated or its header lies")
        count = 1
        for dim in shape:
            count *= dim
        if count * itemsize != offsets[1] - offsets[0]:
            fail(path, f"{where}: shape {shape} of {entry['dtype']} needs {count * itemsize:,} bytes, "
                 f"data_offsets give {offsets[1] - offsets[0]:,}")
        entries.append((name, dtype, shape, offsets[0], offsets[1]))
    previous_end, previous = 0, None
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin < previous_end:
            fail(path, f"tensors `{previous[:60]}` and `{name[:60]}` overlap in the file")
        if end > begin:
            previous_end, previous = end, name
    return entries


def safetensors_chunks(arrays: dict, metadata: dict | None = None, dtypes: dict | None = None):
    """The file as chunks: the header, then each tensor's bytes straight from its array (a copy only
    where an array is not C-ordered little-endian), so writing a file never holds a second copy of it.
    ``dtypes`` names tensors whose uint16 arrays hold bfloat16 bits (numpy has no bfloat16)."""
    import numpy as np

    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, array in arrays.items():
        array = np.asanyarray(array)
        dtype = (dtypes or {}).get(name, array.dtype.name)
        if dtype not in CODES:
            raise ValueError(f"{name}: dtype {dtype} cannot be stored in safetensors")
        header[name] = {"dtype": CODES[dtype], "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keep the data 8-byte aligned, as the reference writer does
    yield len(raw).to_bytes(8, "little") + raw
    for array in arrays.values():
        array = np.asarray(array, order="C")  # not ascontiguousarray: it turns 0-d into 1-d
        yield array.astype(array.dtype.newbyteorder("<"), copy=False)

