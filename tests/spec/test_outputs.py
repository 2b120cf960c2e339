"""Which tensors a spec gives as outputs when it names none."""

import json

from netdsl.spec import check_text


def spec(layers, outputs=None):
    text = {"netdsl": 1, "inputs": [{"name": "x", "shape": [2, 7]}], "layers": layers}
    if outputs is not None:
        text["outputs"] = outputs
    return json.dumps(text)


def test_the_last_layer_is_the_output():
    checked, _ = check_text(spec([{"name": "s", "kind": "softmax"}]))
    assert [(o.name, o.source) for o in checked.graph.outputs] == [("s", "s")]


def test_a_last_layer_with_several_outputs_gives_them_all():
    checked, diagnostics = check_text(spec([{"name": "t", "kind": "topk", "k": 2}]))
    assert checked is not None, [str(d) for d in diagnostics]
    assert [(o.name, o.source) for o in checked.graph.outputs] == [("t.values", "t.values"), ("t.indices", "t.indices")]


def test_one_output_of_several_can_be_named():
    checked, _ = check_text(spec([{"name": "t", "kind": "topk", "k": 2}], outputs=["t.indices"]))
    assert [o.source for o in checked.graph.outputs] == ["t.indices"]
