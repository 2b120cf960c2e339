"""LeNet quantized to INT8 and FP8, measured on the CPU by the reference executor: held-out accuracy of
float32 and of each calibration method, on the 360 held-out digits shipped in weights/lenet_heldout.npz.

The digits LeNet was trained on are not shipped (tools/train_lenet.py takes them from scikit-learn),
so the 500 calibration images are made from the held-out set without leaking it: the set is split in
two halves (even and odd indices); each half is calibrated on 500 training-like images made from the
*other* half (tools/lenet_calibration.py: shifted by up to 2 pixels, contrast 0.8..1.0, seeded), and its
accuracy is measured with those scales. Every held-out digit is thus classified with scales that never
saw it. "agrees" counts the digits whose predicted class is float32's. INT4 quantizes the weights of
the fully connected layers only (per output channel; TensorRT's INT4 is weight-only, for matrix
multiplies), so it needs no calibration.

    python benchmarks/quant_lenet.py            # about a minute on two CPU cores
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from netdsl import reference  # noqa: E402
from netdsl.build import bind_weights, load_spec  # noqa: E402
from netdsl.quant import Quantizer, placement  # noqa: E402
from netdsl.quant.calibrate import METHODS, calibrate  # noqa: E402
from netdsl.quant.scales import Scales  # noqa: E402
from netdsl.spec.quantization import Quantization  # noqa: E402
from tools.lenet_calibration import heldout, training_like  # noqa: E402

SPEC = os.path.join(ROOT, "specs", "lenet.yaml")
SAMPLES = 500


def predict(checked, bound, images, quantizer=None) -> np.ndarray:
    return np.concatenate([reference.run(checked, bound, {"data": images[i:i + 64]}, quantizer=quantizer)["prob"]
                           for i in range(0, len(images), 64)]).argmax(1)


def main() -> int:
    images, labels = heldout()
    folds = [np.arange(0, len(images), 2), np.arange(1, len(images), 2)]
    rows = []
    base = load_spec(SPEC)
    bound = bind_weights(base)
    float_predicted = predict(base, bound, images)
    float_accuracy = float((float_predicted == labels).mean())
    rows.append(("float32", "-", float_accuracy, len(labels), 0.0))
    with tempfile.TemporaryDirectory() as folder:
        data = []
        for k, calibrate_on in enumerate(folds[::-1]):  # fold 0 is calibrated on images made from fold 1
            path = os.path.join(folder, f"fold{k}")
            os.makedirs(path)
            np.save(os.path.join(path, "calibration.npy"), training_like(images[calibrate_on], SAMPLES, seed=k))
            data.append(path)
        for dtype in ("int8", "fp8"):
            for method in METHODS if dtype == "int8" else ("max", "mse"):
                start = time.perf_counter()
                checked = load_spec(SPEC)
                checked.graph.quantization = Quantization(dtype=dtype)
                where = placement(checked)
                correct = agrees = 0
                for fold, path in zip(folds, data):
                    scales = calibrate(checked, bound, path, method, progress=False)
                    predicted = predict(checked, bound, images[fold], Quantizer(where, scales))
                    correct += int((predicted == labels[fold]).sum())
                    agrees += int((predicted == float_predicted[fold]).sum())
                rows.append((dtype, method, correct / len(labels), agrees, time.perf_counter() - start))
    start = time.perf_counter()
    checked = load_spec(SPEC)
    checked.graph.quantization = Quantization(dtype="int4")  # weights of the fully connected layers only
    predicted = predict(checked, bound, images, Quantizer(placement(checked), Scales()))
    rows.append(("int4", "(weights)", float((predicted == labels).mean()), int((predicted == float_predicted).sum()),
                 time.perf_counter() - start))
    print(f"LeNet on {len(labels)} held-out digits, reference executor (numpy, CPU); calibration: {SAMPLES} "
          "training-like images per half (see the docstring)")
    print(f"{'type':<8} {'calibration':<12} {'accuracy':>9} {'vs float32':>11} {'agrees':>8} {'seconds':>8}")
    for dtype, method, accuracy, agrees, seconds in rows:
        print(f"{dtype:<8} {method:<12} {accuracy * 100:8.2f}% {(accuracy - float_accuracy) * 100:+10.2f}pp "
              f"{agrees:4}/{len(labels)} {seconds:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
