import numpy as np
import torch
import torch.nn.functional as F

from opcases import Case


def slice_along(x, dims, starts, ends, steps):
    """Python slicing (negative steps too) through index_select on the range Python's slice gives."""
    for dim, start, end, step in zip(dims, starts, ends, steps):
        x = x.index_select(dim, torch.arange(*slice(start, end, step).indices(x.shape[dim])))
    return x


def tile(x, dims):
    return torch.tile(x, dims)


CASES = [
    # reshape
    Case("reshape", {"shape": [0, -1, 5]}, inputs=[(3, 4, 5)], torch=lambda x: x.reshape(3, -1, 5)),
    Case("reshape", {"shape": [-1]}, inputs=[(2, 3, 4)], torch=lambda x: x.reshape(-1)),
    Case("reshape", {"shape": []}, inputs=[(1, 1)], torch=lambda x: x.reshape(())),
    Case("reshape", {"shape": [1, 1, 1]}, inputs=[()], torch=lambda x: x.reshape(1, 1, 1)),
    Case("reshape", {"shape": [2, 1, 1, 1, 3, 1, 1, 2]}, inputs=[((3, 4), "int32")],
         torch=lambda x: x.reshape(2, 1, 1, 1, 3, 1, 1, 2)),
    Case("reshape", {"shape": [3, 2]}, inputs=[((6,), "bool")], torch=lambda x: x.reshape(3, 2)),
    Case("reshape", {"shape": [4, -1]}, inputs=[(3, 5)], error="shape-mismatch", message="not divisible by 4"),
    Case("reshape", {"shape": [-1, -1]}, inputs=[(3, 5)], error="invalid-value", message="at most one"),
    Case("reshape", {"shape": [0, 0, 0]}, inputs=[(3, 5)], error="shape-mismatch", message="does not have"),
    # flatten
    Case("flatten", {}, inputs=[(3, 4, 5, 2)], torch=lambda x: x.flatten(1)),
    Case("flatten", {"start_dim": 0}, inputs=[()], torch=lambda x: x.flatten()),
    Case("flatten", {"start_dim": -3, "end_dim": -2}, inputs=[((2, 3, 4, 5), "int64")],
         torch=lambda x: x.flatten(-3, -2)),
    Case("flatten", {"start_dim": 2, "end_dim": 1}, inputs=[(2, 3, 4)], error="invalid-value", message="after"),
    Case("flatten", {"start_dim": 3}, inputs=[(2, 3, 4)], error="invalid-value", message="out of range"),
    # squeeze / unsqueeze
    Case("squeeze", {}, inputs=[(1, 3, 1, 5, 1)], torch=lambda x: x.squeeze()),
    Case("squeeze", {"dim": 2}, inputs=[(3, 4, 1)], torch=lambda x: x.squeeze(2)),
    Case("squeeze", {"dim": -2}, inputs=[(3, 4, 1)], torch=lambda x: x.squeeze(-2), name="not-size-1"),
    Case("squeeze", {"dim": [0, -1]}, inputs=[((1, 4, 1), "int32")], torch=lambda x: x.squeeze((0, -1))),
    Case("squeeze", {}, inputs=[(1, 1)], torch=lambda x: x.squeeze(), name="to-scalar"),
    Case("squeeze", {"dim": 3}, inputs=[(3, 4, 1)], error="invalid-value", message="out of range"),
    Case("unsqueeze", {"dim": 0}, inputs=[(3, 4)], torch=lambda x: x.unsqueeze(0)),
    Case("unsqueeze", {"dim": -1}, inputs=[((3, 4), "bool")], torch=lambda x: x.unsqueeze(-1)),
    Case("unsqueeze", {"dim": 0}, inputs=[()], torch=lambda x: x.unsqueeze(0)),
    Case("unsqueeze", {"dim": 1}, inputs=[(2, 1, 1, 1, 1, 1, 3)], torch=lambda x: x.unsqueeze(1)),  # to rank 8
    Case("unsqueeze", {"dim": 4}, inputs=[(3, 4)], error="invalid-value", message="out of range"),
    # permute / transpose
    Case("permute", {"dims": [2, 0, 1]}, inputs=[(3, 4, 5)], torch=lambda x: x.permute(2, 0, 1)),
    Case("permute", {"dims": [-1, 0, 2, 1]}, inputs=[((2, 3, 4, 5), "int8")], torch=lambda x: x.permute(-1, 0, 2, 1)),
    Case("permute", {"dims": []}, inputs=[()], torch=lambda x: x.permute(())),
    Case("permute", {"dims": [7, 6, 5, 4, 3, 2, 1, 0]}, inputs=[(2, 1, 3, 1, 2, 1, 1, 3)],
         torch=lambda x: x.permute(7, 6, 5, 4, 3, 2, 1, 0)),
    Case("permute", {"dims": [0, 0, 1]}, inputs=[(3, 4, 5)], error="invalid-value", message="twice"),
    Case("permute", {"dims": [1, 0]}, inputs=[(3, 4, 5)], error="invalid-value", message="2 entries"),
    Case("transpose", {"dim0": 1, "dim1": -1}, inputs=[(2, 3, 4, 5)], torch=lambda x: x.transpose(1, -1)),
    Case("transpose", {"dim0": 0, "dim1": 1}, inputs=[((3, 5), "int32")], torch=lambda x: x.transpose(0, 1)),
    Case("transpose", {"dim0": 0, "dim1": 2}, inputs=[(3, 5)], error="invalid-value", message="dim1 2"),
    # expand / tile
    Case("expand", {"size": [3, -1, 4]}, inputs=[(1, 5, 1)], torch=lambda x: x.expand(3, -1, 4)),
    Case("expand", {"size": [2, 3, 4, 5]}, inputs=[(4, 1)], torch=lambda x: x.expand(2, 3, 4, 5)),
    Case("expand", {"size": [3, 2]}, inputs=[()], torch=lambda x: x.expand(3, 2)),
    Case("expand", {"size": [4, 3]}, inputs=[((1, 3), "bool")], torch=lambda x: x.expand(4, 3)),
    Case("expand", {"size": [4, 3]}, inputs=[(2, 3)], error="shape-mismatch", message="only dimensions of size 1"),
    Case("expand", {"size": [-1, 3]}, inputs=[(3,)], error="invalid-value", message="new dimension"),
    Case("expand", {"size": [3]}, inputs=[(1, 3)], error="invalid-value", message="fewer dimensions"),
    Case("tile", {"dims": [2, 3]}, inputs=[(3, 4)], torch=lambda x: tile(x, (2, 3))),
    Case("tile", {"dims": [2]}, inputs=[(2, 3, 4)], torch=lambda x: tile(x, (2,))),
    Case("tile", {"dims": [3, 1, 2]}, inputs=[((5,), "int32")], torch=lambda x: tile(x, (3, 1, 2))),
    Case("tile", {"dims": [0, 2]}, inputs=[(3, 4)], error="invalid-param", message="positive"),
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
    # split / chunk
    Case("split", {"split_size_or_sections": [2, 1, 3], "dim": 1}, inputs=[(2, 6, 3)],
         torch=lambda x: x.split([2, 1, 3], 1)),
    Case("split", {"split_size_or_sections": [1, 4]}, inputs=[((5, 2), "int32")], torch=lambda x: x.split([1, 4])),
    Case("split", {"split_size_or_sections": [3], "dim": -1}, inputs=[(2, 3)], torch=lambda x: x.split([3], -1)),
    Case("split", {"split_size_or_sections": [2, 2]}, inputs=[(5,)], error="shape-mismatch", message="add up to 4"),
    Case("split", {"split_size_or_sections": 2, "dim": 1}, inputs=[(2, 5)], error="invalid-value",
         message="needs the sizes as a list"),
    Case("chunk", {"chunks": 2, "dim": 1}, inputs=[(2, 8, 3)], torch=lambda x: x.chunk(2, 1)),
    Case("chunk", {"chunks": 3, "dim": -1}, inputs=[(2, 7)], torch=lambda x: x.chunk(3, -1)),
    Case("chunk", {"chunks": 4}, inputs=[(6,)], error="invalid-value", message="into 3 chunks"),
    # concat / stack
    Case("concat", {"axis": 0}, inputs=[(2, 3), (1, 3), (4, 3)], torch=lambda a, b, c: torch.cat([a, b, c], 0)),
    Case("concat", {"axis": -1}, inputs=[(3,), (5,)], torch=lambda a, b: torch.cat([a, b], -1)),
    Case("concat", {"axis": 3}, inputs=[((1, 2, 1, 2, 1), "int32"), ((1, 2, 1, 3, 1), "int32")],
         torch=lambda a, b: torch.cat([a, b], 3)),
    Case("concat", {"axis": 0}, inputs=[(), ()], error="shape-mismatch", message="scalars"),
    Case("concat", {"axis": 0}, inputs=[(2, 3), (2, 4)], error="shape-mismatch", message="outside axis 0"),
    Case("concat", {"axis": 0}, inputs=[(2, 3), ((2, 3), "int32")], error="wrong-dtype", message="int32"),
    Case("stack", {}, inputs=[(2, 3), (2, 3)], torch=lambda a, b: torch.stack([a, b])),
    Case("stack", {"dim": -1}, inputs=[((3,), "bool"), ((3,), "bool"), ((3,), "bool")],
         torch=lambda a, b, c: torch.stack([a, b, c], -1)),
    Case("stack", {"dim": 0}, inputs=[(), ()], torch=lambda a, b: torch.stack([a, b])),
    Case("stack", {"dim": 1}, inputs=[(2, 3)], torch=lambda a: torch.stack([a], 1)),
    Case("stack", {}, inputs=[(2, 3), (3, 2)], error="shape-mismatch", message="equal shapes"),
    # gather
    Case("gather", {"dim": 1, "index": [3, 0, -1, 3]}, inputs=[(2, 5, 3)],
         torch=lambda x: x.index_select(1, torch.tensor([3, 0, 4, 3]))),
    Case("gather", {"dim": 1, "index": 3}, inputs=[(2, 5, 3)], torch=lambda x: x[:, 3]),
    Case("gather", {"dim": 0, "index": -1}, inputs=[((4,), "int32")], torch=lambda x: x[-1]),
    Case("gather", {"dim": -1, "index": [1]}, inputs=[((3, 2), "bool")],
         torch=lambda x: x.index_select(-1, torch.tensor([1]))),
    Case("gather", {"dim": 1, "index": [5]}, inputs=[(2, 5)], error="invalid-value", message="index 5"),
    Case("gather", {"dim": 1, "index": []}, inputs=[(2, 5)], error="invalid-param"),
    # an index tensor as input 2: its shape replaces dimension `dim` (Swin: table[index], table [169, heads])
    Case("gather", {"dim": 0}, inputs=[(13, 3), np.random.default_rng(0).integers(0, 13, (4, 5))],
         torch=lambda x, i: x[i], name="tensor-index"),
    Case("gather", {"dim": -2}, inputs=[(2, 5, 3), np.array([4, 0, 4], np.int32)],
         torch=lambda x, i: x[:, i.long()], name="int32-index"),
    Case("gather", {"dim": 1}, inputs=[((2, 5), "int32"), np.array(3)], torch=lambda x, i: x[:, i],
         name="scalar-index"),
    Case("gather", {"dim": 2}, inputs=[((1, 2, 3, 2), "float16"), np.array([[2, 1], [0, 0]])],
         torch=lambda x, i: x.half()[:, :, i], atol=1e-3, rtol=1e-3, name="float16-tensor-index"),
    Case("gather", {"dim": 0}, inputs=[(4, 2), (3,)], error="wrong-dtype", message="int32 or int64"),
    Case("gather", {"dim": 0, "index": [1]}, inputs=[(4, 2), ((3,), "int32")], error="invalid-value",
         message="one of them"),
    Case("gather", {"dim": 0}, inputs=[(4, 2)], error="missing-param", message="index tensor"),
    # pad
    Case("pad", {"pad": [1, 2]}, inputs=[(2, 3, 4)], torch=lambda x: F.pad(x, (1, 2))),
    Case("pad", {"pad": [1, 0, 0, 2, 3, 1], "value": 1.5}, inputs=[(2, 3, 4, 5)],
         torch=lambda x: F.pad(x, (1, 0, 0, 2, 3, 1), value=1.5)),
    Case("pad", {"pad": [-1, 2, 1, -2]}, inputs=[(3, 4, 5)], torch=lambda x: F.pad(x, (-1, 2, 1, -2)), name="crop"),
    Case("pad", {"pad": [2, 1], "value": 7}, inputs=[((3, 4), "int32")], torch=lambda x: F.pad(x, (2, 1), value=7)),
    Case("pad", {"pad": [2, 3, 1, 1], "mode": "reflect"}, inputs=[(2, 3, 4, 5)],
         torch=lambda x: F.pad(x, (2, 3, 1, 1), mode="reflect")),
    Case("pad", {"pad": [3, 1], "mode": "reflect"}, inputs=[(2, 5)], torch=lambda x: F.pad(x, (3, 1), mode="reflect")),
    Case("pad", {"pad": [1, 2, 2, 0, 1, 1], "mode": "replicate"}, inputs=[(1, 2, 3, 4, 5)],
         torch=lambda x: F.pad(x, (1, 2, 2, 0, 1, 1), mode="replicate")),
    Case("pad", {"pad": [2, 1, 0, 3], "mode": "circular"}, inputs=[(1, 2, 3, 4)],
         torch=lambda x: F.pad(x, (2, 1, 0, 3), mode="circular")),
    Case("pad", {"pad": [0, 0, 1, 1, 2, 2, 1, 0]}, inputs=[(2, 3, 4, 5, 6)],
         torch=lambda x: F.pad(x, (0, 0, 1, 1, 2, 2, 1, 0)), name="four-dims"),
    Case("pad", {"pad": [4, 0], "mode": "reflect"}, inputs=[(2, 4)], error="invalid-value", message="at most 3"),
    Case("pad", {"pad": [1, 2, 3]}, inputs=[(2, 4)], error="invalid-value", message="pairs"),
    Case("pad", {"pad": [-1, 0], "mode": "replicate"}, inputs=[(2, 4)], error="invalid-value", message="negative"),
    Case("pad", {"pad": [-2, -2]}, inputs=[(2, 4)], error="invalid-value", message="leaves nothing"),
    Case("pad", {"pad": [1, 1], "mode": "edge"}, inputs=[(2, 4)], error="invalid-param", message="one of"),
    # float16 and bfloat16 tensors move unchanged; the oracle rounds its inputs to that dtype while the
    # reference holds the float32 values: tolerances of float16's (2^-11) and bfloat16's (2^-8) rounding
    Case("pad", {"pad": [1, 2], "mode": "reflect"}, inputs=[((3, 4), "float16")],
         torch=lambda x: F.pad(x.half(), (1, 2), mode="reflect"), atol=1e-3, rtol=1e-3),
    Case("concat", {"axis": 1}, inputs=[((3, 1), "bfloat16"), ((3, 2), "bfloat16")],
         torch=lambda a, b: torch.cat([a.bfloat16(), b.bfloat16()], 1), atol=8e-3, rtol=8e-3),
    Case("tile", {"dims": [2, 2]}, inputs=[((1, 3), "float16")], torch=lambda x: tile(x.half(), (2, 2)),
         atol=1e-3, rtol=1e-3),
    Case("gather", {"dim": 0, "index": [2, 0]}, inputs=[((3, 2), "bfloat16")],
         torch=lambda x: x.bfloat16().index_select(0, torch.tensor([2, 0])), atol=8e-3, rtol=8e-3),
    Case("slice", {"dim": 1, "start": -2}, inputs=[((3, 5), "float16")], torch=lambda x: x.half()[:, -2:],
         atol=1e-3, rtol=1e-3),
    # pixel shuffle
    Case("pixel_shuffle", {"upscale_factor": 2}, inputs=[(3, 8, 3, 5)], torch=torch.nn.PixelShuffle(2)),
    Case("pixel_shuffle", {"upscale_factor": 3}, inputs=[(9, 2, 1)], torch=torch.nn.PixelShuffle(3)),
    Case("pixel_shuffle", {"upscale_factor": 2}, inputs=[(2, 1, 4, 2, 2)], torch=torch.nn.PixelShuffle(2)),
    Case("pixel_shuffle", {"upscale_factor": 2}, inputs=[(1, 6, 2, 2)], error="shape-mismatch", message="divisible"),
    Case("pixel_unshuffle", {"downscale_factor": 2}, inputs=[(3, 2, 6, 4)], torch=torch.nn.PixelUnshuffle(2)),
    Case("pixel_unshuffle", {"downscale_factor": 3}, inputs=[((1, 3, 3), "int32")], torch=torch.nn.PixelUnshuffle(3)),
    Case("pixel_unshuffle", {"downscale_factor": 2}, inputs=[(1, 2, 5, 4)], error="shape-mismatch", message="divisible"),
    Case("pixel_unshuffle", {"downscale_factor": 2}, inputs=[(4, 4)], error="shape-mismatch", message="rank 3"),
]
