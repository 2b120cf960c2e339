"""The matrix file of `netdsl matrix`: which models to build, at which precisions and batch ranges, for
which targets, and where the engines go. Its own small schema, checked like a spec: every problem at
its file:line:col, all of them in one run.

.. code-block:: yaml

    matrix: 1                     # the schema's version
    models:
      - name: lenet               # default: the spec's file name without .yaml
        spec: ../specs/lenet.yaml # relative to this file
        weights: ../weights/lenet.safetensors   # default: the spec's own `weights:`
      - name: yolov8n
        spec: ../specs/zoo/yolov8.yaml
        set: {scale: n}           # the spec's `params:` (what `--set` gives)
        random_weights: 0         # seeded random weights (the seed), instead of a weight file
    precisions: [float32, float16]
    batches: ["1,1,8", "1,16,32"] # MIN,OPT,MAX of the -1 batch, one engine each; default: the spec's
    profiles:                     # for specs with named dimensions: one engine per profile, the ranges
      - {batch: "1:1:1"}          #   given as NAME: MIN:OPT:MAX; the others keep the spec's first profile's
      - {batch: "1:8:16", height: "320:640:640", width: "320:640:640"}
    targets:
      - name: l4
        flavour: tensorrt         # tensorrt (default) | tensorrt_rtx
        accelerator_type: L4      # Ray's accelerator type of the nodes that build for it, or
      - name: rtx
        flavour: tensorrt_rtx
        resource: rtx_builder     # a custom Ray resource the nodes that build for it declare
        compute_capabilities: [sm86, sm89]   # TensorRT-RTX only; default: its portable set
        num_gpus: 0               # GPUs a build takes on its node (default 1; 0 for TensorRT-RTX on a CPU)
        tensorrt_version: 1.7.1.116  # default: the version of that flavour installed here
      - name: fleet-wide
        hardware_compatibility: ampere+  # and version_compatible, exclude_lean_runtime, strip_weights:
        version_compatible: true         #   `netdsl build`'s options of the same names, part of the key
    output: engines               # a folder of plans and manifests (relative to this file)
"""

from __future__ import annotations

import os

from ..diagnostics import Diagnostics, Pos, SpecError, did_you_mean
from ..yamlnodes import Map, Node, Scalar, Seq, compose, describe, read_source

VERSION = 1
FLAVOURS = ("tensorrt", "tensorrt_rtx")
TOP_KEYS = ("matrix", "models", "precisions", "batches", "profiles", "targets", "output")
MODEL_KEYS = ("name", "spec", "set", "weights", "random_weights")
COMPATIBILITY = ("hardware_compatibility", "version_compatible", "exclude_lean_runtime", "strip_weights")
TARGET_KEYS = ("name", "flavour", "accelerator_type", "resource", "compute_capabilities", "num_gpus",
               "tensorrt_version") + COMPATIBILITY
OUTPUT_KEYS = ("path", "format")


class Model:
    __slots__ = ("name", "spec", "params", "weights", "random_seed", "pos")

    def __init__(self, name: str, spec: str, params: dict, weights: str | None, random_seed: int | None, pos: Pos):
        self.name, self.spec, self.params, self.weights, self.random_seed, self.pos = (
            name, spec, params, weights, random_seed, pos)


class Target:
    __slots__ = ("name", "flavour", "accelerator_type", "resource", "compute_capabilities", "num_gpus",
                 "tensorrt_version", "compatibility", "pos")

    def __init__(self, name: str, flavour: str = "tensorrt", accelerator_type: str | None = None,
                 resource: str | None = None, compute_capabilities: tuple = (), num_gpus: float = 1,
                 tensorrt_version: str | None = None, pos: Pos | None = None, compatibility: dict | None = None):
        self.name, self.flavour, self.accelerator_type, self.resource = name, flavour, accelerator_type, resource
        self.compute_capabilities, self.num_gpus, self.tensorrt_version, self.pos = (
            compute_capabilities, num_gpus, tensorrt_version, pos)
        # build options of the deploy issue, as `netdsl build` takes them (only those given; checked values)
        self.compatibility = dict(compatibility or {})

    def describe(self) -> dict:
        """What determines the engines built for this target (its key's part), positions left out. A target
        without compatibility options describes itself as before they existed (its cache keys unchanged)."""
        described = {key: getattr(self, key) for key in self.__slots__
                     if key not in ("pos", "num_gpus", "compatibility")} | {
            "compute_capabilities": list(self.compute_capabilities)}
        if self.compatibility:
            described["compatibility"] = dict(sorted(self.compatibility.items()))
        return described

    @property
    def selector(self) -> str:
        """How its machines are found, in words."""
        if self.accelerator_type:
            return f"Ray accelerator type `{self.accelerator_type}`"
        if self.resource:
            return f"Ray resource `{self.resource}`"
        return "any node"


