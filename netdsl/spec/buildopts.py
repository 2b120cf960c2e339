"""Build options: the spec's `build:` section, and command-line flags that win over it. Both go
through the same checks, so a bad option is refused before any lowering, with its position when it
comes from the spec.

.. code-block:: yaml

    build:
      precision: float16        # float32 (default) | float16 | bfloat16: compute dtype, weights converted
      workspace: 1GiB           # builder workspace limit: bytes, or with KiB/MiB/GiB
      refit: none               # none | refit | refit-identical | weightless
      targets: [sm86, sm89]     # TensorRT-RTX compute capabilities; default: TensorRT-RTX's portable set
      timing_cache: build.cache # relative to the spec; TensorRT only (TensorRT-RTX has none)
      optimization_level: 3     # builder optimization level, 0..5
      strip_weights: false      # a plan without its weights (refit from the weight file on the target)
      hardware_compatibility: none  # none | ampere+ | same-cc: GPUs other than the one it was built on
      version_compatible: false # runs on later TensorRT versions (with the lean runtime inside, unless
      exclude_lean_runtime: false   # this is true: then the target provides it)
"""

from __future__ import annotations

import os
import re

from ..diagnostics import Diagnostics, Pos
from ..yamlnodes import Node as YamlNode, Scalar, Seq, describe
from .fields import check_keys, expect_map

PRECISIONS = ("float32", "float16", "bfloat16")
# The spellings trtexec, Polygraphy, PyTorch and numpy users type; the canonical name is what is recorded.
PRECISION_ALIASES = {"fp32": "float32", "f32": "float32", "float": "float32", "single": "float32",
                     "fp16": "float16", "f16": "float16", "half": "float16",
                     "bf16": "bfloat16", "bfloat": "bfloat16"}
UNSUPPORTED_PRECISIONS = {"int8": "INT8", "fp8": "FP8", "int4": "INT4", "fp4": "FP4", "best": "--best", "tf32": "TF32"}
REFIT_MODES = ("none", "refit", "refit-identical", "weightless")
TARGETS = ("sm75", "sm80", "sm86", "sm89", "sm120", "sm121")
# K, M, G (and T) are binary, as trtexec's --memPoolSize and Polygraphy's --pool-limit read them.
UNITS = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
         "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# patterns, compiled (and cached by `re`) when a spec gives a workspace size: not at every start-up
SIZE_PATTERN = r"\s*(\d+)\s*(B|[KMGT]iB|[KMGT])?\s*\Z"
DECIMAL_UNITS_PATTERN = r"\s*\d+\s*[kKMGT]B\s*\Z"
MAX_WORKSPACE = 1 << 40


# trtexec's --hardwareCompatibilityLevel spellings and TensorRT's enum names -> netdsl's
HARDWARE_COMPATIBILITY = {"none": "none", "ampere+": "ampere+", "ampere_plus": "ampere+", "ampereplus": "ampere+",
                          "same-cc": "same-cc", "samecomputecapability": "same-cc",
                          "same_compute_capability": "same-cc"}
SWITCHES = ("strip_weights", "version_compatible", "exclude_lean_runtime")  # true or false

FIELDS = ("precision", "workspace", "refit", "targets", "timing_cache", "optimization_level", "batch", "profiles",
          "strip_weights", "hardware_compatibility", "version_compatible", "exclude_lean_runtime")


