"""Cases of netdsl/ops/flatten.py: flatten."""


from opcases import Case


X = (2, 4, 9, 9)


CASES = [
    Case("flatten", inputs=[X], torch=lambda x: x.flatten(1)),
    Case("flatten", {"start_dim": 2}, inputs=[X], torch=lambda x: x.flatten(2)),
    # flatten
    Case("flatten", {}, inputs=[(3, 4, 5, 2)], torch=lambda x: x.flatten(1)),
    Case("flatten", {"start_dim": 0}, inputs=[()], torch=lambda x: x.flatten()),
    Case("flatten", {"start_dim": -3, "end_dim": -2}, inputs=[((2, 3, 4, 5), "int64")],
         torch=lambda x: x.flatten(-3, -2)),
    Case("flatten", {"start_dim": 2, "end_dim": 1}, inputs=[(2, 3, 4)], error="invalid-value", message="after"),
    Case("flatten", {"start_dim": 3}, inputs=[(2, 3, 4)], error="invalid-value", message="out of range"),
]

# Also built with a dynamic batch
CASES += [
    Case("flatten", inputs=[(2, 6, 5, 5)], torch=lambda x: x.flatten(1)),
    Case("flatten", {"start_dim": 2}, inputs=[(2, 6, 5, 5)], torch=lambda x: x.flatten(2)),
    Case("flatten", inputs=[(2, 8, 4, 4)], torch=lambda x: x.flatten(1), batch_builds=("float32",)),
    Case("flatten", {"start_dim": 2}, inputs=[(2, 8, 4, 4)], torch=lambda x: x.flatten(2), batch_builds=("float32",)),
]
