"""Refit: new weights into a built engine, no rebuild.

The weights handed to TensorRT's Refitter are prepared by the very lowering that built the engine: the
spec is lowered again (a network definition is cheap and needs no GPU) with the new weights bound, and
the arrays it gives TensorRT are taken by name. Folded batch norm, precision conversion and every other
derivation are therefore the build's own, bit for bit. Before anything touches the engine,
:func:`check` compares those arrays with the manifest's record of every refittable weight (name, dtype,
shape) and reports every difference at once; `netdsl refit --check` runs only that, on any machine.

The TensorRT calls themselves (:func:`refit_plan`) need a GPU that TensorRT supports.

    from netdsl import refit
    prepared = refit.prepare("lenet.plan", "weights/new.safetensors")    # or a {name: array} mapping
    problems = refit.check(prepared)                                     # [] when the weights fit
    refit.refit("lenet.plan", "weights/new.safetensors", output="lenet-v2.plan")

The check needs no refittable engine either: ``prepare(plan, weights, check_only=True)`` takes the
manifest of any build (it records every weight's name, dtype and shape, refittable or not), and
``prepare_spec(spec, weights, precision)`` the spec alone (the weights a refittable build of it would
take). :func:`speaks_for` says which engines a verdict covers.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass, field

from .diagnostics import Diagnostics, NetdslError, SpecError, UsageError
from .runtime import CannotRun, read_manifest


class RefitError(NetdslError):
    """The new weights do not fit the engine; every problem is listed."""

    def __init__(self, problems: list[str]):
        super().__init__("the new weights do not fit the engine:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass
class Prepared:
    plan_path: str
    manifest: dict
    plan: bytes
    arrays: dict  # TensorRT weight name -> the array to give the Refitter
    recorded: dict  # TensorRT weight name -> (dtype, shape) as this lowering records it
    weights_path: str | None
    spec_changed: bool
    spec_path: str = ""
    precision: str = "float32"
    warnings: list = field(default_factory=list)  # binding's warnings (unused weights, a `module.` prefix read)
    profiles: list = field(default_factory=list)  # the spec's optimization profiles (symbolic.Profile) now


def spec_path_of(manifest: dict, plan_path: str, spec: str | None) -> str:
    if spec:
        return spec
    record = manifest["spec"]
    for candidate in (record.get("absolute_path"), record.get("path"),
                      os.path.join(os.path.dirname(plan_path), os.path.basename(record.get("path", "")))):
        if candidate and os.path.isfile(candidate):
            return candidate
    raise UsageError(f"cannot find the spec {plan_path} was built from ({record.get('path')}); give it with --spec")


def tensors_from(weights) -> tuple[dict, str]:
    """A weight file path, or a mapping of names to arrays (services that receive weights in memory)."""
    if isinstance(weights, (str, os.PathLike)):
        from .weights import read_weights

        return read_weights(str(weights)), str(weights)
    from .weights import Tensor

    import numpy as np

    tensors = {}
    for name, value in weights.items():
        array = np.asarray(value)
        tensors[name] = Tensor(name, array.dtype.name, tuple(array.shape), array)
    return tensors, "(in memory)"


def prepare(plan_path: str, weights, spec: str | None = None, strict: bool = False,
            check_only: bool = False, params: dict | None = None) -> Prepared:
    """Bind ``weights`` (a file or a mapping) to the engine's spec and lower it the way the build did;
    raises SpecError for weights that do not bind, UsageError for a plan that cannot be refit (with
    ``check_only``, a plan built without refit is accepted: its manifest records the same weights). The
    spec's `params:` take the values the manifest records, else ``params``."""
    from .build import sha256_file
    from .spec.buildopts import check_option

    manifest, plan = read_manifest(plan_path)
    if manifest.get("refit", "none") == "none" and not check_only:
        raise UsageError(f"{plan_path} was built without refit support (refit: none); build it again with "
                         "--refit refit (or refit-identical, or weightless); `--check` works with it as it is")
    if check_only and "weights_in_engine" not in manifest:
        raise UsageError(f"{plan_path}: its manifest records no weights (an older netdsl wrote it); check against "
                         "the spec instead: netdsl refit SPEC --weights NEW --check")
    spec_path = spec_path_of(manifest, plan_path, spec)
    try:
        precision = check_option("precision", manifest.get("precision"))
    except ValueError as error:
        raise UsageError(f"{plan_path}: its manifest is damaged ({error})") from None
    recorded = manifest["spec"].get("params")
    prepared = prepare_spec(spec_path, weights, precision, strict, params if recorded is None else recorded)
    prepared.plan_path, prepared.manifest, prepared.plan = plan_path, manifest, plan
    prepared.spec_changed = manifest["spec"]["sha256"] != sha256_file(spec_path)
    return prepared


