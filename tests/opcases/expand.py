"""Cases of netdsl/ops/expand.py: expand, tile."""

import torch

from opcases import Case


def tile(x, dims):
    return torch.tile(x, dims)


CASES = [
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
    Case("tile", {"dims": [2, 2]}, inputs=[((1, 3), "float16")], torch=lambda x: tile(x.half(), (2, 2)),
         atol=1e-3, rtol=1e-3),
]
