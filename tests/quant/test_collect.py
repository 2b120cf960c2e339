"""What a calibration pass observes: each tensor's largest |x| and its |x| in 2048 bins, checked against
numpy's max and np.histogram over the same tensors kept to the end of a reference run (calibration
itself looks at each as it is computed, then lets it go)."""

import pathlib

import numpy as np

from netdsl import reference
from netdsl.build import bind_weights, load_spec
from netdsl.quant.calibrate import Job, collect
from netdsl.quant.layer_order import spec_tensors
from netdsl.spec import check_text
from netdsl.weights.synthetic import random_weights

ROOT = pathlib.Path(__file__).resolve().parents[2]

# a convolution's output read by a batch norm (folded into the convolution unless that output is wanted),
# and tensors that later layers may overwrite in place (the SiLU's input, the add's inputs)
SPEC = """netdsl: 1
quantization: {dtype: int8}
inputs:
  - {name: image, shape: [-1, 3, 12, 12], batch: {min: 1, opt: 2, max: 4}}
layers:
  - {name: conv, kind: convolution, out_channels: 4, kernel: 3, padding: 1}
  - {name: norm, kind: batch_norm}
  - {name: act, kind: silu}
  - {name: side, kind: convolution, out_channels: 4, kernel: 1}
  - {name: sum, kind: add, inputs: [act, side]}
  - {name: head, kind: convolution, out_channels: 2, kernel: 1}
"""


def expected(checked, bound, job, data) -> dict:
    """name -> (largest |x|, histogram) from numpy over every batch's kept tensors, in two passes."""
    from netdsl.quant.samples import batches

    kept = [reference.run(checked, bound, arrays, keep=set(job.tensors))
            for arrays in batches(job.samples, job.size, job.low, job.limit)]
    result = {}
    for name in job.tensors:
        amax = max(float(np.abs(values[name]).max()) for values in kept)
        result[name] = (amax, sum(np.histogram(np.abs(values[name]), 2048, (0.0, amax))[0] for values in kept))
    return result


def check(checked, bound, job, data):
    want = expected(checked, bound, job, data)
    first, seen = collect(checked, bound, job, 1)
    second, seen_again = collect(checked, bound, job, 2, first)
    assert seen == seen_again > job.size  # several batches
    for name, (amax, hist) in want.items():
        assert first[name].amax == amax and second[name].amax == amax, name
        assert np.array_equal(second[name].hist, hist), name


def test_every_tensor_of_a_small_network(tmp_path):
    checked, diagnostics = check_text(SPEC, "<test>")
    assert checked is not None, [str(d) for d in diagnostics]
    bound = random_weights(checked, seed=1)
    samples = np.random.default_rng(0).standard_normal((10, 3, 12, 12)).astype(np.float32)
    np.save(tmp_path / "samples.npy", samples)
    tensors = [name for name in spec_tensors(checked) if checked.types[name].dtype == "float32"]
    assert {"conv", "norm", "act", "side", "sum"} <= set(tensors)
    job = Job(checked, str(tmp_path), tensors=tensors, batch=4)
    check(checked, bound, job, str(tmp_path))


def test_lenet_quantized_inputs():
    checked = load_spec(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    data = str(ROOT / "weights/lenet_heldout.npz")
    job = Job(checked, data, batch=16, limit=40)
    check(checked, bound=bind_weights(checked), job=job, data=data)
