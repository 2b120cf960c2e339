"""Spec -> weights -> network -> engine plan, each step usable on its own:

    from netdsl import build
    checked = build.load_spec("specs/lenet.yaml")               # parse, expand, check shapes
    bound = build.bind_weights(checked)                          # the spec's weights file, or a path
    options = build.options_for(checked, precision="float16")   # spec `build:` + overrides, checked
    plan = build.build_plan(checked, bound, options)             # bytes (TensorRT's serialized engine)
    build.save(plan, "lenet.plan")                               # plan + lenet.plan.json manifest

or all at once: ``build.build("specs/lenet.yaml", output="lenet.plan")``. ``network_for`` gives the
INetworkDefinition without building, for inspection.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field

from ._version import __version__
from .diagnostics import NetdslError, SpecError, UsageError
from .ops import BATCH
from .spec import CheckedSpec, load as load_spec
from .spec.buildopts import BuildOptions
from .symbolic import evaluate, has_named_dims
from .trt import backend, cuda_devices, make_logger
from .trt.network import network_for, options_for, profiles_of
from .weights.bind import bind_weights

REFIT_FLAGS = {"none": (), "refit": ("REFIT",), "refit-identical": ("REFIT_IDENTICAL",),
               "weightless": ("STRIP_PLAN", "REFIT_IDENTICAL")}
__all__ = ["load_spec", "bind_weights", "options_for", "network_for", "build_plan", "save", "build"]


class BuildFailed(NetdslError):
    """TensorRT could not build the engine; the message carries TensorRT's own error lines."""


class NoGPU(NetdslError):
    exit_code = 2


class NotHere(NetdslError):
    """A build option the installed TensorRT, on this machine, cannot honour (exit code 2: the machine, not
    the spec, falls short); the message says what full TensorRT on a GPU would make."""

    exit_code = 2


HARDWARE_LEVELS = {"ampere+": "AMPERE_PLUS", "same-cc": "SAME_COMPUTE_CAPABILITY"}
WOULD = {  # what full TensorRT on a GPU makes of each deployment option, for the refusals
    "strip_weights": "a weight-stripped plan (BuilderFlag.STRIP_PLAN): the engine without its weights, which "
                     "`netdsl refit PLAN --weights FILE` fills on the target from the weight file",
    "hardware_compatibility": "an engine that runs on other GPUs than the one it was built on (ampere+: every "
                              "Ampere and later GPU; same-cc: GPUs of the build GPU's compute capability)",
    "version_compatible": "a version-compatible plan (BuilderFlag.VERSION_COMPATIBLE) that later TensorRT versions "
                          "run, with TensorRT's lean runtime inside unless --exclude-lean-runtime",
}


@dataclass
class Plan:
    data: memoryview  # the serialized engine, in TensorRT's own buffer (not copied)
    checked: CheckedSpec
    options: BuildOptions
    weights_path: str | None
    inputs: list[dict]
    outputs: list[dict]
    weights: list[dict]  # TensorRT weight names, dtype, shape
    flavour: str = ""
    version: str = ""
    notes: list[str] = field(default_factory=list)
    build_seconds: float = 0.0  # inside TensorRT's build_serialized_network
    hashes: dict = field(default_factory=dict)  # path -> SHA-256 of the spec and weights files
    weights_digest: str = ""  # of the arrays given to TensorRT (see weights_digest)
    random_weights: dict | None = None  # {"seed", "values"} when built on netdsl.weights.synthetic's weights
    quantization: dict | None = None  # dtype, scales file and its SHA-256, quantized layers (netdsl.quant)
    profiles: list = field(default_factory=list)  # per optimization profile: named dim -> {min, opt, max}
    plugins: dict | None = None  # plugin layers and the libraries they need (netdsl.ops.plugin.plugin_record)


