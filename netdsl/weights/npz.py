"""`.npz` (numpy's zip of `.npy` arrays), as a convenience. Pickled objects are refused, and the
uncompressed sizes the zip directory declares are bounded before anything is inflated."""

from __future__ import annotations

import io
import zipfile

from . import Tensor, fail

MAX_TOTAL = 16 * 1024**3  # 16 GiB uncompressed
MAX_RATIO = 1000  # a zip bomb inflates far beyond this


def read_npz(path: str) -> dict[str, Tensor]:
    import numpy as np

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
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
                array = np.lib.format.read_array(io.BytesIO(archive.read(member)), allow_pickle=False)
            except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
                fail(path, f"`{name}`: cannot read array ({str(error)[:80]})")
            dtype = array.dtype.name
            if dtype not in ("float32", "float16", "float64", "int64", "int32", "bool"):
                fail(path, f"`{name}`: dtype {dtype} is not supported")
            tensors[name] = Tensor(name, dtype, tuple(array.shape), array)
    return tensors


def encode_npz(arrays: dict) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
