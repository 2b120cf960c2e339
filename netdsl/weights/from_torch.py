"""Export a PyTorch model's weights for netdsl (and for tensorrtx's C++ loaders).

    from netdsl.weights.from_torch import export_weights
    export_weights(model, "weights/model.safetensors")   # dtypes and shapes kept
    export_weights(model, "weights/model.wts")           # tensorrtx text format, float32

torch is imported only by the caller: this module takes a ``torch.nn.Module`` or any mapping of names to
tensors (a ``state_dict``) and never unpickles anything. Keys are the ``state_dict`` keys, which are the
canonical names netdsl binds by default.
"""

from __future__ import annotations

from collections.abc import Mapping


def state_arrays(model_or_state) -> tuple[dict, dict]:
    """(name -> numpy array, name -> 'bfloat16' for tensors kept as raw bfloat16 bits)."""
    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    if not isinstance(state, Mapping):
        raise TypeError(f"expected a torch.nn.Module or a state_dict mapping, got {type(model_or_state).__name__}")
    arrays, dtypes = {}, {}
    for name, value in state.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"state_dict key {name!r} is not a non-empty string")
        tensor = value.detach().cpu() if hasattr(value, "detach") else value
        if str(getattr(tensor, "dtype", "")) == "torch.bfloat16":
            import torch

            arrays[name] = tensor.contiguous().view(torch.int16).numpy().view("uint16")
            dtypes[name] = "bfloat16"
        else:
            arrays[name] = tensor.numpy() if hasattr(tensor, "numpy") else tensor
    return arrays, dtypes


def export_weights(model_or_state, path: str, metadata: dict | None = None) -> None:
    """Write a model's weights to ``path`` (.safetensors, .wts or .npz, by extension), atomically.

    `.wts` follows tensorrtx's gen_wts.py: every entry (buffers such as ``num_batches_tracked``
    included) as float32 big-endian hex, which tensorrtx's ``>> std::hex`` loaders read.
    ``metadata`` (strings) goes into a safetensors header."""
    from . import Tensor, weight_format, write_weights

    kind = weight_format(path)
    arrays, dtypes = state_arrays(model_or_state)
    if kind != "safetensors":
        for name in dtypes:  # bfloat16 widens to float32 exactly
            arrays[name] = Tensor(name, "bfloat16", None, arrays[name]).as_float32()
        dtypes = {}
    write_weights(path, arrays, metadata, dtypes)
