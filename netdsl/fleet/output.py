"""Where a matrix's engines go. One writer per output format, each a function ``writer(built, folder)``
given every engine of the matrix that is there (built now or copied from the cache: a
:class:`Built` with the job, the plan (read from the cache when asked for) and its manifest) and the
output folder.

``folder`` writes ``<folder>/<target>/<model>/<precision>_<batch>.plan`` with its manifest
(``.plan.json``) beside it, and ``<folder>/matrix.json``, the index: every entry with its cache key and
files. Another format (a Triton model repository) is one more function in :data:`WRITERS`.
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


# The matrix file's `output: {format: ...}` -> writer(built, folder). The matrix file accepts every format
# named here; a Triton model repository is one more entry.
WRITERS = {"folder": write_folder}
