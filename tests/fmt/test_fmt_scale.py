"""`netdsl fmt` takes time in proportion to the spec's length, comments included (each comment used to
search every line of the file for the item it belongs to)."""

import time

from netdsl.fmt import comments, format_text


def seconds(text: str) -> float:
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        format_text(text)
        best = min(best, time.process_time() - start)
    return best


def test_time_grows_linearly_with_commented_layers(chain):
    small, large = chain(1000, comments=True), chain(8000, comments=True)
    assert comments(format_text(large)) == comments(large)
    ratio = seconds(large) / seconds(small)
    assert ratio < 16, f"8x the layers took {ratio:.1f}x the time (linear: about 8; quadratic: 64)"
