"""`netdsl calibrate --ray`: the calibration's batches sharded over Ray tasks.

Each task loads the spec and the weights, makes the same batches a single run makes from the data (a
folder every node reads at the same path: shared storage) and runs the reference on its shard of them
(batch i goes to shard i % shards), collecting each tensor's statistics: pass 1 the largest |x|, pass 2
(after the driver merged pass 1) the histogram in the bins of the merged range. The driver merges the
shards (maxima; whole counts added) and computes the scales exactly as the single process does: the
scales file is the same, byte for byte (:mod:`netdsl.quant.calibrate`).
"""

from __future__ import annotations

import contextlib
import os
import sys

from ..diagnostics import NetdslError, UsageError


def calibrate_ray(spec: str, data: str, address: str = "auto", shards: int | None = None, params: dict | None = None,
                  weights: str | None = None, method: str = "entropy", percentile: float = 99.99,
                  batch: int | None = None, limit: int | None = None, tensors=None, imgsz=None,
                  resize: str = "letterbox"):
    """:func:`netdsl.quant.calibrate.calibrate` over ``shards`` Ray tasks per pass (default: the cluster's
    CPUs); returns the Scales."""
    from ..quant.calibrate import Job, scales_of
    from ..spec import load as load_spec
    from .executors import connect

    checked = load_spec(spec, params=params)
    job = Job(checked, data, method, percentile, batch, limit, tensors, imgsz, resize)  # every check, here first
    if shards is not None and shards < 1:
        raise UsageError(f"--shards is a number of Ray tasks >= 1, not {shards}")
    weights_path = checked.weights_file(weights)
    where = {"spec": os.path.abspath(spec), "params": params or {}, "data": os.path.abspath(data),
             "weights": os.path.abspath(weights_path) if weights_path else None, "method": method,
             "percentile": percentile, "batch": batch, "limit": limit, "tensors": list(job.tensors), "imgsz": imgsz,
             "resize": resize}
    # Ray's driver prints cluster events on standard output, where `-o -` writes the scales: standard error
    with contextlib.redirect_stdout(sys.stderr), connect(address) as ray:
        observed, seen = sharded(ray, where, job, shards)
    return scales_of(job, observed, seen)


def sharded(ray, where: dict, job, shards: int | None):
    """Every pass over ``shards`` tasks (default: the cluster's CPUs), merged: (observations, samples)."""
    from ..quant.calibrate import merge

    if shards is None:
        shards = max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote = ray.remote(collect_shard)
    ranges = observed = None
    seen = 0
    for number in range(1, job.passes + 1):
        refs = [remote.options(name=f"netdsl calibrate pass {number} shard {index + 1}/{shards}")
                .remote(where, number, ranges, (index, shards)) for index in range(shards)]
        try:
            parts = ray.get(refs)
        except ray.exceptions.RayTaskError as error:  # a user mistake found by a task: its own message
            if isinstance(getattr(error, "cause", None), NetdslError):
                raise error.cause from None
            raise
        observed, seen = merge(parts)
        ranges = observed
    return observed, seen


def collect_shard(where: dict, number: int, ranges, shard: tuple[int, int]):
    """One task: pass ``number`` over one shard (see :func:`netdsl.quant.calibrate.collect`)."""
    from ..quant.calibrate import Job, collect
    from ..spec import load as load_spec
    from ..weights.bind import bind_weights

    checked = load_spec(where["spec"], params=where["params"])
    bound = bind_weights(checked, where["weights"])
    job = Job(checked, where["data"], where["method"], where["percentile"], where["batch"], where["limit"],
              where["tensors"], where["imgsz"], where["resize"])
    return collect(checked, bound, job, number, ranges, shard)
