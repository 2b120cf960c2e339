"""The layer-kind reference page, generated from the registry (`python tools/regenerate.py`, or
`netdsl docs -o docs/layers.md` for this page alone).

Everything on the page comes from :data:`netdsl.ops.REGISTRY`: each kind's ``doc``, its parameters
(type, default, ``doc``), the PyTorch operation its doc names, and an example that is checked by netdsl
itself on a sample input, with the output shape and weight shapes it gives. A kind with thin docs
still gets its entry: what is missing is said, never invented. A test runs `tools/regenerate.py --check`,
so new kinds appear as soon as they are registered. :func:`kind_table` is the README's short table.
"""

from __future__ import annotations

import itertools
import re

from .params import REQUIRED
from .diagnostics import InternalError

SAMPLE_SHAPE = (1, 8, 16, 16)
MAX_TRIES = 64
_TORCH = re.compile(r"torch\.[A-Za-z_][\w.]*(?:\([^()]*\))?")
TYPE_WORDS = {"Bool": "true or false", "Pair": "an integer or [height, width]",
              "Padding": "`same`, an integer, [height, width] or {top, bottom, left, right}",
              "Dims": "a list of integers", "Scale": "a number or [height, width]"}


def layer_reference() -> str:
    """The whole page, as Markdown."""
    from .ops import REGISTRY

    kinds = sorted(REGISTRY)
    lines = ["# Layer kinds", "",
             "<!-- Generated from the layer registry by `python tools/regenerate.py`; do not edit. -->", "",
             "Every kind netdsl knows, with its parameters and defaults (PyTorch's), the PyTorch operation it "
             "matches, and an example that netdsl checked on a sample input when this page was generated. "
             "Every layer also takes `name`, `inputs` (default: the layer above), `when` and `weights` (exact "
             "file names of its weights); see [spec.md](spec.md). For a walkthrough from a PyTorch module to a spec, "
             "see [pytorch.md](pytorch.md).", "",
             "| kind | what it computes |", "|---|---|"]
    lines += [f"| [`{kind}`](#{kind}) | {_first_sentence(REGISTRY[kind].doc)} |" for kind in kinds]
    for kind in kinds:
        lines += ["", *kind_section(REGISTRY[kind])]
    return "\n".join(lines) + "\n"


def kind_table() -> str:
    """The README's compact table: each group (the ``GROUP`` its op module declares) with its kinds."""
    import importlib

    from .ops import kind_index

    groups: dict[str, list[str]] = {}
    for kind, module in kind_index().items():
        group = getattr(importlib.import_module(f"netdsl.ops.{module}"), "GROUP", None)
        if group is None:
            raise InternalError(f"netdsl/ops/{module}.py declares no GROUP (its row in the README's kind table)")
        groups.setdefault(group, []).append(kind)
    lines = ["| group | kinds |", "|---|---|"]
    lines += [f"| {group} | {', '.join(f'`{kind}`' for kind in kinds)} |" for group, kinds in sorted(groups.items())]
    return "\n".join(lines) + "\n"


def kind_section(op) -> list[str]:
    lines = [f"## {op.kind}", "", op.doc.strip() or "_This kind has no description yet._", ""]
    torch = _torch_names(op)
    lines.append(f"- PyTorch: {torch}" if torch else "- PyTorch: _not stated in this kind's doc_")
    count = f"{op.min_inputs} or more" if op.max_inputs is None else (
        str(op.min_inputs) if op.max_inputs == op.min_inputs else f"{op.min_inputs} to {op.max_inputs}")
    lines.append(f"- inputs: {count}")
    if op.params:
        lines += ["", "| parameter | type | default | meaning |", "|---|---|---|---|"]
        for name, param in op.params.items():
            lines.append(f"| `{name}` | {_type_words(param.type)} | {_default(param)} | {param.doc or ''} |")
    else:
        lines += ["", "No parameters."]
    lines += ["", *_example(op)]
    return lines


def _first_sentence(doc: str) -> str:
    text = " ".join(doc.split())
    match = re.match(r"(.+?\.)(\s|$)", text)
    return (match.group(1) if match else text or "—").replace("|", "\\|")


def _torch_names(op) -> str:
    """The kind's own `torch` attribute, else the PyTorch operations its doc names."""
    names = [op.torch] if op.torch else list(dict.fromkeys(_TORCH.findall(op.doc)))
    return ", ".join(f"`{name}`" for name in names)