def _configure(trt, builder, config, checked: CheckedSpec, options: BuildOptions) -> None:
    if options.workspace is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace)
    if options.optimization_level is not None:
        config.builder_optimization_level = options.optimization_level
    for flag in REFIT_FLAGS[options.refit]:
        if not hasattr(trt.BuilderFlag, flag):
            raise UsageError(f"refit mode `{options.refit}` needs BuilderFlag.{flag}, which this TensorRT lacks")
        config.set_flag(getattr(trt.BuilderFlag, flag))
    configure_deployment(trt, config, options)
    for shapes in profile_shapes(checked, options):
        profile = builder.create_optimization_profile()
        for name, (low, opt, high) in shapes.items():
            profile.set_shape(name, low, opt, high)
        config.add_optimization_profile(profile)
    if options.targets:
        if not hasattr(config, "set_compute_capability"):
            raise UsageError("--target names TensorRT-RTX compute capabilities; full TensorRT builds for the GPU "
                             "it runs on")
        config.num_compute_capabilities = len(options.targets)
        for index, target in enumerate(options.targets):
            config.set_compute_capability(getattr(trt.ComputeCapability, target.upper()), index)


def configure_deployment(trt, config, options: BuildOptions) -> None:
    """The deployment options on a builder configuration, each read back: a TensorRT that lacks one, or
    takes it and ignores it (TensorRT-RTX logs "setHardwareCompatibilityLevel() is unsupported" and
    keeps NONE), is refused here rather than recorded in a manifest it would contradict."""
    flags = [("STRIP_PLAN", "strip_weights", "--strip-weights")] if options.strip_weights else []
    if options.version_compatible:
        flags.append(("VERSION_COMPATIBLE", "version_compatible", "--version-compatible"))
    if options.exclude_lean_runtime:
        flags.append(("EXCLUDE_LEAN_RUNTIME", "version_compatible", "--exclude-lean-runtime"))
    for flag, option, spelling in flags:
        value = getattr(trt.BuilderFlag, flag, None)
        if value is not None:
            config.set_flag(value)
        if value is None or not config.get_flag(value):
            raise NotHere(f"{spelling}: {_flavour(trt)} {'lacks' if value is None else 'ignores'} "
                          f"BuilderFlag.{flag}; full TensorRT 10/11 on a GPU builds {WOULD[option]}")
    if options.hardware_compatibility == "none":
        return
    name = HARDWARE_LEVELS[options.hardware_compatibility]
    level = getattr(getattr(trt, "HardwareCompatibilityLevel", None), name, None)
    if level is not None and hasattr(config, "hardware_compatibility_level"):
        config.hardware_compatibility_level = level
    if level is None or getattr(config, "hardware_compatibility_level", None) != level:
        rtx = (" (TensorRT-RTX has no hardware compatibility level: its engines run on the compute capabilities "
               "--target names, by default its portable set)" if hasattr(config, "set_compute_capability") else "")
        raise NotHere(f"--hardware-compatibility {options.hardware_compatibility}: {_flavour(trt)} "
                      f"{'lacks' if level is None else 'ignores'} HardwareCompatibilityLevel.{name}{rtx}; full "
                      f"TensorRT 10/11 on an Ampere or later GPU builds {WOULD['hardware_compatibility']}")


def _flavour(trt) -> str:
    return f"{trt.__name__} {getattr(trt, '__version__', '')}".strip()


def profile_shapes(checked: CheckedSpec, options: BuildOptions) -> list[dict]:
    """Per optimization profile: input name -> its (min, opt, max) shapes, for every input with a dynamic
    dimension (none when every input is static). A -1 batch takes its own input's range (``batch:``)."""
    dynamic = [i for i in checked.graph.inputs if not all(isinstance(d, int) for d in i.shape)]
    if not dynamic:
        return []
    result = []
    for profile in profiles_of(checked, options):
        shapes = {}
        for graph_input in dynamic:
            ranges = {**profile.ranges, **({BATCH.name: options.batch or graph_input.batch} if graph_input.batch
                                           else {})}
            shapes[graph_input.name] = tuple(tuple(evaluate(d, {n: r[role] for n, r in ranges.items()})
                                                   for d in graph_input.shape) for role in range(3))
        result.append(shapes)
    return result


