"""docs/layers.md is generated from the layer registry (tests/test_regenerate.py holds it current): it
covers every kind, and its examples are specs netdsl accepts."""

import pathlib
import re
import subprocess
import sys

from netdsl.docs import kind_section, layer_reference
from netdsl.ops import REGISTRY, Op
from netdsl.params import Int, Param
from netdsl.spec import check_text

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_kind_has_a_section_and_an_example():
    text = layer_reference()
    for kind in REGISTRY:
        section = text.split(f"\n## {kind}\n", 1)[1].split("\n## ", 1)[0]
        assert "```yaml" in section or "_No example" in section, kind


def test_examples_are_valid_specs():
    text, checked_examples = layer_reference(), 0
    for section in text.split("\n## ")[1:]:
        example = re.search(r"Example, on (.*?): output (\[.*?\])[ ;.(].*?```yaml\n- (.*?)\n```", section, re.S)
        if not example:
            continue
        inputs = re.findall(r"`(\w+)` (\[[\d, ]+\])( (?:bfloat|float|u?int|bool)\d*)?", example.group(1)) or [("unused", "[1]", "")]
        spec = ("netdsl: 1\ninputs:\n" + "".join(f"  - {{name: {n}, shape: {s}, dtype: {d.strip() or 'float32'}}}\n"
                                                 for n, s, d in inputs)
                + "layers:\n  - " + example.group(3) + "\n")
        checked, diagnostics = check_text(spec)
        assert checked is not None, (section.split("\n")[0], list(diagnostics))
        assert str(list(checked.types[checked.graph.nodes[0].outputs[0]].shape)) == example.group(2)
        checked_examples += 1
    assert checked_examples == len(REGISTRY)


def test_a_kind_with_thin_docs_still_gets_an_entry():
    class Thin(Op):
        kind = "thin"
        params = {"n": Param(Int(1))}

    lines = kind_section(Thin())
    assert lines[0] == "## thin" and "_This kind has no description yet._" in lines
    assert "- PyTorch: _not stated in this kind's doc_" in lines
    assert any(line.startswith("_No example") for line in lines)  # `thin` is not registered: nothing checks


def test_docs_command_writes_and_checks_the_page(tmp_path):
    page = tmp_path / "layers.md"

    def docs(*args):
        return subprocess.run([sys.executable, "-m", "netdsl", "docs", *args, "-o", str(page)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    assert docs().returncode == 0 and page.read_text() == layer_reference()
    assert docs("--check").returncode == 0
    page.write_text(layer_reference() + "\n")
    assert docs("--check").returncode == 1
