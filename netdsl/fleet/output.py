"""Where a matrix's engines go. One writer per output format, each a function ``writer(built, folder)``
given every engine of the matrix that is there (built now or copied from the cache: a
:class:`Built` with the job, the plan (read from the cache when asked for) and its manifest) and the
output folder.

``folder`` writes ``<folder>/<target>/<model>/<precision>_<batch>.plan`` with its manifest
(``.plan.json``) beside it, and ``<folder>/matrix.json``, the index: every entry with its cache key and
files. ``triton`` writes one Triton model repository per target, ``<folder>/<target>/``, each engine a
model ``<model>_<precision>_<batch>`` (:func:`write_triton`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .._version import __version__


@dataclass
class Built:
    job: object  # netdsl.fleet.jobs.Job
    plan_path: str  # in the cache: plans are read one at a time, when written (a matrix may hold gigabytes)
    manifest: dict
    source: str  # "built" or "cached"

    @property
    def plan(self) -> bytes:
        with open(self.plan_path, "rb") as stream:
            return stream.read()


def matrix_record(job) -> dict:
    """What a manifest records to find its engine again: the entry, the cache key, the model and the
    target (its name, how its machines are chosen, its flavour)."""
    return {"entry": job.name, "key": job.key, "model": job.model, "target": job.target,
            "batch": list(job.options["batch"]) if job.options["batch"] else None,
            "profile": {name: list(r) for name, r in job.options["profile"].items()} if job.options.get("profile")
            else None}


def write_folder(built: list[Built], folder: str) -> list[str]:
    """Each plan and its manifest, then the index; returns the plans' paths. Each pair is written
    together and atomically (:func:`netdsl.files.write_together`)."""
    from ..files import write_atomic, write_together

    written, index = [], []
    for item in built:
        path = os.path.join(folder, *item.job.name.split("/")) + ".plan"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # a cached engine may have been built for another entry of the same key (a model under two names)
        record = {**item.manifest, "plan": {**item.manifest["plan"], "path": os.path.basename(path)},
                  "matrix": matrix_record(item.job)}
        write_together({path: item.plan, path + ".json": (json.dumps(record, indent=2) + "\n").encode()})
        written.append(path)
        index.append({"entry": item.job.name, "key": item.job.key, "plan": os.path.relpath(path, folder),
                      "manifest": os.path.relpath(path, folder) + ".json", "sha256": record["plan"]["sha256"]})
    os.makedirs(folder, exist_ok=True)
    write_atomic(os.path.join(folder, "matrix.json"),
                 (json.dumps({"netdsl": __version__, "engines": index}, indent=2) + "\n").encode())
    return written


def triton_name(job) -> str:
    """The Triton model of a matrix entry ``target/model/precision_batch``: ``model_precision_batch`` (a
    repository per target, so the target is the folder, not part of the name)."""
    return "_".join(job.name.split("/")[1:])


def write_triton(built: list[Built], folder: str) -> list[str]:
    """A Triton model repository per target (``<folder>/<target>``): each engine a model with its plan,
    manifest, config.pbtxt and labels, as `netdsl deploy triton` writes them (netdsl.deploy.triton). An
    engine already deployed as the newest version of its model (same plan SHA-256) is left as it is; a new
    engine becomes the next version. Every model of the matrix is staged first and placed at the end, so a
    failure leaves the repositories as they were."""
    from ..deploy.triton import MANIFEST, TritonOptions, commit, discard, stage, versions_of
    from ..files import write_together

    options = TritonOptions()
    staged, written = [], []
    try:
        for item in built:
            target = item.job.name.split("/")[0]
            repo, name = os.path.join(folder, target), triton_name(item.job)
            existing = versions_of(os.path.join(repo, name))
            if existing and _deployed_sha256(os.path.join(repo, name, str(existing[-1]), MANIFEST)) == \
                    item.manifest["plan"]["sha256"]:
                written.append(os.path.join(repo, name, str(existing[-1]), "model.plan"))
                continue
            record = {**item.manifest, "plan": {**item.manifest["plan"], "path": "model.plan"},
                      "matrix": matrix_record(item.job)}

            def write_plan(path: str, item=item, record=record) -> None:
                write_together({path: item.plan, path + ".json": (json.dumps(record, indent=2) + "\n").encode()})

            deployed = stage(repo, name, write_plan, options)
            staged.append(deployed)
            written.append(os.path.join(repo, name, str(deployed.version), "model.plan"))
        for deployed in staged:
            commit(deployed)
    finally:
        for deployed in staged:
            discard(deployed)
    return written


def _deployed_sha256(manifest_path: str) -> str | None:
    try:
        with open(manifest_path, encoding="utf-8") as stream:
            return json.load(stream)["plan"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


# The matrix file's `output: {format: ...}` -> writer(built, folder). The matrix file accepts every format
# named here.
WRITERS = {"folder": write_folder, "triton": write_triton}