def _timing_cache(trt, config, path: str | None, is_rtx: bool, notes: list[str]):
    if path is None:
        return None
    if is_rtx or not hasattr(config, "create_timing_cache"):
        notes.append("timing cache ignored: TensorRT-RTX has none")
        return None
    data = b""
    if os.path.exists(path):
        with open(path, "rb") as stream:
            data = stream.read()
    cache = config.create_timing_cache(data)
    config.set_timing_cache(cache, False)
    return cache


def build_plan(checked: CheckedSpec, bound: dict, options: BuildOptions | None = None, progress=None,
               weights_path: str | None = None, quantizer="spec") -> Plan:
    """Build a serialized engine. ``progress``: an object with phase_start/step_complete/phase_finish
    (see :mod:`netdsl.trt.progress`), or None; ``quantizer``: as for :func:`network_for`."""
    try:
        options = (options or BuildOptions()).resolved()
    except ValueError as error:
        raise UsageError(str(error)) from None
    info = backend()
    if info.is_rtx:
        refuse_unbuildable(checked)
    if options.strip_weights and cuda_devices() == 0:
        raise NoGPU(f"--strip-weights needs a GPU that TensorRT supports: TensorRT compiles refittable engines on "
                    f"the device, and this machine has no CUDA GPU; full TensorRT 10/11 on a GPU builds "
                    f"{WOULD['strip_weights']}. Build without --strip-weights here, or on the machine the engine is "
                    "for.")
    if options.refit != "none" and cuda_devices() == 0:
        raise NoGPU(f"refit mode `{options.refit}` needs a GPU that TensorRT supports: TensorRT compiles refittable "
                    "engines on the device, and this machine has no CUDA GPU. Build with `--refit none` here, or "
                    "build on the machine the engine is for.")
    hashes = FileHashes([checked.path, weights_path])
    plan = _build(checked, bound, options, progress, weights_path, info, quantizer)
    plan.hashes = hashes.result()
    return plan


class FileHashes:
    """The manifest's SHA-256 of the spec and weights files, computed by a second thread that starts when
    the network is defined, Python on one core (hashlib releases the GIL): the hash is over before
    TensorRT's build, which takes every core, unless defining the network is quicker than reading the
    file (a hash started with the build took a core from it on a 2-core machine; one after the build
    added its whole time, 0.07 s for ResNet-50's 102 MB here)."""

    def __init__(self, paths):
        import threading

        self.paths = [path for path in paths if path and os.path.isfile(path)]
        self.hashes: dict = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="netdsl-hashes", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for path in self.paths:
                self.hashes[path] = sha256_file(path)
        except BaseException as error:  # noqa: BLE001 - raised on the caller's thread by result()
            self.error = error

    def wait(self) -> None:
        self.thread.join()

    def result(self) -> dict:
        """path -> SHA-256, raising what reading a file raised."""
        self.wait()
        if self.error is not None:
            raise self.error
        return self.hashes


class Unbuildable(SpecError):
    """Layers the installed TensorRT cannot build (exit code 2: the machine, not the spec, falls short)."""

    exit_code = 2


def refuse_unbuildable(checked: CheckedSpec) -> None:
    """Refuse, before lowering, the layers TensorRT-RTX cannot build, each at its line in the spec."""
    from .diagnostics import Diagnostic

    problems = [Diagnostic("needs-full-tensorrt", f"{node.kind} layer `{node.name}`: {node.op.rtx_unbuildable}",
                           node.pos, layer=node.name, notes=list(node.trace), hint=FULL_TENSORRT_HINT)
                for node in checked.graph.nodes if node.op.rtx_unbuildable]
    if problems:
        raise Unbuildable(problems)


FULL_TENSORRT_HINT = ("full TensorRT: `pip install tensorrt` on a machine that reaches NVIDIA's package index "
                      "(netdsl uses it when importable); `netdsl inspect` shows the network without building it")


