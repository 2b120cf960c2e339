"""ONNX's node tests through `netdsl import`, as a user's model: each test's model (every one ONNX has,
the ``_expanded`` function bodies and other multi-node graphs included) with its first input left an
input and every other input frozen into an initializer (a weight, a shape, an axis: what a user's model
holds as constants), read as a file is (netdsl.onnx.load.parse_model: ONNX's checker first), imported
(netdsl.onnx.importer.import_model), and the spec it writes run by the reference executor on the first
input; each output is compared with ONNX's expected one.

A case ends in one of three states:

- ``passed``: imported, and every output matches (node_cases.compare: ONNX's own tolerances);
- ``refused``: refused cleanly, as the command line would (a NetdslError with exit code 1: not
  expressible, ONNX's checker, an index out of range at run time); the message is kept;
- ``failed``: anything else: a wrong shape, dtype or value, an output missing, an internal error (the
  importer wrote a spec netdsl refuses), another exit code, or a traceback.

Used by test_import_cases.py; the node tests are collected once per process (node_cases.collected).
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

import node_cases

STATES = ("passed", "refused", "failed")


@dataclass
class Imported:
    case: str
    state: str
    detail: str = ""
    outputs: dict = field(default_factory=dict, repr=False)  # passed: output name -> array


@dataclass
class UserModel:
    data: bytes  # the ONNX file's bytes
    live: np.ndarray | None  # the value of the input left an input (None: the model has none)
    expected: list  # ONNX's expected outputs, in the graph's output order


def user_model(case) -> UserModel:
    """The case's model with every input after the first frozen into an initializer."""
    from onnx import numpy_helper

    model = type(case.model)()
    model.CopyFrom(case.model)
    inputs, expected = case.data_sets[0]
    graph = model.graph
    kept, live = [], None
    for index, (value_info, value) in enumerate(zip(list(graph.input), inputs)):
        array = tensor(value)
        if index == 0 or array is None:  # the first input, and sequences or optionals, which are no tensors
            kept.append(value_info)
            live = array if index == 0 else live
        else:
            graph.initializer.append(numpy_helper.from_array(array, value_info.name))
            if model.ir_version < 4:  # before IR 4, every initializer is also a graph input
                kept.append(value_info)
    del graph.input[:]
    graph.input.extend(kept)
    return UserModel(model.SerializeToString(), live, [tensor(e) if tensor(e) is not None else e for e in expected])


def tensor(value) -> np.ndarray | None:
    """A test value as an array; None for a sequence, a map or an optional."""
    if hasattr(value, "data_type") or isinstance(value, (np.ndarray, np.generic)):
        return node_cases.as_array(value)
    return None


@functools.cache
def run_import(name: str) -> Imported:
    case = node_cases.collected()[name]
    try:
        return _run(name, user_model(case))
    except Exception as error:  # a traceback from netdsl is a bug, reported with the case
        import traceback

        return Imported(name, "failed", "".join(traceback.format_exception(error)[-6:]))


def _run(name: str, user: UserModel) -> Imported:
    from netdsl import reference
    from netdsl.diagnostics import InternalError, NetdslError
    from netdsl.onnx.importer import import_model
    from netdsl.onnx.load import parse_model

    try:
        model = parse_model(user.data, f"{name}/model.onnx")
        imported = import_model(model, f"{name}/spec.yaml", "spec.safetensors", source="model.onnx")
        checked = imported.checked
        feed = {} if user.live is None else {checked.graph.inputs[0].name: node_cases.feedable(user.live)}
        ours = reference.run(checked, imported.bound, feed)
    except InternalError as error:
        return Imported(name, "failed", f"internal error: {error}")
    except NetdslError as error:
        if error.exit_code != 1:
            return Imported(name, "failed", f"exit code {error.exit_code}: {error}")
        return Imported(name, "refused", str(error))
    problems = compare(checked, ours, user.expected)
    if problems:
        return Imported(name, "failed", problems + "\nspec:\n" + imported.text)
    return Imported(name, "passed", outputs=ours)


def compare(checked, ours: dict, expected: list) -> str:
    """'' when the spec's outputs are ONNX's expected ones (in the graph's order), else what differs."""
    outputs = checked.graph.outputs
    if len(outputs) != len(expected):
        return f"the spec has {len(outputs)} outputs, ONNX's graph {len(expected)}"
    problems = [node_cases.compare(checked, o.source, ours[o.name], want) if isinstance(want, np.ndarray) else
                f"{o.name}: ONNX's output is a {type(want).__name__}, not a tensor" for o, want in zip(outputs, expected)]
    return "\n".join(p for p in problems if p)


def coverage_line(outcomes: list[Imported]) -> str:
    states = Counter(o.state for o in outcomes)
    return (f"ONNX node tests through `netdsl import`: {states['passed']} of {len(outcomes)} pass (ONNX's expected "
            f"outputs), {states['refused']} refused with a message, {states['failed']} failed")


def refusal_reasons(outcomes: list[Imported], top: int = 12) -> str:
    """The most frequent first reasons of refusal (`no mapping for ONNX op X` counted per reason)."""
    import re

    reasons = Counter()
    for outcome in outcomes:
        if outcome.state == "refused":
            first = outcome.detail.split("\n  ")[1] if "\n  " in outcome.detail else outcome.detail
            first = re.sub(r"^.*?model\.onnx: ", "", first)
            reasons[re.sub(r"`[^`]*`", "`…`", first)[:90]] += 1
    return "\n".join(f"{count:5} {reason}" for reason, count in reasons.most_common(top))
