"""Where a spec's weights come from, and under which names.

A weight's canonical name is ``<layer>.<slot>`` (PyTorch's ``state_dict`` key); TensorRT weights are
named after it, whatever the file calls them. Checkpoints whose keys differ are mapped in the spec:

.. code-block:: yaml

    weights:
      file: ../weights/model.safetensors   # default weights, relative to this spec
      prefix: module.                      # prepended to every name (DataParallel checkpoints)
      rename:                              # first matching `from` prefix is replaced by `to`
        - {from: backbone., to: features.}
      tied: {lm_head.weight: transformer.wte.weight}   # file key -> the key it is a copy of
    layers:
      - {name: fc, kind: fully_connected, out_features: 10, weights: {weight: head.w, bias: head.b}}

``tied`` names a weight the model shares between modules (GPT-2's ``lm_head`` uses the embedding's
matrix): PyTorch's ``state_dict`` lists it under both names, a safetensors file under one. The spec reads
the second name; a file with only the first is read from there, and a file with both must hold equal
tensors (the first is then used, not reported unused).

A layer's own ``weights`` map gives exact file keys and bypasses ``prefix`` and ``rename``; in a block, a
key starting with ``.`` is relative to the instance (``.layer_scale`` in ``features.1.0``).
"""

from __future__ import annotations

import os

from ..diagnostics import Diagnostics, Pos
from ..yamlnodes import Map, Node as YamlNode, Scalar, describe
from .fields import check_keys, expect_list, expect_map, text_of

WEIGHTS_KEYS = ("file", "prefix", "rename", "tied")
MAX_KEY = 1024


class RenameRule:
    __slots__ = ("old", "new", "pos")

    def __init__(self, old: str, new: str, pos: Pos):
        self.old = old
        self.new = new
        self.pos = pos


class WeightsSource:
    """The spec's `weights:` section."""

    __slots__ = ("file", "file_pos", "prefix", "rename", "tied")

    def __init__(self, file: str | None, file_pos: Pos | None = None, prefix: str = "",
                 rename: list[RenameRule] | None = None, tied: dict | None = None):
        self.file = file  # resolved against the spec's folder
        self.file_pos = file_pos
        self.prefix = prefix
        self.rename = [] if rename is None else rename
        self.tied = {} if tied is None else tied  # file key -> (the file key it copies, position)

    def file_key(self, canonical: str) -> str:
        """The name a weight has in the file, by the file-wide rules.

        >>> WeightsSource(None, prefix="module.", rename=[RenameRule("fc.", "head.", None)]).file_key("fc.bias")
        'module.head.bias'
        """
        for rule in self.rename:
            if canonical.startswith(rule.old):
                canonical = rule.new + canonical[len(rule.old):]
                break
        return self.prefix + canonical


def key_of(node: YamlNode, what: str, diagnostics: Diagnostics, allow_empty: bool = False) -> str | None:
    if isinstance(node, Scalar) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        node = Scalar(str(node.value), node.pos, node.quoted)  # `weights: {weight: 0}` style keys
    text = text_of(node, what, diagnostics)
    if text is None:
        return None
    if (not text and not allow_empty) or len(text) > MAX_KEY or any(ord(c) < 32 for c in text):
        diagnostics.error("invalid-value", f"{what} must be a non-empty name of at most {MAX_KEY} characters "
                          "without control characters", node.pos, found=describe(node))
        return None
    return text


def read_weights_source(node: YamlNode | None, spec_path: str, diagnostics: Diagnostics) -> WeightsSource:
    """`weights: FILE` or `weights: {file, prefix, rename, tied}`."""
    if node is None:
        return WeightsSource(None)
    if isinstance(node, Scalar):
        wrapped = Map(node.pos)
        wrapped.entries["file"], wrapped.key_pos["file"] = node, node.pos
        node = wrapped
    section = expect_map(node, "`weights`", diagnostics)
    if section is None or not check_keys(section, WEIGHTS_KEYS, "`weights`", diagnostics):
        return WeightsSource(None)
    source = WeightsSource(None)
    entries = section.entries
    if "file" in entries:
        path = key_of(entries["file"], "`weights.file`", diagnostics)
        if path is not None:
            folder = os.path.dirname(spec_path) if not spec_path.startswith("<") else ""
            source.file = os.path.normpath(os.path.join(folder, os.path.expanduser(path)))
            source.file_pos = entries["file"].pos
    if "prefix" in entries:
        source.prefix = key_of(entries["prefix"], "`weights.prefix`", diagnostics, allow_empty=True) or ""
    if "rename" in entries:
        rules = expect_list(entries["rename"], "`weights.rename`", diagnostics)
        for item in rules.items if rules else ():
            rule = expect_map(item, "a rename rule", diagnostics)
            if rule is None or not check_keys(rule, ("from", "to"), "a rename rule", diagnostics,
                                              required=("from", "to")):
                continue
            old = key_of(rule.entries["from"], "`from`", diagnostics)
            new = key_of(rule.entries["to"], "`to`", diagnostics, allow_empty=True)
            if old is not None and new is not None:
                source.rename.append(RenameRule(old, new, rule.pos))
    if "tied" in entries:
        tied = expect_map(entries["tied"], "`weights.tied`", diagnostics)
        for alias, value in tied.entries.items() if tied else ():
            original = key_of(value, f"`weights.tied` of `{alias}`", diagnostics)
            if original is not None and original == alias:
                diagnostics.error("invalid-value", f"`weights.tied`: `{alias}` is tied to itself", value.pos)
            elif original is not None:
                source.tied[alias] = (original, tied.key_pos[alias])
    return source