class BuildOptions:
    """The options, each with its default. ``positions`` says where the spec sets each; it takes no part
    in comparisons. A plain class, not a dataclass: see ``netdsl.graph``."""

    __slots__ = FIELDS + ("positions",)

    def __init__(self, precision: str = "float32", workspace: int | None = None, refit: str = "none",
                 targets: tuple[str, ...] = (), timing_cache: str | None = None, optimization_level: int | None = None,
                 batch: tuple[int, int, int] | None = None, profiles: list | None = None,
                 strip_weights: bool = False, hardware_compatibility: str = "none", version_compatible: bool = False,
                 exclude_lean_runtime: bool = False, positions: dict[str, Pos] | None = None):
        self.precision = precision
        self.workspace = workspace  # bytes; None: TensorRT's default
        self.refit = refit
        self.targets = targets  # empty: TensorRT-RTX's default
        self.timing_cache = timing_cache
        self.optimization_level = optimization_level
        self.batch = batch  # overrides every dynamic input's (min, opt, max)
        self.profiles = profiles  # symbolic.Profile list from the command line: overrides the spec's
        self.strip_weights = strip_weights  # BuilderFlag.STRIP_PLAN (with a refit mode: see resolved())
        self.hardware_compatibility = hardware_compatibility  # none | ampere+ | same-cc
        self.version_compatible = version_compatible  # BuilderFlag.VERSION_COMPATIBLE
        self.exclude_lean_runtime = exclude_lean_runtime  # BuilderFlag.EXCLUDE_LEAN_RUNTIME
        self.positions = {} if positions is None else positions

    def merged(self, overrides: dict) -> BuildOptions:
        """These options with command-line values (already checked) on top."""
        values = {key: getattr(self, key) for key in FIELDS}
        values.update((key, value) for key, value in overrides.items() if value is not None)
        return BuildOptions(**values, positions=self.positions)

    def resolved(self) -> BuildOptions:
        """These options with the implied ones made explicit: a stripped plan is refittable (refit-identical
        unless a refit mode says otherwise: the weights given are the ones to deploy), and `weightless` is
        refit-identical and stripped. Raises ValueError for options that contradict each other."""
        values = {key: getattr(self, key) for key in FIELDS}
        if self.refit == "weightless":
            values["strip_weights"] = True
        elif self.strip_weights and self.refit == "none":
            values["refit"] = "refit-identical"
        if self.exclude_lean_runtime and not self.version_compatible:
            raise ValueError("exclude_lean_runtime (--exclude-lean-runtime) is for a version-compatible plan: add "
                             "--version-compatible")
        return BuildOptions(**values, positions=self.positions)

    def __eq__(self, other):
        if other.__class__ is not BuildOptions:
            return NotImplemented
        return all(getattr(self, key) == getattr(other, key) for key in FIELDS)

    def __repr__(self):
        return "BuildOptions(" + ", ".join(f"{key}={getattr(self, key)!r}" for key in FIELDS) + ")"


OPTION_KEYS = tuple(key for key in FIELDS if key not in ("batch", "profiles"))


