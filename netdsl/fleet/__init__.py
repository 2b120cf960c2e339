"""Fleets: a build matrix (:mod:`.matrix`), an engine cache keyed by content (:mod:`.cache`), executors on
this machine or a Ray cluster (:mod:`.executors`), the output (:mod:`.output`), and calibration sharded
over Ray (:mod:`.calibrate`).

    from netdsl import fleet
    jobs = fleet.plan("fleet.yaml")                         # what would be built, what is cached
    report = fleet.build("fleet.yaml", ray="auto")          # build the rest, copy the output
    report.counts                                           # {"built": 6, "cached": 2, "failed": 0}
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .cache import Cache, default_cache_dir
from .jobs import Job, plan_jobs
from .matrix import read_matrix

__all__ = ["plan", "build", "Report", "default_cache_dir"]


def plan(matrix_path: str, cache_dir: str | None = None, use_cache: bool = True) -> list[Job]:
    """Every entry of the matrix with its key and status (cached, build, corrupted)."""
    matrix = read_matrix(matrix_path)
    return plan_jobs(matrix, Cache(cache_dir or default_cache_dir()) if use_cache else None)


@dataclass
class Report:
    output: str
    total: int = 0  # entries in the matrix
    # {"entry", "key", "status", "elapsed" (seconds from the first build to this entry's end), "error"?, "problem"?}
    entries: list = field(default_factory=list)

    @property
    def counts(self) -> dict:
        counts = {"built": 0, "cached": 0, "failed": 0}
        for entry in self.entries:
            counts[entry["status"]] += 1
        return counts

    @property
    def failures(self) -> list:
        return [entry for entry in self.entries if entry["status"] == "failed"]

    def to_json(self) -> dict:
        return {"output": self.output, **self.counts, "entries": self.entries}


def build(matrix_path: str, cache_dir: str | None = None, local: int = 1, ray: str | None = None,
          timeout: float | None = None, retries: int | None = None, progress=None, output: str | None = None,
          shared: str | None = None) -> Report:
    """Build every entry not in the cache (on ``local`` processes here, or on the Ray cluster at ``ray``),
    store each in the cache, and write every engine that is there (built or cached) to the matrix's
    output (or ``output``). With ``ray``, plans come back through Ray's object store, or through
    ``shared``, a folder every node sees at the same path. ``progress(report, outcome)`` is called after
    each entry. Entries that fail are in the report with their messages; the others are kept. Entries
    of one key (the same engine under two names) are built once."""
    from .executors import DEFAULT_RETRIES, run_local, run_ray
    from .output import WRITERS, Built

    matrix = read_matrix(matrix_path)
    cache = Cache(cache_dir or default_cache_dir())
    jobs = plan_jobs(matrix, cache)
    report = Report(output or matrix.output, len(jobs))
    built: list[Built] = []
    for job in jobs:
        if job.status == "cached":
            _, record = cache.load(job.key)
            built.append(Built(job, cache.plan_path(job.key), record, "cached"))
            report.entries.append({"entry": job.name, "key": job.key, "status": "cached", "elapsed": 0.0})
            if progress:
                progress(report, None)
    same_key: dict = {}
    for job in jobs:
        if job.status != "cached":
            same_key.setdefault(job.key, []).append(job)
    start = time.perf_counter()
    firsts = [group[0] for group in same_key.values()]
    outcomes = (run_ray(firsts, ray, timeout, DEFAULT_RETRIES if retries is None else retries, shared) if ray
                else run_local(firsts, local))
    for outcome in outcomes:
        if outcome.error is None:
            outcome.manifest["plan"]["path"] = "engine.plan"
            cache.store(outcome.job.key, outcome.plan, outcome.manifest)
        for job in same_key[outcome.job.key]:
            entry = {"entry": job.name, "key": job.key, "elapsed": round(time.perf_counter() - start, 3)}
            if job.problem:
                entry["problem"] = f"corrupted cache entry rebuilt: {job.problem}"
            if outcome.error is not None:
                entry.update(status="failed", error=outcome.error.replace(outcome.job.name, job.name, 1))
            else:
                built.append(Built(job, cache.plan_path(job.key), outcome.manifest, "built"))
                entry["status"] = "built" if job is outcome.job else "cached"
            report.entries.append(entry)
            if progress:
                progress(report, outcome)
    order = {job.name: index for index, job in enumerate(jobs)}
    built.sort(key=lambda item: order[item.job.name])
    report.entries.sort(key=lambda item: order[item["entry"]])
    WRITERS[matrix.output_format](built, report.output)
    return report
