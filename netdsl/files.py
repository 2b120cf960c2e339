"""Writing outputs atomically: a temporary file in the same folder, fsync, rename. A crash or a
concurrent writer never leaves half a file where a whole one stood."""

from __future__ import annotations

import os
import tempfile


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data``; the file gets the permissions a plain open() would give it. An
    OSError (no such folder, no permission, disk full) becomes a UsageError naming the path, and
    leaves nothing behind."""
    try:
        _write_atomic(path, data)
    except OSError as error:
        from .diagnostics import UsageError

        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None


def _write_atomic(path: str, data: bytes) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp creates 0600
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:
        directory = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)
