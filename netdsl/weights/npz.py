"""`.npz` (numpy's zip of `.npy` arrays), as a convenience. Pickled objects are refused, the
uncompressed sizes the zip directory declares are bounded before anything is inflated, and each
array's header is checked against the bytes it has before anything is allocated. The file is read
into memory whole (an .npz is small next to the arrays it holds)."""

from __future__ import annotations

import io
import zipfile

from .stored import Tensor, fail

MAX_TOTAL = 16 * 1024**3  # 16 GiB uncompressed
MAX_RATIO = 1000  # a zip bomb inflates far beyond this


def read_npz(path: str) -> dict[str, Tensor]:
    from ..files import open_regular

    with open_regular(path) as stream:
        raw = stream.read()
    try:
        # From memory, not the file: zipfile reads sizes the archive states (a damaged central directory
        # can state gigabytes), and a file's read(n) allocates n bytes before it finds the file shorter.
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        fail(path, f"not a valid .npz (zip) file: {error}")
    with archive:
        members = archive.infolist()
        total = sum(m.file_size for m in members)
        packed = sum(m.compress_size for m in members)
        if total > MAX_TOTAL or total > MAX_RATIO * max(packed, 1) + 1024 * 1024:
            fail(path, f"the archive would inflate to {total:,} bytes from {packed:,}", hint="a zip bomb?")
        tensors = {}
        for member in members:
            name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
            try:
                array = _read_npy(archive.read(member))
            except (ValueError, OSError, zipfile.BadZipFile, EOFError, NotImplementedError) as error:
                fail(path, f"`{name}`: cannot read array ({str(error)[:80]})")
            except RuntimeError:  # zipfile's word for a member flagged as encrypted
                fail(path, f"`{name}`: the member is encrypted; netdsl reads unencrypted .npz files only")
            dtype = array.dtype.name
            if dtype not in ("float32", "float16", "float64", "int64", "int32", "bool"):
                fail(path, f"`{name}`: dtype {dtype} is not supported")
            tensors[name] = Tensor(name, dtype, tuple(array.shape), array)
    return tensors


def _read_npy(data: bytes):
    """An array from .npy bytes. numpy's read_array allocates the whole array its header declares before
    reading, so the declared size is checked against the bytes present first; pickles are refused."""
    import numpy as np

    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
    shape, fortran, dtype = readers[version](stream, max_header_size=10000)
    if dtype.hasobject:
        raise ValueError("Object arrays cannot be loaded when allow_pickle=False")
    count = 1
    for dim in shape:
        count *= dim
    present = len(data) - stream.tell()
    if count * dtype.itemsize != present:
        raise ValueError(f"its header declares {count:,} values of {dtype}, the member holds {present:,} bytes")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def encode_npz(arrays: dict) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
