"""ultralytics, the oracle of the YOLO work, imported offline and without its side effect on the
environment: `import ultralytics` sets OMP_NUM_THREADS=1 when it is unset, and every subprocess a later
test starts inherits it (a `netdsl reference` subprocess then sums in another order than the test's own
process, and tests/test_runtime.py's exact comparison fails by 7e-11)."""

import importlib
import importlib.util
import os

import numpy as np
import pytest


def ultralytics_module(name: str = "ultralytics"):
    """The module ``name`` (``ultralytics.utils.tal``...), imported with YOLO_OFFLINE=1 (no network) and
    the rest of the environment as it was."""
    if importlib.util.find_spec("ultralytics") is None:
        pytest.skip("ultralytics is not installed (pip install --no-deps -r tests/requirements-nodeps.txt)",
                    allow_module_level=True)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    saved = dict(os.environ)
    try:
        return importlib.import_module(name)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def ultralytics_environment():
    """For a test module that imports ultralytics in its tests, not at collection (use it with
    `pytestmark = pytest.mark.usefixtures("ultralytics_environment")` after importing it): ultralytics sets OMP_NUM_THREADS=1 and more in os.environ,
    which the subprocesses of later tests would inherit. Restored after this module's tests."""
    saved = dict(os.environ)
    os.environ["YOLO_OFFLINE"] = "1"  # nothing downloaded
    yield
    os.environ.clear()
    os.environ.update(saved)


def same_order(ours, theirs, gap: float):
    """Two RT-DETR output0s [300, 6] of one picture (ours, and ultralytics' or ONNX Runtime's) with every
    run of near-equal scores (consecutive scores of `theirs` closer than ``gap``) put in one order, by
    class then box: within such a run float32 rounding may order the (query, class) pairs either way. A run reaching the last row may hold different pairs (the 301st may enter): its
    rows are left out, the scores are compared for every row by the caller."""
    ours, theirs = ours.copy(), theirs.copy()
    keep = np.ones(len(theirs), bool)
    start = 0
    for end in range(1, len(theirs) + 1):
        if end < len(theirs) and theirs[end - 1, 4] - theirs[end, 4] < gap:
            continue
        if end - start > 1:
            for rows in (ours, theirs):
                block = rows[start:end]
                rows[start:end] = block[np.lexsort((block[:, 1], block[:, 0], block[:, 5]))]
            if end == len(theirs):
                keep[start:end] = False
        start = end
    return ours[keep], theirs[keep]
