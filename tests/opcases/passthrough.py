"""Cases of netdsl/ops/passthrough.py: dropout, identity."""


from opcases import Case


CASES = [
    Case("identity", inputs=[(2, 3)], torch=lambda x: x),
    Case("dropout", {"p": 0.2}, inputs=[(2, 3)], torch=lambda x: x),
]
