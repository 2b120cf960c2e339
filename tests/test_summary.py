"""`netdsl summary`: shapes in named dims at the profile's opt, simplified beside them, and what the MACs
column counts."""

from netdsl import summary
from netdsl.spec import check_text, load

YOLOV8 = "specs/zoo/yolov8.yaml"


def test_shapes_in_named_dims_show_their_numbers_at_opt_and_a_short_simplified_form():
    text = summary.format_table(load(YOLOV8))
    head, table = text.split("\n", 1)
    assert "outputs output0 [batch, 84, 21*(height//32)*(width//32)] ([1, 84, 8400] at opt)" in head
    concat = next(line for line in table.splitlines() if line.startswith("model.22.output "))
    assert "[1, 84, 8400]" in concat and "[batch, 84, 21*(height//32)*(width//32)]" in concat
    first = next(line for line in table.splitlines() if line.startswith("model.0.conv "))
    assert "[1, 16, 320, 320]" in first and "[batch, 16, height//2, width//2]" in first
    assert "(height+" not in text  # every floor division the multiples of 32 make exact is gone
    rule = next(line for line in table.splitlines() if line.startswith("---"))
    widths = [len(dashes) for dashes in rule.split("  ")]  # layer, kind, inputs, output at opt, in named dims, ...
    assert widths[3] <= 60 and widths[4] <= summary.SYMBOLIC_WIDTH  # was one column of 180


def test_a_long_simplified_shape_is_listed_below_the_table():
    text = summary.format_table(load(YOLOV8))
    split = next(line for line in text.splitlines() if line.startswith("model.22.sides "))
    assert "(below)" in split
    below = text.split("Output shapes in named dims:\n", 1)[1]
    assert ("  model.22.sides: 0 [batch, 2, 21*(height//32)*(width//32)]; 1 [batch, 2, 21*(height//32)*(width//32)]"
            in below.splitlines())


def test_json_keeps_its_keys_and_adds_the_shape_at_opt_and_simplified():
    data = summary.to_json(load(YOLOV8))
    output = data["outputs"][0]
    assert output["shape"][2].startswith("((height+15)//16)*((width+15)//16)+")  # unchanged: as inferred
    assert output["shape_at_opt"] == [1, 84, 8400]
    assert output["shape_simplified"] == ["batch", 84, "21*(height//32)*(width//32)"]
    layer = next(row for row in data["layers"] if row["name"] == "model.0.conv")
    assert layer["shape"] == ["batch", 16, "(height+1)//2", "(width+1)//2"]
    assert (layer["shape_at_opt"], layer["shape_simplified"]) == ([1, 16, 320, 320], ["batch", 16, "height//2",
                                                                                       "width//2"])
    static = summary.to_json(load("specs/lenet.yaml"))
    assert "shape_at_opt" not in static["layers"][0] and "shape_at_opt" not in static["outputs"][0]


def test_the_macs_note_names_the_kinds_counted():
    lenet = summary.format_table(load("specs/lenet.yaml"))
    assert "of the convolution and fully_connected layers" in lenet
    checked, diagnostics = check_text("netdsl: 1\ninputs: [{name: x, shape: [2, 3, 4]}, {name: y, shape: [2, 4, 5]}]\n"
                                      "layers:\n  - {name: product, kind: matmul, inputs: [x, y]}\n"
                                      "  - {name: act, kind: relu}\n")
    assert checked is not None, list(diagnostics)
    text = summary.format_table(checked)
    assert "of the matmul layers" in text
    assert next(line for line in text.splitlines() if line.startswith("total")).split()[-1] == "60"  # 3*5 sums of 4
    checked, _ = check_text("netdsl: 1\ninputs: [{name: x, shape: [1, 4]}]\nlayers:\n  - {name: act, kind: relu}\n")
    assert "no layer here has any" in summary.format_table(checked)
