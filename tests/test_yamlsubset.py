"""The YAML subset read in Python (netdsl.yamlnodes.read_subset) against libyaml: whatever it accepts, it
must read exactly as libyaml's events composed by netdsl do (and PyYAML's pure-Python parser, the reader of
machines without libyaml): the same nodes, values and their types, quoting, key order and positions. What
it refuses goes to libyaml, so every message about a broken file stays libyaml's."""

import math
import pathlib
import random

import pytest
import yaml

from netdsl.diagnostics import Diagnostics, Source
from netdsl.yamlnodes import Map, Scalar, Seq, _Composer, read_subset

ROOT = pathlib.Path(__file__).resolve().parent.parent
FILES = sorted(str(path.relative_to(ROOT)) for folder in ("specs", "tests", "docs", "examples")
               for path in (ROOT / folder).rglob("*.y*ml") if (ROOT / folder).is_dir())
LOADERS = [loader for loader in (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader) if loader is not None]


def composed(text: str, loader):
    """The tree netdsl composes from ``loader``'s events, or None when it reports anything."""
    diagnostics = Diagnostics()
    parser = loader(text)
    try:
        root = _Composer(Source("t.yaml", text), diagnostics).compose(parser.get_event)
    except yaml.YAMLError:
        return None
    finally:
        parser.dispose()
    return None if diagnostics.has_errors else root


def difference(ours, theirs, path="root"):
    """Where two trees differ (None when they do not)."""
    if type(ours) is not type(theirs):
        return f"{path}: {type(ours).__name__} against {type(theirs).__name__}"
    a, b = ours.pos, theirs.pos
    if (a.line, a.col, a.width) != (b.line, b.col, b.width):
        return f"{path}: at {a.line}:{a.col} width {a.width}, libyaml {b.line}:{b.col} width {b.width}"
    if type(ours) is Scalar:
        x, y = ours.value, theirs.value
        same = type(x) is type(y) and (x == y or isinstance(x, float) and math.isnan(x) and math.isnan(y))
        return None if same and ours.quoted == theirs.quoted else f"{path}: {x!r} against {y!r}"
    if type(ours) is Seq:
        if len(ours.items) != len(theirs.items):
            return f"{path}: {len(ours.items)} items against {len(theirs.items)}"
        pairs = [(f"{path}[{index}]", x, y) for index, (x, y) in enumerate(zip(ours.items, theirs.items))]
    else:
        if list(ours.entries) != list(theirs.entries):
            return f"{path}: keys {list(ours.entries)} against {list(theirs.entries)}"
        for key in ours.entries:
            a, b = ours.key_pos[key], theirs.key_pos[key]
            if (a.line, a.col, a.width) != (b.line, b.col, b.width):
                return f"{path}.{key}: key at {a.line}:{a.col}, libyaml {b.line}:{b.col}"
        pairs = [(f"{path}.{key}", ours.entries[key], theirs.entries[key]) for key in ours.entries]
    return next(filter(None, (difference(x, y, where) for where, x, y in pairs)), None)


def check(text: str) -> bool:
    """True when read_subset accepts ``text``, after asserting that it reads it as libyaml does."""
    ours = read_subset(Source("t.yaml", text))
    if ours is None:
        return False
    for loader in LOADERS:
        theirs = composed(text, loader)
        assert theirs is not None, f"accepted what {loader.__name__} refuses: {text!r}"
        found = difference(ours, theirs)
        assert found is None, f"{loader.__name__}: {found} in {text!r}"
    return True


def test_every_yaml_file_of_the_repository_reads_as_libyaml_reads_it():
    texts = {name: (ROOT / name).read_text(encoding="utf-8", errors="replace") for name in FILES}
    accepted = {name for name, text in texts.items() if check(text)}
    # the subset is what specs are written in: every shipped spec is read without PyYAML
    shipped = {name for name in FILES if name.startswith("specs/")}
    assert shipped and shipped <= accepted, sorted(shipped - accepted)


