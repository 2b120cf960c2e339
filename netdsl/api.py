"""netdsl's public Python API: everything the command line does, a script can do (see docs/python.md).

    import netdsl
    net = netdsl.load("specs/lenet.yaml")                 # checked: raises SpecError listing every problem
    net = net.bind()                                      # the spec's own weights file (or a path, or a dict)
    outputs = net.reference({"data": array})              # numpy reference executor
    engine = net.build("lenet.plan", precision="fp16")    # TensorRT (or TensorRT-RTX): plan + manifest

Nothing heavy is imported until a method needs it: numpy with weights, TensorRT with ``build``, onnx with
``export_onnx``/``import_onnx``, torch with ``from_torch``.
"""

from __future__ import annotations

import os
import re

from .diagnostics import UsageError

# build keyword -> the BuildOptions field it sets (the keywords are the `netdsl build` flags' names)
_OPTION_FIELDS = {"precision": "precision", "workspace": "workspace", "refit": "refit", "target": "targets",
                  "timing_cache": "timing_cache", "optimization_level": "optimization_level", "batch": "batch",
                  "profiles": "profiles", "strip_weights": "strip_weights",
                  "hardware_compatibility": "hardware_compatibility", "version_compatible": "version_compatible",
                  "exclude_lean_runtime": "exclude_lean_runtime"}


