"""Ranges from quantization-aware training: the ``_amax`` buffers that NVIDIA's PyTorch quantization
toolkits keep in a model's ``state_dict``, used instead of calibrating.

- pytorch-quantization (``QuantConv2d``, ``QuantLinear``...): ``<module>._input_quantizer._amax`` (one
  value) and ``<module>._weight_quantizer._amax`` (one per output channel, shaped [out, 1, 1, 1] or
  [out, 1]); a residual quantizer added to a block, as NVIDIA's ResNet example does, is
  ``<block>.residual_quantizer._amax``.
- TensorRT Model Optimizer (modelopt): the same without the leading underscore,
  ``<module>.input_quantizer._amax`` and ``<module>.weight_quantizer._amax``.

The module names must be the spec's layer names (netdsl's specs use PyTorch's). Export the state_dict
with :func:`netdsl.weights.from_torch.export_weights` (safetensors; netdsl reads no pickles).
"""

from __future__ import annotations

import re

from ..diagnostics import NetdslError
from .calibtable import Report
from .scales import Scales

AMAX_RE = re.compile(r"(?P<module>.+)\.(?:_)?(?P<which>input|weight|residual)_quantizer\._amax\Z")


def import_qat(checked, path: str) -> tuple[Scales, Report]:
    import numpy as np

    from ..weights import read_weights
    from . import placement

    tensors = read_weights(path)
    nodes = {node.name: node for node in checked.graph.nodes}
    where = placement(checked)
    scales, report = Scales(), Report()

    def activation(tensor: str, amax: float, key: str) -> None:
        if tensor in scales.activations and scales.activations[tensor] != amax:
            report.notes.append(f"note: `{tensor}` is read by several quantized layers with different ranges; "
                                f"kept the largest ({key})")
            amax = max(amax, scales.activations[tensor])
        scales.activations[tensor] = amax
        report.matched.append(key)

    amaxes = {key: np.asarray(tensors[key].as_float32(), np.float64).reshape(-1)
              for key in sorted(tensors) if AMAX_RE.match(key)}
    check_ranges(amaxes, path)
    for key, values in amaxes.items():
        match = AMAX_RE.match(key)
        module, which = match.group("module"), match.group("which")
        node = nodes.get(module)
        if which == "input" and node is not None:
            activation(node.inputs[0], float(values.max()), key)
        elif which == "weight" and node is not None:
            scales.weights[f"{module}.weight"] = [float(v) for v in values]
            report.matched.append(key)
        elif which == "residual" and where is not None:
            adds = [layer for name, layer in where.layers.items()
                    if layer.kind == "add" and name.startswith(module + ".")]
            if len(adds) == 1:
                for index in adds[0].inputs:
                    activation(nodes[adds[0].name].inputs[index], float(values.max()), key)
            else:
                report.unmatched.append((key, f"{len(adds)} residual adds in `{module}`, expected one"))
        else:
            report.unmatched.append((key, f"no layer `{module}` in the spec"))
    if not report.matched and not report.unmatched:
        report.notes.append(f"note: {path} has no `_amax` buffers (pytorch-quantization's or modelopt's quantizers)")
    if where is not None:
        report.missing = [name for name in where.tensors if name not in scales.activations]
    scales.meta["method"] = f"quantization-aware training, imported from {path}"
    return scales, report


def check_ranges(amaxes: dict, path: str) -> None:
    """Refuse `_amax` buffers that are not ranges: every value finite, an activation's > 0, a weight's
    >= 0 (0 for a channel of zeros, as pytorch-quantization leaves a pruned channel)."""
    import numpy as np

    problems = []
    for key, values in amaxes.items():
        weight = AMAX_RE.match(key).group("which") == "weight"
        bad = ~np.isfinite(values) | (values < 0 if weight else values <= 0)
        if values.size == 0:
            problems.append(f"`{key}` is empty")
        elif bad.any():
            index = int(np.flatnonzero(bad)[0])
            where = f" (element {index} of {values.size})" if values.size > 1 else ""
            problems.append(f"`{key}` holds {float(values[index])!r}{where}")
    if problems:
        rule = "finite and > 0 (a weight's per-channel range may be 0 for a channel of zeros)"
        more = f" (and {len(problems) - 1} more: {', '.join(problems[1:4])})" if len(problems) > 1 else ""
        raise NetdslError(f"{path}: {problems[0]}, not a range: a range must be {rule}{more}; nothing written")