class Matrix:
    __slots__ = ("path", "models", "precisions", "batches", "profiles", "targets", "output", "output_format")

    def __init__(self, path, models, precisions, batches, targets, output, output_format="folder", profiles=None):
        self.path, self.models, self.precisions, self.batches, self.targets = (path, models, precisions, batches,
                                                                               targets)
        self.profiles = profiles or [None]  # dim name -> (min, opt, max), for specs with named dimensions
        self.output, self.output_format = output, output_format


class Entry:
    """One engine of the matrix: a model at a precision and batch range, for a target."""

    __slots__ = ("model", "target", "precision", "batch", "profile")

    def __init__(self, model: Model, target: Target, precision: str, batch: tuple | None, profile: dict | None = None):
        self.model, self.target, self.precision, self.batch, self.profile = model, target, precision, batch, profile

    @property
    def batch_label(self) -> str:
        if self.profile:
            return "_".join(f"{name}{'-'.join(map(str, r))}" for name, r in self.profile.items())
        return "b" + "-".join(map(str, self.batch)) if self.batch else "spec-shapes"

    @property
    def name(self) -> str:
        """``target/model/precision_batch``: its place in the output folder, and its name in reports."""
        return f"{self.target.name}/{self.model.name}/{self.precision}_{self.batch_label}"


def entries(matrix: Matrix, shapes=None) -> list[Entry]:
    """Every engine, target by target, then model, precision, batch range or profile. ``shapes(model)``
    says which of the matrix's lists a model takes: "batches" (a -1 batch), "profiles" (named
    dimensions) or None (static shapes: one engine); default: "batches"."""
    result = []
    for target in matrix.targets:
        for model in matrix.models:
            kind = shapes(model) if shapes else "batches"
            variants = ([(b, None) for b in matrix.batches] if kind == "batches" else
                        [(None, p) for p in matrix.profiles] if kind == "profiles" else [(None, None)])
            result += [Entry(model, target, precision, batch, profile) for precision in matrix.precisions
                       for batch, profile in variants]
    return result


def read_matrix(path: str, text: str | None = None) -> Matrix:
    """The checked matrix file (or ``text``, read as if it were at ``path``: relative paths start from its
    folder); raises SpecError listing every problem with its position."""
    from ..diagnostics import Source

    diagnostics = Diagnostics()
    source = read_source(path, diagnostics) if text is None else Source(path, text)
    root = compose(source, diagnostics) if source is not None else None
    if root is None:
        raise SpecError(diagnostics)
    matrix = _Reader(path, diagnostics).read(root)
    if diagnostics.has_errors:
        raise SpecError(diagnostics)
    return matrix