class Network:
    """A checked spec and, after :meth:`bind`, its weights. Instances are not changed by methods: ``bind``
    returns a new Network.

    >>> net = load("specs/lenet.yaml")
    >>> net.name, [(i["name"], i["shape"]) for i in net.inputs]
    ('lenet', [('data', ['N', 1, 32, 32])])
    >>> net.is_bound
    False
    """

    def __init__(self, checked, params: dict | None = None, bound: dict | None = None,
                 weights_path: str | None = None, random_seed: int | None = None, text: str | None = None,
                 problems: tuple = ()):
        self.checked = checked  # netdsl.spec.CheckedSpec: the graph, every tensor's type, the source
        self.params = dict(params or {})  # the spec parameters it was loaded with (`--set`)
        self._bound = bound
        self.weights_path = weights_path  # the file the weights came from (None: arrays or random)
        self.random_seed = random_seed  # set when bound to seeded random weights
        self._text = text
        self.problems = list(problems)  # (imports) what could not be expressed, with partial=True

    def __repr__(self):
        state = "random weights" if self.random_seed is not None else self.weights_path or (
            "bound" if self._bound is not None else "no weights")
        return f"<netdsl.Network {self.name!r} from {self.checked.path} ({state})>"

    # -- what it is ------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.checked.graph.name

    @property
    def path(self) -> str:
        return self.checked.path

    @property
    def text(self) -> str:
        """The spec's YAML text."""
        if self._text is None:
            with open(self.checked.path, encoding="utf-8") as file:
                self._text = file.read()
        return self._text

    @property
    def inputs(self) -> list[dict]:
        """Name, shape (a dynamic dimension by its name; ``N`` for a -1 batch) and dtype of each input."""
        return [{"name": i.name, "shape": [_dim(d) for d in i.shape], "dtype": i.dtype}
                for i in self.checked.graph.inputs]

    @property
    def outputs(self) -> list[dict]:
        """Name, shape (symbolic dimensions as text) and dtype of each output."""
        result = []
        for output in self.checked.graph.outputs:
            t = self.checked.types[output.source]
            result.append({"name": output.name, "shape": [_dim(d) for d in t.shape], "dtype": t.dtype})
        return result

    @property
    def is_bound(self) -> bool:
        return self._bound is not None

    @property
    def bound_weights(self) -> dict:
        """Canonical weight name -> :class:`netdsl.weights.bind.BoundWeight` (the array with its layer and
        slot), as netdsl's passes take them; raises UsageError before :meth:`bind`."""
        return self._need_weights()

    @property
    def weights(self) -> dict:
        """Canonical weight name (``conv1.weight``) -> float32 array; raises UsageError before :meth:`bind`."""
        return {name: w.array for name, w in self._need_weights().items()}

    # -- weights ---------------------------------------------------------------------------------------------

    def bind(self, weights=None, *, strict: bool = False, random_weights: bool = False, seed: int = 0) -> Network:
        """This network with weights: ``weights`` is a file (.safetensors, .wts, .npz), a dict of arrays
        keyed by ``state_dict`` names, or None for the spec's own ``weights:`` file; ``random_weights``
        gives seeded random ones (``seed``), to check and time a build. Every name, shape and dtype is
        checked; raises SpecError listing every problem.

        >>> net = load("specs/lenet.yaml").bind(random_weights=True, seed=1)
        >>> net.weights["conv1.weight"].shape
        (6, 1, 5, 5)
        >>> load("specs/lenet.yaml").bind({"conv1.weight": 0})
        Traceback (most recent call last):
        ...
        netdsl.diagnostics.SpecError: ...
        """
        if random_weights:
            if weights is not None:
                raise UsageError("random_weights=True binds no weights: drop `weights` or random_weights")
            from .weights.synthetic import random_weights as make

            return self._with(make(self.checked, seed), None, seed)
        if isinstance(weights, dict):
            return self._with(_bind_arrays(self.checked, weights, strict), None, None)
        if weights is not None and not isinstance(weights, (str, os.PathLike)):
            raise UsageError(f"weights must be a file path or a dict of arrays, not {type(weights).__name__}")
        from .weights.bind import bind_weights

        path = self.checked.weights_file(None if weights is None else os.fspath(weights))
        return self._with(bind_weights(self.checked, path, strict), path, None)

    def _with(self, bound: dict, path: str | None, seed: int | None) -> Network:
        return Network(self.checked, self.params, bound, path, seed, self._text, self.problems)

    def _need_weights(self) -> dict:
        if self._bound is None:
            raise UsageError(f"{self.name} has no weights yet: call .bind() (a file, a dict of arrays, or "
                             "random_weights=True) first")
        return self._bound

    # -- what it computes ------------------------------------------------------------------------------------

    def reference(self, inputs: dict, scales: str | None = None, quantized: bool = True) -> dict:
        """Output name -> numpy array, computed by netdsl's numpy reference executor (what the engine should
        compute) for ``inputs`` given by name. A spec that quantizes computes as its Q/DQ layers do, with
        ``scales`` (default: the spec's scales file), unless ``quantized`` is False (all in float).

        >>> import numpy as np
        >>> net = load("specs/lenet.yaml").bind()
        >>> out = net.reference({"data": np.zeros((2, 1, 32, 32), np.float32)})
        >>> out["prob"].shape, round(float(out["prob"].sum()), 4)
        ((2, 10), 2.0)
        """
        from .reference import run

        quantizer = None
        if self.checked.graph.quantization is not None and quantized:
            from .quant import quantizer_for

            quantizer = quantizer_for(self.checked, scales)
        elif scales is not None and self.checked.graph.quantization is None:
            raise UsageError(f"scales given, but {self.path} has no `quantization:` section")
        return run(self.checked, self._need_weights(), inputs, quantizer=quantizer)

    def generate(self, ids, max_new: int = 20, eos: int | None = None) -> list[list[int]]:
        """Greedy decoding over a one-step decoder spec with a KV cache (specs/zoo/gpt2.yaml) on the reference
        executor: each row of ``ids`` ([batch, length] token ids) with ``max_new`` tokens after it (fewer once
        every row has produced ``eos``), as transformers' ``generate(do_sample=False)``."""
        from .generate import greedy

        return greedy(self.checked, self._need_weights(), ids, max_new, eos).ids

    # -- products --------------------------------------------------------------------------------------------

    def build(self, output: str | None = None, *, scales: str | None = None, progress=None, **options) -> Engine:
        """A TensorRT engine, written with its manifest (``<output>.json``) when ``output`` is given.
        ``options`` are `netdsl build`'s flags as keywords: precision, batch ("1,8,32" or a tuple),
        workspace, refit, target, timing_cache, optimization_level, strip_weights, hardware_compatibility
        ("ampere+", "same-cc"), version_compatible, exclude_lean_runtime; and profiles (a list of
        :class:`netdsl.symbolic.Profile`, what `--profile` makes). A value None leaves the spec's `build:`
        option. Raises UsageError for a bad option, BuildFailed with TensorRT's own messages."""
        from . import build

        unknown = sorted(set(options) - set(_OPTION_FIELDS))
        if unknown:
            raise UsageError(f"unknown build option {', '.join(unknown)}; options are {', '.join(_OPTION_FIELDS)}")
        overrides = {_OPTION_FIELDS[key]: value for key, value in options.items()}
        checked_options = build.options_for(self.checked, **overrides)
        quantizer = "spec"
        if scales is not None:
            quantizer = self._quantizer(scales)
        plan = build.build_plan(self.checked, self._need_weights(), checked_options, progress, self.weights_path,
                                quantizer)
        if self.random_seed is not None:
            from .weights.synthetic import KIND

            plan.random_weights = {"seed": self.random_seed, "values": KIND,
                                   "warning": "random weights: this engine checks the build and times it; it "
                                   "computes nothing meaningful"}
        engine = Engine(plan)
        if output is not None:
            engine.save(output)
        return engine

    def _quantizer(self, scales: str):
        if self.checked.graph.quantization is None:
            raise UsageError(f"scales given, but {self.path} has no `quantization:` section")
        from .quant import quantizer_for

        return quantizer_for(self.checked, scales)

    def export_onnx(self, path: str | None) -> dict:
        """Write the network with its weights to ``path`` as ONNX (checked by onnx.checker first, written
        atomically); returns what was written (path, bytes, nodes, initializers, opset). With ``path``
        None nothing is written and the serialized model comes back under "data"."""
        from .onnx.export import write_model

        return write_model(self.checked, self._need_weights(), path)

    def save(self, spec_path: str) -> None:
        """Write the spec's text to ``spec_path`` and, when bound, its weights beside it (same stem,
        .safetensors), together: for networks made by :func:`from_torch` or edited in memory."""
        from .files import write_together
        from .weights.safetensors import safetensors_chunks

        stem = os.path.splitext(os.path.basename(spec_path))[0]
        text = self.text
        if self._bound is not None:  # a top-level `weights: FILE` line now names the file written beside
            text = re.sub(r"(?m)^weights: .*$", f"weights: {stem}.safetensors", text, count=1)
        files = {spec_path: text.encode()}
        if self._bound is not None:
            files[os.path.join(os.path.dirname(spec_path), f"{stem}.safetensors")] = safetensors_chunks(
                self.weights, {"netdsl": "Network.save"})
        write_together(files)


