"""A size mismatch between the inputs of one layer names the layers that gave each input its size."""

from netdsl.spec import check_text

RESIDUAL = """\
netdsl: 1
inputs: [{name: x, shape: [1, 3, 16, 16]}]
layers:
  - {name: stem, kind: convolution, out_channels: 16, kernel: 3, padding: 1}
  - {name: act, kind: relu}
  - {name: conv1, kind: convolution, out_channels: 16, kernel: 3, padding: 1}
  - {name: bn1, kind: batch_norm}
  - {name: conv2, kind: convolution, out_channels: 32, kernel: 3, padding: 1}
  - {name: bn2, kind: batch_norm}
  - {name: add, kind: add, inputs: [act, bn2]}
"""


def test_residual_add_names_the_edited_convolution():
    checked, diagnostics = check_text(RESIDUAL)
    [error] = diagnostics
    assert error.code == "shape-mismatch" and error.layer == "add"
    notes = [(note.pos.line, note.pos.col, note.message) for note in error.notes]
    lines = RESIDUAL.splitlines()
    assert notes == [  # each note points at the out_channels value that set the size
        (4, lines[3].index("16") + 1, "convolution layer `stem` makes axis 1 16 (through to `act`)"),
        (8, lines[7].index("32") + 1, "convolution layer `conv2` makes axis 1 32 (through to `bn2`)"),
    ]


def test_a_graph_input_can_be_the_origin():
    checked, diagnostics = check_text(RESIDUAL.replace("inputs: [act, bn2]", "inputs: [x, bn2]"))
    [error] = diagnostics
    assert [note.message for note in error.notes] == [
        "input `x` has axis 1 3", "convolution layer `conv2` makes axis 1 32 (through to `bn2`)"]


def test_partial_check_keeps_the_layers_that_checked(tmp_path):
    from netdsl.spec import check

    path = tmp_path / "r.yaml"
    path.write_text(RESIDUAL)
    path = str(path)
    assert check(path)[0] is None
    partial, diagnostics = check(path, partial=True)
    assert not partial.complete and diagnostics.has_errors
    assert partial.types["bn2"].shape == (1, 32, 16, 16) and "add" not in partial.types


def test_an_output_of_a_layer_with_several_is_traced_to_its_layer():
    # `grid.points` is anchor_points' first output: the tensor has no layer of its own name (the fuzzer found
    # the tracing stopped there with an exception); the note names the layer that made it
    text = """\
netdsl: 1
inputs: [{name: x, shape: [1, 3, 4, 4]}]
layers:
  - {name: grid, kind: anchor_points, stride: 1}
  - {name: wide, kind: constant, value: 0.0, shape: [2, 5]}
  - {name: add, kind: add, inputs: [grid.points, wide]}
"""
    checked, diagnostics = check_text(text)
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.code == "shape-mismatch" and error.layer == "add"
    messages = [note.message for note in error.notes]
    assert any("anchor_points layer `grid` makes axis 1 16" in m for m in messages), messages