def check_option(key: str, value):
    """The checked value of one option; raises ValueError with the reason. ``value`` is what YAML or
    the command line gave (strings from the command line)."""
    if key == "precision":
        return canonical_precision(value)
    if key == "refit":
        if value not in REFIT_MODES:
            raise ValueError(f"refit must be one of {', '.join(REFIT_MODES)}")
        return value
    if key == "workspace":
        if type(value) is int:
            number, unit = value, ""
        else:
            match = re.match(SIZE_PATTERN, str(value))
            if not match:
                if re.match(DECIMAL_UNITS_PATTERN, str(value)):
                    raise ValueError(f"workspace `{value}`: KB, MB and GB are ambiguous (1000 or 1024?); write KiB, "
                                     "MiB, GiB, or K, M, G as trtexec does (all binary)")
                raise ValueError("workspace is a size in bytes, like 1073741824, 1GiB or 1G (units B, KiB, MiB, GiB, "
                                 "TiB; K, M, G, T as in trtexec)")
            number, unit = int(match.group(1)), match.group(2) or ""
        size = number * UNITS[unit]
        if not 1 <= size <= MAX_WORKSPACE:
            raise ValueError("workspace must be from 1 byte to 1 TiB")
        return size
    if key == "targets":
        items = value.split(",") if isinstance(value, str) else value
        targets = tuple(str(item).strip().lower() for item in items)
        unknown = [t for t in targets if t not in TARGETS]
        if not targets or unknown:
            raise ValueError(f"unknown target {', '.join(unknown) or '(none)'}; targets are {', '.join(TARGETS)}")
        return tuple(dict.fromkeys(targets))
    if key == "optimization_level":
        level = int(value) if isinstance(value, str) and value.strip().isdigit() else value
        if type(level) is not int or not 0 <= level <= 5:
            raise ValueError("optimization_level is an integer from 0 to 5")
        return level
    if key == "timing_cache":
        if not isinstance(value, str) or not value or "\0" in value:
            raise ValueError("timing_cache is a file path")
        return value
    if key == "batch":
        parts = value.split(",") if isinstance(value, str) else value
        try:
            batch = tuple(int(p) for p in parts)
        except (TypeError, ValueError):
            batch = ()
        if len(batch) != 3 or not 1 <= batch[0] <= batch[1] <= batch[2]:
            raise ValueError("batch is MIN,OPT,MAX with 1 <= MIN <= OPT <= MAX")
        return batch
    if key in SWITCHES:
        if value in (True, False) and type(value) is bool:
            return value
        raise ValueError(f"{key} is true or false")
    if key == "hardware_compatibility":
        level = HARDWARE_COMPATIBILITY.get(str(value).strip().lower().replace(" ", "")) if isinstance(value, str) \
            else None
        if level is None:
            raise ValueError("hardware_compatibility is none, ampere+ (Ampere and later GPUs) or same-cc (GPUs of "
                             "the build GPU's compute capability); trtexec's sameComputeCapability is same-cc")
        return level
    if key == "profiles":  # symbolic.Profile objects, checked against the spec where they were made
        return list(value)
    raise ValueError(f"unknown build option `{key}`")


def canonical_precision(value) -> str:
    """The canonical precision for any accepted spelling.

    >>> [canonical_precision(v) for v in ("fp16", "half", "BF16", "float32")]
    ['float16', 'float16', 'bfloat16', 'float32']
    """
    text = str(value).strip().lower() if isinstance(value, str) else value
    if text in PRECISIONS:
        return text
    if text in PRECISION_ALIASES:
        return PRECISION_ALIASES[text]
    accepted = f"precision must be one of {', '.join(PRECISIONS)} (also {', '.join(PRECISION_ALIASES)})"
    if text in UNSUPPORTED_PRECISIONS:
        how = "" if text == "tf32" else (": add a `quantization:` section to the spec (dtype int8 or fp8) and make "
                                         "its ranges with `netdsl calibrate SPEC --data DIR -o SCALES`")
        raise ValueError(f"{accepted}; {UNSUPPORTED_PRECISIONS[text]} is not a netdsl precision: TensorRT 11 and "
                         f"TensorRT-RTX quantize explicitly, with quantize/dequantize layers in the network{how}")
    raise ValueError(accepted)


def read_build(node: YamlNode | None, spec_path: str, diagnostics: Diagnostics) -> BuildOptions:
    options = BuildOptions()
    if node is None:
        return options
    section = expect_map(node, "`build`", diagnostics)
    if section is None:
        return options
    check_keys(section, OPTION_KEYS, "`build`", diagnostics)
    for key, value in section.entries.items():
        if key not in OPTION_KEYS:
            continue
        if isinstance(value, Seq) and all(isinstance(item, Scalar) for item in value.items):
            raw = [item.value for item in value.items]
        elif isinstance(value, Scalar):
            raw = value.value
        else:
            raw = None
        try:
            if raw is None:
                raise ValueError(f"found {describe(value)}")
            checked = check_option(key, raw)
        except ValueError as error:
            diagnostics.error("invalid-build-option", f"`build.{key}`: {error}", value.pos, found=describe(value))
            continue
        if key == "timing_cache" and not spec_path.startswith("<"):
            checked = os.path.normpath(os.path.join(os.path.dirname(spec_path), checked))
        setattr(options, key, checked)
        options.positions[key] = value.pos
    return options