class Engine:
    """A built TensorRT plan (``data``, TensorRT's serialized engine) and what netdsl records of it."""

    def __init__(self, plan):
        self.plan = plan  # netdsl.build.Plan: options, inputs, outputs, weights, notes, build time
        self.path: str | None = None
        self.manifest: dict | None = None  # after save: the manifest written beside the plan

    @property
    def data(self) -> memoryview:
        return self.plan.data

    @property
    def notes(self) -> list[str]:
        return list(self.plan.notes)

    def save(self, path: str) -> dict:
        """Write the plan and its manifest (``<path>.json``) together, atomically; returns the manifest."""
        from .build import save

        self.manifest = save(self.plan, path)
        self.path = path
        return self.manifest

    def __repr__(self):
        where = f" at {self.path}" if self.path else ""
        return f"<netdsl.Engine {self.plan.checked.graph.name!r}, {self.plan.data.nbytes:,} bytes{where}>"


def load(path: str, params: dict | None = None) -> Network:
    """The spec at ``path``, checked, with spec parameters ``params`` (what ``--set`` gives on the command
    line). Raises SpecError (every problem, located) or UsageError.

    >>> net = load("specs/zoo/yolov8.yaml", params={"scale": "s", "classes": 3})
    >>> net.outputs[0]["shape"][:2]
    ['batch', 7]
    """
    from .spec import load as load_spec

    return Network(load_spec(path, params=params), params)


def import_onnx(path: str, output: str, *, batch=None, sizes=None, partial: bool = False) -> Network:
    """Import the ONNX model at ``path``: writes the spec ``output`` and its weights beside it (same stem,
    .safetensors) and returns the imported network with those weights bound. ``batch``: the range of a
    dynamic batch, (min, opt, max); ``sizes``: ranges of other named dimensions. Raises NotImportable
    listing what netdsl cannot express (``partial=True`` keeps the rest)."""
    from .onnx.importer import import_onnx as run

    imported = run(path, output, partial, batch, sizes)
    return _imported(imported)


def from_torch(module, example_inputs, **options) -> Network:
    """A PyTorch module as a network: its spec text (``.text``), weights under ``state_dict`` names
    (``.weights``), bound and ready to run or build; ``.save(path)`` writes both. ``options``:
    dynamic_batch (default True), partial, batch, name, opset (see :mod:`netdsl.torch_import`). torch is
    imported only here."""
    from .torch_import import from_torch as run

    return _imported(run(module, example_inputs, **options))


def _imported(imported) -> Network:
    return Network(imported.checked, None, imported.bound, None, None, imported.text, imported.problems)


def _bind_arrays(checked, arrays: dict, strict: bool) -> dict:
    import numpy as np

    from .weights import Tensor
    from .weights.bind import bind

    tensors = {}
    for name, value in arrays.items():
        array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
        tensors[name] = Tensor(name, str(array.dtype), tuple(array.shape), array)
    return bind(checked, tensors, "<arrays>", strict=strict)


def _dim(d):
    return d if isinstance(d, int) else str(d)
