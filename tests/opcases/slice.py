"""Cases of netdsl/ops/slice.py: slice."""

import torch

from opcases import Case


def slice_along(x, dims, starts, ends, steps):
    """Python slicing (negative steps too) through index_select on the range Python's slice gives."""
    for dim, start, end, step in zip(dims, starts, ends, steps):
        x = x.index_select(dim, torch.arange(*slice(start, end, step).indices(x.shape[dim])))
    return x


CASES = [
    # slice
    Case("slice", {"dim": 1, "start": 1, "end": 3}, inputs=[(2, 5, 3)], torch=lambda x: x[:, 1:3]),
    Case("slice", {"dim": [2, 3], "start": 1, "end": -1}, inputs=[(2, 3, 6, 7)], torch=lambda x: x[:, :, 1:-1, 1:-1]),
    Case("slice", {"dim": -1, "start": -100, "end": 100, "step": 2}, inputs=[(3, 7)], torch=lambda x: x[..., ::2]),
    Case("slice", {"dim": 0, "step": -1}, inputs=[((5, 3), "int32")], torch=lambda x: x.flip(0), name="reverse"),
    Case("slice", {"dim": [0, 1], "start": [None, 6], "end": [1, 1], "step": [1, -2]}, inputs=[(4, 8)],
         torch=lambda x: slice_along(x, (0, 1), (None, 6), (1, 1), (1, -2)), name="backwards"),
    Case("slice", {"dim": 0, "start": 2}, inputs=[((5,), "bool")], torch=lambda x: x[2:]),
    Case("slice", {"dim": 0, "start": 3, "end": 3}, inputs=[(5,)], error="invalid-value", message="select nothing"),
    Case("slice", {"dim": 1, "step": 0}, inputs=[(2, 5)], error="invalid-value", message="cannot be 0"),
    Case("slice", {"dim": [0, 1], "start": [1]}, inputs=[(2, 5)], error="invalid-value", message="has 1 entries"),
    Case("slice", {"dim": 2}, inputs=[(2, 5)], error="invalid-value", message="out of range"),
    Case("slice", {"dim": 1, "start": -2}, inputs=[((3, 5), "float16")], torch=lambda x: x.half()[:, -2:],
         atol=1e-3, rtol=1e-3),
]
