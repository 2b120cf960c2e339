import torch

from opcases import Case

CASES = [
    Case("where", inputs=[((2, 3), "bool"), (2, 3), (2, 3)], torch=torch.where),
    Case("where", inputs=[((3, 1, 5), "bool"), (4, 1), (5,)], torch=torch.where),  # ranks 3, 2, 1
    Case("where", inputs=[((), "bool"), (2, 3), ()], torch=torch.where),
    Case("where", inputs=[((4,), "bool"), ((3, 4), "int32"), ((1,), "int32")], torch=torch.where),
    Case("where", inputs=[((2, 1), "bool"), ((1, 3), "bool"), ((2, 3), "bool")], torch=torch.where),
    Case("where", inputs=[((1, 2, 1, 2, 1, 2, 1, 2), "bool"), ((2, 1, 2, 1, 2, 1, 2, 1), "int64"),
                          ((2,), "int64")], torch=torch.where),  # rank 8
    # errors
    Case("where", inputs=[(2, 3), (2, 3), (2, 3)], error="wrong-dtype", message="must be bool"),
    Case("where", inputs=[((2, 3), "bool"), (2, 3), ((2, 3), "int32")], error="wrong-dtype", message="different dtypes"),
    Case("where", inputs=[((2, 3), "bool"), (4,), (2, 3)], error="shape-mismatch", message="do not broadcast"),
    Case("where", inputs=[((2, 3), "bool"), (2, 3)], error="input-count"),
]