def _type_words(param_type) -> str:
    expected = getattr(param_type, "expected", None)
    if callable(expected):
        return expected()
    options = getattr(param_type, "options", None)
    if options:
        return "one of " + ", ".join(f"`{o}`" for o in options)
    return TYPE_WORDS.get(type(param_type).__name__, type(param_type).__name__)


def _default(param) -> str:
    if param.default is REQUIRED:
        return "required"
    if param.default is None:
        return "—"
    try:
        return f"`{param.type.show(param.default)}`"
    except Exception:  # a parameter type whose show() does not know its own default: show it raw
        return f"`{param.default}`"


# Sample values tried for each parameter type, in order; the first combination that netdsl accepts on the
# sample input becomes the example.
SAMPLES = {"Int": (8, 3, 1, 2, 0, -1), "Float": (0.0, 6.0, 0.5, 1.0), "Pair": (3, 2, 1), "Padding": (1,),
           "Dims": ([0, -1], [-1], [2, 4]), "Scale": (2,), "Bool": (True, False), "Literal": (0.5, (1.0, 2.0)),
           "Sizes": (16, (16, 16))}


def _samples(param_type) -> tuple:
    options = getattr(param_type, "options", None)
    return tuple(options) if options else SAMPLES.get(type(param_type).__name__, ())


def _example(op) -> list[str]:
    """An example layer that netdsl accepts on a sample input: required parameters first, then one
    optional parameter without a default (some kinds need one of several, like upsample)."""
    if op.example:
        found = _try(op, dict(op.example.get("params", {})), op.example.get("inputs"), op.example.get("dtypes"))
        if found:
            return found
    required = [name for name, param in op.params.items() if param.default is REQUIRED]
    optional = [None] + [name for name, param in op.params.items() if param.default is None]
    for extra in optional:
        names = required + ([extra] if extra else [])
        choices = [_samples(op.params[name].type) for name in names]
        tries = list(itertools.islice(itertools.product(*choices), MAX_TRIES))
        # Distinct values read better (clip from 0 to 6, not from 0 to 0): those combinations first.
        tries.sort(key=lambda values: len(values) - len(set(map(repr, values))))
        for values in tries:
            found = _try(op, dict(zip(names, values)))
            if found:
                return found
    return ["_No example: none of the sample values tried passes this kind's checks._"]


def _try(op, params: dict, shapes: list | None = None, dtypes: list | None = None) -> list[str] | None:
    from .spec import check_text

    count = len(shapes) if shapes else op.min_inputs
    names = ["x"] if count <= 1 else [f"x{i}" for i in range(count)]
    shapes = shapes or [list(SAMPLE_SHAPE)] * len(names)
    dtypes = dtypes or [op.dtypes[0] if op.dtypes else "float32"] * len(names)
    wiring = {"inputs": names} if count > 1 else {}
    layer = {"name": "y", "kind": op.kind, **wiring, **params}
    text = "".join(["netdsl: 1\ninputs:\n", *(f"  - {{name: {n}, shape: {list(s)}, dtype: {d}}}\n"
                                                for n, s, d in zip(names, shapes, dtypes)),
                    "layers:\n", f"  - {_flow(layer)}\n"])
    checked, _ = check_text(text, "<example>")
    if checked is None:
        return None
    node = checked.graph.nodes[0]
    slots = node.weight_slots(checked.types)
    weights = "; weights " + ", ".join(f"`{s.name}` {list(s.shape)}" for s in slots) if slots else ""
    given = "no input" if count == 0 else " and ".join(f"`{n}` {list(s)}" + (
        "" if d == "float32" else f" {d}") for n, s, d in zip(names, shapes, dtypes))
    outputs = ", ".join(_type_text(checked.types[name]) + (
        f" (`{name}`)" if len(node.outputs) > 1 else "") for name in node.outputs)
    return [f"Example, on {given}: output {outputs}{weights}.", "", "```yaml", f"- {_flow(layer)}", "```"]


def _type_text(t) -> str:
    return str(list(t.shape)) + ("" if t.dtype == "float32" else f" {t.dtype}")


def _flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{key}: {_scalar(value)}" for key, value in mapping.items()) + "}"


def _scalar(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, str) and any(c in value for c in ",:{}[]#&*!|>'\"%@`"):
        return "'" + value.replace("'", "''") + "'"
    return str(value)