def _build(checked, bound, options, progress, weights_path, info, quantizer) -> Plan:
    trt = info.trt
    errors: list[str] = []
    builder = trt.Builder(make_logger(trt, errors))
    builder, network, ctx = network_for(checked, bound, options, builder, quantizer)
    if any(has_named_dims(i.shape) for i in checked.graph.inputs):
        from .trt.dims import check_corners

        check_corners(network, checked.types, profiles_of(checked, options))  # TensorRT's shapes = netdsl's
    config = builder.create_builder_config()
    notes: list[str] = ctx.notes
    _configure(trt, builder, config, checked, options)
    if options.strip_weights:
        notes.append("a weight-stripped plan: it runs once `netdsl refit PLAN --weights FILE` has filled it on the "
                     "target (refit: " + options.refit + ")")
    cache = _timing_cache(trt, config, options.timing_cache, info.is_rtx, notes)
    if progress is not None and hasattr(config, "progress_monitor"):
        config.progress_monitor = progress
    start = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    build_seconds = time.perf_counter() - start
    if serialized is None and options.version_compatible and any("libnvinfer_lean" in line for line in errors):
        ships = " (TensorRT-RTX ships none)" if info.is_rtx else ""
        raise NotHere(f"--version-compatible: {info.flavour} {info.version} cannot load TensorRT's lean runtime "
                      f"(libnvinfer_lean.so.1), which a version-compatible plan carries inside{ships}; full TensorRT "
                      f"10/11 on a GPU builds {WOULD['version_compatible']}. Add --exclude-lean-runtime to leave it "
                      "out (the target then provides it).")
    if serialized is None:
        detail = "\n".join(f"  TensorRT: {line}" for line in errors[-10:]) or "  (TensorRT gave no error message)"
        raise BuildFailed(f"TensorRT could not build {checked.path}:\n{detail}")
    if cache is not None:
        from .files import write_atomic

        write_atomic(options.timing_cache, bytes(memoryview(cache.serialize())))
    names = [{"name": name, "dtype": dtype, "shape": list(shape), **({"derived_from": list(sources)} if sources else {})}
             for name, (dtype, shape, sources) in ctx.names.items()]
    plan = Plan(memoryview(serialized), checked, options, weights_path, _io(checked, options, "inputs"),
                _io(checked, options, "outputs"), names, info.flavour, info.version, notes, build_seconds)
    plan.weights_digest = weights_digest(ctx.arrays)  # after the build, for the reason build_plan gives
    if ctx.quant is not None:
        plan.quantization = ctx.quant.describe()
    if any(node.kind == "plugin" for node in checked.graph.nodes):
        from .ops.plugin import plugin_record

        plan.plugins = plugin_record(checked.graph.nodes)
    if any(has_named_dims(i.shape) for i in checked.graph.inputs):
        plan.profiles = [{name: {**dict(zip(("min", "opt", "max"), r)), **({"multiple_of": p.steps[name]}
                                                                           if p.steps.get(name, 1) > 1 else {})}
                          for name, r in p.ranges.items()} for p in profiles_of(checked, options)]
    return plan  # the lowering context (and its weight arrays) may go now: the plan holds its own copy


def _io(checked: CheckedSpec, options: BuildOptions, which: str) -> list[dict]:
    graph, types = checked.graph, checked.types
    entries = []
    if which == "inputs":
        for graph_input in graph.inputs:
            entry = {"name": graph_input.name, "dtype": graph_input.dtype,
                     "shape": [d if isinstance(d, int) else -1 for d in graph_input.shape]}
            if graph_input.batch:
                entry["batch"] = dict(zip(("min", "opt", "max"), options.batch or graph_input.batch))
            if any(not isinstance(d, int) and d is not BATCH for d in graph_input.shape):
                entry["dims"] = [d if isinstance(d, int) else str(d) for d in graph_input.shape]
            entries.append(entry)
    else:
        from .tensors import output_dtype

        for output in graph.outputs:
            shape = types[output.source].shape
            dtype = output_dtype([i.dtype for i in graph.inputs], types[output.source].dtype)
            entry = {"name": output.name, "dtype": dtype, "shape": [d if isinstance(d, int) else -1 for d in shape]}
            if any(not isinstance(d, int) and d is not BATCH for d in shape):
                entry["dims"] = [d if isinstance(d, int) else str(d) for d in shape]
            entries.append(entry)
    return entries


