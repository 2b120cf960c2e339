"""Killing netdsl while it writes (SIGKILL at spread-out moments) never leaves a truncated or
half-written file where a good one stood, and two builds of one output leave a plan and the manifest
that describes it."""

import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LENET = str(ROOT / "specs" / "lenet.yaml")
pytest.importorskip("tensorrt_rtx")


def digest(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "netdsl", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def killed_after(delay, *args):
    process = start(*args)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return process.wait()


def timed(*args):
    began = time.perf_counter()
    assert start(*args).wait() == 0
    return time.perf_counter() - began


def versions(plan):
    """(plan hash, manifest's recorded plan hash) of what is on disk now."""
    return digest(plan), json.loads(pathlib.Path(str(plan) + ".json").read_text())["plan"]["sha256"]


def test_killed_builds_leave_whole_files(tmp_path):
    plan = tmp_path / "net.plan"
    timed("build", LENET, "-o", str(plan))
    old = versions(plan)
    duration = timed("build", LENET, "-o", str(tmp_path / "new.plan"), "--precision", "float16")
    new = versions(tmp_path / "new.plan")
    timed("build", LENET, "-o", str(plan))  # back to the old one
    outcomes = set()
    for step in range(13):  # from at once to twice the time a build takes
        killed_after(duration * step / 6, "build", LENET, "-o", str(plan), "--precision", "float16")
        plan_hash, recorded = versions(plan)  # both files whole and readable, whatever the moment
        assert plan_hash in (old[0], new[0]) and recorded in (old[1], new[1])
        outcomes.add("new" if plan_hash == new[0] else "old")
        if plan_hash != recorded:  # killed between the two renames: detected, never used
            from netdsl.diagnostics import UsageError
            from netdsl.runtime import read_manifest

            with pytest.raises(UsageError, match="does not match its manifest"):
                read_manifest(str(plan))
    assert outcomes == {"old", "new"}, "the kills should land both before and after the replacement"
    timed("build", LENET, "-o", str(plan))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")], "stale temporaries are cleaned up"


def test_killed_conversion_leaves_the_old_file_or_none(tmp_path):
    from netdsl.weights import read_weights, write_weights

    source = tmp_path / "big.safetensors"
    write_weights(str(source), {f"w{i}": np.random.default_rng(i).standard_normal(1 << 20, dtype=np.float32)
                                for i in range(6)})
    target = tmp_path / "big.wts"
    duration = timed("weights", "convert", str(source), str(target))
    good = digest(target)
    target.write_bytes(b"1\nold 1 3f800000\n")
    old = digest(target)
    for step in range(10):
        killed_after(duration * step / 8, "weights", "convert", str(source), str(target))
        assert digest(target) in (old, good)
        read_weights(str(target))  # whole, whichever it is


def test_killed_refit_leaves_the_engine_whole(tmp_path):
    """The Refitter needs a GPU, so a stand-in replaces its result; the preparation and the writes are
    real."""
    plan = tmp_path / "net.plan"
    timed("build", LENET, "-o", str(plan))
    record_path = pathlib.Path(str(plan) + ".json")
    record = json.loads(record_path.read_text())
    record.update(refit="refit", refittable_weights=record["weights_in_engine"])
    record_path.write_text(json.dumps(record))
    old = versions(plan)
    saved = plan.read_bytes(), record_path.read_bytes()
    script = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import netdsl.refit as r, netdsl.runtime as rt;"
              "rt.require_gpu = lambda cudart: (8, 6); rt.cuda_runtime = lambda: None;"
              "r.refit_plan = lambda plan, arrays, precision: b'refitted engine' * 100000;"
              f"r.refit({str(plan)!r}, {str(ROOT / 'weights' / 'lenet.wts')!r})")
    began = time.perf_counter()
    assert subprocess.run([sys.executable, "-c", script], cwd=ROOT).returncode == 0
    duration = time.perf_counter() - began
    new = versions(plan)
    assert new[0] == new[1] != old[0]
    plan.write_bytes(saved[0])  # back to the engine before the refit
    record_path.write_bytes(saved[1])
    for step in range(8):
        process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
        time.sleep(duration * step / 6)
        process.send_signal(signal.SIGKILL)
        process.wait()
        plan_hash, recorded = versions(plan)  # whole files, each the old or the refitted version
        assert plan_hash in (old[0], new[0]) and recorded in (old[1], new[1])


def test_concurrent_builds_leave_a_matching_pair(tmp_path):
    plan = tmp_path / "net.plan"
    for _ in range(3):
        first = start("build", LENET, "-o", str(plan))
        second = start("build", LENET, "-o", str(plan), "--precision", "float16")
        assert first.wait() == 0 and second.wait() == 0
        plan_hash, recorded = versions(plan)
        assert plan_hash == recorded
