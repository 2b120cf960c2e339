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
from .symbolic import allowed
from .tensors import is_float, numpy_dtype


class Context:
    """What an op's ``reference`` method works with: its weights (float32), the static types, and
    the size of every dynamic dimension in this run."""

    def __init__(self, bound: dict, types: dict, batch: int | None, sizes: dict | None = None, quant=None):
        self.bound = bound
        self.quant = quant  # netdsl.quant.reference.FakeQuant when quantized layers are fake-quantized
        self.types = types
        self.batch = batch  # of the dynamic inputs; None when every shape is static
        self.sizes = sizes if sizes is not None else ({BATCH.name: batch} if batch is not None else {})
        self.node = None

    def array(self, slot: str) -> np.ndarray:
        array = self.bound[f"{self.node.name}.{slot}"].array
        return array if self.quant is None else self.quant.weight(self.node, slot, array)

    def input_type(self, index: int = 0):
        return self.types[self.node.inputs[index]]

    def concrete(self, t):
        """A type (or tuple of types) with every dynamic dimension replaced by its size in this run."""
        if isinstance(t, tuple) and not hasattr(t, "dtype"):
            return tuple(self.concrete(one) for one in t)
        return t._replace(shape=tuple(d if isinstance(d, int) else int(d.evaluate(self.sizes)) for d in t.shape))

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
        if self.ctx.quant is not None:
            args = self.ctx.quant.inputs(node, args)
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

    return [Declared(i.name, tuple(None if d is BATCH else d if isinstance(d, int) else d.name for d in i.shape),
                     i.batch and i.batch[::2], "float32" if is_float(i.dtype) else i.dtype,
                     tuple(checked.graph.profiles))
            for i in checked.graph.inputs]


def check_inputs(checked, inputs: dict) -> tuple[dict, dict]:
    """The spec's inputs checked and converted to float32, and the size of every dynamic dimension (the
    -1 batch as ``N``; see :func:`netdsl.arrays.check_arrays_sized`)."""
    from .arrays import check_arrays_sized

    arrays, sizes = check_arrays_sized(declared(checked), inputs)
    return arrays, {BATCH.name if name is None else name: size for name, size in sizes.items()}


def run(checked, bound: dict, inputs: dict, keep: set[str] | None = None, quantizer=None) -> dict:
    """Output name -> array (float32 for every float tensor), for inputs given by name. Intermediate
    tensors are freed after their last use unless named in ``keep`` (they are then returned too). With a
    ``quantizer`` (:func:`netdsl.quant.quantizer_for`), quantized layers compute as TensorRT's
    quantize/dequantize pairs make them (fake quantization); without one, everything is float."""
    arrays, sizes = check_inputs(checked, inputs)
    wanted = {o.source for o in checked.graph.outputs} | set(keep or ())
    quant = None
    if quantizer is not None:
        from .quant.reference import FakeQuant

        quant = FakeQuant(quantizer)
    context = Context(bound, checked.types, sizes.get(BATCH.name), sizes, quant=quant)
    # (composites' expansions compare symbolic sizes over the profiles, as validate did)
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"), \
            allowed(checked.graph.profiles or None):
        values = Reference(checked.graph, context).run(dict(arrays), keep=wanted)
    missing = [o.source for o in checked.graph.outputs if o.source not in values]
    if missing:
        raise NetdslError(f"could not compute {', '.join(missing)}")
    result = {output.name: values[output.source] for output in checked.graph.outputs}
    result.update({name: values[name] for name in keep or () if name in values})
    return result


# -- numeric helpers shared by the ops ---------------------------------------------------------------


