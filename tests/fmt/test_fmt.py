"""`netdsl fmt`: the canonical layout (against a hand-written expected file), comments and scalar
spellings kept, meaning unchanged, idempotent on every spec in the repository."""

import pathlib
import subprocess
import sys

import pytest

from netdsl.diagnostics import SpecError
from netdsl.fmt import comments, format_text

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHIPPED = sorted((ROOT / "specs").rglob("*.yaml"))
ALL = SHIPPED + sorted((ROOT / "tests").rglob("*.yaml"))


def test_messy_spec_gets_the_canonical_layout():
    assert format_text((HERE / "messy.yaml").read_text()) == (HERE / "messy.expected.yaml").read_text()


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_idempotent_and_comment_preserving(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        once = format_text(text, str(path))
    except SpecError:
        return  # not readable YAML (some malformed specs): nothing to format
    assert format_text(once, str(path)) == once
    assert comments(once) == comments(text)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_specs_are_canonical(path):
    assert format_text(path.read_text(), str(path)) == path.read_text(), "run: netdsl fmt " + str(path)


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=60)


def test_check_and_rewrite(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text((HERE / "messy.yaml").read_text())
    result = netdsl("fmt", "--check", str(spec))
    assert result.returncode == 1 and "would be reformatted" in result.stdout
    assert spec.read_text() == (HERE / "messy.yaml").read_text()
    assert netdsl("fmt", str(spec)).returncode == 0
    assert spec.read_text() == (HERE / "messy.expected.yaml").read_text()
    assert netdsl("fmt", "--check", str(spec)).returncode == 0


def test_unreadable_yaml_is_reported_not_rewritten(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("netdsl: 1\nlayers: [{name: a\n")
    result = netdsl("fmt", str(spec))
    assert result.returncode == 1 and "error[" in result.stderr
    assert spec.read_text() == "netdsl: 1\nlayers: [{name: a\n"


def test_spec_parameters_stay_first_in_their_order_one_per_line():
    text = ("netdsl: 1\ninputs:\n  - {name: x, shape: [1, 3, 8, 8]}\nlayers:\n  - {name: c, kind: convolution, "
            "out_channels: $c, kernel: 1}\nparams:\n  scale: n   # the size\n  width: {by: scale, n: 0.25, s: 0.5}"
            "  # a table\n  # an expression over both\n  c: ${int(16 * width)}\n")
    once = format_text(text)
    assert once.startswith("netdsl: 1\n\nparams:\n  scale: n  # the size\n  width: {by: scale, n: 0.25, s: 0.5}  "
                           "# a table\n  # an expression over both\n  c: ${int(16 * width)}\n\ninputs:\n")
    assert format_text(once) == once and comments(once) == comments(text)
