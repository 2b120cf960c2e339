"""Matrix products as torch.matmul (batch dimensions broadcast, 1-D operands are vectors), and
torch.nn.Linear on the last axis of any rank as a composite of it. TensorRT's matrix multiply takes
floats only and needs equal ranks (a vector operand: one less); the lowering equalises them."""

from ..params import Bool, Int, Param
from ..tensors import BATCH, BroadcastError, TensorType, broadcast, show_shape, show_type
from . import ShapeError, WeightSlot, register
from .primitive import Composite, Primitive

GROUP = "linear algebra, attention"  # its row in the README's kind table (tools/regenerate.py)


def product_macs(out: TensorType, inner) -> int:
    """Multiply-accumulates of a product with ``inner`` terms per output element, for one sample (the
    first axis of a rank-2-or-more output is the batch, as for fully_connected). Named sizes stay symbolic
    (summary evaluates them at the profile's opt), as for convolutions; the -1 batch alone counts 0."""
    total = inner if inner is not BATCH else 0
    for dim in out.shape[1:] if out.rank >= 2 else out.shape:
        total *= dim if dim is not BATCH else 0
    return total


def operands(p, a: TensorType, b: TensorType):
    """(batch a, batch b, rows of a or None, inner of a, inner of b, columns of b or None)."""
    for name, t in (("a", a), ("b", b)):
        if t.rank == 0:
            raise ShapeError(f"matmul needs operands of rank 1 or more, input {name} is a scalar",
                             hint="multiply by a scalar with kind: mul")
        if t.rank == 1 and p[f"transpose_{name}"]:
            raise ShapeError(f"transpose_{name} needs a matrix, input {name} is the vector {show_shape(t.shape)}",
                             f"transpose_{name}", code="invalid-value")
    *batch_a, rows, inner_a = (None, *a.shape) if a.rank == 1 else a.shape
    if p["transpose_a"]:
        rows, inner_a = inner_a, rows
    *batch_b, inner_b, columns = (*b.shape, None) if b.rank == 1 else b.shape
    if p["transpose_b"]:
        inner_b, columns = columns, inner_b
    return batch_a, batch_b, rows, inner_a, inner_b, columns


@register
class Matmul(Primitive):
    kind = "matmul"
    torch = "torch.matmul"
    doc = ("Matrix product a @ b (torch.matmul): leading batch dimensions broadcast; a 1-D a is a row "
           "vector, a 1-D b a column vector, and that dimension is dropped from the result. transpose_a/b "
           "use the last two axes of a matrix operand transposed.")
    params = {"transpose_a": Param(Bool(), False), "transpose_b": Param(Bool(), False)}
    min_inputs = max_inputs = 2

    def infer(self, p, a, b):
        if a.dtype != b.dtype:
            raise ShapeError(f"inputs have different dtypes: {show_type(a)} and {show_type(b)}", code="wrong-dtype",
                             hint="networks are strongly typed; convert one input first (kind: cast)")
        batch_a, batch_b, rows, inner_a, inner_b, columns = operands(p, a, b)
        if inner_a != inner_b:
            raise ShapeError(f"the inner dimensions differ: {inner_a} (input a) and {inner_b} (input b)",
                             expected=str(inner_a), found=str(inner_b),
                             hint="a [..., M, K] @ b [..., K, P]; transpose_a/transpose_b swap an operand's last two axes")
        try:
            batch = broadcast([tuple(batch_a), tuple(batch_b)])
        except BroadcastError as error:
            raise ShapeError(f"batch dimensions do not broadcast: {error}", expected="equal sizes or 1",
                             found=" vs ".join(str(s) for s in error.sizes)) from None
        return TensorType(batch + tuple(d for d in (rows, columns) if d is not None), a.dtype)

    def compute(self, p, out, a, b):
        import numpy as np

        a = np.swapaxes(a, -1, -2) if p["transpose_a"] else a
        b = np.swapaxes(b, -1, -2) if p["transpose_b"] else b
        if a.ndim > 2 and b.ndim == 2:  # a linear layer: one BLAS product (numpy's stacked one is ~100x slower)
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[-1:])
        return np.matmul(a, b)

    def emit(self, ctx, p, out, a, b):
        # TensorRT: matrices of equal rank; a vector operand (VECTOR) has one axis less than the matrix
        op = ctx.trt.MatrixOperation
        rank = max(a.type.rank, b.type.rank)
        ops = []
        tensors = []
        for x, transpose, other in ((a, p["transpose_a"], b), (b, p["transpose_b"], a)):
            if x.type.rank == 1:
                ops.append(op.VECTOR)
                tensors.append(ctx.expand_rank(x.data, x.type, max(other.type.rank - 1, 1)))
            else:
                ops.append(op.TRANSPOSE if transpose else op.NONE)
                tensors.append(ctx.expand_rank(x.data, x.type, rank))
        layer = ctx.network.add_matrix_multiply(tensors[0], ops[0], tensors[1], ops[1])
        return ctx.label(layer).get_output(0)

    def macs(self, node, out, a, b):
        return product_macs(out, operands(node.params, a, b)[3])


@register
class Linear(Composite):
    kind = "linear"
    torch = "torch.nn.Linear"
    doc = ("y = x @ weight.T + bias on the last axis of an input of any rank (torch.nn.Linear). Weights: "
           "weight [out_features, in_features], bias [out_features]. (fully_connected flattens from dim 1.)")
    params = {
        "out_features": Param(Int(1), doc="number of outputs"),
        "bias": Param(Bool(), True),
        "in_features": Param(Int(1), None, doc="optional check: the size of the input's last axis"),
    }

    def in_features(self, node, x) -> int:
        if x.rank == 0:
            raise ShapeError("linear needs an input of rank 1 or more, found a scalar")
        features, declared = x.shape[-1], node.params["in_features"]
        if not isinstance(features, int):
            raise ShapeError(f"the last axis of {show_shape(x.shape)} is dynamic; linear needs its size",
                             code="dynamic-shape")
        if declared is not None and declared != features:
            raise ShapeError(f"in_features is {declared}, but the last axis of {show_shape(x.shape)} has {features}",
                             "in_features", expected=str(declared), found=str(features))
        return features

    def weight_slots(self, node, x):
        out = node.params["out_features"]
        slots = [WeightSlot("weight", (out, self.in_features(node, x)))]
        return slots + [WeightSlot("bias", (out,))] if node.params["bias"] else slots

    def expand(self, node, g, x):
        self.in_features(node, x.type)
        weight = g.weight("weight")
        if x.type.dtype != weight.type.dtype:  # an explicitly float16/bfloat16 tensor
            weight = g.cast(weight, dtype=x.type.dtype)
        y = g.matmul(x, weight, transpose_b=True)
        if not node.params["bias"]:
            return y
        bias = g.weight("bias")
        return g.add(y, bias if x.type.dtype == bias.type.dtype else g.cast(bias, dtype=x.type.dtype))

    def macs(self, node, out, x):
        return product_macs(out, self.in_features(node, x))
