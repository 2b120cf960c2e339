"""The content-addressed engine cache of `netdsl matrix`.

An entry's key is the SHA-256 of everything that determines the engine: the spec after parameters and
blocks are expanded (:func:`canonical_spec`: the Graph IR, so reformatting a spec or its comments change
nothing), the weights' SHA-256 (or the random weights' seed), the scales file's when the spec quantizes,
the build options, the TensorRT flavour and version, the target, and netdsl's version (a newer netdsl may
lower a layer differently). The cache is a folder: ``<key[:2]>/<key>/`` holds ``engine.plan`` and
``engine.plan.json`` (its manifest). An entry is written to a temporary folder beside it and renamed
into place, so a reader sees a whole entry or none; one whose plan does not match the manifest's size
and SHA-256 (truncated, changed) is reported as corrupted and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from .._version import __version__
from ..diagnostics import Pos

KEY_FORMAT = 1  # bump when what goes into a key changes
PLAN_NAME = "engine.plan"
SKIPPED = ("pos", "positions", "param_pos", "weight_pos", "file_pos", "trace", "source", "op", "timing_cache")


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/netdsl/engines``, else ``~/.cache/netdsl/engines``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "netdsl", "engines")


def plain(value):
    """``value`` as JSON data that depends only on meaning: positions dropped, objects by their fields,
    symbolic sizes by their text, arrays by dtype, shape and SHA-256."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return repr(value)  # exact: 0.1 and 0.10000000000000002 differ
    if isinstance(value, Pos):
        return None
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if hasattr(value, "_asdict"):  # NamedTuple (symbolic.Profile)
        return plain(value._asdict())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(item) for item in value)
    if hasattr(value, "dtype") and hasattr(value, "tobytes"):  # a numpy array or scalar
        return {"dtype": str(value.dtype), "shape": list(getattr(value, "shape", ())),
                "sha256": hashlib.sha256(value.tobytes()).hexdigest()}
    from ..symbolic import Size

    if isinstance(value, Size):
        return str(value)
    fields = getattr(type(value), "__slots__", None) or getattr(type(value), "__dataclass_fields__", None)
    if fields is None and hasattr(value, "__dict__"):
        fields = vars(value)
    if fields is None:
        from ..diagnostics import InternalError

        raise InternalError(f"no canonical form for {type(value).__name__}")
    return {"type": type(value).__name__,
            **{name: plain(getattr(value, name)) for name in fields if name not in SKIPPED}}


def canonical_spec(checked) -> dict:
    """The expanded spec as plain data: its inputs, every layer (kind, parameters, inputs, outputs,
    weight names, the block instances it came from), outputs, profiles, parameters, `build:` options,
    weight name rules and quantization. File paths are left out: the files' contents go into the key."""
    graph = checked.graph
    quantization = plain(graph.quantization)
    if isinstance(quantization, dict):
        quantization.pop("scales", None)  # a path: its content is hashed (see entry_key)
    weights = plain(graph.weights)
    if isinstance(weights, dict):
        weights.pop("file", None)
    return {"name": graph.name, "version": graph.version,
            "inputs": [plain({"name": i.name, "dtype": i.dtype, "shape": i.shape, "batch": i.batch})
                       for i in graph.inputs],
            "layers": [plain({"name": n.name, "kind": n.kind, "params": n.params, "inputs": n.inputs,
                              "outputs": n.outputs, "weights": n.weight_names, "blocks": n.blocks})
                       for n in graph.nodes],
            "outputs": [[o.name, o.source] for o in graph.outputs],
            "profiles": plain(graph.profiles), "params": plain(graph.params), "build": plain(graph.build),
            "weights": weights, "quantization": quantization}


def digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def entry_key(spec: dict, weights: dict, options: dict, target: dict, tensorrt: dict) -> str:
    """The SHA-256 of what determines one engine (each part plain JSON data)."""
    return digest({"format": KEY_FORMAT, "netdsl": __version__, "spec": spec, "weights": weights,
                   "options": options, "target": target, "tensorrt": tensorrt})


class Corrupted(Exception):
    """A cache entry that is there but not whole: the reason, in words."""


class Cache:
    """The folder of entries (created on first write)."""

    def __init__(self, root: str):
        self.root = root

    def folder(self, key: str) -> str:
        return os.path.join(self.root, key[:2], key)

    def plan_path(self, key: str) -> str:
        return os.path.join(self.folder(key), PLAN_NAME)

    def load(self, key: str) -> tuple[bytes, dict] | None:
        """(plan, manifest) of the entry, None when there is none; raises Corrupted when the entry is
        not whole (its plan's size or SHA-256 differs from its manifest's, or a file is missing or
        unreadable)."""
        folder = self.folder(key)
        if not os.path.isdir(folder):
            return None
        try:
            with open(os.path.join(folder, PLAN_NAME), "rb") as stream:
                plan = stream.read()
            with open(os.path.join(folder, PLAN_NAME + ".json"), encoding="utf-8") as stream:
                record = json.load(stream)
            expected = record["plan"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise Corrupted(f"unreadable: {error}") from None
        if len(plan) != expected.get("bytes"):
            raise Corrupted(f"the plan has {len(plan):,} bytes, its manifest says {expected.get('bytes'):,}")
        found = hashlib.sha256(plan).hexdigest()
        if found != expected.get("sha256"):
            raise Corrupted(f"the plan's SHA-256 is {found[:12]}…, its manifest says "
                            f"{str(expected.get('sha256'))[:12]}…")
        if record.get("matrix", {}).get("key") != key:
            raise Corrupted("its manifest records another key")
        return plan, record

    def store(self, key: str, plan, record: dict) -> None:
        """Write an entry whole or not at all: files staged and fsynced in a temporary folder, renamed
        into place; a corrupted entry under the key is replaced."""
        parent = os.path.dirname(self.folder(key))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=parent)
        try:
            _write_synced(os.path.join(staging, PLAN_NAME), plan)
            _write_synced(os.path.join(staging, PLAN_NAME + ".json"), (json.dumps(record, indent=2) + "\n").encode())
            target = self.folder(key)
            if os.path.isdir(target):
                self.discard(key)
            try:
                os.rename(staging, target)
            except OSError:
                if not os.path.isdir(target):  # another writer's entry, of the same content, is in place
                    raise
            else:
                staging = None
                _fsync_folder(parent)
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)

    def discard(self, key: str) -> None:
        """Move the entry aside and remove it (a reader never sees half of it)."""
        folder = self.folder(key)
        aside = f"{folder}.removing-{os.getpid()}"
        try:
            os.rename(folder, aside)
        except OSError:
            return
        shutil.rmtree(aside, ignore_errors=True)


def _write_synced(path: str, data) -> None:
    with open(path, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _fsync_folder(folder: str) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