CASES = [
    # accepted
    "a: b:c\n", "a: http://x/y\n", "a: 'it''s'\n", "a: ''\n", 'a: ""\n', "a: '''x'''\n", "a: -1\n", "a: -b\n",
    "k: [1, [2, [3]], {x: 1}]\n", "k: {a: [1,2], b: {c: d}}\n", "k: [ ]\n", "k: { }\n", "k: []  # c\n",
    'k: "x" # c\n', "k: a b  c   \n", "1: x\n2.5: y\nnull: z\ntrue: w\n1e3: v\n", "a:\n- 1\n- 2\nb: 3\n",
    "- a: 1\n  b:\n  - x\n- c\n", "- a:\n- b\n", "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n", "  a: 1\n  b: 2\n",
    "a: 0x1F\nb: 0o17\nc: 1e3\nd: .5\ne: +1\nf: 1_000\ng: 0b1\n", "a: .inf\nb: -.Inf\nc: .nan\nd: ~\ne: Null\n",
    "a: ${x * 2}\n", 'a: "${x}"\n', "a: b # c # d\n", "a: 'a # b'\n", "a: [a b, c d]\n", "a: é ü → ×\n",
    "# é\na: 1\n", "a:    \n", "a: # c\nb: 1\n", "a:\n  # c\n  b: 1\n", "a:\n# c\n  b: 1\n", "a: x?y\n",
    "- [1, 2]\n- {a: 1}\n- 'x'\n", "a: [1 ,2 , 3 ]\n", "a: {b: 1 , c: 2 }\n", "a.b/c-d_e: 1\n", "a: x,y\n",
    'a: ["a,b", \'c]d\']\n', "a: x%\n", "a: x\n\n\n  \nb: y\n", "-  a: 1\n   b: 2\n", "a: x[0]\n", "a: x{y}\n",
    # refused (libyaml reads them differently, or reports them)
    "a: [a:b]\n", "a: -\n", "a: - b\n", "- - 2\n", "k: [1]#c\n", 'k: "x"y\n', "a: x\n  y\n", 'a: "x\n  y"\n',
    "a: [1,\n 2]\n", "a: " + "1" * 65 + "\n", "a: [${x}]\n", "a: {b: ${x}}\n", "a: b#c\n", 'a: {"x": 1}\n',
    "a: [a, b,]\n", "a: {x: 1, x: 2}\n", "a: 1\na: 2\n", "<<: {a: 1}\n", "a: &x 1\nb: *x\n", "a: !!str 1\n",
    "a: |\n  x\n", "---\na: 1\n", "a: 1\n...\n", "%YAML 1.1\n---\na: 1\n", "a: \u2028\n", "a: \x85\n", "a: b\ufeff\n",
    "a: \x7f\n", "", "# only\n", "a\n", "[1, 2]\n", "a: 1\n- b\n", "- a\nb: 1\n", "a:\n  - b\n - c\n", "a: {b: }\n",
    "- a: 1\n   b: 2\n", "a: [b: 1]\n", "a: [?x]\n", "a: {b:1}\n", "a: x:\n", "a :b\n", "a : b\n", 'a: "x\\"y"\n',
    "a: `x`\n", "a: @x\n", "a: %x\n", "a: 1\tb\n", "a: 1\r\nb: 2\r\n", "k: " + "[" * 70 + "]" * 70 + "\n",
    "k" * 1100 + ": 1\n", "a:\n  b: 1\n c: 2\n", "  - a\n - b\n", "a: ,\n", "a: [,]\n", "a: ]\n", "a: [a}\n",
    "-\n", "- \n  a: 1\n", "a: 'x' 'y'\n", "a:\n  hello\n", "- a:\n    hello\n", "a:\n  b: 1\n  hello\n",
]


@pytest.mark.parametrize("text", CASES)
def test_an_edge_case_is_refused_or_read_as_libyaml_reads_it(text):
    check(text)


def test_the_edge_cases_exercise_both_sides():
    accepted = sum(check(text) for text in CASES)
    assert 40 <= accepted <= len(CASES) - 60


PIECES = list(" \n:-#[]{},'\"&*!|>?%@`\\ab1.0e+_$~") + ["  ", ": ", "- ", " #", "\n  ", "\n- ", "''", "null",
                                                       "1e3", "0x1f", ".inf", "true", "{a: 1}", "[1, 2]"]


def test_mutated_specs_are_refused_or_read_as_libyaml_reads_them():
    """Windows of the repository's YAML files with a few characters inserted, deleted or copied."""
    generator = random.Random(28)
    texts = [(ROOT / name).read_text(encoding="utf-8", errors="replace").split("\n") for name in FILES]
    accepted = 0
    for _ in range(1500):
        lines = generator.choice(texts)
        start = generator.randrange(len(lines))
        text = "\n".join(lines[start:start + generator.randrange(1, 30)])
        for _ in range(generator.randrange(1, 3)):
            if not text:
                break
            at, choice = generator.randrange(len(text)), generator.random()
            if choice < 0.4:
                text = text[:at] + generator.choice(PIECES) + text[at:]
            elif choice < 0.7:
                text = text[:at] + text[at + generator.randrange(1, 4):]
            else:
                origin = generator.randrange(len(text))
                text = text[:at] + text[origin:origin + generator.randrange(1, 10)] + text[at:]
        accepted += check(text)
    assert accepted >= 100  # the comparison above ran on enough accepted texts to mean something