def weights_digest(arrays: dict) -> str:
    """SHA-256 over every weight given to TensorRT (name, dtype, shape, bytes, in name order): equal
    digests mean bit-identical engine weights, whatever file they came from."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = arrays[name]
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(plan: Plan, plan_path: str, plan_sha256: str | None = None) -> dict:
    options = plan.options

    def digest(path):
        return plan.hashes.get(path) or sha256_file(path)

    return {
        "netdsl": __version__,
        "tensorrt": {"flavour": plan.flavour, "version": plan.version},
        "spec": {"path": plan.checked.path, "absolute_path": os.path.abspath(plan.checked.path),
                 "name": plan.checked.graph.name, "sha256": digest(plan.checked.path),
                 **({"params": plan.checked.graph.params} if plan.checked.graph.params else {})},
        "weights": {"path": plan.weights_path, "sha256": digest(plan.weights_path)} if plan.weights_path else None,
        "plan": {"path": os.path.basename(plan_path), "bytes": plan.data.nbytes,
                 "sha256": plan_sha256 or hashlib.sha256(plan.data).hexdigest()},
        "precision": options.precision,
        "targets": list(options.targets) or "default",
        "refit": options.refit,
        "workspace": options.workspace,
        "optimization_level": options.optimization_level,
        "strip_weights": options.strip_weights,
        "hardware_compatibility": options.hardware_compatibility,
        "version_compatible": options.version_compatible,
        "exclude_lean_runtime": options.exclude_lean_runtime,
        "inputs": plan.inputs,
        "outputs": plan.outputs,
        **({"profiles": plan.profiles} if plan.profiles else {}),
        "refittable_weights": plan.weights if options.refit != "none" else [],
        "engine_weights_sha256": plan.weights_digest,
        "weights_in_engine": plan.weights,
        "notes": plan.notes,
        **({"random_weights": plan.random_weights} if plan.random_weights else {}),
        **({"quantization": plan.quantization} if plan.quantization else {}),
        **({"plugins": {**plan.plugins, "libraries": [{"path": path, "sha256": digest(path)}
                                                      for path in plan.plugins["libraries"]]}}
           if plan.plugins else {}),
    }


def manifest_path(plan_path: str) -> str:
    return plan_path + ".json"


def save(plan: Plan, path: str) -> dict:
    """Write the plan and its manifest (``<path>.json``) together (see :func:`netdsl.files.write_together`);
    returns the manifest."""
    from .files import write_together

    record = {}

    def manifest_bytes(digests: dict) -> bytes:  # the plan's SHA-256 was computed while it was written
        record.update(manifest(plan, path, digests[path]))
        return (json.dumps(record, indent=2) + "\n").encode()

    write_together({path: plan.data, manifest_path(path): manifest_bytes})
    return record


def default_output(spec: str) -> str:
    return os.path.splitext(os.path.basename(spec))[0] + ".plan"


def build(spec: str, output: str | None = None, weights: str | None = None, strict: bool = False, progress=None,
          params: dict | None = None, **overrides) -> tuple[Plan, dict]:
    """The whole of `netdsl build`: (plan, manifest), both written to ``output`` (default
    ``<spec name>.plan`` here) and ``<output>.json``. ``params``: values for the spec's `params:`;
    ``overrides`` are build options."""
    checked = load_spec(spec, params=params)
    options = options_for(checked, **overrides)
    weights_path = checked.weights_file(weights)
    bound = bind_weights(checked, weights_path, strict)
    plan = build_plan(checked, bound, options, progress, weights_path if bound else None)
    return plan, save(plan, output or default_output(spec))
