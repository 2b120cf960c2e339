"""The reference executor: any checked spec run on numpy (float tensors in float32), with the semantics the
TensorRT lowering gives each layer (batch norm folded by the same function, fully connected as a
matrix product plus bias, hardswish as x * hard_sigmoid(x), ...). Each layer kind computes itself in
``Op.reference`` (``netdsl/ops``, with the numpy kernels they share in ``netdsl/ops/_numpy.py``); this
module holds the interpreter.

    >>> import numpy as np
    >>> from netdsl.build import load_spec, bind_weights
    >>> checked = load_spec("specs/lenet.yaml")
    >>> outputs = run(checked, bind_weights(checked), {"data": np.zeros((2, 1, 32, 32), np.float32)})
    >>> outputs["prob"].shape
    (2, 10)
"""

from __future__ import annotations

import numpy as np

from .diagnostics import NetdslError, UsageError
from .interpreter import Interpreter
from .ops import BATCH, show_shape
from .ops._numpy import release_workspace
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
        self.dying = frozenset  # () -> indices of this node's inputs that it may overwrite (asked lazily)
        self.substitutes: dict = {}  # "<layer>.<slot>" -> array used instead (batch norm folded in)

    def reusable(self, index: int = 0) -> bool:
        """Whether the layer may write its result into input ``index``'s buffer: the tensor is not used
        again, is no caller's input or bound weight, and shares its memory with no other live tensor."""
        if not isinstance(self.dying, frozenset):
            self.dying = self.dying()
        return index in self.dying

    def array(self, slot: str) -> np.ndarray:
        key = f"{self.node.name}.{slot}"
        if key in self.substitutes:
            return self.substitutes[key]
        array = self.bound[key].array
        return array if self.quant is None else self.quant.weight(self.node, slot, array)

    def substituted(self, slot: str) -> bool:
        return f"{self.node.name}.{slot}" in self.substitutes

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

    def __init__(self, graph, ctx: Context, observe: dict | None = None):
        super().__init__(graph)
        self.ctx = ctx
        self.observe = observe or {}

    def run(self, initial, keep=None):
        self.order = {id(node): index for index, node in enumerate(self.graph.nodes)}
        self.last_use = self.last_uses() if keep is not None else {}
        self.keep = keep or set()
        # buffers no layer may overwrite: the caller's inputs and the bound weights
        self.protected = {id(_root(a)) for a in initial.values() if isinstance(a, np.ndarray)}
        self.protected.update(id(_root(w.array)) for w in self.ctx.bound.values()
                              if isinstance(getattr(w, "array", None), np.ndarray))
        self.folds: dict = {}  # convolution name -> the batch norm folded into it
        self.folded = self.fold_batch_norms(set(keep or ()) | set(self.observe)) if self.ctx.quant is None else set()
        for name in self.observe.keys() & initial.keys():
            self.observe[name](initial[name])
        return super().run(initial, keep)

    def fold_batch_norms(self, keep) -> set:
        """A batch norm whose input is a convolution's output used nowhere else is folded into that
        convolution's weights (weight * scale per output channel, bias * scale + shift), as
        ``netdsl.ops.batch_norm.fold`` derives them; the batch norm then passes its input on. The results
        differ from the two separate steps by float32 rounding. Returns the folded batch norms' names."""
        producers = {node.outputs[0]: node for node in self.graph.nodes if len(node.outputs) == 1}
        uses: dict = {}
        for node in self.graph.nodes:
            for name in node.inputs:
                uses[name] = uses.get(name, 0) + 1
        outputs = {o.source for o in self.graph.outputs} | set(keep or ())
        folded = set()
        for node in self.graph.nodes:
            if node.op.kind != "batch_norm":
                continue
            source = node.inputs[0]
            conv = producers.get(source)
            if conv is None or conv.op.kind != "convolution" or uses[source] != 1 or source in outputs:
                continue
            self.folds[conv.name] = node
            folded.add(node.name)
        return folded

    def donated(self, node, args) -> frozenset:
        index = self.order.get(id(node))
        dying = [i for i, name in enumerate(node.inputs)
                 if self.last_use.get(name) == index and name not in self.keep and node.inputs.count(name) == 1]
        if not dying:
            return frozenset()
        roots = {}
        for value in self.env.values():
            for one in value if isinstance(value, tuple) else (value,):
                if isinstance(one, np.ndarray):
                    key = id(_root(one))
                    roots[key] = roots.get(key, 0) + 1
        free = set()
        for i in dying:
            array = args[i]
            if not isinstance(array, np.ndarray) or not array.flags.writeable or array.dtype != np.float32:
                continue
            key = id(_root(array))
            if (key not in self.protected and roots.get(key) == 1 and array.flags.c_contiguous
                    and _root(array).flags.owndata):
                free.add(i)
        return frozenset(free)

    def call(self, node, args):
        result = self.compute(node, args)
        for name, value in zip(node.outputs, (result,) if len(node.outputs) == 1 else result):
            if name in self.observe:
                self.observe[name](value)
        return result

    def compute(self, node, args):
        self.ctx.node = node
        if node.name in self.folded:
            return args[0]  # folded into the convolution before it
        if node.name in self.folds:  # the folded weights live only while this convolution runs
            self.substitute(node, self.folds[node.name])
            try:
                return self.call_op(node, args)
            finally:
                self.ctx.substitutes.clear()
        return self.call_op(node, args)

    def substitute(self, conv, norm) -> None:
        from .ops.batch_norm import fold

        def slot(layer, name):
            return self.ctx.bound[f"{layer.name}.{name}"].array

        scale, shift = fold(slot(norm, "weight"), slot(norm, "bias"), slot(norm, "running_mean"),
                            slot(norm, "running_var"), norm.params["eps"])
        weight = slot(conv, "weight")
        self.ctx.substitutes[f"{conv.name}.weight"] = weight * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
        bias = shift if not conv.params["bias"] else slot(conv, "bias") * scale + shift
        self.ctx.substitutes[f"{conv.name}.bias"] = bias.astype(np.float32)

    def call_op(self, node, args):
        self.ctx.dying = (lambda: self.donated(node, args)) if self.ctx.quant is None else frozenset
        if self.ctx.quant is not None:
            args = self.ctx.quant.inputs(node, args)
        try:
            result = node.op.reference(node, self.ctx, *args)
        except (ValueError, IndexError) as error:
            empty = [i for i, a in enumerate(args) if getattr(a, "size", 1) == 0]
            if not empty:
                raise
            # a size of 0 that a named dimension allows (netdsl.spec.dims): a maximum, a softmax... of nothing
            raise UsageError(f"layer `{node.name}` ({node.kind}) cannot compute over an empty input (input "
                             f"{empty[0]} has shape {list(args[empty[0]].shape)}: {error}); give that dimension "
                             "a size of at least 1") from None
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


