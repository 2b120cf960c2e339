"""The calibrator's collect/merge split, in one process: shards merged give the single run's scales file,
byte for byte (the Ray tasks of `netdsl calibrate --ray` run the same two functions: tests/fleet/test_ray.py)."""

import pytest

from netdsl.quant.calibrate import Job, calibrate, collect, merge, scales_of
from netdsl.quant.scales import format_scales
from netdsl.spec import load
from netdsl.weights.bind import bind_weights

from .helpers import ROOT

DATA = str(ROOT / "weights/lenet_heldout.npz")


@pytest.fixture(scope="module")
def lenet():
    checked = load(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    return checked, bind_weights(checked, None)


@pytest.mark.parametrize("method", ["percentile", "max"])  # entropy: tests/fleet/test_ray.py
def test_shards_merged_give_the_single_file(lenet, method):
    checked, bound = lenet
    single = format_scales(calibrate(checked, bound, DATA, method, batch=8, limit=40, progress=False))
    for shards in (1, 2, 3, 7):  # 5 batches: 7 shards leaves two of them empty
        job = Job(checked, DATA, method, batch=8, limit=40)
        ranges = None
        for number in range(1, job.passes + 1):
            ranges, seen = merge([collect(checked, bound, job, number, ranges, (index, shards))
                                  for index in range(shards)])
        assert seen == 40
        assert format_scales(scales_of(job, ranges, seen)) == single, shards


def test_a_shard_sees_only_its_batches(lenet):
    checked, bound = lenet
    job = Job(checked, DATA, "max", batch=8, limit=40)
    seen = [collect(checked, bound, job, 1, None, (index, 2))[1] for index in range(2)]
    assert seen == [24, 16]  # batches 0, 2, 4 and 1, 3
