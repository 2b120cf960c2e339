"""Cases of netdsl/ops/squeeze.py: squeeze, unsqueeze."""


from opcases import Case


CASES = [
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
]
