"""`netdsl diff` looks for renames in time proportional to the layers: each layer's signature (kind and
parameters) is computed once, not once per pair of a removed and an added layer."""

from netdsl import diff
from netdsl.spec import check_text


def counted_compare(old_text: str, new_text: str, monkeypatch):
    old, _ = check_text(old_text)
    new, _ = check_text(new_text)
    calls = []
    signature = diff.layer_signature
    monkeypatch.setattr(diff, "layer_signature", lambda node: calls.append(node.name) or signature(node))
    return diff.compare(old, new), len(calls)


def test_every_layer_renamed(chain, monkeypatch):
    result, calls = counted_compare(chain(1000, name="old"), chain(1000, name="new"), monkeypatch)
    assert result.renamed == [(f"old{i}", f"new{i}") for i in range(1000)]
    assert not result.added and not result.removed
    assert calls <= 2 * 1000


def test_every_layer_replaced_by_another_kind(chain, monkeypatch):
    result, calls = counted_compare(chain(1000, name="old", kinds=("relu",)),
                                    chain(1000, name="new", kinds=("sigmoid",)), monkeypatch)
    assert not result.renamed and len(result.added) == len(result.removed) == 1000
    assert calls <= 2 * 1000
