"""A Triton Inference Server model repository from netdsl engines:

    DIR/<name>/config.pbtxt            platform "tensorrt_plan", inputs and outputs, batching, instances
    DIR/<name>/labels.txt              class names, where known (label_filename on the class output)
    DIR/<name>/<version>/model.plan    the engine
    DIR/<name>/<version>/model.plan.json   its manifest, so `netdsl refit --check` works in the repository

Everything in the config comes from the manifest (:func:`model_config`). A model is staged in a hidden
folder inside DIR and renamed into place at the end: a failure leaves the repository as it was, and an
existing version is never replaced.

``max_batch_size`` follows Triton's rule for explicit-batch engines (:func:`batching`): N, with the
batch left out of every ``dims``, when the first dim of every input and output is one and the same
dynamic dim whose range starts at 1 in every optimization profile (Triton then forms batches of 1..N
itself); else 0, with every dim listed, the batch included (Triton passes tensors through as they are).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Callable

from ..diagnostics import UsageError
from . import DeployError, check_model_name, class_names, labels_text, output_classes
from .pbtxt import Enum, text

PLAN, MANIFEST, CONFIG, LABELS = "model.plan", "model.plan.json", "config.pbtxt", "labels.txt"
TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "bfloat16": "TYPE_BF16", "int8": "TYPE_INT8",
         "uint8": "TYPE_UINT8", "int32": "TYPE_INT32", "int64": "TYPE_INT64", "bool": "TYPE_BOOL"}
STAGING = ".netdsl-deploy-"  # hidden folders in DIR while a model is written
BATCH = "N"  # how a manifest's dims name a -1 batch (str(netdsl.ops.BATCH))


@dataclass
class TritonOptions:
    instances: int = 1  # instances per GPU (per profile, where the engine has several)
    gpus: tuple[int, ...] = ()  # () = every GPU Triton sees
    max_queue_delay_us: int = 0  # dynamic batching: how long a request may wait for others
    max_batch_size: int | None = None  # None: as batching() decides; 0 turns Triton's batching off
    version_policy: dict = field(default_factory=lambda: {"latest": {"num_versions": 1}})


@dataclass
class Batching:
    max_batch_size: int  # 0: Triton does not batch; the dims carry the batch
    preferred: list[int]  # dynamic_batching's preferred sizes
    reason: str  # why, in a sentence


def version_policy(text_value: str) -> dict:
    """--version-policy latest[:N] | all | specific:V,V."""
    kind, _, rest = text_value.partition(":")
    try:
        if kind == "latest":
            count = int(rest) if rest else 1
            if count > 0:
                return {"latest": {"num_versions": count}}
        elif kind == "all" and not rest:
            return {"all": {}}
        elif kind == "specific" and rest:
            versions = [int(v) for v in rest.split(",")]
            if all(v > 0 for v in versions):
                return {"specific": {"versions": versions}}
    except ValueError:
        pass
    raise UsageError(f"--version-policy {text_value}: expected latest, latest:N, all or specific:V,V,...")


def batch_ranges(manifest: dict) -> tuple[str | None, list[dict]]:
    """(the dim every input and output starts with, its {min, opt, max} per profile), or (None, [])."""
    leading = set()
    ranges = []
    for entry in manifest["inputs"]:
        if "batch" in entry:  # a -1 batch with `batch:` (the same range in every profile), `N` in dims
            leading.add(BATCH)
            ranges.append(entry["batch"])
        elif entry.get("dims") and isinstance(entry["dims"][0], str):
            leading.add(entry["dims"][0])
            ranges += [profile[entry["dims"][0]] for profile in manifest.get("profiles", [])
                       if entry["dims"][0] in profile]
        else:
            return None, []
    for entry in manifest["outputs"]:
        dims = entry.get("dims")
        first = dims[0] if dims else entry["shape"][0] if entry["shape"] else None
        leading.add(BATCH if first == -1 else first)  # a -1 without dims: every other dim is fixed
    if len(leading) != 1 or not ranges or None in leading:
        return None, []
    return leading.pop(), ranges


def batching(manifest: dict, asked: int | None = None) -> Batching:
    """max_batch_size and dynamic batching's preferred sizes for this engine (the module's rule);
    ``asked``: --max-batch-size, checked against what the engine serves."""
    name, ranges = batch_ranges(manifest)
    if name is None:
        reason = ("the engine's inputs and outputs do not all start with one dynamic batch dim, so Triton passes "
                  "whole tensors (max_batch_size 0, the batch in dims)")
        if asked:
            raise DeployError(f"--max-batch-size {asked}: {reason}")
        return Batching(0, [], reason)
    smallest = max(r["min"] for r in ranges)
    largest = min(r["max"] for r in ranges)  # every profile must serve every batch Triton forms
    if smallest > 1:
        reason = (f"the engine's batch starts at {smallest}, but Triton forms batches from 1, so it passes whole "
                  "tensors (max_batch_size 0, the batch in dims)")
        if asked:
            raise DeployError(f"--max-batch-size {asked}: {reason}")
        return Batching(0, [], reason)
    if asked == 0:
        return Batching(0, [], "--max-batch-size 0: Triton does not batch; the batch stays in dims")
    if asked is not None and asked > largest:
        raise DeployError(f"--max-batch-size {asked}: the engine serves batches up to {largest}")
    size = asked or largest
    preferred = sorted({r["opt"] for r in ranges if 1 < r["opt"] <= size} | {size}) if size > 1 else []
    return Batching(size, preferred, f"the batch ({'-1' if name == BATCH else f'`{name}`'}, 1 to {largest} in every "
                    f"profile) is the first dim of every input and output, so Triton batches requests itself: "
                    f"max_batch_size {size}, dims without the batch")


def label_output(manifest: dict) -> str | None:
    """The output whose values are classes: an NMS detector's `classes`, else a classifier's one output
    [batch, classes]."""
    names = [entry["name"] for entry in manifest["outputs"]]
    if "classes" in names and "num_dets" in names:
        return "classes"
    return names[0] if output_classes(manifest) is not None else None


def model_config(manifest: dict, name: str, options: TritonOptions, labels: bool = False) -> dict:
    """config.pbtxt as a message (field -> value; see :mod:`.pbtxt`), from the manifest alone."""
    batch = batching(manifest, options.max_batch_size)
    labelled = label_output(manifest) if labels else None

    def tensor(entry):
        dims = entry["shape"][1:] if batch.max_batch_size else entry["shape"]
        if entry["dtype"] not in TYPES:
            raise DeployError(f"{name}: tensor `{entry['name']}` has dtype {entry['dtype']}, which Triton has no "
                              "TYPE_ for")
        return {"name": entry["name"], "data_type": Enum(TYPES[entry["dtype"]]), "dims": list(dims) or [1],
                **({"reshape": {"shape": []}} if not dims else {}),
                **({"label_filename": LABELS} if entry["name"] == labelled else {})}

    config = {"name": name, "platform": "tensorrt_plan", "max_batch_size": batch.max_batch_size,
              "version_policy": options.version_policy,
              "input": [tensor(entry) for entry in manifest["inputs"]],
              "output": [tensor(entry) for entry in manifest["outputs"]]}
    if batch.max_batch_size:
        config["dynamic_batching"] = {**({"preferred_batch_size": batch.preferred} if batch.preferred else {}),
                                      "max_queue_delay_microseconds": options.max_queue_delay_us}
    profiles = len(manifest.get("profiles", [])) or 1
    group = {"count": options.instances, "kind": Enum("KIND_GPU"), **({"gpus": list(options.gpus)}
                                                                      if options.gpus else {})}
    config["instance_group"] = ([{**group, "profile": [str(index)]} for index in range(profiles)]
                                if profiles > 1 else [group])
    return config


def config_text(config: dict, manifest: dict, batch: Batching) -> str:
    spec = manifest["spec"]
    return (f"# written by netdsl deploy triton from {spec['path']} ({manifest['tensorrt']['flavour']} "
            f"{manifest['tensorrt']['version']}, {manifest['precision']})\n# max_batch_size: {batch.reason}\n"
            + text(config))


@dataclass
class Deployed:
    """A model staged in a hidden folder of the repository (:func:`stage`), then placed (:func:`commit`)."""

    name: str
    version: int
    folder: str  # DIR/<name>
    staging: str  # the hidden folder holding config.pbtxt, labels.txt and <version>/
    config: dict
    batching: Batching
    labels: bool
    manifest: dict | None = None  # None for an ensemble (no plan)


def versions_of(folder: str) -> list[int]:
    if not os.path.isdir(folder):
        return []
    return sorted(int(entry) for entry in os.listdir(folder) if entry.isdigit() and entry == str(int(entry))
                  and os.path.isdir(os.path.join(folder, entry)))


def next_version(folder: str, asked: int | None) -> int:
    existing = versions_of(folder)
    if asked is None:
        return (existing[-1] + 1) if existing else 1
    if asked < 1:
        raise UsageError(f"--version {asked}: Triton's versions are whole numbers from 1")
    if asked in existing or os.path.exists(os.path.join(folder, str(asked))):
        raise DeployError(f"{os.path.join(folder, str(asked))}: version {asked} exists; netdsl never replaces a "
                          f"deployed version (the next free one is {(existing[-1] + 1) if existing else 1})")
    return asked


def check_same_interface(folder: str, manifest: dict, name: str, options: TritonOptions) -> None:
    """The versions of one model share its config.pbtxt: the config a new version needs (inputs, outputs,
    max_batch_size, profiles) must be the one the newest deployed version needs, as its manifest says."""
    existing = versions_of(folder)
    if not existing:
        return
    path = os.path.join(folder, str(existing[-1]), MANIFEST)
    try:
        with open(path, encoding="utf-8") as stream:
            old = json.load(stream)
        before = model_config(old, name, options)
    except (OSError, ValueError, KeyError, TypeError, DeployError):
        return  # not deployed by netdsl: nothing to compare with
    after = model_config(manifest, name, options)
    for key in ("input", "output", "max_batch_size", "instance_group"):
        if before[key] != after[key]:
            raise DeployError(f"{path}: version {existing[-1]} needs another config.pbtxt `{key}` than this engine "
                              f"({shown(before[key])} here, {shown(after[key])} for the new one); a model's versions "
                              "share one config.pbtxt, so deploy this one under another --name")


def shown(value) -> str:
    return " ".join(text({"x": value}).split())[2:] if not isinstance(value, int) else str(value)


def deploy(repo: str, name: str, write_plan: Callable[[str], None], options: TritonOptions,
           labels_path: str | None = None, version: int | None = None) -> Deployed:
    """Add one model (or one version of it) to the repository ``repo``: ``write_plan(path)`` writes the
    plan and its manifest (``path`` + ".json"); the config and labels follow from the manifest. Nothing
    is left in ``repo`` when anything fails. Several models all or none: :func:`stage` each, then
    :func:`commit` them all (:func:`discard` on failure)."""
    staged = stage(repo, name, write_plan, options, labels_path, version)
    try:
        commit(staged)
    finally:
        discard(staged)
    return staged


def staging_folder(repo: str, name: str, version: int | None) -> tuple[str, int, str]:
    """(DIR/<name>, the version to write, a new hidden folder in DIR holding <version>/)."""
    check_model_name(name)
    if os.path.exists(repo) and not os.path.isdir(repo):
        raise UsageError(f"--repo {repo}: not a folder")
    try:
        os.makedirs(repo, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--repo {repo}: cannot create it ({error.strerror or error})") from None
    folder = os.path.join(repo, name)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DeployError(f"{folder}: a file is in the way of the model's folder")
    chosen = next_version(folder, version)
    import tempfile

    try:
        staging = tempfile.mkdtemp(prefix=STAGING, dir=repo)
        os.chmod(staging, 0o777 & ~umask())  # mkdtemp's 0700 would hide the model from a server of another user
        os.mkdir(os.path.join(staging, str(chosen)))
    except OSError as error:
        raise UsageError(f"--repo {repo}: cannot write there ({error.strerror or error})") from None
    return folder, chosen, staging


def stage(repo: str, name: str, write_plan: Callable[[str], None], options: TritonOptions,
          labels_path: str | None = None, version: int | None = None) -> Deployed:
    """Everything of one model written into a hidden folder of ``repo``, nothing placed yet."""
    folder, chosen, staging = staging_folder(repo, name, version)
    try:
        write_plan(os.path.join(staging, str(chosen), PLAN))
        with open(os.path.join(staging, str(chosen), MANIFEST), encoding="utf-8") as stream:
            manifest = json.load(stream)
        check_same_interface(folder, manifest, name, options)
        names = class_names(manifest, labels_path)
        if names is not None and labels_path is None and label_output(manifest) is None:
            names = None
        if names is not None and label_output(manifest) is None:
            raise DeployError(f"--labels {labels_path}: {name} has no class output to label (a classifier's one "
                              "output, or an NMS detector's `classes`)")
        config = model_config(manifest, name, options, labels=names is not None)
        batch = batching(manifest, options.max_batch_size)
        write_file(os.path.join(staging, CONFIG), config_text(config, manifest, batch).encode())
        if names is not None:
            write_file(os.path.join(staging, LABELS), labels_text(names))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Deployed(name, chosen, folder, staging, config, batch, names is not None, manifest)


def commit(staged: Deployed) -> None:
    place(staged.staging, staged.folder, staged.version, staged.labels)


def discard(staged: Deployed) -> None:
    shutil.rmtree(staged.staging, ignore_errors=True)


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_file(path: str, data: bytes) -> None:
    with open(path, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def place(staging: str, folder: str, version: int, labels: bool) -> None:
    """Rename the staged model into the repository: the whole model folder where it is new, else the
    version folder (never over an existing one), then the config and labels."""
    try:
        if not os.path.exists(folder):
            os.rename(staging, folder)
            os.mkdir(staging)  # for the caller's cleanup, which expects it
            return
        target = os.path.join(folder, str(version))
        os.mkdir(target)  # fails where the version appeared meanwhile: it is never replaced
        os.rename(os.path.join(staging, str(version)), target)  # onto the empty folder just made
        os.replace(os.path.join(staging, CONFIG), os.path.join(folder, CONFIG))
        if labels:
            os.replace(os.path.join(staging, LABELS), os.path.join(folder, LABELS))
    except FileExistsError:
        raise DeployError(f"{os.path.join(folder, str(version))}: written by someone else meanwhile; nothing "
                          "replaced") from None
    except OSError as error:
        raise UsageError(f"cannot write {folder}: {error.strerror or error}") from None


def copy_plan(plan_path: str) -> Callable[[str], None]:
    """``write_plan`` for an engine built before (--engine): the plan and its manifest, checked against
    each other (SHA-256) and copied, the manifest's plan name changed to model.plan."""
    from ..runtime import read_manifest

    manifest, plan = read_manifest(plan_path)
    for key in ("spec", "tensorrt", "precision"):
        if key not in manifest:
            raise DeployError(f"{plan_path}.json is not a netdsl manifest (no `{key}`)")

    def write(path: str) -> None:
        from ..files import write_together

        record = {**manifest, "plan": {**manifest["plan"], "path": os.path.basename(path)}}
        write_together({path: plan, path + ".json": (json.dumps(record, indent=2) + "\n").encode()})

    return write


__all__ = ["TritonOptions", "Batching", "batching", "model_config", "config_text", "deploy", "copy_plan",
           "version_policy"]
