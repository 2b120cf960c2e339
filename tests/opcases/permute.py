"""Cases of netdsl/ops/permute.py: permute, transpose."""


from opcases import Case


CASES = [
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
]
