"""Every generated file (kind index, docs/layers.md, the JSON Schema, README's kind table) is current:
`python tools/regenerate.py --check` says so, and says otherwise when one of them is stale."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "regenerate.py"
GENERATED = ("netdsl/ops/_kinds.py", "docs/layers.md", "schema/netdsl-1.schema.json", "README.md")


def regenerate(*args):
    return subprocess.run([sys.executable, str(TOOL), *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_generated_files_are_current():
    result = regenerate("--check")
    assert result.returncode == 0, f"{result.stdout}{result.stderr}run: python tools/regenerate.py"
    assert result.stdout == ""


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """The checkout's generated files, copied under a fresh root."""
    root = tmp_path_factory.mktemp("tree")
    for relative in GENERATED:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, root / relative)
    return root


@pytest.mark.parametrize("relative", GENERATED)
def test_check_fails_on_a_stale_file_and_regenerating_fixes_it(copy, relative):
    path = copy / relative
    current = path.read_text()
    # README: a kind dropped from its table (the hand-written text around the table is not generated)
    stale = current.replace("`relu6`, ", "") if relative == "README.md" else current + "\n"
    assert stale != current
    path.write_text(stale)
    result = regenerate("--check", "--root", str(copy))
    assert result.returncode == 1
    assert result.stdout == f"stale: {path}\n"
    assert path.read_text() == stale  # --check writes nothing
    assert regenerate("--root", str(copy)).returncode == 0
    assert path.read_text() == current
    assert regenerate("--check", "--root", str(copy)).returncode == 0


def test_readme_without_markers_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("# no table here\n")
    result = regenerate("--check", "--root", str(tmp_path))
    assert result.returncode == 1 and "<!-- kinds:start -->" in result.stderr
