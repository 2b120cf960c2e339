"""Cases of netdsl/ops/split.py: chunk, split."""


from opcases import Case


CASES = [
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
]