def read_layer_weights(node: YamlNode, layer: str, diagnostics: Diagnostics,
                       prefix: str = "") -> tuple[dict, dict] | None:
    """A layer's `weights: {slot: file key}`: (names, positions), or None after an error. A key starting
    with `.` is relative to the block instance the layer is in (``prefix``, e.g. ``features.1.0.``), as
    layer names there are: `weights: {value: .layer_scale}` reads ``features.1.0.layer_scale``, a
    parameter that PyTorch registers on the block's module itself."""
    mapping = expect_map(node, f"`weights` of layer `{layer}`", diagnostics, layer=layer)
    if mapping is None:
        return None
    names, positions = {}, {}
    for slot, value in mapping.entries.items():
        key = key_of(value, f"file name of `{layer}.{slot}`", diagnostics)
        if key is None:
            return None
        names[slot], positions[slot] = prefix + key[1:] if key.startswith(".") else key, mapping.key_pos[slot]
    return names, positions


def check_layer_weights(graph, types, diagnostics: Diagnostics) -> None:
    """Every slot a layer's `weights` map names must be one of the layer's weight slots."""
    for node in graph.nodes:
        if not node.weight_names or any(name not in types for name in node.inputs):
            continue
        slots = [slot.name for slot in node.weight_slots(types)]
        for slot in node.weight_names:
            if slot not in slots:
                has = ("has no weights" if not slots else "has weights " + ", ".join(f"`{s}`" for s in slots))
                diagnostics.error("unknown-weight-slot", f"layer `{node.name}` maps weight `{slot}`, but a "
                                  f"{node.kind} layer {has}" + (" (bias: false?)" if slot == "bias" else ""),
                                  node.weight_pos[slot], layer=node.name, notes=list(node.trace))


class PrefixRule:
    """A prefix change that turns the names netdsl looks up into names a weight file has: ``old`` (at the
    start of the looked-up name) becomes ``new``. ``explained`` maps each looked-up name to the file's."""

    __slots__ = ("old", "new", "explained")

    def __init__(self, old: str, new: str, explained: dict[str, str]):
        self.old = old
        self.new = new
        self.explained = explained

    def describe(self) -> str:
        if not self.old:
            return f"the file's names start with `{self.new}`"
        if not self.new:
            return f"the file's names lack the leading `{self.old}`"
        return f"the file's names start with `{self.new}` where the spec's start with `{self.old}`"


MAX_HEADS = 4  # a tail shared by more file names than this says nothing about a prefix


def _splits(name: str):
    """(head, tail) pairs of a dotted name, the tail keeping at least two parts (`conv1.weight`): a lone
    slot name (`weight`) matches far too much to suggest a prefix."""
    yield "", name
    for index, char in enumerate(name):
        if char == "." and name.find(".", index + 1) != -1:
            yield name[:index + 1], name[index + 1:]


def find_prefix_rule(missing, available) -> PrefixRule | None:
    """The one prefix change that explains most of ``missing`` (names looked up but absent) by names in
    ``available`` (names nothing claimed), when it explains at least two and at least half of them.

    >>> rule = find_prefix_rule(["conv.weight", "fc.bias"], ["module.conv.weight", "module.fc.bias"])
    >>> rule.old, rule.new, rule.explained["fc.bias"]
    ('', 'module.', 'module.fc.bias')
    >>> find_prefix_rule(["model.conv.weight", "model.fc.bias"], ["conv.weight", "fc.bias"]).old
    'model.'
    """
    heads: dict[str, list[str]] = {}
    for name in available:
        for head, tail in _splits(name):
            heads.setdefault(tail, []).append(head)
    votes: dict[tuple[str, str], dict[str, str]] = {}
    for key in missing:
        for head, tail in _splits(key):
            found = heads.get(tail, ())
            if len(found) > MAX_HEADS:
                continue
            for other in found:
                votes.setdefault((head, other), {}).setdefault(key, other + tail)
    if not votes:
        return None
    (old, new), explained = max(votes.items(), key=lambda item: (len(item[1]), -len(item[0][0]) - len(item[0][1])))
    if len(explained) < 2 or 2 * len(explained) < len(missing):
        return None
    return PrefixRule(old, new, explained)


def suggest_mapping(rule: PrefixRule, source: WeightsSource, file_text: str) -> str | None:
    """The `weights:` section that applies ``rule``, or None when the spec's own rules make it unclear."""
    if source.rename or (source.prefix and rule.old):
        return None
    if not rule.old:
        return f"weights: {{file: {file_text}, prefix: {rule.new + source.prefix}}}"
    return f"weights: {{file: {file_text}, rename: [{{from: {rule.old}, to: {rule.new or repr('')}}}]}}"
