"""Cases of netdsl/ops/reshape.py: reshape, reshape_as."""


from opcases import Case


X = (2, 4, 9, 9)


CASES = [
    Case("reshape", {"shape": [0, -1, 9]}, inputs=[X], torch=lambda x: x.reshape(2, -1, 9)),
    # reshape_as: the first input in the second's shape; the second's values and dtype do not matter
    Case("reshape_as", inputs=[(2, 12), (2, 3, 4)], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[(1, 64, 400), (1, 64, 20, 20)], torch=lambda x, like: x.view_as(like)),
    Case("reshape_as", inputs=[(2, 3, 4), (24,)], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[(1, 1), ()], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[((6,), "int32"), ((3, 2), "bool")], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[((2, 2), "bool"), ((4, 1), "uint8")], torch=lambda x, like: x.reshape_as(like)),
    Case("reshape_as", inputs=[(2, 12), (5, 5)], error="shape-mismatch", message="24 elements become 25"),
    Case("reshape_as", inputs=[(2, 12)], error="input-count", message="takes 2 input(s), found 1"),
    # reshape
    Case("reshape", {"shape": [0, -1, 5]}, inputs=[(3, 4, 5)], torch=lambda x: x.reshape(3, -1, 5)),
    Case("reshape", {"shape": [-1]}, inputs=[(2, 3, 4)], torch=lambda x: x.reshape(-1)),
    Case("reshape", {"shape": []}, inputs=[(1, 1)], torch=lambda x: x.reshape(())),
    Case("reshape", {"shape": [1, 1, 1]}, inputs=[()], torch=lambda x: x.reshape(1, 1, 1)),
    Case("reshape", {"shape": [2, 1, 1, 1, 3, 1, 1, 2]}, inputs=[((3, 4), "int32")],
         torch=lambda x: x.reshape(2, 1, 1, 1, 3, 1, 1, 2)),
    Case("reshape", {"shape": [3, 2]}, inputs=[((6,), "bool")], torch=lambda x: x.reshape(3, 2)),
    Case("reshape", {"shape": [4, -1]}, inputs=[(3, 5)], error="shape-mismatch", message="not divisible by 4"),
    Case("reshape", {"shape": [-1, -1]}, inputs=[(3, 5)], error="invalid-value", message="at most one"),
    Case("reshape", {"shape": [0, 0, 0]}, inputs=[(3, 5)], error="shape-mismatch", message="does not have"),
]

# Also built with a dynamic batch (0 copies it)
CASES += [
    Case("reshape", {"shape": [0, -1, 5]}, inputs=[(2, 6, 5, 5)], torch=lambda x: x.reshape(x.shape[0], -1, 5)),
    Case("reshape", {"shape": [0, -1, 2]}, inputs=[(2, 8, 4, 4)], torch=lambda x: x.reshape(x.shape[0], -1, 2),
         batch_builds=("float32",)),
    Case("reshape", {"shape": [0, 4, 2, 16]}, inputs=[(2, 8, 4, 4)], torch=lambda x: x.reshape(x.shape[0], 4, 2, 16),
         batch_builds=("float32",)),
]
