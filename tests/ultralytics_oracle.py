"""ultralytics as a test oracle, imported without side effects on the other tests.

Importing ultralytics sets OMP_NUM_THREADS=1 in os.environ when it is unset (for training). Commands that
tests run as subprocesses inherit it: their numpy then sums matrix products on one thread, in another
order than this process, and results compared bit for bit differ in their last bit
(tests/test_runtime.py's reference command did). So the variable is put back as it was.
"""

import os

os.environ.setdefault("YOLO_OFFLINE", "1")  # never download anything
_threads = os.environ.get("OMP_NUM_THREADS")

from ultralytics.data.augment import LetterBox  # noqa: E402

if _threads is None:
    os.environ.pop("OMP_NUM_THREADS", None)
else:
    os.environ["OMP_NUM_THREADS"] = _threads

__all__ = ["LetterBox"]
