"""Dynamic sizes in a TensorRT network: shape tensors that compute netdsl's symbolic sizes from the
network inputs at run time, and the check that TensorRT's own shape inference agrees with netdsl's at
every corner (min, opt, max) of every optimization profile.

A named dimension is read once from the first network input that has it (``add_shape``, then a slice);
an expression is built from those with elementwise layers on int64 shape tensors (SUM, PROD,
FLOOR_DIV), each distinct sub-expression once per network.
"""

from __future__ import annotations

from ..diagnostics import InternalError
from ..symbolic import Dim, FloorDiv, evaluate


class ShapeTensors:
    """int64 shape tensors for the sizes of one network (kept on the lowering context: ``ctx.size_tensors``)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.cache: dict[str, object] = {}  # size text (or input name, for its shape) -> its tensor
        self.steps = 0

    def shape(self, shape):
        """A 1-D int64 tensor holding ``shape`` (ints and symbolic sizes)."""
        import numpy as np

        pieces, run = [], []
        for size in list(shape) + [None]:
            if isinstance(size, int):
                run.append(size)
                continue
            if run:
                pieces.append(self.ctx.literal(np.array(run, np.int64), "int64", f"dims{len(pieces)}"))
                run = []
            if size is not None:
                pieces.append(self.size(size))
        if len(pieces) == 1:
            return pieces[0]
        return self.ctx.label(self.ctx.network.add_concatenation(pieces), "shape").get_output(0)

    def size(self, size):
        """A one-element int64 tensor holding ``size``."""
        import numpy as np

        key = str(size)
        if key in self.cache:
            return self.cache[key]
        if isinstance(size, int):
            tensor = self.ctx.literal(np.array([size], np.int64), "int64", f"size[{size}]")
        elif isinstance(size, Dim):
            tensor = self.dim(size)
        elif isinstance(size, FloorDiv):
            tensor = self.operation(self.size(size.inner), self.size(size.divisor), "FLOOR_DIV", key)
        else:
            tensor = None
            for monomial, coefficient in size.terms().items():
                term = self.size(coefficient) if not monomial or coefficient != 1 else None
                for atom in monomial:
                    part = self.size(atom)
                    term = part if term is None else self.operation(term, part, "PROD", key)
                tensor = term if tensor is None else self.operation(tensor, term, "SUM", key)
        self.cache[key] = tensor
        return tensor

    def dim(self, dim: Dim):
        network = self.ctx.network
        for index in range(network.num_inputs):
            tensor = network.get_input(index)
            shape = self.ctx.types[tensor.name].shape
            if dim in shape:
                if tensor.name not in self.cache:
                    self.cache[tensor.name] = self.ctx.label(network.add_shape(tensor),
                                                             f"shape[{tensor.name}]").get_output(0)
                layer = network.add_slice(self.cache[tensor.name], (shape.index(dim),), (1,), (1,))
                return self.ctx.label(layer, f"size[{dim.name}]").get_output(0)
        raise InternalError(f"no network input has the dimension {dim}")

    def operation(self, a, b, name: str, key: str):
        """An elementwise layer named after the size it computes (with a count, for the steps of one)."""
        self.steps += 1
        layer = self.ctx.network.add_elementwise(a, b, getattr(self.ctx.trt.ElementWiseOperation, name))
        return self.ctx.label(layer, f"size[{key.replace('//', ' div ')}]#{self.steps}").get_output(0)


def corners(profiles) -> list[tuple[str, dict]]:
    """('profile 1 max', {dim: size}) for the min, opt and max of every profile."""
    return [(f"profile {p.index} {role}", {n: r[i] for n, r in p.ranges.items()})
            for p in profiles for i, role in enumerate(("min", "opt", "max"))]


def check_corners(network, types: dict, profiles) -> int:
    """Set every network input to its shape at each corner of each profile, and compare the shape
    TensorRT infers for every netdsl tensor in the network with netdsl's symbolic shape evaluated there;
    InternalError on a difference. The inputs are dynamic again afterwards. Returns the number of tensor
    shapes compared."""
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    saved = [tuple(t.shape) for t in inputs]
    tensors = []
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        tensors += [layer.get_output(j) for j in range(layer.num_outputs) if layer.get_output(j).name in types]
    compared = 0
    try:
        for where, sizes in corners(profiles):
            for tensor in inputs:
                tensor.shape = tuple(evaluate(d, sizes) for d in types[tensor.name].shape)
            values = {}  # size -> its value here: most tensors share a few symbolic sizes
            for tensor in tensors:
                wanted = tuple(d if type(d) is int else values[d] if d in values else
                               values.setdefault(d, int(evaluate(d, sizes))) for d in types[tensor.name].shape)
                if tuple(tensor.shape) != wanted:
                    raise InternalError(f"at {where} ({', '.join(f'{n}={v}' for n, v in sizes.items())}), TensorRT "
                                        f"infers shape {list(tensor.shape)} for `{tensor.name}`, netdsl "
                                        f"{list(wanted)} (from {list(types[tensor.name].shape)}); this is a bug in "
                                        "netdsl's shape rule or lowering of that layer")
                compared += 1
    finally:
        for tensor, shape in zip(inputs, saved):
            tensor.shape = shape
    return compared