def prepare_spec(spec_path: str, weights, precision: str | None = None, strict: bool = False,
                 params: dict | None = None) -> Prepared:
    """Bind ``weights`` to a spec and lower it as a build at ``precision`` (default: the spec's) would:
    the names, dtypes and shapes a refittable engine of it has, with no engine and no GPU. ``params``:
    values for the spec's `params:` (those the engine was built with, or the command line's --set)."""
    from .build import options_for
    from .spec import load
    from .trt import backend, make_logger
    from .trt.lowering import lower
    from .weights.bind import bind

    checked = load(spec_path, params=params)
    precision = options_for(checked, precision=precision).precision
    tensors, source = tensors_from(weights)
    diagnostics = Diagnostics()
    bound = bind(checked, tensors, source, strict=strict, diagnostics=diagnostics)
    if diagnostics.has_errors:
        raise SpecError(diagnostics)
    trt = backend().trt
    _, ctx = lower(checked, bound, trt.Builder(make_logger(trt)), precision)
    recorded = {name: (dtype, tuple(shape)) for name, (dtype, shape, _) in ctx.names.items()}
    return Prepared("", None, b"", dict(ctx.arrays), recorded,
                    source if isinstance(weights, (str, os.PathLike)) else None, False, spec_path, precision,
                    list(diagnostics), checked.graph.profiles)


def speaks_for(prepared: Prepared) -> str:
    """Which engines a passing check speaks for, in words: the check compares names, dtypes and shapes
    (and, for the identical modes, a digest); it never runs TensorRT's Refitter."""
    count = len(prepared.arrays)
    if prepared.manifest is None:
        return (f"engines built from {prepared.spec_path} at {prepared.precision} with --refit refit: these "
                f"{count} weights are the ones their Refitter takes, by name, dtype and shape (an engine built "
                "refit-identical or weightless takes back only the weights it was built with)")
    mode = prepared.manifest.get("refit", "none")
    if mode == "none":
        return (f"engines built like {prepared.plan_path} ({prepared.precision}) but with --refit refit: all {count} "
                f"weights match its manifest; {prepared.plan_path} itself was built without refit support and "
                "cannot take new weights")
    return f"{prepared.plan_path} (refit: {mode}, {prepared.precision}): all {count} refittable weights present with " \
           "the engine's dtypes and shapes"


def profile_changes(prepared: Prepared) -> list[str]:
    """How the spec's optimization profiles now differ from those the engine was built with (its
    manifest's), one sentence per changed range; none for a spec alone. Weights do not depend on the
    ranges, so new weights still fit: the engine keeps serving its own ranges, and only a build serves
    the new ones."""
    from .diff import compare_profiles
    from .symbolic import Profile

    if prepared.manifest is None:
        return []
    built = [Profile(index, {name: (r["min"], r["opt"], r["max"]) for name, r in ranges.items()})
             for index, ranges in enumerate(prepared.manifest.get("profiles", []))]
    # the manifest records the ranges (not multiple_of): compare those
    return compare_profiles(built, [Profile(p.index, p.ranges) for p in prepared.profiles])


