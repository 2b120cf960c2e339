"""Calibration images for LeNet and the shipped weights/lenet_int8.scales.

The digits LeNet was trained on are not shipped (tools/train_lenet.py takes them from scikit-learn), so
training-like images are made from the held-out digits in weights/lenet_heldout.npz: each is a random
held-out digit shifted by up to 2 pixels on each axis (zeros come in) with its contrast scaled by
0.8..1.0, seeded. benchmarks/quant_lenet.py makes them from one half of the held-out set to measure the
other half; the shipped scales are made from all of it.

    python tools/lenet_calibration.py     # writes weights/lenet_int8.scales (entropy, 500 images)
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def training_like(images: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` variations of ``images`` [N, 1, 32, 32]."""
    rng = np.random.default_rng(seed)
    result = np.zeros((count,) + images.shape[1:], np.float32)
    for k in range(count):
        image = images[rng.integers(len(images))]
        dy, dx = (int(v) for v in rng.integers(-2, 3, size=2))
        shifted = np.zeros_like(image)
        shifted[:, max(dy, 0):image.shape[1] + min(dy, 0), max(dx, 0):image.shape[2] + min(dx, 0)] = \
            image[:, max(-dy, 0):image.shape[1] - max(dy, 0), max(-dx, 0):image.shape[2] - max(dx, 0)]
        result[k] = shifted * np.float32(rng.uniform(0.8, 1.0))
    return result


def heldout():
    with np.load(os.path.join(ROOT, "weights", "lenet_heldout.npz")) as archive:
        return archive["images"], archive["labels"]


def main() -> int:
    from netdsl.build import bind_weights, load_spec
    from netdsl.quant.calibrate import calibrate
    from netdsl.quant.scales import write_scales

    checked = load_spec(os.path.join(ROOT, "specs", "quantized", "lenet_int8.yaml"))
    images, _ = heldout()
    with tempfile.TemporaryDirectory() as folder:
        np.save(os.path.join(folder, "calibration.npy"), training_like(images, 500, seed=0))
        scales = calibrate(checked, bind_weights(checked), folder, "entropy")
    scales.meta["data"] = ("500 training-like images made from weights/lenet_heldout.npz by "
                           "tools/lenet_calibration.py (seed 0)")
    write_scales(checked.graph.quantization.scales, scales)
    print(f"wrote {checked.graph.quantization.scales}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
