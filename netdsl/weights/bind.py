"""Binding weight files to a checked spec, before TensorRT is touched.

Every weight slot of every layer (``netdsl/ops``) has a canonical name ``<layer>.<slot>``, PyTorch's
``state_dict`` key, and is looked up in the file under that name as the spec maps it (a layer's own
``weights`` map, else the spec's ``weights.prefix`` and ``weights.rename``; see ``spec/weightnames.py``).
All problems are reported together: missing weights, shape and dtype mismatches (at the layer's place
in the spec), values that are NaN or infinite, and weights nothing uses (a warning, or an error with
``strict``), except known buffers such as ``num_batches_tracked``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Diagnostics, Pos, Source, SpecError, UsageError, did_you_mean
from ..ops import show_shape
from ..spec.weightnames import WeightsSource, find_prefix_rule, suggest_mapping
from ..tensors import INTEGER_DTYPES
from .stored import FLOAT_DTYPES, Tensor

IGNORED_SUFFIXES = (".num_batches_tracked",)
BINDABLE = FLOAT_DTYPES + ("float64",)


@dataclass
class BoundWeight:
    name: str  # canonical: <layer>.<slot>
    layer: str
    slot: str
    array: object  # float32 numpy array, shaped as the slot
    key: str | None = None  # the weight file's name for it, where it came from a file


def bind_weights(checked, path: str | None = None, strict: bool = False) -> dict[str, BoundWeight]:
    """Bound weights (canonical name -> BoundWeight) from ``path`` or the spec's default file; raises
    SpecError listing every problem."""
    path = checked.weights_file(path)
    if path is None:
        if not any(node.weight_slots(checked.types) for node in checked.graph.nodes):
            return {}
        raise UsageError(f"{checked.path} names no weights file (`weights:` in the spec); give one with --weights, "
                         "or build with --random-weights to check and time the build")
    diagnostics = Diagnostics()
    tensors = read_for(checked, path, diagnostics)
    if tensors is None:
        raise SpecError(diagnostics)
    return bind(checked, tensors, path, strict=strict)


def bind(checked, tensors: dict[str, Tensor], path: str, strict: bool = False,
         diagnostics: Diagnostics | None = None) -> dict[str, BoundWeight]:
    """Canonical name -> weight, converted to float32 and shaped as the layer needs. Raises SpecError
    listing every problem (unless ``diagnostics`` is given, which then collects them).

    ``checked`` may be a partial spec (``complete`` False: it has errors of its own); then the layers
    whose input shapes are known are checked, and unused weights are not reported (the layers that
    would use them may be the broken ones)."""
    own = diagnostics is None
    diagnostics = Diagnostics() if own else diagnostics
    complete = getattr(checked, "complete", True)
    rules = checked.graph.weights or WeightsSource(None)
    wanted = {}  # file key -> (node, slot, canonical name)
    for node in checked.graph.nodes:
        if not complete and any(name not in checked.types for name in node.inputs):
            continue
        for slot in node.weight_slots(checked.types):
            canonical = f"{node.name}.{slot.name}"
            key = node.weight_names.get(slot.name) or rules.file_key(canonical)
            if key in wanted:
                diagnostics.error("duplicate-weight-key", f"`{canonical}` and `{wanted[key][2]}` both read `{key}` "
                                  "from the weight file", node.weight_pos.get(slot.name, node.pos), layer=node.name,
                                  hint="each weight needs a file entry of its own (TensorRT names them apart)")
                continue
            wanted[key] = (node, slot, canonical)
    copies = _tied(rules, wanted, tensors, diagnostics)
    unclaimed = [name for name in tensors if name not in wanted and name not in copies
                 and not name.endswith(IGNORED_SUFFIXES)]
    from_copies = {original: alias for alias, original in copies.items() if original not in tensors}
    redirect = _prefix_rule(checked, rules, wanted, {**tensors, **{k: tensors[v] for k, v in from_copies.items()}},
                            unclaimed, path, diagnostics)
    if redirect:
        taken = set(redirect.values())
        unclaimed = [name for name in unclaimed if name not in taken]
    redirect = {**from_copies, **redirect}
    bound: dict[str, BoundWeight] = {}
    for key, (node, slot, canonical) in wanted.items():
        stored = redirect.get(key, key)
        weight = _bind_one(node, slot, canonical, key, tensors.get(stored), unclaimed, path, diagnostics)
        if weight is not None:
            weight.key = stored
            bound[canonical] = weight
    for rule in rules.rename:
        if not any(canonical.startswith(rule.old) for _, _, canonical in wanted.values()):
            diagnostics.add(Diagnostic("unused-rename", f"rename rule `{rule.old}` matches no weight of the spec",
                                       rule.pos, severity="warning", hint="`from` is a prefix of canonical "
                                       "names, <layer>.<slot>, as `netdsl summary` lists the layers"))
    for name in unclaimed if complete else ():
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


def _tied(rules, wanted, tensors, diagnostics) -> dict[str, str]:
    """The file's copies of tied weights (`weights.tied`: alias -> the key the spec reads): where the file
    has both, they must be equal; where it has only the alias, the weight is read from there."""
    import numpy as np

    copies = {}
    for alias, (original, pos) in rules.tied.items():
        if original not in wanted:
            diagnostics.add(Diagnostic("unused-tied", f"`weights.tied` ties `{alias}` to `{original}`, which no "
                                       "layer reads", pos, severity="warning"))
            continue
        if alias not in tensors:
            continue
        copies[alias] = original
        if original in tensors:
            a, b = tensors[alias], tensors[original]
            if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a.data, b.data):
                diagnostics.error("tied-weight-differs", f"`{alias}` is tied to `{original}` (`weights.tied`), but "
                                  "the weight file holds different tensors under the two names", pos, weight=alias,
                                  hint="the checkpoint does not tie them: drop the `tied` entry and give the "
                                  "layer a weight of its own")
    return copies


AUTOMATIC_PREFIX = "module."  # DataParallel and DistributedDataParallel prefix every key with it


def _prefix_rule(checked, rules, wanted, tensors, unclaimed, path, diagnostics) -> dict[str, str]:
    """When the file has the spec's weights under another prefix, say so once, with the `weights:`
    mapping that fixes it, instead of once per weight. An unambiguous `module.` prefix (every missing
    weight, nothing else) is applied, with a warning; returns the names read from elsewhere."""
    missing = [key for key in wanted if key not in tensors]
    rule = find_prefix_rule(missing, unclaimed) if len(missing) >= 2 else None
    if rule is None:
        return {}
    folder = os.path.dirname(checked.path)
    file_text = os.path.relpath(path, folder or ".") if os.path.isabs(path) == os.path.isabs(folder or ".") else path
    mapping = suggest_mapping(rule, rules, file_text)
    automatic = (not rule.old and rule.new == AUTOMATIC_PREFIX and len(rule.explained) == len(missing)
                 and mapping is not None)
    examples = ", ".join(f"`{key}` is `{name}`" for key, name in list(rule.explained.items())[:2])
    count = (f"all {len(wanted)} weights" if len(rule.explained) == len(wanted)
             else f"{len(rule.explained)} of the {len(wanted)} weights")
    pos = rules.file_pos or Pos(checked.source, 1, 1)
    if automatic:
        diagnostics.error("weights-prefix", f"{count} are in {path} under `{rule.new}` (a DataParallel checkpoint: "
                          f"{examples}); netdsl read them from there", pos, severity="warning",
                          hint=f"say so in the spec to silence this: `{mapping}`")
        return rule.explained
    diagnostics.error("weights-prefix", f"{count} are in {path} under other names: {rule.describe()} ({examples})",
                      pos, hint=f"map the names in the spec: `{mapping}`" if mapping else
                      "change the spec's `weights:` prefix or rename rules accordingly")
    for key in rule.explained:  # reported above, once
        wanted.pop(key)
    taken = set(rule.explained.values())
    unclaimed[:] = [name for name in unclaimed if name not in taken]
    return {}


def _bind_one(node, slot, name, key, tensor, unclaimed, path, diagnostics) -> BoundWeight | None:
    import numpy as np

    if tensor is None:
        looked_up = "" if key == name else f" (looked up as `{key}`)"
        diagnostics.error("missing-weight", f"layer `{node.name}` needs weight `{name}` {show_shape(slot.shape)}"
                          f"{looked_up}, which {path} does not have", node.weight_pos.get(slot.name, node.pos),
                          layer=node.name, weight=name, hint=did_you_mean(key, unclaimed) or (
                              "map the file's names with `weights:` in the spec, or give the layer `bias: false`"))
        return None
    integer = slot.dtype in INTEGER_DTYPES
    if tensor.dtype not in BINDABLE and not (integer and tensor.dtype in INTEGER_DTYPES):
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
    if integer and not _exact_integers(tensor.data if tensor.dtype in INTEGER_DTYPES else array):
        diagnostics.error("weight-dtype", f"weight `{name}` must hold integers of at most 2^24 in magnitude for "
                          f"this {slot.dtype} constant", node.pos, layer=node.name, weight=name,
                          hint="bound weights are float32 arrays, which hold such integers exactly")
        return None
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        diagnostics.error("weight-not-finite", f"weight `{name}` holds {bad:,} NaN or infinite values",
                          node.pos, layer=node.name, weight=name, hint="the checkpoint is damaged or training diverged")
        return None
    return BoundWeight(name, node.name, slot.name, array)


def _exact_integers(data) -> bool:
    import numpy as np

    values = np.asarray(data, np.float64)
    return bool(np.all(np.abs(values) <= 2 ** 24) and np.all(values == np.round(values)))


def read_for(checked, path: str, diagnostics: Diagnostics) -> dict[str, Tensor] | None:
    """The tensors of ``path`` (problems into ``diagnostics``). A missing file that the spec's `weights:`
    names is reported at that line, with the path as resolved against the spec's folder."""
    from . import read_weights

    from . import format_problem

    rules = checked.graph.weights
    from_spec = rules is not None and rules.file == path and rules.file_pos is not None
    if from_spec and format_problem(path):  # at the `weights:` line, with the path as resolved
        diagnostics.error("bad-weights", format_problem(os.path.abspath(path)), rules.file_pos,
                          hint="rename the file to its format's extension, or give a file with --weights")
        return None
    if from_spec and not os.path.exists(path):
        folder = os.path.dirname(os.path.abspath(checked.path))
        diagnostics.error("file-not-found", f"the spec's weights file does not exist: {os.path.abspath(path)}",
                          rules.file_pos, hint=f"`weights:` is relative to the spec's folder, {folder}; or give "
                          "a file with --weights")
        return None
    try:
        return read_weights(path)
    except SpecError as error:  # the weight file itself is malformed, or missing
        diagnostics.extend(error.diagnostics)
        return None