def check(prepared: Prepared) -> list[str]:
    """Every difference between the prepared weights and the engine's refittable weights."""
    if prepared.manifest is None:
        return []  # a spec alone: binding and lowering succeeded, and there is no engine record to compare
    problems = []
    refittable = prepared.manifest.get("refit", "none") != "none"
    recorded = prepared.manifest.get("refittable_weights" if refittable else "weights_in_engine", [])
    wanted = {w["name"]: (w["dtype"], tuple(w["shape"])) for w in recorded}
    for name, (dtype, shape) in wanted.items():
        layer = name.rsplit(".", 1)[0]
        if name not in prepared.recorded:
            problems.append(f"the engine has weight `{name}`, which the spec no longer gives (layer `{layer}` was "
                            "removed, renamed or changed kind since the build)")
            continue
        got_dtype, got_shape = prepared.recorded[name]
        if got_shape != shape:
            problems.append(f"weight `{name}` is {list(got_shape)} now, the engine has {list(shape)} (layer `{layer}` "
                            "changed since the build)")
        if got_dtype != dtype:
            problems.append(f"weight `{name}` is {got_dtype} now, the engine has {dtype}")
    for name in prepared.recorded:
        if name not in wanted:
            problems.append(f"the spec now gives weight `{name}`, which the engine does not have (layer "
                            f"`{name.rsplit('.', 1)[0]}` was added or changed since the build)")
    if not problems and prepared.manifest["refit"] in ("refit-identical", "weightless"):
        from .build import weights_digest

        if weights_digest(prepared.arrays) != prepared.manifest.get("engine_weights_sha256"):
            problems.append(f"the engine was built `{prepared.manifest['refit']}`: TensorRT optimized it for the exact "
                            "weights it was built with, and these differ; give those weights back, or build with "
                            "--refit refit to change weights")
    return problems


def refit_plan(plan: bytes, arrays: dict, precision: str) -> bytes:
    """The TensorRT part: deserialize, set every named weight, refit, serialize. Needs a GPU that
    TensorRT runs on; raises NetdslError with TensorRT's words on failure."""
    from .trt import backend, make_logger

    trt = backend().trt
    errors: list[str] = []
    logger = make_logger(trt, errors)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise CannotRun("TensorRT could not load the plan here: " + "; ".join(errors[-3:]))
    refitter = trt.Refitter(engine, logger)
    for name, array in arrays.items():
        weights = (trt.Weights(trt.bfloat16, array.ctypes.data, array.size) if precision == "bfloat16"
                   else trt.Weights(array))
        if not refitter.set_named_weights(name, weights):
            raise NetdslError(f"TensorRT refused weight `{name}`: " + "; ".join(errors[-3:]))
    missing = refitter.get_missing_weights()
    if missing:
        raise NetdslError("TensorRT still misses weights: " + ", ".join(missing))
    if not refitter.refit_cuda_engine():
        raise NetdslError("TensorRT could not refit the engine: " + "; ".join(errors[-3:]))
    return bytes(memoryview(serialize_with_weights(trt, engine)))


def serialize_with_weights(trt, engine):
    """The engine's plan with its weights: a weight-stripped engine serializes without them unless
    SerializationFlag.EXCLUDE_WEIGHTS is cleared (TensorRT's documented way to save a filled stripped plan).
    Older TensorRTs without serialization configs serialize everything."""
    flag = getattr(getattr(trt, "SerializationFlag", None), "EXCLUDE_WEIGHTS", None)
    if flag is None or not hasattr(engine, "create_serialization_config"):
        return engine.serialize()
    config = engine.create_serialization_config()
    config.clear_flag(flag)
    return engine.serialize_with_config(config)


def refit(plan_path: str, weights, output: str | None = None, spec: str | None = None, strict: bool = False,
          params: dict | None = None) -> dict:
    """Refit and write the plan (in place, or to ``output``) with its updated manifest; returns the
    manifest. On any failure the original plan and manifest are untouched. ``params``: as for
    :func:`prepare`."""
    import hashlib

    from .build import manifest_path, sha256_file
    from .files import write_together
    from .runtime import cuda_runtime, require_gpu

    prepared = prepare(plan_path, weights, spec, strict, params=params)
    problems = check(prepared)
    if problems:
        raise RefitError(problems)
    require_gpu(cuda_runtime())
    data = refit_plan(prepared.plan, prepared.arrays, prepared.manifest["precision"])
    output = output or plan_path
    record = dict(prepared.manifest)
    record["weights"] = ({"path": prepared.weights_path, "sha256": sha256_file(prepared.weights_path)}
                         if prepared.weights_path else {"path": "(in memory)", "sha256": None})
    record["plan"] = {"path": os.path.basename(output), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    record["refitted"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record.pop("random_weights", None)  # real weights now
    write_together({output: data, manifest_path(output): (json.dumps(record, indent=2) + "\n").encode()})
    return record
