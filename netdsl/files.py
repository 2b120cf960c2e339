"""Writing outputs safely: every file is staged as a hidden temporary in its folder and fsynced before
it replaces the old one by rename, so a crash or a kill never leaves half a file where a whole one
stood. Files that belong together (a plan and its manifest) are all staged before any is renamed, and
writers of one folder take turns (an exclusive lock on the folder), so two builds of the same output
leave one plan and the manifest that describes it. Temporaries left by a writer that was killed are
removed by the next writer of the same file.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str, data) -> None:
    """Replace ``path`` with ``data``; see :func:`write_together`."""
    write_together({path: data})


def write_together(files: dict) -> None:
    """Replace every path with its data. Files get the permissions a plain open() would give them. An
    OSError (no such folder, no permission, disk full) becomes a UsageError naming the path, and
    leaves nothing behind; the old files stay as they were."""
    from .diagnostics import UsageError

    current = None
    try:
        folders = sorted({os.path.dirname(os.path.abspath(path)) for path in files})
        with contextlib.ExitStack() as stack:
            for folder in folders:
                current = folder
                stack.enter_context(_folder_lock(folder))
            staged = {}
            try:
                for path in files:  # what would stop a rename midway: refuse before anything is replaced
                    current = path
                    if os.path.isdir(path):
                        raise IsADirectoryError(errno.EISDIR, "a folder is in the way", path)
                for path, data in files.items():
                    current = path
                    _remove_stale(path)
                    staged[path] = _stage(path, data)
                for path, temporary in staged.items():
                    current = path
                    os.replace(temporary, path)
            finally:
                for temporary in staged.values():
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temporary)
            for folder in folders:
                _fsync_folder(folder)
    except OSError as error:
        raise UsageError(f"cannot write {current}: {error.strerror or error}") from None


def _prefix(path: str) -> str:
    return "." + os.path.basename(path) + "."


def _stage(path: str, data) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=_prefix(path), suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # mkstemp creates 0600
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return temporary


def _remove_stale(path: str) -> None:
    """Temporaries of this path left by a killed writer (live writers hold the folder lock)."""
    folder = os.path.dirname(os.path.abspath(path))
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(_prefix(path)) + "*.tmp")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)


@contextlib.contextmanager
def _folder_lock(folder: str):
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, still atomic per file
        yield
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _fsync_folder(folder: str) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
