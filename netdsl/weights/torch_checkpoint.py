"""PyTorch checkpoints (`.pt`, `.pth`, `.ckpt`) read as weight files, for `netdsl weights convert`.

Only tensors are read, through torch's own ``torch.load(weights_only=True)``: its unpickler builds
tensors, containers and plain numbers and refuses every other class, so no code in the file runs. A
``state_dict`` (name -> tensor) is read as it is; a training checkpoint that keeps one under a key
(``state_dict``, ``model_state_dict``, ``model``, ``ema``...) is read from that key, with a note saying
which. An ultralytics checkpoint (``{'model': DetectionModel, ...}``) or a whole pickled ``nn.Module``
holds objects whose classes only the code that made them can rebuild: it is refused, with the one
command that turns it into a ``state_dict`` in the environment that has that code.

torch is imported here only, when such a file is read; netdsl itself never needs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..diagnostics import NetdslError, UsageError
from .stored import Tensor, fail

EXTENSIONS = (".pt", ".pth", ".ckpt")
NESTED_KEYS = ("state_dict", "model_state_dict", "model", "ema", "state_dict_ema", "model_ema", "net", "weights")

ULTRALYTICS_COMMAND = ("python -c \"import torch; from ultralytics import YOLO; "
                       "torch.save(YOLO('{path}').model.float().state_dict(), '{out}')\"")
MODULE_COMMAND = ("python -c \"import torch; torch.save(torch.load('{path}', weights_only=False)"
                  ".state_dict(), '{out}')\"")


def is_torch_checkpoint(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in EXTENSIONS


def read_torch_checkpoint(path: str) -> tuple[dict[str, Tensor], list[str]]:
    """(name -> Tensor, notes) of a PyTorch checkpoint holding tensors only."""
    if not os.path.isfile(path):
        fail(path, f"no such weight file: {path}", line=0, col=0, code="file-not-found")
    try:
        import torch
    except ImportError:
        raise UsageError(f"{path} is a PyTorch checkpoint, and reading one needs torch (pip install torch); or "
                         "save its state_dict with safetensors where torch is installed") from None
    import pickle

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a damaged or foreign file: torch says which in its own words
        if isinstance(error, pickle.UnpicklingError) and pickled_class(str(error)):
            raise NetdslError(refusal(path, str(error))) from None
        said = (str(error).strip().splitlines() or [""])[0][:300]
        fail(path, f"not a PyTorch checkpoint torch can read ({type(error).__name__}: {said})", line=0, col=0)
    state, notes = _state_dict(path, loaded)
    return _tensors(path, state, notes), notes


def pickled_class(message: str) -> str | None:
    """The class torch's weights-only unpickler refused, as its message names it."""
    found = re.search(r"GLOBAL ([A-Za-z_][\w.]*)", message)
    return found.group(1) if found else None


def refusal(path: str, message: str) -> str:
    """What to say about a checkpoint whose unpickling needs a class of its own (torch names it)."""
    name = pickled_class(message)
    out = os.path.join(os.path.dirname(path), "state_dict.pt")
    if name.startswith("ultralytics."):
        what, where = f"an ultralytics checkpoint (it pickles {name})", "with ultralytics installed"
        command = ULTRALYTICS_COMMAND.format(path=path, out=out)
    else:
        what, where = f"a pickled {name} (a whole model, not a state_dict)", f"where {name} can be imported"
        command = MODULE_COMMAND.format(path=path, out=out)
    return (f"{path}: {what}; netdsl reads tensors only (torch.load's weights_only=True) and never runs a "
            f"checkpoint's code. Save its state_dict {where}:\n  {command}\n"
            f"then: netdsl weights convert {out} {os.path.splitext(path)[0]}.safetensors")


def _state_dict(path: str, loaded) -> tuple[Mapping, list[str]]:
    if not isinstance(loaded, Mapping):
        what = type(loaded).__name__
        fail(path, f"holds a {what}, not a state_dict (a mapping of names to tensors)", line=0, col=0,
             hint="save model.state_dict() rather than the model or a single tensor")
    if loaded and all(_is_tensor(value) for value in loaded.values()):
        return loaded, []
    for key in NESTED_KEYS:
        nested = loaded.get(key)
        if isinstance(nested, Mapping) and nested and any(_is_tensor(value) for value in nested.values()):
            others = [k for k in NESTED_KEYS if k != key and isinstance(loaded.get(k), Mapping) and loaded.get(k)]
            also = f" (it also holds {', '.join(repr(k) for k in others)})" if others else ""
            return nested, [f"a training checkpoint: read the state_dict under key {key!r}{also}"]
    if any(_is_tensor(value) for value in loaded.values()):
        return loaded, []
    keys = ", ".join(repr(k) for k in list(loaded)[:8]) + (", ..." if len(loaded) > 8 else "")
    fail(path, f"holds no tensors netdsl can find: its keys are {keys or '(none)'}", line=0, col=0,
         hint=f"netdsl looks for a state_dict at the top or under {', '.join(repr(k) for k in NESTED_KEYS)}")


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _tensors(path: str, state: Mapping, notes: list[str]) -> dict[str, Tensor]:
    from .from_torch import state_arrays

    tensors = {name: value for name, value in state.items() if _is_tensor(value)}
    skipped = [str(name) for name in state if name not in tensors]
    if skipped:
        notes.append(f"left out {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} that are not tensors: "
                     + ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else ""))
    result = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            fail(path, f"state_dict key {name!r} is not a name", line=0, col=0)
        if str(value.layout) != "torch.strided" or value.is_quantized:
            fail(path, f"tensor `{name}` is a {'quantized' if value.is_quantized else str(value.layout)} tensor; "
                 "netdsl reads plain dense tensors", line=0, col=0)
        try:
            arrays, dtypes = state_arrays({name: value})
        except (TypeError, RuntimeError) as error:
            fail(path, f"tensor `{name}` is {str(value.dtype).removeprefix('torch.')}, which netdsl cannot store "
                 f"({str(error).splitlines()[0][:120]})", line=0, col=0)
        array = arrays[name]
        result[name] = Tensor(name, dtypes.get(name, array.dtype.name), tuple(array.shape), array)
    return result
