"""Writing outputs safely: every file is staged as a hidden temporary in its folder and fsynced before
it replaces the old one by rename, so a crash or a kill never leaves half a file where a whole one
stood. Files that belong together (a plan and its manifest) are all staged before any is renamed, and
writers of one folder take turns (an exclusive lock on the folder), so two builds of the same output
leave one plan and the manifest that describes it. Temporaries left by a writer that was killed are
removed by the next writer of the same file.

Durability costs one fsync per file, before its rename (without it a crash could make the rename durable
before the data, leaving an empty or partial file under the final name on file systems that do not
order the two, such as XFS), and one fsync per folder after the renames (so the replacement itself
survives a crash once the call returns). Nothing is fsynced twice.
"""

from __future__ import annotations

import errno
import os
import stat

PARALLEL_HASH = 1 << 20  # from this size a file is hashed on a second thread while it is written


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
    leaves nothing behind; the old files stay as they were.

    Data is bytes-like; or an iterable of bytes-like chunks, written as they come (never joined in
    memory); or a function given the SHA-256 of every file staged before it (path -> hex digest,
    computed while those files were written) that returns either, for a manifest that records the
    digest of the plan next to it. Files are staged in the order given."""
    import contextlib  # here, not at the top: `netdsl validate` reads through this module and writes nothing

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
                    _refuse_special(path)
                digests = {}
                later_functions = [callable(data) for data in files.values()]
                for index, (path, data) in enumerate(files.items()):
                    current = path
                    _remove_stale(path)
                    if callable(data):
                        data = data(dict(digests))
                    wanted = any(later_functions[index + 1:])  # hashing costs 0.5 ms a MB: only when asked for
                    staged[path], digests[path] = _stage(path, data, wanted)
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


# what stands at an output path that netdsl must not replace by a file (st_mode's type -> its name)
_SPECIAL = {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFIFO: "a FIFO (named pipe)",
            stat.S_IFSOCK: "a socket"}


def _refuse_special(path: str) -> None:
    """Outputs replace regular files only: renaming over /dev/null (run as root) or a FIFO would destroy
    it. Links are followed, so a link to a device is refused too."""
    from .diagnostics import UsageError

    if not path:
        raise UsageError("an output path is empty: give a file name")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "a folder is in the way", path)
    if not stat.S_ISREG(mode):
        kind = _SPECIAL.get(stat.S_IFMT(mode), "not a regular file")
        raise UsageError(f"cannot write {path}: it is {kind}, not a regular file; netdsl replaces an output whole, "
                         "so give the path of a file")


class NotRegularFile(OSError):
    """An input path that names a FIFO, a device or a socket: reading one could wait forever (a FIFO with
    no writer) or never end (/dev/zero). ``strerror`` says what it is, for messages that quote it."""

    def __init__(self, path: str, kind: str):
        super().__init__(errno.EINVAL, f"it is {kind}, not a regular file", path)
        self.kind = kind


def open_regular(path, mode: str = "rb", encoding: str | None = None):
    """Open an input file for reading, refusing at once what is not a regular file: a folder raises
    IsADirectoryError, a FIFO, device or socket :class:`NotRegularFile` (both OSErrors, so a reader's
    ``except OSError`` reports them with the path). The file is opened without blocking, so a FIFO with no
    writer is refused instead of waited on, and checked with fstat on the descriptor that is then read,
    so it cannot be swapped between the check and the read."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        problem = _special_kind(path) if error.errno == errno.ENXIO else None  # ENXIO: opening a socket
        if problem:
            raise NotRegularFile(os.fspath(path), problem) from None
        raise
    try:
        mode_bits = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode_bits):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", os.fspath(path))
        if not stat.S_ISREG(mode_bits):
            raise NotRegularFile(os.fspath(path), _SPECIAL.get(stat.S_IFMT(mode_bits), "a special file"))
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, mode, encoding=encoding)
    except BaseException:
        os.close(descriptor)
        raise


def _special_kind(path) -> str | None:
    """What stands at ``path`` when it is neither a regular file nor a folder ('a FIFO (named pipe)'), else
    None (also when nothing is there)."""
    try:
        mode_bits = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode_bits) or stat.S_ISREG(mode_bits):
        return None
    return _SPECIAL.get(stat.S_IFMT(mode_bits), "a special file")


def input_problem(path) -> str | None:
    """Why ``path`` cannot be read as an input file ('it is a FIFO (named pipe), not a regular file', 'it is
    a folder, not a file'), or None when it is a regular file or nothing is there (its reader says so)."""
    if os.path.isdir(path):
        return "it is a folder, not a file"
    kind = _special_kind(path)
    return None if kind is None else f"it is {kind}, not a regular file"


def _prefix(path: str) -> str:
    return "." + os.path.basename(path) + "."


def _stage(path: str, data, hashed: bool) -> tuple[str, str | None]:
    """The temporary holding ``data``, written and fsynced, and its SHA-256 when ``hashed``."""
    folder = os.path.dirname(os.path.abspath(path))
    import contextlib
    import tempfile  # here, not at the top: it imports shutil, and readers of input files import this module

    handle, temporary = tempfile.mkstemp(dir=folder, prefix=_prefix(path), suffix=".tmp")
    try:
        try:
            os.fchmod(handle, 0o666 & ~_umask())  # mkstemp creates 0600
            digest = _write_synced(handle, data, hashed)
        finally:
            os.close(handle)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return temporary, digest


def _write_synced(handle: int, data, hashed: bool) -> str | None:
    """Write and fsync. A large chunk is hashed on a second thread while it is written and fsynced
    (hashlib and os.write release the GIL), so hashing adds no time where a core is free."""
    import hashlib  # here: `netdsl validate` reads specs through this module and writes nothing
    import threading

    digest = hashlib.sha256() if hashed else None
    hashing = None
    try:
        for view in _chunks(data):
            if hashing is not None:
                hashing.join()  # chunks are hashed in order
                hashing = None
            if digest is not None and view.nbytes >= PARALLEL_HASH:
                hashing = threading.Thread(target=digest.update, args=(view,))
                hashing.start()
            elif digest is not None:
                digest.update(view)
            while view.nbytes:  # os.write may write less than asked (Linux: at most 2 GiB a call)
                view = view[os.write(handle, view):]
        os.fsync(handle)
    finally:
        if hashing is not None:
            hashing.join()
    return digest.hexdigest() if digest is not None else None


def _chunks(data):
    try:
        chunks = [memoryview(data)]
    except TypeError:  # not bytes-like: an iterable of chunks
        chunks = data
    for chunk in chunks:
        view = memoryview(chunk)
        yield view if view.ndim == 1 and view.format == "B" else view.cast("B")


def _remove_stale(path: str) -> None:
    """Temporaries of this path left by a killed writer (live writers hold the folder lock)."""
    import contextlib
    import glob

    folder = os.path.dirname(os.path.abspath(path))
    for stale in glob.glob(os.path.join(glob.escape(folder), glob.escape(_prefix(path)) + "*.tmp")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)


class _folder_lock:
    """An exclusive flock on ``folder`` for the duration of a with block (no lock where fcntl is missing).
    A class, not ``contextlib.contextmanager``, so that readers of input files do not import contextlib."""

    def __init__(self, folder: str):
        self.folder = folder
        self.descriptor = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, still atomic per file
            return None
        descriptor = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except BaseException:
            os.close(descriptor)
            raise
        self.descriptor = descriptor
        return None

    def __exit__(self, *exception):
        if self.descriptor is not None:
            os.close(self.descriptor)  # releases the lock
        return False


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
