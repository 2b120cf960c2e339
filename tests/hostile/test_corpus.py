"""The corpus of hostile weight files (tests/hostile/corpus, expected.json names each one's error): each
gives one located error containing the expected words, within 2 seconds, and never a traceback.
Hostile specs live with the other malformed specs in tests/spec/malformed, each with its `# expect:` line."""

import json
import pathlib
import subprocess
import sys
import time

import pytest

from netdsl.weights import WeightFileError, read_weights

CORPUS = pathlib.Path(__file__).resolve().parent / "corpus"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())


def test_every_corpus_file_has_an_expectation():
    assert sorted(p.name for p in CORPUS.iterdir() if p.name != "expected.json") == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_weight_file(name):
    path = CORPUS / name
    start = time.perf_counter()
    with pytest.raises(WeightFileError) as caught:
        read_weights(str(path))
    assert time.perf_counter() - start < 2
    [diagnostic] = caught.value.diagnostics
    assert EXPECTED[name] in diagnostic.message and diagnostic.pos.path == str(path), diagnostic.message


@pytest.mark.parametrize("name", ["billions_claimed.wts", "tiny_file_claims_10GB.safetensors",
                                  "zip_bomb_claims_4GB.npz"])
def test_commands_report_hostile_files_without_traceback(name):
    result = subprocess.run([sys.executable, "-m", "netdsl", "weights", "ls", str(CORPUS / name)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1 and "error[bad-weights]" in result.stderr and "Traceback" not in result.stderr
