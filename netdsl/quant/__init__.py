"""Explicit quantization: INT8 or FP8 (E4M3) quantize/dequantize pairs in the network, with scales
computed beforehand (TensorRT 11 and TensorRT-RTX have no other kind; TensorRT 10 takes the same).

- :mod:`netdsl.spec.quantization` (part of the front end): the spec's `quantization:` section (dtype,
  scales file, exclusions).
- :mod:`.placement`: where the Q/DQ pairs go (TensorRT's placement recommendations).
- :mod:`.scales`: the scales file (text, one tensor a line, sorted).
- :mod:`.fake`: fake quantization in numpy, as TensorRT computes it.
- :mod:`.calibrate` and :mod:`.histogram`: activation ranges from the reference executor on the CPU
  (max, percentile, entropy as TensorRT's entropy calibrator, MSE).
- :mod:`.calibtable`: TensorRT calibration caches (`calib.table`) in and out.
- :mod:`.qat`: ranges from quantization-aware training (`_amax` buffers).
- :mod:`.reference` and :mod:`.lowering`: the hooks the reference executor and the TensorRT lowering
  call for quantized layers.

:class:`Quantizer` joins a placement and a scales file into the float32 scales both hooks use.
"""

from __future__ import annotations

from ..diagnostics import NetdslError, UsageError
from .placement import Placement, placement


class Quantizer:
    """The scales of a placement: one per activation tensor, one per output channel of each weight."""

    def __init__(self, where: Placement, scales, origin: str = "the scales file"):
        from .fake import scale_of

        missing = [name for name in where.tensors if name not in scales.activations]
        if missing:
            shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            raise UsageError(f"{origin} has no range for {len(missing)} tensor(s) the quantized layers read: {shown}; "
                             "calibrate again (`netdsl calibrate SPEC --data DIR`) after changing `quantization:`")
        self.placement = where
        self.scales = scales
        self.origin = origin
        self.digest = None  # SHA-256 of the scales file it was read from
        self.dtype = where.dtype
        self.activation = {name: scale_of(scales.activations[name], self.dtype) for name in where.tensors}

    def weight_scale(self, layer: str, slot: str, array):
        """(per-channel float32 scales, axis) for a quantized layer's weight, else None. The range is the
        scales file's `weight` line when there is one (quantization-aware training), else the weight's
        own per-channel absolute maximum."""
        import numpy as np

        from .fake import scale_of, weight_amax

        axis = self.placement.weight_axis(layer, slot)
        if axis is None:
            return None
        name = f"{layer}.{slot}"
        if name in self.scales.weights:
            amax = np.asarray(self.scales.weights[name], np.float64)
            if amax.size == 1:
                amax = np.full(array.shape[axis], amax[0])
            if amax.size != array.shape[axis]:
                raise UsageError(f"the scales file gives {amax.size} ranges for `{name}`, which has "
                                 f"{array.shape[axis]} output channels")
            own = weight_amax(array, axis)
            wrong = np.flatnonzero((amax == 0) & (own > 0))
            if wrong.size:  # a range of 0 is for a channel of zeros only: any other value would be lost
                raise NetdslError(f"{self.origin}: `weight {name}` gives output channel {wrong[0]} a range of 0, but "
                                  f"its weights are not all zero (largest |w| {own[wrong[0]]:.6g}); a range of 0 "
                                  "is for a channel of zeros (pruned)")
        else:
            amax = weight_amax(array, axis)
        return scale_of(amax, self.dtype), axis


def quantizer_for(checked, scales_path: str | None = None) -> Quantizer | None:
    """The spec's quantizer, its scales read from ``scales_path`` or the section's `scales:`; None when
    the spec does not quantize."""
    where = placement(checked)
    if where is None:
        return None
    path = scales_path or where.section.scales
    if path is None and not where.tensors:  # weights only: their ranges come from the weights
        from .scales import Scales

        return Quantizer(where, Scales())
    if path is None:
        raise UsageError(f"{checked.path} quantizes but names no scales file: add `scales:` to `quantization:` "
                         "(written by `netdsl calibrate SPEC --data DIR -o FILE`)")
    from .scales import read_scales

    scales = read_scales(path)
    quantizer = Quantizer(where, scales, path)
    quantizer.digest = scales.sha256
    return quantizer
