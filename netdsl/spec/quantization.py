"""The spec's `quantization:` section: which layers run quantized, in which type, with which scales.
It sits beside `layers:`, so a diff of a spec shows a change of architecture and a change of
quantization apart.

.. code-block:: yaml

    quantization:
      dtype: int8              # int8 | fp8 (E4M3) | int4 (weights of fully_connected/linear only)
      scales: lenet.scales     # activation ranges (`netdsl calibrate`), relative to the spec
      exclude: [conv1, fc3]    # left in float: layer names, name prefixes (`layer4`: every layer in it), kinds
      # kinds: [convolution, deconvolution, fully_connected, linear, matmul]   (the default: all of them)
      # residual: true         # Q/DQ on the other input of a residual add (TensorRT fuses the add)

Weights are quantized per output channel and activations per tensor, symmetrically (no zero point):
what TensorRT's explicit quantization takes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..diagnostics import Diagnostics, Pos, did_you_mean
from ..yamlnodes import Node as YamlNode, Scalar, Seq, describe
from .fields import bool_of, check_keys, expect_list, expect_map, text_of

DTYPES = ("int8", "fp8", "int4")  # fp8: E4M3 (float8_e4m3fn); int4: weights only
WEIGHT_ONLY = {"int4": ("fully_connected", "linear")}  # TensorRT quantizes only GEMM weights to INT4
# quantizable kinds -> the axis of their weight's output channels (None: no weights, every input is an activation)
WEIGHT_AXIS = {"convolution": 0, "deconvolution": 1, "fully_connected": 0, "linear": 0, "matmul": None}
SECTION_KEYS = ("dtype", "scales", "kinds", "exclude", "residual")
DTYPE_ALIASES = {"fp8_e4m3": "fp8", "e4m3": "fp8", "float8_e4m3fn": "fp8"}


@dataclass
class Quantization:
    dtype: str = "int8"
    scales: str | None = None  # resolved against the spec's folder
    kinds: tuple[str, ...] = tuple(WEIGHT_AXIS)
    exclude: tuple[str, ...] = ()
    residual: bool = True
    pos: Pos | None = field(default=None, compare=False, repr=False)
    positions: dict = field(default_factory=dict, compare=False, repr=False)  # key or exclude entry -> Pos

    def changes(self, other: "Quantization | None") -> list[str]:
        """What differs from ``other`` (None: no quantization), one sentence each, for `netdsl diff`."""
        if other is None:
            excluded = f", excluding {show(self.exclude)}" if self.exclude else ""
            return [f"quantization added: {self.dtype}, scales {show(self.scales)}{excluded}"]
        return [f"quantization {key}: {show(getattr(other, key))} -> {show(getattr(self, key))}"
                for key in SECTION_KEYS if getattr(other, key) != getattr(self, key)]


def show(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return {True: "true", False: "false", None: "(none)"}.get(value, str(value)) if not isinstance(value, str) \
        else value


def read_quantization(node: YamlNode, spec_path: str, diagnostics: Diagnostics) -> Quantization | None:
    section = expect_map(node, "`quantization`", diagnostics)
    if section is None:
        return None
    check_keys(section, SECTION_KEYS, "`quantization`", diagnostics)
    result = Quantization(pos=section.pos)
    entries = section.entries
    if "dtype" in entries:
        value = entries["dtype"]
        text = value.value.lower() if isinstance(value, Scalar) and isinstance(value.value, str) else None
        text = DTYPE_ALIASES.get(text, text)
        if text not in DTYPES:
            diagnostics.error("invalid-value", f"`quantization.dtype` must be int8, fp8 (E4M3) or int4 (weights "
                              f"only), found {describe(value)}", value.pos, expected="int8, fp8 or int4")
        else:
            result.dtype = text
            result.kinds = WEIGHT_ONLY.get(text, result.kinds)
    if "scales" in entries:
        path = text_of(entries["scales"], "`quantization.scales`", diagnostics)
        if path is not None:
            result.scales = path if spec_path.startswith("<") else os.path.normpath(
                os.path.join(os.path.dirname(spec_path), path))
    if "kinds" in entries:
        kinds = names_of(entries["kinds"], "`quantization.kinds`", diagnostics, result.positions)
        unknown = [k for k in kinds if k not in WEIGHT_AXIS]
        for kind in unknown:
            diagnostics.error("invalid-value", f"`{kind}` is not a kind netdsl quantizes", result.positions[kind],
                              hint=did_you_mean(kind, WEIGHT_AXIS) or "quantized kinds: " + ", ".join(WEIGHT_AXIS))
        result.kinds = tuple(k for k in kinds if k in WEIGHT_AXIS)
        allowed = WEIGHT_ONLY.get(result.dtype)
        for kind in result.kinds if allowed else ():
            if kind not in allowed:
                diagnostics.error("invalid-value", f"{result.dtype} quantizes weights only, of {', '.join(allowed)} "
                                  f"(TensorRT's INT4 is for matrix-multiply weights); `{kind}` cannot be",
                                  result.positions[kind])
        result.kinds = tuple(k for k in result.kinds if not allowed or k in allowed)
    if "exclude" in entries:
        result.exclude = tuple(names_of(entries["exclude"], "`quantization.exclude`", diagnostics, result.positions))
    if "residual" in entries:
        value = bool_of(entries["residual"], "`quantization.residual`", diagnostics)
        result.residual = result.residual if value is None else value
    for key in entries:
        result.positions.setdefault(key, section.key_pos[key])
    return result


def names_of(node: YamlNode, what: str, diagnostics: Diagnostics, positions: dict) -> list[str]:
    if isinstance(node, Scalar) and isinstance(node.value, tuple):  # a list parameter: `exclude: $float_layers`
        items = [Scalar(value, node.pos) for value in node.value]
    else:
        items = [node] if isinstance(node, Scalar) else (expect_list(node, what, diagnostics) or Seq(node.pos)).items
    names = []
    for item in items:
        if isinstance(item, Scalar) and isinstance(item.value, str) and item.value:
            names.append(item.value)
            positions[item.value] = item.pos
        else:
            diagnostics.error("wrong-type", f"{what} lists names, found {describe(item)}", item.pos)
    return names


def check_exclusions(section: Quantization, nodes, diagnostics: Diagnostics) -> None:
    """Every `exclude` entry must name a layer, a block instance, or a kind: a typo would silently leave a
    layer quantized."""
    names = [node.name for node in nodes]
    for entry in section.exclude:
        if entry in WEIGHT_AXIS or any(covers(entry, name) for name in names):
            continue
        diagnostics.error("unknown-name", f"`quantization.exclude` names `{entry}`, which is no layer, block "
                          "instance or quantized kind of this spec", section.positions[entry],
                          hint=did_you_mean(entry, names))


def covers(entry: str, name: str) -> bool:
    """`layer1` covers `layer1` and everything in it (`layer1.0.conv1`), not `layer10`."""
    return name == entry or name.startswith(entry + ".")


def excluded(section: Quantization, node) -> bool:
    return node.kind in section.exclude or any(covers(entry, node.name) for entry in section.exclude)
