"""Shape computations that exporters emit (Shape -> Gather -> Unsqueeze -> Concat -> Reshape...), run at
import time on integer vectors whose entries are ints or the symbolic dimensions of the inputs
(:class:`netdsl.tensors.Dim`, held in numpy object arrays). Their results become the plain parameters
of the operation they feed: a Reshape whose target is computed from the input's own shape becomes
`reshape` with the sizes written out, the batch copied (0).

A computation that needs the value of a dynamic dimension (N * 2, N == 4) raises NotExpressible.

    >>> from netdsl.tensors import BATCH
    >>> import numpy as np
    >>> shape = np.array([BATCH, 197, 768], dtype=object)
    >>> run("Gather", {"axis": 0}, [shape, np.array(0)])[0].item()
    N
"""

from __future__ import annotations

from . import NotExpressible

SYMBOLIC_OPS = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Identity", "Reshape",
                "Equal", "Where", "Mul", "Add", "Sub", "Div", "Size", "ConstantOfShape", "Expand", "Range")


def is_symbolic(value) -> bool:
    return getattr(value, "dtype", None) is not None and value.dtype == object


def run(op_type: str, attrs: dict, inputs: list):
    """The outputs of one node on constant or symbolic int inputs (None for an omitted input): object
    arrays where an entry is a dynamic dimension, int64 arrays where none is."""
    return [settled(result) for result in compute(op_type, attrs, inputs)]


def settled(result):
    import numpy as np

    from ..symbolic import Size

    result = result if isinstance(result, np.ndarray) else np.array(result, dtype=object)
    if result.dtype == object and not any(isinstance(v, Size) for v in result.reshape(-1)):
        return np.asarray(result.tolist(), np.int64)
    return result


def compute(op_type: str, attrs: dict, inputs: list):
    import numpy as np

    if op_type == "Shape":  # inputs[0] here is the shape itself (the caller knows the tensor's type)
        start, end = attrs.get("start", 0), attrs.get("end")
        return [vector(list(inputs[0])[start:end])]
    if op_type == "Identity" or op_type == "Cast":
        return [inputs[0]]
    if op_type == "Gather":
        return [np.take(inputs[0], np.asarray(inputs[1], np.int64), axis=attrs.get("axis", 0))]
    if op_type == "Unsqueeze":
        result = inputs[0]
        for axis in sorted(int(a) % (np.ndim(inputs[0]) + len(inputs[1])) for a in np.asarray(inputs[1]).reshape(-1)):
            result = np.expand_dims(result, axis)
        return [result]
    if op_type == "Squeeze":
        axes = tuple(int(a) for a in np.asarray(inputs[1]).reshape(-1)) if len(inputs) > 1 else None
        return [np.squeeze(inputs[0], axis=axes)]
    if op_type == "Concat":
        return [np.concatenate([np.asarray(i, object) for i in inputs], axis=attrs.get("axis", 0))]
    if op_type == "Slice":
        (data, starts, ends), rest = inputs[:3], inputs[3:]
        axes = list(np.asarray(rest[0]).reshape(-1)) if rest and rest[0] is not None else list(range(len(starts)))
        steps = list(np.asarray(rest[1]).reshape(-1)) if len(rest) > 1 and rest[1] is not None else [1] * len(starts)
        index = [slice(None)] * np.ndim(data)
        for axis, start, end, step in zip(axes, np.asarray(starts).reshape(-1), np.asarray(ends).reshape(-1), steps):
            size = np.shape(data)[int(axis)]
            index[int(axis)] = slice(*slice(int(start), int(min(max(end, -size - 1), size)), int(step)).indices(size))
        return [data[tuple(index)]]
    if op_type == "Reshape":
        return [np.reshape(inputs[0], [int(d) for d in np.asarray(inputs[1]).reshape(-1)])]
    if op_type == "Size":
        return [np.asarray(np.size(inputs[0]), np.int64)]
    if op_type == "Equal":
        return [elementwise(inputs[0], inputs[1], equal)]
    if op_type == "Where":
        return [np.where(known(inputs[0]).astype(bool), inputs[1], inputs[2])]
    if op_type in ("Mul", "Add", "Sub", "Div"):
        return [elementwise(inputs[0], inputs[1], lambda a, b: arithmetic(op_type, a, b))]
    if op_type in ("ConstantOfShape", "Expand", "Range"):
        # (a constant grown to a run-time size, ViT's class token, or a grid over one, YOLO's anchors, is made
        # of layers by graph_import.py; here the values grown are sizes themselves)
        raise NotExpressible(f"{op_type} of sizes to a shape computed from a dynamic dimension: netdsl's sizes "
                             "are fixed numbers, and its output would follow a size known only at run time")
    raise NotExpressible(f"{op_type} on a shape computed from a dynamic dimension")


