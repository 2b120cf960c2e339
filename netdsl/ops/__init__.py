"""Layer kinds. Each module in this package defines one kind (or a family of trivially related
kinds) as a subclass of :class:`Op` decorated with :func:`register`: its parameters, how it needs
its inputs, its shape rule, its weight slots and its cost. Modules are found automatically, so adding
a kind means adding one module here.

Op modules are imported when a spec first uses one of their kinds, so that `netdsl validate` pays only
for the kinds it reads. ``_kinds.py`` (generated: ``python -m netdsl.ops``) says which module defines
which kind; it only speeds lookups up: a kind it does not know, or knows wrongly, is found by importing
every module.
"""

from __future__ import annotations

from ..params import Param
from ..tensors import BATCH, FLOAT_DTYPES, Dim, TensorType, show_shape, show_type  # noqa: F401 (re-exported)

class Registry(dict):
    """Kind name -> the :class:`Op` instance, importing op modules on demand."""

    complete = False

    def __missing__(self, kind):
        if not self.complete:
            from ._kinds import MODULES

            module = MODULES.get(kind)
            if module is not None:
                __import__(f"{__name__}.{module}")  # importlib.import_module's work, without importing importlib
            if not dict.__contains__(self, kind):
                self.load_all()
            if dict.__contains__(self, kind):
                return dict.__getitem__(self, kind)
        raise KeyError(kind)

    def get(self, kind, default=None):
        try:
            return self[kind]
        except KeyError:
            return default

    def __contains__(self, kind):
        return self.get(kind) is not None

    def load_all(self) -> None:
        import pkgutil  # here, not at the top: with weakref (for singledispatch) it took `netdsl validate` 1 ms

        for module in pkgutil.iter_modules(__path__):
            if not module.name.startswith("_"):
                __import__(f"{__name__}.{module.name}")
        self.complete = True

    def __iter__(self):
        self.load_all()
        return dict.__iter__(self)

    def __len__(self):
        self.load_all()
        return dict.__len__(self)

    def keys(self):
        self.load_all()
        return dict.keys(self)

    def values(self):
        self.load_all()
        return dict.values(self)

    def items(self):
        self.load_all()
        return dict.items(self)


REGISTRY: Registry = Registry()

class WeightSlot:
    """A weight tensor a layer needs: ``name`` is the slot (``weight``, ``bias``, ``running_mean``…),
    bound by default to ``<layer>.<name>``. ``trainable`` is False for buffers such as running
    statistics, which PyTorch (and published parameter counts) do not count as parameters. ``dtype`` is
    float32 for every float weight (whatever float the file stores); an integer dtype (a constant's
    integer buffer, e.g. Swin's relative_position_index) accepts integer tensors from the file. Compared
    and hashed by all four."""

    __slots__ = ("name", "shape", "trainable", "dtype")

    def __init__(self, name: str, shape: tuple, trainable: bool = True, dtype: str = "float32"):
        self.name = name
        self.shape = shape
        self.trainable = trainable
        self.dtype = dtype

    def key(self) -> tuple:
        return (self.name, self.shape, self.trainable, self.dtype)

    def __eq__(self, other):
        if other.__class__ is not WeightSlot:
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return (f"WeightSlot(name={self.name!r}, shape={self.shape!r}, trainable={self.trainable!r}, "
                f"dtype={self.dtype!r})")

    @property
    def count(self) -> int:
        total = 1
        for dim in self.shape:
            total *= dim
        return total


class ShapeError(Exception):
    """Raised by a shape rule; ``param`` names the parameter the error should point at."""

    def __init__(self, message: str, param: str | None = None, hint: str | None = None,
                 expected: str | None = None, found: str | None = None, code: str = "shape-mismatch"):
        super().__init__(message)
        self.param = param
        self.hint = hint
        self.expected = expected
        self.found = found
        self.code = code


class Op:
    """Base of all layer kinds; one instance per kind lives in :data:`REGISTRY`.

    A kind either writes its three passes itself (``infer_shape``, ``reference``, ``lower``; the classic
    CNN kinds do), or is a :class:`netdsl.ops.primitive.Primitive` (a shape rule, numpy semantics and a
    TensorRT lowering over plain parameters) or a :class:`netdsl.ops.primitive.Composite` (an expansion
    into other kinds, from which all three passes follow)."""

    kind: str = ""
    doc: str = ""
    torch: str = ""  # the PyTorch operation this kind matches, for the docs
    params: dict[str, Param] = {}
    min_inputs: int = 1
    max_inputs: int | None = 1  # None: any number
    dtypes: tuple[str, ...] | None = FLOAT_DTYPES  # input dtypes accepted; None: any
    weight_only_params: tuple[str, ...] = ()  # parameters that only change derived weights (refit can follow)
    example: dict = {}  # for docs/layers.md where sample values do not fit: {params, inputs (shapes), dtypes}
    rtx_unbuildable: str = ""  # why TensorRT-RTX cannot build this kind ("": it can); `netdsl build` refuses it there

    def output_names(self, node) -> tuple[str, ...]:
        """Names of the outputs of a kind with several (``values``, ``indices``); each becomes the
        tensor ``<layer>.<name>``. Empty for the usual single output named after the layer."""
        return ()

    def infer_shape(self, node, *inputs: TensorType) -> TensorType:
        raise NotImplementedError

    def weight_slots(self, node, *inputs: TensorType) -> list[WeightSlot]:
        return []

    def macs(self, node, output: TensorType, *inputs: TensorType) -> int:
        """Multiply-accumulates for one sample (batch 1)."""
        return 0

    def reference(self, node, ctx, *inputs):
        """This layer on numpy arrays (``ctx``: :class:`netdsl.reference.Context`), with the semantics
        its TensorRT lowering has; float tensors are float32 arrays."""
        raise NotImplementedError(f"{self.kind} has no reference implementation")

    def lower(self, node, ctx, *inputs):
        """TensorRT network-API calls for this layer (``ctx``: :class:`netdsl.trt.lowering.Lowering`);
        returns the output ITensor (a tuple of them for several outputs)."""
        raise NotImplementedError(f"{self.kind} has no TensorRT lowering")

    def with_defaults(self, given: dict) -> dict:
        """Parameters given in code (a composite's expansion) completed with the defaults."""
        unknown = set(given) - set(self.params)
        if unknown:
            raise TypeError(f"{self.kind} has no parameter(s) {', '.join(sorted(unknown))}")
        values = {}
        for key, param in self.params.items():
            if key in given:
                values[key] = given[key]
            elif param.required:
                raise TypeError(f"{self.kind} needs parameter {key}")
            else:
                values[key] = param.default
        return values


