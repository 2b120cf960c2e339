import torch

from opcases import Case


def einsum(equation):
    return lambda *xs: torch.einsum(equation, *xs)


CASES = [
    Case("einsum", {"equation": "ij,jk->ik"}, inputs=[(3, 4), (4, 5)], torch=einsum("ij,jk->ik")),
    Case("einsum", {"equation": "bij,bjk->bik"}, inputs=[(2, 3, 4), (2, 4, 5)], torch=einsum("bij,bjk->bik")),
    Case("einsum", {"equation": "bhqd,bhkd->bhqk"}, inputs=[(2, 3, 5, 4), (2, 3, 6, 4)],
         torch=einsum("bhqd,bhkd->bhqk")),  # attention scores
    Case("einsum", {"equation": "ij,kj"}, inputs=[(3, 4), (5, 4)], torch=einsum("ij,kj")),  # implicit output: ik
    Case("einsum", {"equation": "ij->ji"}, inputs=[(2, 3)], torch=einsum("ij->ji")),
    Case("einsum", {"equation": "ijk->"}, inputs=[(2, 3, 4)], torch=einsum("ijk->")),
    Case("einsum", {"equation": "i,i->"}, inputs=[(7,), (7,)], torch=einsum("i,i->")),
    Case("einsum", {"equation": "i,j->ij"}, inputs=[(3,), (4,)], torch=einsum("i,j->ij")),
    Case("einsum", {"equation": " bn , nd -> bd "}, inputs=[(1, 9), (9, 2)], torch=einsum("bn,nd->bd")),
    Case("einsum", {"equation": "abcdefgh,h->abcdefg"}, inputs=[(1, 2, 1, 2, 1, 2, 1, 3), (3,)],
         torch=einsum("abcdefgh,h->abcdefg")),  # rank 8
    # errors
    Case("einsum", {"equation": "...ij,...jk->...ik"}, inputs=[(2, 3, 4), (2, 4, 5)], error="invalid-value",
         message="ellipsis"),
    Case("einsum", {"equation": "ii->i"}, inputs=[(3, 3)], error="invalid-value", message="appears twice in the term"),
    Case("einsum", {"equation": "IJ,JK->IK"}, inputs=[(3, 4), (4, 5)], error="invalid-value", message="lowercase"),
    Case("einsum", {"equation": "ij,jk->ik"}, inputs=[(3, 4), (1, 5)], error="shape-mismatch",
         message="`j` is 4 in one input and 1"),
    Case("einsum", {"equation": "ij,jk->ik"}, inputs=[(3, 4, 1), (4, 5)], error="invalid-value", message="has 2 letters"),
    Case("einsum", {"equation": "ij->k"}, inputs=[(3, 4)], error="invalid-value", message="appears in no input"),
    Case("einsum", {"equation": "ij,jk->ik"}, inputs=[(3, 4)], error="invalid-value", message="2 input term(s) for 1"),
    Case("einsum", {"equation": "ij,jk,kl->il"}, inputs=[(2, 3), (3, 4), (4, 5)], error="input-count"),
    Case("einsum", {"equation": "ij->ij"}, inputs=[((2, 3), "int32")], error="wrong-dtype"),
    Case("einsum", {"equation": 3}, inputs=[(2, 3)], error="invalid-param"),
]
