"""The TensorRT side of netdsl: one code path for full TensorRT (10.x, 11.x; `import tensorrt`) and
TensorRT-RTX (`import tensorrt_rtx`). Features are detected with ``hasattr``, never by version number.

Nothing here is imported by `netdsl validate`: TensorRT loads only when a network is lowered or built.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..diagnostics import NetdslError

INSTALL_HINT = ("TensorRT is not installed: `pip install tensorrt-rtx` (builds on this machine, even without "
                "a GPU), or install NVIDIA TensorRT 10/11 (`import tensorrt`) for your GPU")
log = logging.getLogger("netdsl.tensorrt")
logging.getLogger("netdsl").addHandler(logging.NullHandler())  # quiet unless `netdsl build -v` adds a handler


class TensorRTMissing(NetdslError):
    exit_code = 2


@dataclass(frozen=True)
class Backend:
    trt: object  # the module
    flavour: str  # "tensorrt" or "tensorrt_rtx"
    version: str

    @property
    def is_rtx(self) -> bool:
        return self.flavour == "tensorrt_rtx"


_backend: Backend | None = None


def backend() -> Backend:
    """`tensorrt` when importable, else `tensorrt_rtx`; a clear error (exit 2) when neither is."""
    global _backend
    if _backend is None:
        for name in ("tensorrt", "tensorrt_rtx"):
            try:
                module = __import__(name)
            except ImportError:
                continue
            except Exception as error:  # a broken install (missing CUDA libraries) is not "absent"
                raise TensorRTMissing(f"`import {name}` failed: {error}") from error
            _backend = Backend(module, name, getattr(module, "__version__", "unknown"))
            break
        else:
            raise TensorRTMissing(INSTALL_HINT)
    return _backend


def cuda_devices() -> int:
    """How many CUDA GPUs the driver reports (0 without a driver). Used only to say early that a
    refittable build, or reading a plan back, cannot be done here."""
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


_loggers: dict = {}


def make_logger(trt, errors: list[str] | None = None):
    """The TensorRT logger: every message goes to Python logging (logger `netdsl.tensorrt`), and error
    lines are kept in ``logger.errors`` so a failed build can show TensorRT's own words.

    TensorRT keeps the first logger a process gives it and ignores later ones, so there is one per
    TensorRT module; ``errors`` (a fresh list per build) replaces where error lines go."""
    logger = _loggers.get(trt)
    if logger is None:
        logger = _loggers[trt] = _new_logger(trt)
    logger.errors = errors if errors is not None else []
    return logger


def _new_logger(trt):
    levels = {trt.ILogger.INTERNAL_ERROR: logging.CRITICAL, trt.ILogger.ERROR: logging.ERROR,
              trt.ILogger.WARNING: logging.WARNING, trt.ILogger.INFO: logging.INFO,
              trt.ILogger.VERBOSE: logging.DEBUG}

    class Logger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity, message):
            level = levels.get(severity, logging.INFO)
            if level >= logging.ERROR:
                self.errors.append(message)
            log.log(level, "%s", message)

    return Logger()
