"""validate, fmt, summary and diff take time in proportion to the layers, up to the documented limit
(slow: about half a minute; run with `pytest -m slow`)."""

import contextlib
import io
import time

import pytest

from netdsl.cli import main
from netdsl.spec import blocks

COMMANDS = {"validate": ["validate", "{old}"], "fmt": ["fmt", "--check", "{old}"], "summary": ["summary", "{old}"],
            "diff": ["diff", "{old}", "{new}"]}
EXIT_CODES = {"validate": (0,), "fmt": (0, 1), "summary": (0,), "diff": (1,)}  # fmt --check: 1 if it would change


def cpu_seconds(argv: list[str]) -> float:
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.process_time()
        code = main(argv)
        seconds = time.process_time() - start
    assert code in EXIT_CODES[argv[0]], f"{' '.join(argv)}: exit code {code}"
    return seconds


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_time_per_layer_stays_flat_up_to_the_limit(command, chain, tmp_path):
    per_layer = {}
    for layers in (1000, blocks.MAX_LAYERS):
        old, new = tmp_path / f"old{layers}.yaml", tmp_path / f"new{layers}.yaml"
        old.write_text(chain(layers, name="old", comments=True))
        new.write_text(chain(layers, name="new", comments=True))
        argv = [part.format(old=old, new=new) for part in COMMANDS[command]]
        per_layer[layers] = min(cpu_seconds(argv) for _ in range(2 if layers == 1000 else 1)) / layers
    ratio = per_layer[blocks.MAX_LAYERS] / per_layer[1000]
    assert ratio < 2, f"{command}: {ratio:.2f}x the time per layer at {blocks.MAX_LAYERS:,} layers as at 1,000"
