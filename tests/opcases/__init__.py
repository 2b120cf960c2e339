"""Op test cases, written once as data and run by every executor (after ONNX's
``onnx/backend/test/case/node``): shape inference against the shapes PyTorch computes, the located error
of every case that must fail, and the reference executor against PyTorch (tests/ops/test_cases_reference.py);
the lowering built on TensorRT-RTX in float32 and float16, and with a dynamic batch in the precisions a case
names (tests/trt/test_cases_lowering.py); the TensorRT-semantics evaluator (tests/trt/test_evaluate_cases.py);
a named dynamic size on the first and the last axis (tests/trt/test_dynamic_opcases.py); ONNX export
(tests/onnx_io/test_export_cases.py).

Each module here is named after the op module of netdsl/ops/ whose kinds it tests and holds ``CASES``, a
list of :class:`Case`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Case:
    kind: str
    params: dict = field(default_factory=dict)
    inputs: list = field(default_factory=lambda: [(2, 3, 4)])  # shapes, (shape, dtype) pairs, or arrays
    torch: Callable | None = None  # PyTorch oracle: (torch inputs..., [w=weights]) -> tensor or tuple
    error: str | None = None  # the diagnostic code a case that must fail gives
    message: str = ""  # ... and a fragment of its message
    low: float | None = None  # float inputs drawn uniformly from [low, high] instead of N(0, 1)
    high: float | None = None
    atol: float = 1e-5  # relative to the largest |expected| (at least 1)
    rtol: float = 1e-5
    trt: bool = True  # lowered and built with TensorRT-RTX
    fp16: bool = True  # ... also in float16
    onnx: bool = True  # exported to ONNX and run by ONNX Runtime (a plugin's code cannot be)
    name: str = ""
    weights: Callable | None = None  # slot name, shape, rng -> array (default N(0, 0.5), running_var > 0)
    batch_builds: tuple = ()  # precisions it is also built in with a dynamic batch (range 1 to 4)

    @property
    def id(self) -> str:
        if self.name:
            return f"{self.kind}-{self.name}"
        text = ",".join(f"{k}={v}" for k, v in self.params.items())
        shapes = "+".join(("x".join(map(str, shape_of(i))) or "scalar")
                          + ("" if dtype_of(i) == "float32" else ":" + dtype_of(i)) for i in self.inputs)
        return f"{self.kind}({text})[{shapes}]" + (f"!{self.error}" if self.error else "")

    def input_specs(self) -> list[tuple[tuple, str]]:
        return [(shape_of(i), dtype_of(i)) for i in self.inputs]

    def spec(self, dynamic_batch: bool = False) -> str:
        """A one-layer spec (JSON is YAML) with inputs x0, x1... and every output of the layer; with
        ``dynamic_batch``, the first axis of every input is a batch of 1 to 4."""
        inputs = [{"name": f"x{i}", "shape": list(s), "dtype": d} for i, (s, d) in enumerate(self.input_specs())]
        if dynamic_batch:
            for item in inputs:
                item["shape"][0] = -1
                item["batch"] = {"min": 1, "opt": 2, "max": 4}
        if not inputs:
            inputs = [{"name": "unused", "shape": [1]}]
        layer = {"name": "l", "kind": self.kind, **self.params}
        if self.inputs:
            layer["inputs"] = [f"x{i}" for i in range(len(self.inputs))]
        return json.dumps({"netdsl": 1, "inputs": inputs, "layers": [layer]})

    def arrays(self) -> list[np.ndarray]:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        result = []
        for item in self.inputs:
            if isinstance(item, np.ndarray):
                result.append(item)
                continue
            shape, dtype = shape_of(item), dtype_of(item)
            if dtype == "bool":
                result.append(rng.random(shape) < 0.5)
            elif dtype.startswith(("int", "uint")):
                low = 0 if dtype == "uint8" else -5
                result.append(rng.integers(low, 6, shape).astype(dtype))
            elif self.low is not None:
                result.append(rng.uniform(self.low, self.high, shape).astype(np.float32))
            else:
                result.append(rng.standard_normal(shape).astype(np.float32))
        return result

    def oracle_wants_weights(self) -> bool:
        try:
            return self.torch is not None and "w" in inspect.signature(self.torch).parameters
        except ValueError:  # a builtin (torch.sigmoid): inputs only
            return False


def shape_of(item) -> tuple:
    if isinstance(item, np.ndarray):
        return item.shape
    if len(item) == 2 and isinstance(item[1], str):
        return tuple(item[0])
    return tuple(item)


def dtype_of(item) -> str:
    if isinstance(item, np.ndarray):
        return "float32" if item.dtype.kind == "f" else str(item.dtype)
    if len(item) == 2 and isinstance(item[1], str):
        return item[1]
    return "float32"


def random_weights(checked, case: Case | None = None, seed: int = 0) -> dict:
    """Random values for every weight slot of the spec (running variances positive)."""
    from netdsl.weights.bind import BoundWeight

    rng = np.random.default_rng(seed)
    bound = {}
    for node in checked.graph.nodes:
        for slot in node.weight_slots(checked.types):
            if case is not None and case.weights is not None:
                array = np.asarray(case.weights(slot.name, slot.shape, rng), np.float32)
            else:
                array = (rng.standard_normal(slot.shape) * 0.5).astype(np.float32)
                if slot.name == "running_var":
                    array = np.abs(array) + 0.5
            name = f"{node.name}.{slot.name}"
            bound[name] = BoundWeight(name, node.name, slot.name, array)
    return bound


def all_cases() -> list[Case]:
    cases = []
    for module in pkgutil.iter_modules(__path__):
        cases.extend(importlib.import_module(f"{__name__}.{module.name}").CASES)
    return cases


def covered_kinds() -> set[str]:
    return {case.kind for case in all_cases() if case.error is None}
