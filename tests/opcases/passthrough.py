"""Cases of netdsl/ops/passthrough.py: dropout, identity."""


from opcases import Case


CASES = [
    Case("identity", inputs=[(2, 3)], torch=lambda x: x),
    Case("dropout", {"p": 0.2}, inputs=[(2, 3)], torch=lambda x: x),
]

# Also built with a dynamic batch
CASES += [
    Case("identity", inputs=[(2, 6, 5, 5)], torch=lambda x: x),
    Case("dropout", {"p": 0.5}, inputs=[(2, 6, 5, 5)], torch=lambda x: x),
    Case("identity", inputs=[(2, 8, 4, 4)], torch=lambda x: x, batch_builds=("float32",)),
    Case("dropout", {"p": 0.2}, inputs=[(2, 8, 4, 4)], torch=lambda x: x, batch_builds=("float32",)),
]
CASES += [
    Case("dropout", {"p": 0.3}, inputs=[(2, 3, 7, 5)], torch=lambda x: x),
    Case("identity", inputs=[(2, 3, 7, 5)], torch=lambda x: x),
]
