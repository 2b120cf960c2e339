"""The malformed-spec corpus: every file in malformed/ states, in its first line, the diagnostic it
must produce: `# expect: CODE @LINE:COL "message fragment"` (@ alone: any position)."""

import pathlib
import re

import pytest

from netdsl.spec import check

CORPUS = sorted((pathlib.Path(__file__).parent / "malformed").glob("*.yaml"))
EXPECT = re.compile(r'# expect: (?P<code>[a-z-]+) @(?:(?P<line>\d+):(?P<col>\d+))? "(?P<fragment>.*)"$')


def expectation(path: pathlib.Path):
    first = path.read_text(encoding="utf-8").lstrip("\ufeff").splitlines()[0] if path.stat().st_size else ""
    match = EXPECT.match(first)
    assert match, f"{path.name}: first line must be an expect comment"
    return match


def test_corpus_is_large():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_malformed_spec(path):
    expected = expectation(path)
    checked, diagnostics = check(str(path))
    assert checked is None, "a malformed spec must not validate"
    found = [(d.code, d.pos.line, d.pos.col, d.message) for d in diagnostics]
    matching = [f for f in found if f[0] == expected["code"] and expected["fragment"].replace('\\"', '"') in f[3]]
    assert matching, f"no {expected['code']} diagnostic containing {expected['fragment']!r}; got {found}"
    if expected["line"]:
        assert (matching[0][1], matching[0][2]) == (int(expected["line"]), int(expected["col"])), found
    for diagnostic in diagnostics:
        assert diagnostic.pos.path == str(path)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def codes(path):
    checked, diagnostics = check(path)
    assert checked is None
    return [(d.code, d.pos.line, d.pos.col) for d in diagnostics]


def test_huge_file_is_refused_without_reading_it_all(tmp_path):
    path = write(tmp_path, "huge.yaml", b"netdsl: 1\n" + b"# padding\n" * (2 * 1024 * 1024))
    assert codes(path) == [("file-too-large", 1, 1)]


def test_not_utf8(tmp_path):
    path = write(tmp_path, "latin1.yaml", "netdsl: 1\nname: caf\u00e9\n".encode("latin-1"))
    assert codes(path) == [("bad-encoding", 2, 10)]


def test_not_utf8_after_a_byte_order_mark(tmp_path):
    """The bad byte and its place are those of the text after the BOM (it was reported three bytes early,
    as the BOM's last byte)."""
    path = write(tmp_path, "bom.yaml", b"\xef\xbb\xbfname: caf\xe9\n")
    checked, diagnostics = check(path)
    [diagnostic] = list(diagnostics)
    assert (diagnostic.code, diagnostic.pos.line, diagnostic.pos.col) == ("bad-encoding", 1, 10)
    assert "byte 0xe9" in diagnostic.message


def test_utf16_is_refused(tmp_path):
    path = write(tmp_path, "utf16.yaml", "netdsl: 1\n".encode("utf-16"))
    assert codes(path)[0][0] == "bad-encoding"


def test_byte_order_mark_is_accepted(tmp_path):
    text = "netdsl: 1\ninputs:\n  - {name: data, shape: [1, 3, 8, 8]}\nlayers:\n  - {name: r, kind: relu}\n"
    path = write(tmp_path, "bom.yaml", b"\xef\xbb\xbf" + text.encode())
    checked, diagnostics = check(path)
    assert checked is not None, list(diagnostics)


def test_missing_file(tmp_path):
    assert codes(str(tmp_path / "nope.yaml"))[0][0] == "file-not-found"


def test_control_character(tmp_path):
    path = write(tmp_path, "ctrl.yaml", b"netdsl: 1\nname: a\x07b\n")
    assert codes(path)[0][0] == "yaml-syntax"
