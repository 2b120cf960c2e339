"""ultralytics, the oracle of the YOLO work, imported offline and without its side effect on the
environment: `import ultralytics` sets OMP_NUM_THREADS=1 when it is unset, and every subprocess a later
test starts inherits it (a `netdsl reference` subprocess then sums in another order than the test's own
process, and tests/test_runtime.py's exact comparison fails by 7e-11)."""

import importlib
import importlib.util
import os

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
