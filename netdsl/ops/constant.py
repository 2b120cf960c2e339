"""Constant tensors: small values written in the spec, or larger ones (anchors, position embeddings,
class tokens) from the weight file by name, shape-checked like every weight."""

from ..params import Bool, Choice, Dims, Literal, Param, literal_shape
from ..tensors import DTYPES, TensorType, is_float
from . import ShapeError, WeightSlot, register
from .primitive import Primitive

GROUP = "dtype, constants, no-ops"  # its row in the README's kind table (tools/regenerate.py)


@register
class Constant(Primitive):
    kind = "constant"
    torch = "torch.tensor / a registered buffer or nn.Parameter"
    doc = ("A constant tensor. `value`: a number or nested list written in the spec (with `shape`, a number "
           "fills that shape, as torch.full). Without `value`, weight `value` of `shape` comes from the "
           "weight file (map it to the checkpoint's key with `weights: {value: cls_token}`) and takes part "
           "in refit like any weight.")
    params = {
        "value": Param(Literal(infinite=True), None, doc="a number or nested list (`-.inf` and `.inf` too, as an "
                       "attention mask's fill; never `.nan`); leave out to read weight `value`"),
        "shape": Param(Dims(1, empty=True), None, doc="the shape (required for weights from the file; [] for a scalar "
                       "such as CLIP's logit_scale)"),
        "dtype": Param(Choice(DTYPES), "float32"),
        "buffer": Param(Bool(), False, doc="weight `value` is a buffer (torch's register_buffer: anchors, a fixed "
                        "grid), not a parameter: parameter counts leave it out, as PyTorch's do"),
    }
    min_inputs = max_inputs = 0
    dtypes = None

    def infer(self, p, *inputs):
        value, shape = p["value"], p["shape"]
        if value is None:
            if shape is None:
                raise ShapeError("a constant needs `value`, or `shape` to read weight `value` from the weight file",
                                 code="missing-param", hint="for example `shape: [1, 1, 768]`")
            return TensorType(tuple(shape), p["dtype"])
        given = literal_shape(value)
        if shape is not None and given != () and given != tuple(shape):
            raise ShapeError(f"`value` has shape {list(given)} but `shape` is {list(shape)}", "shape",
                             code="invalid-value", hint="a single number fills `shape`; a list must have it")
        if p["dtype"] == "bool" or p["dtype"].startswith(("int", "uint")):
            flat = _flatten(value)
            if any(isinstance(v, float) and not float(v).is_integer() for v in flat):
                raise ShapeError(f"a {p['dtype']} constant holds a fraction", "value", code="invalid-value")
        return TensorType(tuple(shape) if shape is not None else given, p["dtype"])

    def weight_slots(self, node, *inputs):
        shape, dtype = node.params["shape"], node.params["dtype"]
        if node.params["value"] is not None or shape is None:
            return []
        # an integer tensor is a buffer, never a parameter (PyTorch's parameters are floating point)
        floating = is_float(dtype)
        return [WeightSlot("value", tuple(shape), trainable=floating and not node.params["buffer"],
                           dtype="float32" if floating else dtype)]

    def array(self, p, out):
        import numpy as np

        from ..tensors import numpy_dtype

        return np.broadcast_to(np.asarray(p["value"], dtype=numpy_dtype(out.dtype)), out.shape).copy()

    def reference(self, node, ctx):
        import numpy as np

        from ..tensors import numpy_dtype

        out = ctx.concrete_outputs()
        if node.params["value"] is None:
            return ctx.array("value").astype(numpy_dtype(out.dtype))
        return self.array(node.params, out)

    def lower(self, node, ctx):
        out = ctx.output_types()
        if node.params["value"] is not None:
            return ctx.literal(self.array(node.params, out), out.dtype, None)
        if out.dtype == "float32":
            return ctx.constant(out.shape, ctx.array("value"), f"{node.name}.value")
        return ctx.literal(ctx.array("value"), out.dtype, None)

    def macs(self, node, output, *inputs):
        return 0


def _flatten(value):
    if isinstance(value, tuple):
        return [x for item in value for x in _flatten(item)]
    return [value]

