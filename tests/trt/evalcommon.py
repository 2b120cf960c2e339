"""Helpers shared by the TensorRT-semantics evaluator's tests: weights that keep activations near unit
scale (so that float16 networks neither overflow nor underflow), and the comparison of two arrays
relative to the larger's scale."""

import numpy as np

from netdsl.weights.bind import BoundWeight


def scaled_weights(checked, seed=0) -> dict:
    """He-scaled weights (std sqrt(2 / fan_in)), small biases, batch-norm statistics near identity
    but not equal to it (so that the folded scale and shift are exercised)."""
    rng = np.random.default_rng(seed)
    bound = {}
    for node in checked.graph.nodes:
        slots = node.weight_slots(checked.types)
        for slot in slots:
            shape = slot.shape
            if slot.name == "running_var":
                array = rng.uniform(0.5, 1.5, shape)
            elif slot.name == "running_mean" or slot.name in ("bias", "shift"):
                array = rng.standard_normal(shape) * 0.1
            elif node.kind == "batch_norm":  # gamma
                array = rng.uniform(0.5, 1.0, shape)
            else:
                fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
                if node.kind == "deconvolution":  # weight [in, out/groups, kH, kW]: each output sums in*k*k/stride^2
                    fan_in = int(shape[0] * np.prod(shape[2:]))
                array = rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))
            name = f"{node.name}.{slot.name}"
            bound[name] = BoundWeight(name, node.name, slot.name, np.asarray(array, np.float32))
    return bound


def relative_error(got, expected) -> float:
    """max |got - expected| / max(1, max |expected|); exact equality for non-float arrays."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if expected.dtype.kind not in "f" or got.dtype.kind not in "f":
        return 0.0 if np.array_equal(got, expected) else float("inf")
    if not got.size:
        return 0.0
    both_nan = np.isnan(got) & np.isnan(expected)
    both_same_inf = np.isinf(got) & (got == expected)
    difference = np.where(both_nan | both_same_inf, 0.0, np.abs(got.astype(np.float64) - expected))
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max()) if finite.size else 1.0)
    return float(np.nan_to_num(difference, nan=np.inf).max() / scale)