@dataclass
class CheckedWithWeights:
    spec: object  # CheckedSpec, or None when anything is wrong
    weights: dict | None  # canonical name -> BoundWeight
    weights_path: str | None
    diagnostics: Diagnostics


def check_with_weights(spec_path: str, weights: str | None = None, strict: bool = False,
                       params: dict | None = None) -> CheckedWithWeights:
    """Check a spec and bind its weights (``weights``, else the spec's file) in one run: when the spec
    has errors, the weights of the layers that did check are still checked, so an edited layer's
    weight-shape mismatch shows up beside the shape error it causes downstream. ``params``: values for the
    spec's `params:` (the command line's --set)."""
    from ..spec import check

    checked, diagnostics = check(spec_path, partial=True, params=params)
    if checked is None:
        return CheckedWithWeights(None, None, None, diagnostics)
    path = checked.weights_file(weights)
    bound = None
    if path is None:
        if checked.complete and any(node.weight_slots(checked.types) for node in checked.graph.nodes):
            raise UsageError(f"{spec_path} names no weights file (`weights:` in the spec); give one with --weights "
                             "(netdsl build: or --random-weights, to check and time the build)")
        bound = {}
    else:
        tensors = read_for(checked, path, diagnostics)
        if tensors is not None:
            bound = bind(checked, tensors, path, strict=strict, diagnostics=diagnostics)
    if diagnostics.has_errors:
        return CheckedWithWeights(None, None, path, diagnostics)
    return CheckedWithWeights(checked, bound, path, diagnostics)
