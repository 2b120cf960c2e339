"""Cases of netdsl/ops/pad.py: pad."""

import torch.nn.functional as F

from opcases import Case


CASES = [
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
]
