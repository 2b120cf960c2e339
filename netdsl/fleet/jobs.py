"""From a matrix to jobs, and one job to an engine.

:func:`plan_jobs` runs on the driver: it loads every model's spec once (expanded and checked), hashes
its weights, and gives each entry its cache key and status (cached, to build, or corrupted: to build
again). :func:`build_job` runs wherever the executor sends it (a process of this machine, a Ray worker):
it takes only plain data (paths, values), builds, and returns the plan's bytes with its manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..diagnostics import NetdslError, UsageError
from .cache import Cache, Corrupted, canonical_spec, entry_key
from .matrix import Matrix, Target, entries


@dataclass
class Job:
    name: str  # Entry.name: target/model/precision_batch
    key: str
    spec: str  # absolute path
    params: dict
    weights: str | None
    random_seed: int | None
    options: dict  # build keywords: precision, batch, target
    target: dict  # Target.describe() plus num_gpus, accelerator_type, resource
    tensorrt_version: str
    status: str = "build"  # "cached" | "build" | "corrupted"
    problem: str = ""  # why a corrupted entry is rebuilt
    model: str = ""


class Failed(NetdslError):
    """One job failed (the matrix goes on): its message names the entry."""


def installed_version(flavour: str) -> str | None:
    """The version of the flavour's TensorRT installed here, None when it is not."""
    try:
        module = __import__(flavour)
    except Exception:  # absent, or a broken install: the target must then name its version
        return None
    return getattr(module, "__version__", None)


def tensorrt_version(target: Target, found: dict) -> str:
    if target.tensorrt_version:
        return target.tensorrt_version
    if target.flavour not in found:
        found[target.flavour] = installed_version(target.flavour)
    if found[target.flavour] is None:
        raise UsageError(f"target `{target.name}` ({target.pos}): {target.flavour} is not installed here, so the cache "
                         "key cannot name its version; give the target `tensorrt_version:` (the version its machines "
                         "build with)")
    return found[target.flavour]


def model_parts(model, profiles=()) -> tuple[dict, dict, str | None]:
    """(canonical spec, weights part of the key, which shape list it takes: "batches", "profiles" or
    None) of one model; raises SpecError for a bad spec."""
    from ..build import sha256_file
    from ..spec import load as load_spec
    from ..symbolic import has_named_dims

    checked = load_spec(model.spec, params=model.params)
    weights_path = checked.weights_file(model.weights)
    if model.random_seed is not None:
        weights = {"random_seed": model.random_seed}
    elif weights_path is None:
        raise UsageError(f"model `{model.name}` ({model.pos}): {model.spec} names no weights file; give `weights:` "
                         "or `random_weights: SEED`")
    elif not os.path.isfile(weights_path):
        raise UsageError(f"model `{model.name}` ({model.pos}): no weights file {weights_path}")
    else:
        weights = {"sha256": sha256_file(weights_path)}
    quantization = checked.graph.quantization
    if quantization is not None and quantization.scales and os.path.isfile(quantization.scales):
        weights["scales_sha256"] = sha256_file(quantization.scales)
    inputs = checked.graph.inputs
    shapes = ("profiles" if any(has_named_dims(i.shape) for i in inputs) else
              "batches" if any(i.batch for i in inputs) else None)
    if shapes == "profiles":
        dims = set(checked.graph.profiles[0].ranges)
        for matrix_profile in profiles:
            unknown = sorted(set(matrix_profile) - dims)
            if unknown:
                raise UsageError(f"model `{model.name}` ({model.pos}): the matrix's profile names "
                                 f"{', '.join(unknown)}, which {model.spec} does not have (its dimensions: "
                                 f"{', '.join(sorted(dims))})")
    return canonical_spec(checked), weights, shapes


def plan_jobs(matrix: Matrix, cache: Cache | None) -> list[Job]:
    """Every entry as a job with its key; with a cache, each entry's status (a corrupted entry is
    reported in ``problem`` and rebuilt)."""
    profiles = [p for p in matrix.profiles if p]
    parts = {model.name: model_parts(model, profiles) for model in matrix.models}
    versions: dict = {}
    jobs = []
    for entry in entries(matrix, lambda model: parts[model.name][2]):
        spec, weights, _ = parts[entry.model.name]
        version = tensorrt_version(entry.target, versions)
        options = {"precision": entry.precision, "batch": entry.batch, "profile": entry.profile,
                   "targets": list(entry.target.compute_capabilities) or None, **entry.target.compatibility}
        target = entry.target.describe()
        key = entry_key(spec, weights, options, {k: v for k, v in target.items() if k != "tensorrt_version"},
                        {"flavour": entry.target.flavour, "version": version})
        job = Job(entry.name, key, entry.model.spec, dict(entry.model.params), entry.model.weights,
                  entry.model.random_seed, options, {**target, "num_gpus": entry.target.num_gpus}, version,
                  model=entry.model.name)
        if cache is not None:
            try:
                job.status = "cached" if cache.load(key) is not None else "build"
            except Corrupted as error:
                job.status, job.problem = "corrupted", str(error)
        jobs.append(job)
    return jobs


def build_job(job: Job) -> tuple[bytes, dict]:
    """Build one entry: (the plan's bytes, its manifest with a `matrix` record: entry, key, target).
    Raises Failed naming the entry for anything that goes wrong, with the reason."""
    try:
        return _build(job)
    except Failed:
        raise
    except NetdslError as error:
        raise Failed(f"{job.name}: {error}") from None


def _build(job: Job) -> tuple[bytes, dict]:
    from .. import build
    from ..trt import backend

    info = backend()
    flavour = job.target["flavour"]
    if info.flavour != flavour or info.version != job.tensorrt_version:
        raise Failed(f"{job.name}: target `{job.target['name']}` builds with {flavour} {job.tensorrt_version}, but "
                     f"this worker has {info.flavour} {info.version}: install that version there, or give the target "
                     "the `tensorrt_version:` its machines have")
    checked = build.load_spec(job.spec, params=job.params)
    overrides = {k: v for k, v in job.options.items() if v is not None and k != "profile"}
    if job.options.get("profile"):
        overrides["profiles"] = [profile_of(checked, job.options["profile"])]
    options = build.options_for(checked, **overrides)
    if job.random_seed is not None:
        from ..weights.synthetic import KIND, random_weights

        bound, weights_path = random_weights(checked, job.random_seed), None
    else:
        weights_path = checked.weights_file(job.weights)
        bound = build.bind_weights(checked, weights_path)
    plan = build.build_plan(checked, bound, options, weights_path=weights_path)
    if job.random_seed is not None:
        plan.random_weights = {"seed": job.random_seed, "values": KIND,
                               "warning": "random weights: this engine checks the build and times it; it computes "
                               "nothing meaningful"}
    record = build.manifest(plan, os.path.basename(job.name) + ".plan")
    from .output import matrix_record

    record["matrix"] = matrix_record(job)
    return bytes(plan.data), record


def profile_of(checked, ranges: dict):
    """One optimization profile: the matrix's ranges over the spec's first profile."""
    from ..symbolic import Profile

    base = checked.graph.profiles[0]
    return Profile(0, {**base.ranges, **{name: tuple(r) for name, r in ranges.items()}}, base.steps)