def vector(values):
    import numpy as np

    return np.array(list(values) + [None], dtype=object)[:-1]  # (the None keeps numpy from unpacking Dims)


def known(array):
    """The array as plain numbers; NotExpressible when an entry is a dynamic dimension."""
    import numpy as np

    if is_symbolic(array):
        if any(not isinstance(v, (int, np.integer, bool, np.bool_)) for v in array.reshape(-1)):
            raise NotExpressible("a value computed from a dynamic dimension is used where a number is needed")
        return np.asarray(array.tolist())
    return np.asarray(array)


def elementwise(a, b, function):
    import numpy as np

    a, b = np.asarray(a, object), np.asarray(b, object)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    flat = [function(x, y) for x, y in zip(a.reshape(-1), b.reshape(-1))]
    return np.array(flat + [None], dtype=object)[:-1].reshape(shape)


def equal(a, b):
    from ..symbolic import Size

    if isinstance(a, Size) or isinstance(b, Size):
        if isinstance(a, Size) and isinstance(b, Size) and a == b:
            return True
        other = b if isinstance(a, Size) else a
        if not isinstance(other, Size) and other < 1:  # a size is at least 1: never 0 or -1
            return False
        raise NotExpressible("a comparison with a dynamic dimension, whose value is known only at run time")
    return bool(a == b)


def arithmetic(op_type: str, a, b):
    """Sizes computed from dynamic dimensions stay expressions (N*2, height//32: a reshape then infers
    that entry); what has no integer form is refused."""
    from ..symbolic import Size, SymbolicError

    if isinstance(a, Size) or isinstance(b, Size):
        try:
            if op_type == "Div":
                if isinstance(b, Size) or b < 1:
                    raise SymbolicError("a division by a dynamic size")
                return a // int(b)  # sizes are positive: ONNX's truncation is the floor
            return {"Mul": lambda: a * b, "Add": lambda: a + b, "Sub": lambda: a - b}[op_type]()
        except SymbolicError:
            shown = a if isinstance(a, Size) else b
            raise NotExpressible(f"arithmetic ({op_type}) on the dynamic dimension {shown}") from None
    return {"Mul": a * b, "Add": a + b, "Sub": a - b, "Div": a // b if b else 0}[op_type]


def reshape_target(values, input_shape) -> list[int]:
    """A computed Reshape target as netdsl's `shape`: a dynamic dimension kept in place is copied (0),
    one other unknown entry is inferred (-1)."""
    from ..symbolic import Size

    shape = []
    for index, value in enumerate(list(values)):
        if isinstance(value, Size):
            shape.append(0 if index < len(input_shape) and input_shape[index] == value else -1)
        else:
            shape.append(int(value))
    if shape.count(-1) > 1:
        raise NotExpressible("a reshape to a shape with two sizes known only at run time")
    return shape


def expand_target(values, input_shape) -> list[int]:
    """A computed Expand shape as netdsl's `size` (-1 keeps the input's dimension)."""
    from ..symbolic import Size

    values = list(values)
    offset = len(values) - len(input_shape)
    size = []
    for index, value in enumerate(values):
        have = input_shape[index - offset] if index >= offset else None
        if isinstance(value, Size):
            if have != value:
                raise NotExpressible(f"Expand to the dynamic dimension {value} from size {have}: the output shape "
                                     "would follow a run-time size (netdsl has no shape tensors yet)")
            size.append(-1)
        else:
            size.append(-1 if have is not None and (value == 1 or value == have) else int(value))
    return size
