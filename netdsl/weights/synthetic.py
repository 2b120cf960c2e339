"""Random weights, to check that a network builds and to time it before any trained weights exist (what
trtexec does when given no weights). Engines built on them are marked in their manifest
(``random_weights``) and refused by ``netdsl verify``: they compute nothing meaningful.

Values are seeded, so one seed gives one engine. They are scaled as PyTorch initializes layers
(uniform in +-1/sqrt(fan_in)), and batch-norm variances are positive, so activations stay in a range
that float16 and bfloat16 builds represent.
"""

from __future__ import annotations

from .bind import BoundWeight

KIND = "uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)); batch norm: weight 1, bias 0, mean 0, variance 1"


def random_weights(checked, seed: int = 0) -> dict[str, BoundWeight]:
    """Canonical name -> BoundWeight for every weight slot of the spec.

    >>> from netdsl.spec import load
    >>> bound = random_weights(load("specs/lenet.yaml"), seed=0)
    >>> bound["conv1.weight"].array.shape, float(abs(bound["conv1.weight"].array).max()) <= 0.2
    ((6, 1, 5, 5), True)
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    bound = {}
    for node in checked.graph.nodes:
        slots = node.weight_slots(checked.types)
        fan_in = next((_fan_in(s.shape) for s in slots if s.name == "weight" and len(s.shape) > 1), None)
        for slot in slots:
            if node.kind == "batch_norm" or not slot.trainable:
                value = 1.0 if slot.name in ("weight", "running_var") else 0.0
                array = np.full(slot.shape, value, np.float32)
            else:
                array = _uniform(rng, slot.shape, 1.0 / np.sqrt(fan_in or _fan_in(slot.shape)))
            name = f"{node.name}.{slot.name}"
            bound[name] = BoundWeight(name, node.name, slot.name, array)
    return bound


def _uniform(rng, shape, bound: float):
    """Uniform in [-bound, bound), drawn in float32 and scaled in place: no float64 array and no copy
    (drawing float64 and converting was half of ResNet-50's define time)."""
    import numpy as np

    array = rng.random(shape, dtype=np.float32)
    array *= np.float32(2 * bound)
    array -= np.float32(bound)
    return array


def _fan_in(shape) -> int:
    total = 1
    for dim in shape[1:] or shape:
        total *= dim
    return total
