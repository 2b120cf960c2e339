"""`netdsl graph`: the DOT text (layers, shapes on edges, parameter counts, block clusters), and real
Graphviz renders where `dot` is installed (CI installs it)."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from netdsl.graph_picture import to_dot
from netdsl.spec import load

ROOT = pathlib.Path(__file__).resolve().parent.parent


def netdsl(*args, env=None):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, **(env or {})})


def test_dot_has_every_layer_edge_and_cluster():
    checked = load(str(ROOT / "specs/zoo/resnet18.yaml"))
    dot = to_dot(checked)
    nodes = set(re.findall(r'^\s+"([^"]+)" \[label=', dot, re.M))
    assert {n.name for n in checked.graph.nodes} | {"in:input", "out:logits"} == nodes
    edges = re.findall(r'^\s+"([^"]+)" -> "([^"]+)" \[label="([^"]+)"\];', dot, re.M)
    assert ("layer2.0.conv1", "layer2.0.bn1", "[N, 128, 28, 28]") in edges
    assert ("in:input", "conv1", "[N, 3, 224, 224]") in edges
    assert len(edges) == sum(len(n.inputs) for n in checked.graph.nodes) + 1  # + the output edge
    clusters = re.findall(r'subgraph "cluster_([^"]+)"', dot)
    assert clusters == [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)]
    assert 'label="layer2.0.conv1\\nconvolution\\n73,728 params"' in dot  # 128 * 64 * 3 * 3


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("extension,magic", [("svg", b"<?xml"), ("png", b"\x89PNG\r\n\x1a\n")])
def test_graphviz_renders(tmp_path, extension, magic):
    out = tmp_path / f"net.{extension}"
    result = netdsl("graph", "specs/lenet.yaml", "-o", str(out))
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(magic)
    if extension == "svg":
        assert b"conv1" in data and b"[N, 6, 28, 28]" in data


def test_dot_needs_nothing_and_errors_are_clear(tmp_path):
    no_graphviz = {"PATH": str(tmp_path)}  # python is started by absolute path; `dot` is not on PATH
    assert netdsl("graph", "specs/lenet.yaml", "-o", str(tmp_path / "n.dot"), env=no_graphviz).returncode == 0
    assert (tmp_path / "n.dot").read_text().startswith('digraph "lenet"')
    result = netdsl("graph", "specs/lenet.yaml", "-o", str(tmp_path / "n.svg"), env=no_graphviz)
    assert result.returncode == 2 and "apt install graphviz" in result.stderr
    result = netdsl("graph", "specs/lenet.yaml", "-o", str(tmp_path / "n.pdf"))
    assert result.returncode == 2 and ".dot, .svg or .png" in result.stderr
