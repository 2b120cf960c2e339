"""Timing shared by the in-process benchmarks: each step run once to warm up (optional), then the steps in
turn, round after round, so a machine that gets busier slows every side alike."""

import time


def interleaved(steps: dict, runs: int, warm_up=None) -> dict:
    """Step name -> its wall times over ``runs`` interleaved rounds; ``warm_up``: the steps run once first
    (default: all of them)."""
    for name in steps if warm_up is None else warm_up:
        steps[name]()
    times = {name: [] for name in steps}
    for _ in range(runs):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return times