def pad_spatial(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    """x padded on its spatial axes (every axis after N and C) by (begins..., ends...)."""
    half = len(padding) // 2
    return np.pad(x, ((0, 0), (0, 0), *zip(padding[:half], padding[half:])), constant_values=value)


def windows(x: np.ndarray, kernel, stride, dilation, out_sizes) -> np.ndarray:
    """[N, C, *out, *kernel] views of the windows of an already padded x."""
    rank = len(kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(x, spans, axis=tuple(range(2, 2 + rank)))
    view = view[(slice(None), slice(None), *(slice(None, None, s) for s in stride),
                 *(slice(None, None, d) for d in dilation))]
    return view[(slice(None), slice(None), *(slice(None, o) for o in out_sizes))]


def pad_to_cover(x, padding, kernel, stride, out_sizes, dilation=None, value=0.0):
    """Pad with explicit padding, plus whatever extra at the end the last (ceil-mode) window needs."""
    rank = len(kernel)
    dilation = dilation or (1,) * rank
    ends = list(padding[rank:])
    for axis in range(rank):
        need = (out_sizes[axis] - 1) * stride[axis] + dilation[axis] * (kernel[axis] - 1) + 1
        ends[axis] += max(0, need - (x.shape[2 + axis] + padding[axis] + ends[axis]))
    return pad_spatial(x, tuple(padding[:rank]) + tuple(ends), value)


def _letters(rank: int, first: str) -> str:
    return "".join(chr(ord(first) + i) for i in range(rank))


def convolution(x, weight, bias, padding, stride, dilation, groups, out_sizes) -> np.ndarray:
    n, rank = x.shape[0], x.ndim - 2
    o, cg, *kernel = weight.shape
    patches = windows(pad_spatial(x, padding), kernel, stride, dilation, out_sizes)  # N C *out *kernel
    out_axes, kernel_axes = _letters(rank, "x"), _letters(rank, "i")
    equation = f"nc{out_axes}{kernel_axes},oc{kernel_axes}->no{out_axes}"
    og = o // groups
    out = np.empty((n, o, *out_sizes), np.float32)
    for g in range(groups):
        part = patches[:, g * cg:(g + 1) * cg]
        out[:, g * og:(g + 1) * og] = np.einsum(equation, part, weight[g * og:(g + 1) * og], optimize=True)
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * rank)
    return out


def deconvolution(x, weight, bias, padding, stride, dilation, groups, out_sizes) -> np.ndarray:
    """Transposed convolution: every input pixel scatters its kernel, then the begin padding is cropped;
    an output longer than what the kernels reach (output_padding) reads zeros there."""
    import itertools

    n, c, *sizes = x.shape
    rank = len(sizes)
    _, og, *kernel = weight.shape
    full_sizes = [(size - 1) * s + d * (k - 1) + 1 for size, s, d, k in zip(sizes, stride, dilation, kernel)]
    reach = [max(full, begin + out) for full, begin, out in zip(full_sizes, padding, out_sizes)]
    full = np.zeros((n, og * groups, *reach), np.float32)
    cg = c // groups
    in_axes, kernel_axes = _letters(rank, "x"), _letters(rank, "i")
    for g in range(groups):
        contribution = np.einsum(f"nc{in_axes},co{kernel_axes}->no{kernel_axes}{in_axes}",
                                 x[:, g * cg:(g + 1) * cg], weight[g * cg:(g + 1) * cg], optimize=True)
        for offset in itertools.product(*(range(k) for k in kernel)):
            target = tuple(slice(i * d, i * d + (size - 1) * s + 1, s)
                           for i, d, size, s in zip(offset, dilation, sizes, stride))
            full[(slice(None), slice(g * og, (g + 1) * og), *target)] += contribution[(slice(None), slice(None),
                                                                                         *offset)]
    out = full[(slice(None), slice(None), *(slice(b, b + o) for b, o in zip(padding, out_sizes)))]
    if bias is not None:
        out = out + bias.reshape((1, -1) + (1,) * rank)
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """The error function (numpy has none): math.erf on every value, in float64."""
    return np.frompyfunc(math.erf, 1, 1)(x.astype(np.float64)).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)