def register(cls):
    instance = cls()
    if dict.__contains__(REGISTRY, cls.kind):
        raise RuntimeError(f"layer kind {cls.kind!r} registered twice")
    REGISTRY[cls.kind] = instance
    return cls


SPATIAL_LAYOUTS = {3: "[N, C, L]", 4: "[N, C, H, W]", 5: "[N, C, D, H, W]"}


def spatial(shape, op_name: str, rank: int | tuple[int, ...] = 4, dynamic: bool = False):
    """Check a channels-first input of one of the ranks allowed (``rank``: one or several of 3, 4, 5,
    for 1-D, 2-D and 3-D windows) and return its shape; the error names what the op needs. Channels
    must be known; spatial sizes too, unless the op handles ``dynamic`` ones."""
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    if len(shape) not in ranks:
        ranks = sorted(ranks, key=lambda r: r != 4)  # the 2-D layout first: the one most specs mean
        others = " or ".join(f"rank-{r} {SPATIAL_LAYOUTS[r]}" for r in ranks[1:])
        wanted = f"rank-{ranks[0]} input {SPATIAL_LAYOUTS[ranks[0]]}" + (f" (or {others})" if others else "")
        raise ShapeError(f"{op_name} needs a {wanted}, found {show_shape(shape)}",
                         expected=" or ".join(f"rank {r}" for r in ranks), found=show_shape(shape))
    if not all(isinstance(d, int) for d in shape[1:2 if dynamic else None]):
        raise ShapeError(f"{op_name} needs static channel and spatial sizes, found {show_shape(shape)}",
                         found=show_shape(shape), code="dynamic-shape")
    return shape


def per_sample(shape) -> int:
    """Elements of one sample: the product of every dimension after the batch one."""
    total = 1
    for dim in shape[1:]:
        total *= dim
    return total


def window_output(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                  dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window, as PyTorch computes it: in ceil mode a partial last window
    counts (even one wider than the input), unless it would start inside the end padding. Zero or
    less means no window fits."""
    span = dilation * (kernel - 1) + 1
    room = size + pad_begin + pad_end - span + (stride - 1 if ceil else 0)
    out = room // stride + 1
    if ceil and out > 0 and (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """SAME_UPPER padding (TensorRT's and TensorFlow's 'same'): output = ceil(size / stride), any odd
    extra padding at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def explicit_padding(padding, sizes, kernel, stride, dilation=None) -> tuple[int, ...]:
    """The begin paddings then the end paddings ((top, left, bottom, right) in 2-D) for a padding
    parameter already given per axis, resolving ``same`` for these spatial sizes."""
    if padding != "same":
        return tuple(padding)
    dilation = dilation or (1,) * len(sizes)
    sides = [same_padding(*axis) for axis in zip(sizes, kernel, stride, dilation)]
    return tuple(begin for begin, _ in sides) + tuple(end for _, end in sides)


def set_window(layer, padding, stride, dilation=None) -> None:
    """Stride, explicit (begins..., ends...) padding and dilation of a TensorRT window layer."""
    half = len(padding) // 2
    layer.stride_nd = tuple(stride)
    layer.pre_padding = tuple(padding[:half])
    layer.post_padding = tuple(padding[half:])
    if dilation is not None:
        layer.dilation_nd = tuple(dilation)


def reshape_dims(shape) -> tuple:
    """TensorRT reshape dimensions for a netdsl shape: a dynamic size in front (the batch, or a named
    one) is copied (0), one elsewhere is inferred (-1)."""
    return tuple(d if isinstance(d, int) else 0 if i == 0 else -1 for i, d in enumerate(shape))


def kind_index() -> dict[str, str]:
    """Kind -> the op module that defines it (what ``_kinds.py`` holds)."""
    return {kind: type(op).__module__.rsplit(".", 1)[-1] for kind, op in sorted(REGISTRY.items())}


def index_source() -> str:
    lines = ["# Generated by `python tools/regenerate.py`: which op module defines each kind (netdsl/ops/__init__.py).",
             "MODULES = {"]
    lines += [f"    {kind!r}: {module!r}," for kind, module in kind_index().items()]
    return "\n".join(lines + ["}", ""])
