"""Binding weight files to a checked spec, before TensorRT is touched.

Every weight slot of every layer (``netdsl/ops``) has a canonical name ``<layer>.<slot>``, PyTorch's
``state_dict`` key, and is looked up in the file under that name as the spec maps it (a layer's own
``weights`` map, else the spec's ``weights.prefix`` and ``weights.rename``; see ``spec/weightnames.py``).
All problems are reported together: missing weights, shape and dtype mismatches (at the layer's place
in the spec), values that are NaN or infinite, and weights nothing uses (a warning, or an error with
``strict``), except known buffers such as ``num_batches_tracked``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..diagnostics import Diagnostic, Diagnostics, Pos, Source, SpecError, did_you_mean
from ..ops import show_shape
from ..spec.weightnames import WeightsSource
from . import FLOAT_DTYPES, Tensor

IGNORED_SUFFIXES = (".num_batches_tracked",)
BINDABLE = FLOAT_DTYPES + ("float64",)


@dataclass
class BoundWeight:
    name: str  # canonical: <layer>.<slot>
    layer: str
    slot: str
    array: object  # float32 numpy array, shaped as the slot


def bind(checked, tensors: dict[str, Tensor], path: str, strict: bool = False,
         diagnostics: Diagnostics | None = None) -> dict[str, BoundWeight]:
    """Canonical name -> weight, converted to float32 and shaped as the layer needs. Raises SpecError
    listing every problem (unless ``diagnostics`` is given, which then collects them)."""
    own = diagnostics is None
    diagnostics = Diagnostics() if own else diagnostics
    rules = checked.graph.weights or WeightsSource(None)
    wanted = {}  # file key -> (node, slot, canonical name)
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            canonical = f"{node.name}.{slot.name}"
            key = node.weight_names.get(slot.name) or rules.file_key(canonical)
            if key in wanted:
                diagnostics.error("duplicate-weight-key", f"`{canonical}` and `{wanted[key][2]}` both read `{key}` "
                                  "from the weight file", node.weight_pos.get(slot.name, node.pos), layer=node.name,
                                  hint="each weight needs a file entry of its own (TensorRT names them apart)")
                continue
            wanted[key] = (node, slot, canonical)
    unclaimed = [name for name in tensors if name not in wanted and not name.endswith(IGNORED_SUFFIXES)]
    bound: dict[str, BoundWeight] = {}
    for key, (node, slot, canonical) in wanted.items():
        weight = _bind_one(node, slot, canonical, key, tensors.get(key), unclaimed, path, diagnostics)
        if weight is not None:
            bound[canonical] = weight
    for rule in rules.rename:
        if not any(canonical.startswith(rule.old) for _, _, canonical in wanted.values()):
            diagnostics.add(Diagnostic("unused-rename", f"rename rule `{rule.old}` matches no weight of the spec",
                                       rule.pos, severity="warning", hint="`from` is a prefix of canonical "
                                       "names, <layer>.<slot>, as `netdsl summary` lists the layers"))
    for name in unclaimed:
        line = tensors[name].line or 1
        diagnostics.add(Diagnostic(
            "unused-weight", f"weight `{name}` is not used by any layer", Pos(Source(path, ""), line, 1),
            severity="error" if strict else "warning", weight=name,
            hint=(did_you_mean(name, [n for n in wanted if n not in tensors]) or
                  "check the layer names, or drop it from the file")
            + ("" if strict else " (--strict makes this an error)")))
    if own and diagnostics.has_errors:
        raise SpecError(diagnostics)
    return bound


def _bind_one(node, slot, name, key, tensor, unclaimed, path, diagnostics) -> BoundWeight | None:
    import numpy as np

    if tensor is None:
        looked_up = "" if key == name else f" (looked up as `{key}`)"
        diagnostics.error("missing-weight", f"layer `{node.name}` needs weight `{name}` {show_shape(slot.shape)}"
                          f"{looked_up}, which {path} does not have", node.weight_pos.get(slot.name, node.pos),
                          layer=node.name, weight=name, hint=did_you_mean(key, unclaimed) or (
                              "map the file's names with `weights:` in the spec, or give the layer `bias: false`"))
        return None
    if tensor.dtype not in BINDABLE:
        diagnostics.error("weight-dtype", f"weight `{name}` is {tensor.dtype}; layers need floating point",
                          node.pos, layer=node.name, weight=name, expected="float32, float16 or bfloat16", found=tensor.dtype)
        return None
    expected = slot.count
    if tensor.shape is not None and tuple(tensor.shape) != tuple(slot.shape):
        diagnostics.error("weight-shape", f"weight `{name}` has shape {show_shape(tensor.shape)}, layer "
                          f"`{node.name}` needs {show_shape(slot.shape)}", node.pos, layer=node.name, weight=name,
                          expected=show_shape(slot.shape), found=show_shape(tensor.shape))
        return None
    if tensor.count != expected:
        diagnostics.error("weight-shape", f"weight `{name}` has {tensor.count:,} values, layer `{node.name}` needs "
                          f"{expected:,} ({show_shape(slot.shape)})", node.pos, layer=node.name, weight=name,
                          expected=f"{expected:,} values", found=f"{tensor.count:,}")
        return None
    array = tensor.as_float32().reshape(slot.shape)
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        diagnostics.error("weight-not-finite", f"weight `{name}` holds {bad:,} NaN or infinite values",
                          node.pos, layer=node.name, weight=name, hint="the checkpoint is damaged or training diverged")
        return None
    return BoundWeight(name, node.name, slot.name, array)
