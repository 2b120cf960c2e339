import torch

from opcases import Case

CASES = [
    Case("roll", {"shifts": [-3, -3], "dims": [1, 2]}, inputs=[(2, 14, 14, 8)],
         torch=lambda x: torch.roll(x, (-3, -3), (1, 2)), name="swin-shift"),
    Case("roll", {"shifts": [3, 3], "dims": [1, 2]}, inputs=[(2, 7, 14, 5)],
         torch=lambda x: torch.roll(x, (3, 3), (1, 2)), name="swin-back"),
    Case("roll", {"shifts": 2, "dims": -1}, inputs=[(3, 5)], torch=lambda x: torch.roll(x, 2, -1)),
    Case("roll", {"shifts": [7, -1], "dims": [0, 2]}, inputs=[(3, 1, 4)], torch=lambda x: torch.roll(x, (7, -1), (0, 2))),
    Case("roll", {"shifts": [1, 1], "dims": [0, 0]}, inputs=[(5,)], torch=lambda x: torch.roll(x, (1, 1), (0, 0)),
         name="one-dimension-twice"),
    Case("roll", {"shifts": 4, "dims": 1}, inputs=[(2, 4, 3)], torch=lambda x: torch.roll(x, 4, 1), name="whole-turn"),
    Case("roll", {"shifts": -2}, inputs=[(2, 3, 2)], torch=lambda x: torch.roll(x, -2), name="flattened"),
    Case("roll", {"shifts": [1, 2, 1, 1, 1, 1, 1, 3], "dims": [0, 1, 2, 3, 4, 5, 6, 7]},
         inputs=[(2, 3, 1, 2, 1, 2, 1, 4)], torch=lambda x: torch.roll(x, (1, 2, 1, 1, 1, 1, 1, 3), tuple(range(8)))),
    Case("roll", {"shifts": 1, "dims": 0}, inputs=[((4, 2), "int32")], torch=lambda x: torch.roll(x, 1, 0)),
    Case("roll", {"shifts": -1, "dims": 1}, inputs=[((2, 3), "bool")], torch=lambda x: torch.roll(x, -1, 1)),
    # float16 tensors move unchanged; the oracle rounds its input to float16 (2^-11)
    Case("roll", {"shifts": 2, "dims": 1}, inputs=[((1, 5, 3), "float16")], torch=lambda x: torch.roll(x.half(), 2, 1),
         atol=1e-3, rtol=1e-3),
    Case("roll", {"shifts": [1, 2], "dims": [0]}, inputs=[(2, 3)], error="invalid-value", message="one shift"),
    Case("roll", {"shifts": [1, 2]}, inputs=[(2, 3)], error="invalid-value", message="one number"),
    Case("roll", {"shifts": 1, "dims": 2}, inputs=[(2, 3)], error="invalid-value", message="out of range"),
    Case("roll", {"shifts": [], "dims": []}, inputs=[(2, 3)], error="invalid-param"),
]
