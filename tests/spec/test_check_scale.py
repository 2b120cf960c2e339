"""Reading a big spec triggers no garbage collection while it builds: each collection walks every object
built so far, which made a 10k-layer spec cost twice per layer what a 1k-layer one does. Once the
collector is back on, one collection may take in what was built."""

import gc

from netdsl.spec import check_text


def test_reading_a_spec_runs_at_most_one_garbage_collection(chain):
    text = chain(5000)
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        checked, diagnostics = check_text(text)
    finally:
        gc.callbacks.remove(count)
    assert checked is not None, list(diagnostics)[:3]
    assert len(collections) <= 1, f"{len(collections)} collections (generations {collections})"
    assert gc.isenabled()
