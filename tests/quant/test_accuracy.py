"""LeNet in INT8 on the reference executor: held-out accuracy within 0.5 percentage points of float32.
benchmarks/quant_lenet.py prints the figures for every method."""

import pathlib
import sys

import numpy as np
import pytest

from netdsl import reference
from netdsl.build import bind_weights, load_spec
from netdsl.quant import Quantizer, placement, quantizer_for
from netdsl.quant.calibrate import calibrate

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools.lenet_calibration import heldout, training_like  # noqa: E402


def predict(checked, bound, images, quantizer=None):
    return np.concatenate([reference.run(checked, bound, {"data": images[i:i + 64]}, quantizer=quantizer)["prob"]
                           for i in range(0, len(images), 64)]).argmax(1)


def test_shipped_scales_keep_the_accuracy():
    # the shipped scales were calibrated on images made from these held-out digits (see the slow test for
    # scales that never saw the digits they are measured on)
    checked = load_spec(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    bound = bind_weights(checked)
    images, labels = heldout()
    float_accuracy = (predict(checked, bound, images) == labels).mean()
    int8_accuracy = (predict(checked, bound, images, quantizer_for(checked)) == labels).mean()
    assert abs(int8_accuracy - float_accuracy) <= 0.005


@pytest.mark.slow
def test_cross_calibrated_int8_keeps_the_accuracy(tmp_path):
    checked = load_spec(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    bound = bind_weights(checked)
    images, labels = heldout()
    folds = [np.arange(0, len(images), 2), np.arange(1, len(images), 2)]
    correct = 0
    for k, (measured, calibrated_on) in enumerate(zip(folds, folds[::-1])):
        np.save(tmp_path / f"fold{k}.npy", training_like(images[calibrated_on], 500, seed=k))
        scales = calibrate(checked, bound, str(tmp_path / f"fold{k}.npy"), "entropy", progress=False)
        correct += (predict(checked, bound, images[measured], Quantizer(placement(checked), scales))
                    == labels[measured]).sum()
    float_accuracy = (predict(checked, bound, images) == labels).mean()
    assert abs(correct / len(labels) - float_accuracy) <= 0.005
