"""Dynamic dimensions of an imported model. A dynamic first dimension alone is the batch (`-1` with
`batch: {min, opt, max}`, the spelling netdsl's exporter reads back); when other dimensions are
dynamic too (a fully convolutional net exported with dynamic_axes {0: batch, 2: height, 3: width}),
every dynamic dimension is a named dimension of the spec's `dims:` section, named after ONNX's
dim_param.

ONNX files carry no ranges. They come from `--dim NAME=MIN:OPT:MAX[:STEP]` (and `--batch`), else from
the defaults below, which the spec's comment states. Shape rules compare sizes over every value a
range allows (netdsl/symbolic.py), so a strided network that concatenates an upsampled map with a
finer one needs heights that are multiples of its total stride: the import takes the smallest step
(`multiple_of`, a power of two up to 64) at which every layer's sizes agree, unless one is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_BATCH = (1, 1, 32)
DEFAULT_SIZE = (32, 224, 1024)  # a spatial size: small images for tests up to large ones
STEPS = (1, 2, 4, 8, 16, 32, 64)
ITEM = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\d+):(\d+):(\d+)(?::(\d+))?\Z")


@dataclass
class Sizes:
    """The ranges given for the dynamic dimensions (by name; `batch` for the batch), and the step of
    the named ones other than the batch (None: searched)."""

    batch: tuple | None = None
    named: dict = field(default_factory=dict)  # name -> (min, opt, max)
    steps: dict = field(default_factory=dict)  # name -> multiple_of given
    step: int = 1  # the step tried for the others
    origin: dict = field(default_factory=dict)  # name -> where its range comes from, for the spec's comment
    default_high: int = DEFAULT_SIZE[2]  # the largest default size (narrowed where tensors would be too large)
    batch_is_default: bool = False  # `batch` holds netdsl import's default range (narrowed), not --batch

    def range_of(self, name: str, batch: bool) -> tuple:
        if name in self.named:
            return self.named[name]
        if batch:
            return self.batch or DEFAULT_BATCH
        low, opt, high = DEFAULT_SIZE[0], min(DEFAULT_SIZE[1], self.default_high), self.default_high
        step = self.step_of(name)
        low = -(-low // step) * step
        return low, max(low, round(opt / step) * step), max(low, high // step * step)

    def step_of(self, name: str) -> int:
        return self.steps.get(name, self.step)

    def with_step(self, step: int) -> "Sizes":
        return Sizes(self.batch, self.named, self.steps, step, self.origin, self.default_high, self.batch_is_default)

    def fits(self, names) -> bool:
        """Whether the given ranges are multiples of the step being tried."""
        return all(v % self.step_of(n) == 0 for n in names if n in self.named for v in self.named[n])


def parse(texts: list[str], batch: tuple | None) -> Sizes:
    """`--dim` values (`height=32:224:512`, `width=32:224:512:32` with a step) as Sizes; ValueError
    with the reason for a wrong one."""
    sizes = Sizes(batch)
    for text in texts:
        match = ITEM.match(text.strip())
        if not match:
            raise ValueError(f"--dim takes NAME=MIN:OPT:MAX or NAME=MIN:OPT:MAX:STEP, found {text!r}")
        name, values, step = match.group(1), tuple(int(match.group(i)) for i in (2, 3, 4)), match.group(5)
        if not 0 <= values[0] <= values[1] <= values[2] or values[2] < 1:  # (0: an empty tensor, a KV cache's)
            raise ValueError(f"--dim {name}: needs 0 <= MIN <= OPT <= MAX and MAX >= 1, found {text!r}")
        if step is not None:
            if int(step) < 1 or any(v % int(step) for v in values):
                raise ValueError(f"--dim {name}: MIN, OPT and MAX must be multiples of STEP, found {text!r}")
            sizes.steps[name] = int(step)
        sizes.named[name] = values
        sizes.origin[name] = "--dim"
        if name == "batch" and sizes.batch is None:
            sizes.batch = values  # also the range of a -1 batch
    return sizes


def recorded(sizes: Sizes, metadata: dict) -> Sizes:
    """The ranges netdsl's exporter recorded (`netdsl.dim.<name>`: min,opt,max,multiple_of) where none
    is given."""
    result = Sizes(sizes.batch, dict(sizes.named), dict(sizes.steps), sizes.step, dict(sizes.origin),
                   sizes.default_high, sizes.batch_is_default)
    for key, text in metadata.items():
        name = key[len("netdsl.dim."):]
        if not key.startswith("netdsl.dim.") or name in result.named:
            continue
        try:
            low, opt, high, step = (int(v) for v in text.split(","))
        except ValueError:
            continue
        if 1 <= low <= opt <= high and step >= 1 and not any(v % step for v in (low, opt, high)):
            result.named[name] = (low, opt, high)
            result.steps[name] = step
            result.origin[name] = "recorded by netdsl export"
    return result


def unknown_names(sizes: Sizes, graph) -> list[str]:
    """Names given with --dim that the imported model has no dynamic dimension of."""
    batch = any(t and not isinstance(t[0], int) for t in (i.type.shape for i in graph.inputs))
    return [name for name in sizes.named if name not in graph.dims and not (name == "batch" and batch)]


def dim_name(dim_param: str, input_name: str, axis: int) -> str:
    """A named dimension for ONNX's dim_param (`height`), or `<input>_<axis>` where it has none."""
    from .naming import clean

    text = re.sub(r"\W", "_", dim_param or "")
    if not text or not re.match(r"[A-Za-z_]", text):
        text = "batch" if axis == 0 else f"{clean(input_name, 'input').replace('.', '_')}_{axis}"
    return text


def profile_of(dims: dict, sizes: Sizes):
    """The optimization profile the import compares sizes over: dims is name -> whether it is a batch."""
    from ..symbolic import Profile

    ranges = {name: sizes.range_of(name, batch) for name, batch in dims.items()}
    steps = {name: sizes.step_of(name) for name, batch in dims.items() if not batch and sizes.step_of(name) > 1}
    return Profile(0, ranges, steps)


def section(dims: dict, sizes: Sizes, notes: dict) -> list[str]:
    """The spec's `dims:` lines, each saying where its range comes from; ``notes``: name -> its ONNX
    dim_param, where that differs from the name."""
    lines = ["", "dims:  # ONNX files carry no ranges: set them with netdsl import --dim NAME=MIN:OPT:MAX[:STEP]"]
    for name, batch in dims.items():
        low, opt, high = sizes.range_of(name, batch)
        entry = f"{{min: {low}, opt: {opt}, max: {high}"
        step = 1 if batch else sizes.step_of(name)
        if step > 1:
            entry += f", multiple_of: {step}"
        comment = [f"ONNX's `{notes[name]}`"] if notes.get(name) else []
        narrowed = ", narrowed to keep every tensor within netdsl's bound"
        if batch and sizes.batch and not sizes.batch_is_default:
            origin = "--batch"
        elif batch:
            origin = "netdsl import's default" + (narrowed if (sizes.batch or DEFAULT_BATCH)[2] < DEFAULT_BATCH[2] else "")
        else:
            origin = "netdsl import's default" + (narrowed if sizes.default_high < DEFAULT_SIZE[2] else "")
        comment.append(sizes.origin.get(name) or origin)
        if step > 1 and name not in sizes.steps:
            comment.append("the smallest step at which every layer's sizes agree")
        lines.append(f"  {name}: {entry}}}  # {'; '.join(comment)}")
    return lines
