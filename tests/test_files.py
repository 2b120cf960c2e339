"""netdsl/files.py: what write_together writes, the digests it hands to later files, and how often it
fsyncs (once per file before its rename, once per folder after)."""

import hashlib
import os

import numpy as np
import pytest

from netdsl import files
from netdsl.diagnostics import UsageError


def test_bytes_chunks_and_arrays_are_written_as_given(tmp_path):
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    targets = {tmp_path / "a": b"plain", tmp_path / "b": (c for c in [b"one ", memoryview(b"two "), array]),
               tmp_path / "c": array}
    files.write_together({str(p): data for p, data in targets.items()})
    assert (tmp_path / "a").read_bytes() == b"plain"
    assert (tmp_path / "b").read_bytes() == b"one two " + array.tobytes()
    assert (tmp_path / "c").read_bytes() == array.tobytes()
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "c"]


@pytest.mark.parametrize("size", [10, files.PARALLEL_HASH + 7])  # hashed inline, and on a second thread
def test_a_function_gets_the_digests_of_the_files_staged_before_it(tmp_path, size):
    plan = os.urandom(size)
    seen = {}

    def manifest(digests):
        seen.update(digests)
        return digests[str(tmp_path / "p")].encode()

    files.write_together({str(tmp_path / "p"): (plan[i:i + 3000] for i in range(0, size, 3000)),
                          str(tmp_path / "m"): manifest})
    assert seen == {str(tmp_path / "p"): hashlib.sha256(plan).hexdigest()}
    assert (tmp_path / "m").read_text() == hashlib.sha256(plan).hexdigest()


def test_one_fsync_per_file_and_one_per_folder(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                       real_fsync(fd)))
    files.write_together({str(tmp_path / "p"): b"x" * 100, str(tmp_path / "m"): lambda digests: b"{}"})
    temporaries = [path for path in synced if path.endswith(".tmp")]
    assert len(temporaries) == 2 and synced[2:] == [str(tmp_path)], synced


def test_a_failing_function_leaves_the_old_files_and_no_temporaries(tmp_path):
    (tmp_path / "p").write_bytes(b"old plan")

    def manifest(digests):
        raise UsageError("no manifest")

    with pytest.raises(UsageError, match="no manifest"):
        files.write_together({str(tmp_path / "p"): b"new plan", str(tmp_path / "m"): manifest})
    assert os.listdir(tmp_path) == ["p"] and (tmp_path / "p").read_bytes() == b"old plan"


def test_a_failing_chunk_source_leaves_nothing_behind(tmp_path):
    def chunks():
        yield b"half"
        raise OSError(28, "No space left on device")

    with pytest.raises(UsageError, match="No space left"):
        files.write_atomic(str(tmp_path / "w"), chunks())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("kind", ["device", "fifo", "link to a device", "empty"])
def test_special_targets_are_refused_and_left_alone(tmp_path, kind):
    # renaming a staged file over /dev/null (as root) or a FIFO would replace it: refuse, write nothing
    if kind == "device":
        target = "/dev/null"
    elif kind == "fifo":
        target = str(tmp_path / "pipe")
        os.mkfifo(target)
    elif kind == "link to a device":
        target = str(tmp_path / "link")
        os.symlink("/dev/null", target)
    else:
        target = ""
    before = os.stat(target).st_mode if target else None
    companion = tmp_path / "manifest.json"
    with pytest.raises(UsageError, match="empty" if kind == "empty" else "not a regular file"):
        files.write_together({str(companion): b"{}", target: b"plan"})
    if target:
        assert os.stat(target).st_mode == before
    assert not companion.exists() and not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