def _root(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (following views to their base)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def declared(checked) -> list:
    """The spec's inputs as :class:`netdsl.arrays.Declared` (floats run in float32)."""
    from .arrays import Declared

    return [Declared(i.name, tuple(None if d is BATCH else d if isinstance(d, int) else getattr(d, "name", d)
                                   for d in i.shape),
                     i.batch and i.batch[::2], "float32" if is_float(i.dtype) else i.dtype,
                     tuple(checked.graph.profiles))
            for i in checked.graph.inputs]


def check_inputs(checked, inputs: dict) -> tuple[dict, dict]:
    """The spec's inputs checked and converted to float32, and the size of every dynamic dimension (the
    -1 batch as ``N``; see :func:`netdsl.arrays.check_arrays_sized`)."""
    from .arrays import check_arrays_sized

    arrays, sizes = check_arrays_sized(declared(checked), inputs)
    return arrays, {BATCH.name if name is None else name: size for name, size in sizes.items()}


def run(checked, bound: dict, inputs: dict, keep: set[str] | None = None, quantizer=None,
        observe: dict | None = None) -> dict:
    """Output name -> array (float32 for every float tensor), for inputs given by name. Intermediate
    tensors are freed after their last use unless named in ``keep`` (they are then returned too). With a
    ``quantizer`` (:func:`netdsl.quant.quantizer_for`), quantized layers compute as TensorRT's
    quantize/dequantize pairs make them (fake quantization); without one, everything is float.
    ``observe`` (tensor name -> function) is given each tensor it names (an input or a layer's result)
    once, as soon as it is computed, before any later layer may overwrite it: calibration looks at every
    tensor a quantized layer reads without keeping them all to the end of the run (a batch norm after a
    convolution whose output is observed stays separate, as for a kept tensor)."""
    arrays, sizes = check_inputs(checked, inputs)
    wanted = {o.source for o in checked.graph.outputs} | set(keep or ())
    quant = None
    if quantizer is not None:
        from .quant.reference import FakeQuant

        quant = FakeQuant(quantizer)
    context = Context(bound, checked.types, sizes.get(BATCH.name), sizes, quant=quant)
    # (composites' expansions compare symbolic sizes over the profiles, as validate did)
    try:
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"), \
                allowed(checked.graph.profiles or None):
            values = Reference(checked.graph, context, observe).run(dict(arrays), keep=wanted)
    finally:
        release_workspace()  # the convolutions' im2col buffer
    missing = [o.source for o in checked.graph.outputs if o.source not in values]
    if missing:
        raise NetdslError(f"could not compute {', '.join(missing)}")
    result = {output.name: values[output.source] for output in checked.graph.outputs}
    result.update({name: values[name] for name in keep or () if name in values})
    return result