class _Reader:
    def __init__(self, path: str, diagnostics: Diagnostics):
        self.folder = os.path.dirname(os.path.abspath(path))
        self.path = path
        self.diagnostics = diagnostics

    def error(self, code: str, message: str, pos: Pos, hint: str | None = None) -> None:
        self.diagnostics.error(code, message, pos, hint=hint)

    def mapping(self, node: Node, what: str, keys, required=()) -> Map | None:
        if not isinstance(node, Map):
            self.error("wrong-type", f"{what} must be a mapping, found {describe(node)}", node.pos)
            return None
        for key in node.entries:
            if key not in keys:
                self.error("unknown-key", f"unknown key `{key}` in {what}", node.key_pos[key],
                           did_you_mean(key, keys) or "known keys: " + ", ".join(keys))
        for key in required:
            if key not in node.entries:
                self.error("missing-key", f"{what} needs `{key}`", node.pos)
        return node

    def items(self, node: Node | None, what: str) -> list[Node]:
        if node is None:
            return []
        if not isinstance(node, Seq) or not node.items:
            self.error("wrong-type", f"{what} must be a non-empty list, found {describe(node)}", node.pos)
            return []
        return node.items

    def text(self, node: Node | None, what: str) -> str | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, (str, int, float)) and not isinstance(node.value, bool) \
                and str(node.value).strip():
            return str(node.value)
        self.error("wrong-type", f"{what} must be text, found {describe(node)}", node.pos)
        return None

    def file(self, node: Node | None, what: str, must_exist: bool = True) -> str | None:
        text = self.text(node, what)
        if text is None:
            return None
        path = os.path.normpath(os.path.join(self.folder, text))
        if must_exist and not os.path.isfile(path):
            self.error("missing-file", f"{what} `{text}`: no such file ({path})", node.pos)
            return None
        return path

    def read(self, root: Node) -> Matrix | None:
        top = self.mapping(root, "the matrix file", TOP_KEYS, required=("matrix", "models", "targets"))
        if top is None:
            return None
        get = top.entries.get
        version = get("matrix")
        if version is not None and not (isinstance(version, Scalar) and version.value == VERSION):
            self.error("unknown-version", f"`matrix:` is the schema version, {VERSION}; found {describe(version)}",
                       version.pos)
        models = [m for m in (self.model(node) for node in self.items(get("models"), "`models`")) if m]
        targets = [t for t in (self.target(node) for node in self.items(get("targets"), "`targets`")) if t]
        self.unique(models, "model")
        self.unique(targets, "target")
        precisions = self.precisions(get("precisions"))
        batches = self.batches(get("batches"))
        profiles = self.profiles(get("profiles"))
        output, output_format = self.output(get("output"))
        return Matrix(self.path, models, precisions, batches, targets, output, output_format, profiles)

    def unique(self, items, what: str) -> None:
        seen = set()
        for item in items:
            if item.name in seen:
                self.error("duplicate-name", f"two {what}s are named `{item.name}`", item.pos,
                           f"give each {what} its own `name:`")
            seen.add(item.name)

    def name(self, node: Node | None, what: str) -> str | None:
        import re

        text = self.text(node, what)
        if text is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", text):
            self.error("bad-name", f"{what} `{text}` is not a name: letters, digits, `_`, `-`, `.` (it names a "
                       "folder)", node.pos)
            return None
        return text

    def model(self, node: Node) -> Model | None:
        from ..spec.specparams import IDENT_RE

        entry = self.mapping(node, "a model", MODEL_KEYS, required=("spec",))
        if entry is None:
            return None
        get = entry.entries.get
        spec = self.file(get("spec"), "spec")
        name = self.name(get("name"), "model name") if "name" in entry.entries else (
            os.path.splitext(os.path.basename(spec))[0] if spec else None)
        params = {}
        if get("set") is not None:
            values = self.mapping(get("set"), "`set`", tuple(entry.entries["set"].entries)
                                  if isinstance(get("set"), Map) else ())
            for key, value in (values.entries.items() if values else ()):
                if not IDENT_RE.match(key) or not isinstance(value, Scalar):
                    self.error("wrong-type", f"`set: {key}` must be a parameter name with a plain value, as "
                               "`--set NAME=VALUE` gives", value.pos)
                else:
                    params[key] = value.value
        weights = self.file(get("weights"), "weights")
        seed = get("random_weights")
        if seed is not None and not (isinstance(seed, Scalar) and type(seed.value) is int and seed.value >= 0):
            self.error("wrong-type", f"random_weights is the seed, a whole number >= 0; found {describe(seed)}",
                       seed.pos)
            seed = None
        if seed is not None and "weights" in entry.entries:
            self.error("conflict", "a model takes `weights` or `random_weights`, not both", seed.pos)
        if spec is None or name is None:
            return None
        return Model(name, spec, params, weights, seed.value if seed is not None else None, entry.pos)

    def target(self, node: Node) -> Target | None:
        from ..spec.buildopts import check_option

        entry = self.mapping(node, "a target", TARGET_KEYS, required=("name",))
        if entry is None:
            return None
        get = entry.entries.get
        name = self.name(get("name"), "target name")
        flavour = self.text(get("flavour"), "flavour") or "tensorrt"
        if flavour not in FLAVOURS:
            self.error("unknown-flavour", f"unknown flavour `{flavour}`; flavours: {', '.join(FLAVOURS)}",
                       get("flavour").pos, did_you_mean(flavour, FLAVOURS))
        accelerator, resource = self.text(get("accelerator_type"), "accelerator_type"), self.text(get("resource"),
                                                                                                  "resource")
        if accelerator and resource:
            self.error("conflict", "a target's machines are chosen by `accelerator_type` or `resource`, not both",
                       get("resource").pos)
        capabilities = ()
        if get("compute_capabilities") is not None:
            node_cc = get("compute_capabilities")
            try:
                capabilities = check_option("targets", node_cc.plain() if isinstance(node_cc, Seq) else
                                            self.text(node_cc, "compute_capabilities") or ())
            except ValueError as error:
                self.error("bad-option", f"compute_capabilities: {error}", node_cc.pos)
            if flavour == "tensorrt":
                self.error("bad-option", "compute_capabilities are TensorRT-RTX's (flavour: tensorrt_rtx); full "
                           "TensorRT builds for the GPU it runs on", node_cc.pos)
        gpus = get("num_gpus")
        num_gpus = 1
        if gpus is not None:
            if isinstance(gpus, Scalar) and type(gpus.value) in (int, float) and 0 <= gpus.value <= 64:
                num_gpus = gpus.value
            else:
                self.error("wrong-type", f"num_gpus is a number from 0 to 64; found {describe(gpus)}", gpus.pos)
        version = self.text(get("tensorrt_version"), "tensorrt_version")
        compatibility = {}
        for key in COMPATIBILITY:  # checked as the spec's `build:` section checks them
            node_option = get(key)
            if node_option is None:
                continue
            value = node_option.value if isinstance(node_option, Scalar) else None
            try:
                compatibility[key] = check_option(key, value)
            except ValueError as error:
                self.error("bad-option", f"{key}: {error}", node_option.pos)
        if name is None:
            return None
        return Target(name, flavour, accelerator, resource, tuple(capabilities), num_gpus, version, entry.pos,
                      compatibility)

    def precisions(self, node: Node | None) -> list[str]:
        from ..spec.buildopts import canonical_precision

        if node is None:
            return ["float32"]
        found = []
        for item in self.items(node, "`precisions`"):
            text = self.text(item, "a precision")
            try:
                value = canonical_precision(text) if text is not None else None
            except ValueError as error:
                self.error("bad-option", str(error), item.pos)
                continue
            if value in found:
                self.error("duplicate-name", f"precision `{value}` is listed twice", item.pos)
            elif value:
                found.append(value)
        return found

    def batches(self, node: Node | None) -> list:
        from ..spec.buildopts import check_option

        if node is None:
            return [None]
        found = []
        for item in self.items(node, "`batches`"):
            text = self.text(item, "a batch range") if isinstance(item, Scalar) else item.plain()
            try:
                value = check_option("batch", text)
            except ValueError as error:
                self.error("bad-option", f"{error} (e.g. \"1,8,32\")", item.pos)
                continue
            if value in found:
                self.error("duplicate-name", f"batch range {','.join(map(str, value))} is listed twice", item.pos)
            found.append(value)
        return found

    def profiles(self, node: Node | None) -> list:
        import re

        found = []
        for item in self.items(node, "`profiles`"):
            entry = self.mapping(item, "a profile", tuple(item.entries) if isinstance(item, Map) else ())
            if entry is None:
                continue
            ranges = {}
            for name, value in entry.entries.items():
                text = value.plain() if isinstance(value, Scalar) else None
                match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*:\s*(\d+)\s*", str(text))
                numbers = tuple(int(match.group(k)) for k in (1, 2, 3)) if match else ()
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or not numbers or \
                        not 1 <= numbers[0] <= numbers[1] <= numbers[2]:
                    self.error("bad-option", f"profile `{name}: {text}`: a dimension's range is NAME: MIN:OPT:MAX "
                               "with 1 <= MIN <= OPT <= MAX (e.g. batch: \"1:8:16\")", value.pos)
                    continue
                ranges[name] = numbers
            if ranges in found:
                self.error("duplicate-name", "this profile is listed twice", item.pos)
            elif ranges:
                found.append(ranges)
        return found or [None]

    def output(self, node: Node | None) -> tuple[str, str]:
        if node is None:
            return os.path.join(self.folder, "engines"), "folder"
        if isinstance(node, Scalar):
            return os.path.normpath(os.path.join(self.folder, self.text(node, "output") or "engines")), "folder"
        entry = self.mapping(node, "`output`", OUTPUT_KEYS, required=("path",))
        if entry is None:
            return "", "folder"
        path = self.text(entry.entries.get("path"), "output path") or "engines"
        form = self.text(entry.entries.get("format"), "output format") or "folder"
        from .output import WRITERS  # one writer per format

        if form not in WRITERS:
            self.error("unknown-format", f"unknown output format `{form}`; formats: {', '.join(WRITERS)}",
                       entry.entries["format"].pos, did_you_mean(form, WRITERS))
        return os.path.normpath(os.path.join(self.folder, path)), form
