"""docs/python.md: its examples run, in order, from the repository's root; netdsl.__all__ is the API."""

import os
import pathlib
import re

import pytest

import netdsl

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "python.md"
API = {"Engine", "NetdslError", "Network", "SpecError", "UsageError", "from_torch", "import_onnx", "load"}


def test_all_is_the_api_and_nothing_else():
    assert set(netdsl.__all__) == API
    for name in netdsl.__all__:
        assert getattr(netdsl, name) is not None
    with pytest.raises(AttributeError):
        netdsl.build_plan  # noqa: B018 (internals are not reached through the package)


def test_page_lists_every_name():
    text = PAGE.read_text()
    for name in API:
        assert f"`{name}`" in text or f"netdsl.{name}" in text, name


def test_examples_run(monkeypatch, capsys):
    pytest.importorskip("tensorrt_rtx")
    pytest.importorskip("onnx")
    pytest.importorskip("torch")
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    assert len(blocks) >= 7
    monkeypatch.chdir(ROOT)
    namespace = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/python.md block {number}", "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out
    assert "conv1.weight" in printed and "fc1.weight" in printed  # the error example: each problem, located
    assert not any(p.endswith(".plan") for p in os.listdir(ROOT))  # the examples wrote into a temp folder
