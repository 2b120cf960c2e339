"""Fixtures shared across the test tree."""

import sys
from pathlib import Path

import pytest

# tests/opcases (the op test cases written once as data) is imported by test modules in several folders
sys.path.insert(0, str(Path(__file__).parent))

CONVOLUTION = "convolution, out_channels: 4, kernel: 3, padding: 1"


def chain_spec(layers: int, name: str = "layer", comments: bool = False, kinds=(CONVOLUTION, "relu")) -> str:
    """A spec of `layers` layers in a chain, named `<name><index>`, of `kinds` in turn (a kind and its
    parameters); with `comments`, a comment line above every layer and an end-of-line comment on every
    other layer."""
    lines = ["netdsl: 1", "inputs:", "  - {name: data, shape: [1, 4, 8, 8]}", "layers:"]
    for index in range(layers):
        if comments:
            lines.append(f"  # layer {index}")
        note = "  # note" if comments and index % 2 else ""
        lines.append(f"  - {{name: {name}{index}, kind: {kinds[index % len(kinds)]}}}{note}")
    return "\n".join(lines) + "\n"


@pytest.fixture
def chain():
    return chain_spec
