"""Where the matrix's builds run: a pool of processes on this machine (:func:`run_local`), or a Ray
cluster (:func:`run_ray`), each build a Ray task placed on a node of its target. Both yield an
:class:`Outcome` per job as it finishes; a failure is an outcome too, never an exception, so the other
entries go on.

Ray is imported only here, and only by :func:`run_ray` (`pip install 'netdsl[ray]'`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from ..diagnostics import UsageError
from .jobs import Job, build_job

RAY_HINT = "Ray is not installed: `pip install 'netdsl[ray]'` (Ray 2.60) on this machine and on every node"
DEFAULT_RETRIES = 3


@dataclass
class Outcome:
    job: Job
    plan: bytes | None = None
    manifest: dict | None = None
    error: str | None = None
    seconds: float = 0.0


def run_local(jobs: list[Job], workers: int = 1):
    """Build on this machine, ``workers`` processes at a time (spawned: each loads TensorRT itself)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if not jobs:
        return
    if workers < 1:
        raise UsageError(f"--local takes a number of worker processes >= 1, not {workers}")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        started = time.perf_counter()
        futures = {pool.submit(build_job, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                plan, manifest = future.result()
            except Exception as error:  # noqa: BLE001 - reported per entry; the others go on
                yield Outcome(job, error=_message(job, error), seconds=time.perf_counter() - started)
            else:
                yield Outcome(job, plan, manifest, seconds=time.perf_counter() - started)


def _message(job: Job, error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if text.startswith(job.name) else f"{job.name}: {text}"


def import_ray():
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_HINT) from None
    return ray


def connect(address: str):
    """A context manager giving Ray, connected: to the session this process already started (``ray.init``
    in a script), else to the cluster at ``address`` (`auto`: the one `ray start` joined this machine
    to), a connection then closed at the end."""
    ray = import_ray()
    if ray.is_initialized():
        return contextlib.nullcontext(ray)
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        raise UsageError(f"--ray {address}: cannot connect to a Ray cluster ({error}); start one with "
                         "`ray start --head` (see docs/fleet.md)") from None

    @contextlib.contextmanager
    def closing():
        try:
            yield ray
        finally:
            ray.shutdown()  # also stops Ray's thread that prints cluster events on standard output

    return closing()


def task_options(target: dict, retries: int) -> dict:
    """The Ray options of a build for ``target``: its GPUs, its accelerator type or custom resource, and
    retries when a worker or node is lost (a build that fails for a reason of its own is not retried)."""
    options = {"num_gpus": target.get("num_gpus", 1), "max_retries": retries, "retry_exceptions": False}
    if target.get("accelerator_type"):
        options["accelerator_type"] = target["accelerator_type"]
    if target.get("resource"):
        options["resources"] = {target["resource"]: 1}  # a node declaring `NAME: 2` runs two at once
    return options


def _ray_build(job: Job, shared: str | None):
    """One build on a Ray worker: (plan, manifest) through the object store, or, with ``shared``, the
    plan and its manifest written there (a folder the driver sees too) and (None, manifest) returned."""
    plan, manifest = build_job(job)
    if shared is None:
        return plan, manifest
    import json

    from ..files import write_together

    path = shared_path(shared, job)
    write_together({path: plan, path + ".json": (json.dumps(manifest, indent=2) + "\n").encode()})
    return None, manifest


def shared_path(shared: str, job: Job) -> str:
    import os

    return os.path.join(shared, f"{job.key}.plan")


def read_shared(shared: str, job: Job, manifest: dict) -> bytes:
    """The plan a worker wrote to ``shared``, checked against its manifest's SHA-256, then removed
    (with its manifest) from there: the cache holds it from now on."""
    import hashlib
    import os

    path = shared_path(shared, job)
    try:
        with open(path, "rb") as stream:
            plan = stream.read()
    except OSError as error:
        raise OSError(f"{job.name}: the worker wrote its plan to {path}, which this machine cannot read ({error}): "
                      "--shared must be the same folder on every node") from None
    if hashlib.sha256(plan).hexdigest() != manifest["plan"]["sha256"]:
        raise OSError(f"{job.name}: {path} is not the plan the worker built (its SHA-256 differs from the manifest's)")
    for name in (path, path + ".json"):
        with contextlib.suppress(OSError):
            os.remove(name)
    return plan


def run_ray(jobs: list[Job], address: str = "auto", timeout: float | None = None, retries: int = DEFAULT_RETRIES,
            shared: str | None = None):
    """Each job a Ray task on a node of its target; plans and manifests come back through Ray's object
    store, or through ``shared``, a folder every node and this machine see at that path. A task still not
    done ``timeout`` seconds after it was submitted is cancelled and reported, with what the cluster
    offers when no node has the target's accelerator type or resource."""
    import sys

    if not jobs:  # everything cached: no cluster needed
        return
    if shared is not None:
        import os

        shared = os.path.abspath(shared)
        if not os.path.isdir(shared):
            raise UsageError(f"--shared {shared}: no such folder")
    # Ray's driver prints what its cluster reports (a worker that died...) on standard output, which is
    # the report's (`--format json`): standard error instead, while connected.
    with contextlib.redirect_stdout(sys.stderr), connect(address) as ray:
        yield from _run_ray(ray, jobs, timeout, retries, shared)


def _run_ray(ray, jobs, timeout, retries, shared):
    remote = ray.remote(_ray_build)
    started = time.perf_counter()
    pending = {}
    for job in jobs:
        options = task_options(job.target, retries)
        pending[remote.options(name=f"netdsl build {job.name}", **options).remote(job, shared)] = (
            job, time.perf_counter())
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        for ref in done:
            job, _ = pending.pop(ref)
            try:
                plan, manifest = ray.get(ref)
            except Exception as error:  # noqa: BLE001 - a failed task is one failed entry
                yield Outcome(job, error=_ray_message(job, error), seconds=time.perf_counter() - started)
                continue
            if shared is not None:
                try:
                    plan = read_shared(shared, job, manifest)
                except OSError as error:
                    yield Outcome(job, error=str(error), seconds=time.perf_counter() - started)
                    continue
            yield Outcome(job, plan, manifest, seconds=time.perf_counter() - started)
        if timeout is None:
            continue
        now = time.perf_counter()
        for ref, (job, submitted) in list(pending.items()):
            if now - submitted > timeout:
                pending.pop(ref)
                ray.cancel(ref, force=True)
                yield Outcome(job, error=f"{job.name}: not done after {timeout:g} s (--timeout); "
                              f"{placement_problem(ray, job.target)}", seconds=now - started)


def _ray_message(job: Job, error: BaseException) -> str:
    cause = getattr(error, "cause", None)  # RayTaskError: the exception the task raised
    if cause is not None and str(cause):
        return _message(job, cause)
    lines = [line for line in str(error).splitlines() if line.strip()]
    return f"{job.name}: {lines[-1] if lines else type(error).__name__}"


def placement_problem(ray, target: dict) -> str:
    """Why a task for ``target`` may not have run, from the cluster's resources."""
    wanted = (f"accelerator_type:{target['accelerator_type']}" if target.get("accelerator_type")
              else target.get("resource"))
    offered = ray.cluster_resources()
    if wanted and wanted not in offered:
        names = ", ".join(sorted(k for k in offered if not k.startswith("node:") and k != "memory"
                                 and k != "object_store_memory"))
        return (f"no node of the Ray cluster has {_selector(target)} that target `{target['name']}` needs "
                f"(the cluster offers: {names}); start a node for it with `ray start --address ... --resources "
                f"'{{\"{target.get('resource') or 'NAME'}\": 1}}'` or fix the target")
    if target.get("num_gpus", 1) and offered.get("GPU", 0) < target.get("num_gpus", 1):
        return (f"target `{target['name']}` takes {target.get('num_gpus', 1)} GPU per build and the cluster has "
                f"{offered.get('GPU', 0):g}")
    return f"its node (target `{target['name']}`, {_selector(target)}) is busy or too slow for the timeout"


def _selector(target: dict) -> str:
    if target.get("accelerator_type"):
        return f"accelerator type `{target['accelerator_type']}`"
    if target.get("resource"):
        return f"resource `{target['resource']}`"
    return "no particular resource"
