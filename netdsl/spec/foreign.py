"""Files people hand to a command that reads a spec, by habit from other tools (`trtexec --onnx`,
`torch.load`), recognized before any YAML is read: an ONNX model, a PyTorch checkpoint, an engine plan or
a weight file gets the netdsl command that takes it, instead of a UTF-8 or YAML error about its bytes.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "model.onnx")
    >>> open(path, "wb").write(b"\\x08\\x08\\x12\\x07pytorch")
    11
    >>> not_a_spec(path) == f"{path}: an ONNX model: `netdsl import {path} -o model.yaml` first, which writes a spec and its weights"
    True
"""

from __future__ import annotations

import os

from ..diagnostics import UsageError

ZIP = b"PK\x03\x04"
HEAD = 128  # bytes read: a zip archive's first entry name (torch.save's `archive/data.pkl`) is among them
TORCH_EXTENSIONS = (".pt", ".pth", ".ckpt")
PLAN_EXTENSIONS = (".plan", ".engine", ".trt")
WEIGHT_EXTENSIONS = (".safetensors", ".wts", ".npz")


def kind_of(path: str, head: bytes) -> str | None:
    """"onnx", "torch", "plan", "weights" or None (a spec, or a file of no kind netdsl knows), from the
    extension and the first bytes. An ONNX model is a protobuf whose first field is `ir_version`
    (tag 0x08, a small number), bytes no text file starts with."""
    extension = os.path.splitext(path)[1].lower()
    if extension == ".onnx" or (len(head) > 1 and head[0] == 0x08 and 3 <= head[1] <= 32):
        return "onnx"
    pickled = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    if extension in TORCH_EXTENSIONS or pickled or (head.startswith(ZIP) and b"data.pkl" in head):
        return "torch"  # a bare pickle (torch.save before 1.6), or a zip archive whose first entry is data.pkl
    if extension in PLAN_EXTENSIONS:
        return "plan"
    if extension in WEIGHT_EXTENSIONS or (head.startswith(ZIP) and extension not in (".yaml", ".yml")):
        return "weights"
    return None


def not_a_spec(path: str) -> str | None:
    """What to say when ``path`` is a model or weight file of another kind; None for anything else (a
    file that cannot be opened is left to the reader that reports it)."""
    if path.lower().endswith((".yaml", ".yml")):
        return None  # not even opened: a spec's name is the common case
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD)
    except OSError:
        head = b""
    kind = kind_of(path, head)
    if kind is None or (not head and not os.path.isfile(path)):
        return None
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"{path}: " + {
        "onnx": f"an ONNX model: `netdsl import {path} -o {stem}.yaml` first, which writes a spec and its weights",
        "torch": f"a PyTorch checkpoint, not a spec: `netdsl weights convert {path} {stem}.safetensors` reads a "
                 f"state_dict's weights; `netdsl import --torch MODULE:FACTORY --shape 1x3x224x224 -o {stem}.yaml` "
                 "writes a spec from the module's code",
        "plan": "a TensorRT engine plan, not a spec: `netdsl run`, `bench` and `verify` take a plan; its manifest "
                "(PLAN.json) names the spec it was built from",
        "weights": "a weight file, not a spec: give it to a command with --weights, beside the spec",
    }[kind]


def refuse_foreign(path: str) -> None:
    """Raise a UsageError (exit 2) when ``path`` is not a spec but a file of another kind."""
    message = not_a_spec(path)
    if message:
        raise UsageError(message)
