"""Ray for real: a local cluster (2 CPUs, two targets as custom resources) builds a matrix on TensorRT-RTX,
survives a worker killed during a build (the task is retried), reports a target no node has after
--timeout, and shards calibration with a scales file equal byte for byte to the single process's."""

import hashlib
import json
import os
import signal
import threading
import time

import pytest

from netdsl import fleet
from netdsl.cli import main

from .helpers import ROOT, RTX, lenet_copy, write_matrix

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a Ray cluster takes 10-20 s to start on 2 shared cores

TARGETS = [{**RTX, "name": "ampere", "resource": "ampere_box", "compute_capabilities": ["sm86"]},
           {**RTX, "name": "ada", "resource": "ada_box", "compute_capabilities": ["sm89"]}]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, resources={"ampere_box": 1, "ada_box": 1}, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def build(matrix, cache, capsys, *extra):
    code = main(["matrix", "build", str(matrix), "--cache", str(cache), "--ray", "auto", "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_a_matrix_on_two_targets(cluster, tmp_path, capsys):
    lenet = lenet_copy(tmp_path / "models")
    matrix = write_matrix(tmp_path / "fleet.yaml", [{"spec": str(lenet)}], TARGETS, ["float32", "float16"], ["1,1,4"])
    code, report = build(matrix, tmp_path / "cache", capsys, "--timeout", "300")
    assert code == 0 and (report["built"], report["failed"]) == (4, 0), report
    for target, capability in (("ampere", "sm86"), ("ada", "sm89")):
        for precision in ("float32", "float16"):
            path = tmp_path / "engines" / target / "lenet" / f"{precision}_b1-1-4.plan.json"
            manifest = json.loads(path.read_text())
            assert manifest["targets"] == [capability] and manifest["precision"] == precision
            assert manifest["matrix"]["target"]["resource"] == f"{target}_box"
    code, again = build(matrix, tmp_path / "cache", capsys)
    assert (again["built"], again["cached"]) == (0, 4)


def test_plans_through_a_shared_folder(cluster, tmp_path, capsys):
    lenet = lenet_copy(tmp_path / "models")
    matrix = write_matrix(tmp_path / "fleet.yaml", [{"spec": str(lenet)}], TARGETS, ["float16"], ["1,2,4"])
    (tmp_path / "shared").mkdir()
    code, report = build(matrix, tmp_path / "cache", capsys, "--shared", str(tmp_path / "shared"))
    assert code == 0 and report["built"] == 2, report
    assert list((tmp_path / "shared").iterdir()) == []  # taken into the cache
    for entry in report["entries"]:
        path = tmp_path / "engines" / (entry["entry"] + ".plan")
        manifest = json.loads(path.with_suffix(".plan.json").read_text())
        assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest["plan"]["sha256"]


def worker_running(marker: str):
    """The pid of a Ray worker process whose title names ``marker`` (Ray titles a busy worker
    `ray::<task name>`), else None."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as stream:
                title = stream.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::") and marker in title:
            return int(pid)
    return None


def with_first_build_killed(run):
    """``run()``'s result while a thread SIGKILLs the first Ray worker seen building (within 120 s), and the
    pids it killed."""
    killed = []

    def kill_first_build():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            pid = worker_running("netdsl build")
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_first_build)
    killer.start()
    try:
        return run(), killed
    finally:
        killer.join()


def test_a_worker_killed_during_a_build_is_retried(cluster, tmp_path):
    models = [{"name": "mnv3", "spec": str(ROOT / "specs/zoo/mobilenet_v3_small.yaml"), "random_weights": 0}]
    matrix = write_matrix(tmp_path / "fleet.yaml", models, TARGETS[:1], ["float32"], ["1,1,4"])
    # the Python API: Ray prints the worker's death on standard output, at a time of its own
    report, killed = with_first_build_killed(
        lambda: fleet.build(str(matrix), str(tmp_path / "cache"), ray="auto", timeout=300))
    assert killed, "no build task was seen running"
    assert report.counts == {"built": 1, "cached": 0, "failed": 0}, report
    assert (tmp_path / "engines" / "ampere" / "mnv3" / "float32_b1-1-4.plan").stat().st_size > 0


def test_a_worker_killed_with_no_retries_left_fails_the_entry(cluster, tmp_path):
    """The control: with --retries 0 the same kill fails the entry, so the test above shows a retry."""
    models = [{"name": "mnv3", "spec": str(ROOT / "specs/zoo/mobilenet_v3_small.yaml"), "random_weights": 1}]
    matrix = write_matrix(tmp_path / "fleet.yaml", models, TARGETS[:1], ["float32"], ["1,1,4"])
    report, killed = with_first_build_killed(
        lambda: fleet.build(str(matrix), str(tmp_path / "cache"), ray="auto", timeout=300, retries=0))
    assert killed and report.counts["failed"] == 1, report
    assert report.failures[0]["error"].startswith("ampere/mnv3/float32_b1-1-4: ")


def test_a_target_no_node_has_times_out_with_a_clear_error(cluster, tmp_path, capsys):
    lenet = lenet_copy(tmp_path / "models")
    targets = [TARGETS[0], {**RTX, "name": "orin", "resource": "jetson_orin"}]
    matrix = write_matrix(tmp_path / "fleet.yaml", [{"spec": str(lenet)}], targets, ["float16"], ["1,1,4"])
    started = time.monotonic()
    code = main(["matrix", "build", str(matrix), "--cache", str(tmp_path / "cache"), "--ray", "auto",
                 "--timeout", "8"])
    captured = capsys.readouterr()
    assert code == 1 and time.monotonic() - started < 120
    assert ("netdsl: error: orin/lenet/float16_b1-1-4: not done after 8 s (--timeout); no node of the Ray cluster has "
            "resource `jetson_orin` that target `orin` needs") in captured.err
    assert "1 built, 0 cached, 1 failed" in captured.out
    assert (tmp_path / "engines" / "ampere" / "lenet" / "float16_b1-1-4.plan").exists()


@pytest.mark.parametrize("shards", [1, 2, 3])
def test_sharded_calibration_writes_the_single_process_file(cluster, tmp_path, capsys, shards):
    spec, data = str(ROOT / "specs/quantized/lenet_int8.yaml"), str(ROOT / "weights/lenet_heldout.npz")
    common = ["calibrate", spec, "--data", data, "--limit", "80", "--batch", "16"]
    single = tmp_path / "single.scales"
    if shards == 1:  # the single-process file once, kept for the other parametrizations
        assert main([*common, "-o", str(single)]) == 0
        single.rename(SINGLE)
    sharded = tmp_path / "sharded.scales"
    assert main([*common, "--ray", "auto", "--shards", str(shards), "-o", str(sharded)]) == 0
    capsys.readouterr()
    assert sharded.read_bytes() == SINGLE.read_bytes()
    assert "80 samples" in sharded.read_text()


@pytest.fixture(scope="module", autouse=True)
def single_file(tmp_path_factory):
    global SINGLE
    SINGLE = tmp_path_factory.mktemp("single") / "single.scales"
