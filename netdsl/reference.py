"""The reference executor: any checked spec run on numpy (float tensors in float32), with the semantics the
TensorRT lowering gives each layer (batch norm folded by the same function, fully connected as a
matrix product plus bias, hardswish as x * hard_sigmoid(x), ...). Each layer kind computes itself in
``Op.reference`` (``netdsl/ops``); this module holds the interpreter and the numeric helpers they share.

    >>> import numpy as np
    >>> from netdsl.build import load_spec, bind_weights
    >>> checked = load_spec("specs/lenet.yaml")
    >>> outputs = run(checked, bind_weights(checked), {"data": np.zeros((2, 1, 32, 32), np.float32)})
    >>> outputs["prob"].shape
    (2, 10)
"""

from __future__ import annotations

import math

import numpy as np

from .diagnostics import NetdslError
from .interpreter import Interpreter
from .ops import BATCH, show_shape
from .tensors import is_float, numpy_dtype


class Context:
    """What an op's ``reference`` method works with: its weights (float32), the static types, and
    the size of every dynamic dimension in this run."""

    def __init__(self, bound: dict, types: dict, batch: int | None, sizes: dict | None = None):
        self.bound = bound
        self.types = types
        self.batch = batch  # of the dynamic inputs; None when every shape is static
        self.sizes = sizes if sizes is not None else ({BATCH.name: batch} if batch is not None else {})
        self.node = None

    def array(self, slot: str) -> np.ndarray:
        return self.bound[f"{self.node.name}.{slot}"].array

    def input_type(self, index: int = 0):
        return self.types[self.node.inputs[index]]

    def concrete(self, t):
        """A type (or tuple of types) with every dynamic dimension replaced by its size in this run."""
        if isinstance(t, tuple) and not hasattr(t, "dtype"):
            return tuple(self.concrete(one) for one in t)
        return t._replace(shape=tuple(d if isinstance(d, int) else self.sizes[d.name] for d in t.shape))

    def concrete_outputs(self):
        types = [self.concrete(self.types[name]) for name in self.node.outputs]
        return types[0] if len(types) == 1 else tuple(types)

    def output_shape(self) -> tuple:
        return self.concrete(self.types[self.node.outputs[0]]).shape


class Reference(Interpreter):
    method = "reference"

    def __init__(self, graph, ctx: Context):
        super().__init__(graph)
        self.ctx = ctx

    def call(self, node, args):
        self.ctx.node = node
        result = node.op.reference(node, self.ctx, *args)
        if len(node.outputs) == 1:
            return self.checked(node, node.outputs[0], result)
        return tuple(self.checked(node, name, one) for name, one in zip(node.outputs, result))

    def checked(self, node, name, result):
        expected = self.ctx.concrete(self.ctx.types[name])
        result = np.asarray(result, dtype=numpy_dtype(expected.dtype))
        if result.shape != expected.shape:
            from .diagnostics import InternalError

            raise InternalError(f"layer `{node.name}`: the reference computed shape {list(result.shape)} for "
                                f"`{name}`, netdsl inferred {show_shape(expected.shape)}")
        return result


def declared(checked) -> list:
    """The spec's inputs as :class:`netdsl.arrays.Declared` (floats run in float32)."""
    from .arrays import Declared

    return [Declared(i.name, tuple(None if d is BATCH else d for d in i.shape), i.batch and i.batch[::2],
                     "float32" if is_float(i.dtype) else i.dtype)
            for i in checked.graph.inputs]


def check_inputs(checked, inputs: dict) -> tuple[dict, int | None]:
    """The spec's inputs checked and converted to float32 (see :func:`netdsl.arrays.check_arrays`)."""
    from .arrays import check_arrays

    return check_arrays(declared(checked), inputs)


def run(checked, bound: dict, inputs: dict, keep: set[str] | None = None) -> dict:
    """Output name -> array (float32 for every float tensor), for inputs given by name. Intermediate
    tensors are freed after their last use unless named in ``keep`` (they are then returned too)."""
    arrays, batch = check_inputs(checked, inputs)
    wanted = {o.source for o in checked.graph.outputs} | set(keep or ())
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        values = Reference(checked.graph, Context(bound, checked.types, batch)).run(dict(arrays), keep=wanted)
    missing = [o.source for o in checked.graph.outputs if o.source not in values]
    if missing:
        raise NetdslError(f"could not compute {', '.join(missing)}")
    result = {output.name: values[output.source] for output in checked.graph.outputs}
    result.update({name: values[name] for name in keep or () if name in values})
    return result


# -- numeric helpers shared by the ops ---------------------------------------------------------------


def pad_hw(x: np.ndarray, top: int, left: int, bottom: int, right: int, value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def windows(x: np.ndarray, kernel, stride, dilation, out_hw) -> np.ndarray:
    """[N, C, OH, OW, kH, kW] views of the windows of an already padded x."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    view = np.lib.stride_tricks.sliding_window_view(x, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw][:, :, :oh, :ow]


def pad_to_cover(x, padding, kernel, stride, out_hw, dilation=(1, 1), value=0.0):
    """Pad with explicit padding, plus whatever extra at the end the last (ceil-mode) window needs."""
    top, left, bottom, right = padding
    need_h = (out_hw[0] - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1
    need_w = (out_hw[1] - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1
    extra_h = max(0, need_h - (x.shape[2] + top + bottom))
    extra_w = max(0, need_w - (x.shape[3] + left + right))
    return pad_hw(x, top, left, bottom + extra_h, right + extra_w, value)


def convolution(x, weight, bias, padding, stride, dilation, groups, out_hw) -> np.ndarray:
    n, c = x.shape[:2]
    o, cg, kh, kw = weight.shape
    patches = windows(pad_hw(x, *padding), (kh, kw), stride, dilation, out_hw)  # N C OH OW kh kw
    og = o // groups
    out = np.empty((n, o, *out_hw), np.float32)
    for g in range(groups):
        part = patches[:, g * cg:(g + 1) * cg]
        out[:, g * og:(g + 1) * og] = np.einsum("ncxyij,ocij->noxy", part, weight[g * og:(g + 1) * og], optimize=True)
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def deconvolution(x, weight, bias, padding, stride, dilation, groups, out_hw) -> np.ndarray:
    """Transposed convolution: every input pixel scatters its kernel, then the padding is cropped."""
    n, c, h, w = x.shape
    _, og, kh, kw = weight.shape
    (sh, sw), (dh, dw) = stride, dilation
    top, left, _, _ = padding
    full_h, full_w = (h - 1) * sh + dh * (kh - 1) + 1, (w - 1) * sw + dw * (kw - 1) + 1
    full = np.zeros((n, og * groups, full_h, full_w), np.float32)
    cg = c // groups
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        ws = weight[g * cg:(g + 1) * cg]  # [cg, og, kh, kw]
        contribution = np.einsum("ncxy,coij->noijxy", xs, ws, optimize=True)
        for i in range(kh):
            for j in range(kw):
                full[:, g * og:(g + 1) * og, i * dh:i * dh + (h - 1) * sh + 1:sh,
                     j * dw:j * dw + (w - 1) * sw + 1:sw] += contribution[:, :, i, j]
    out = full[:, :, top:top + out_hw[0], left:left + out_hw[1]]
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (numpy has none): math.erf on every value, in float64."""
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)
