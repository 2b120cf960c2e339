"""The `quantization:` section: reading, diagnostics with positions, and where Q/DQ pairs go."""

import pathlib

from netdsl.quant import placement
from netdsl.spec import check, check_text, load

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAYERS = """inputs:
  - {name: x, shape: [1, 3, 8, 8]}
layers:
  - {name: conv1, kind: convolution, out_channels: 4, kernel: 3}
  - {name: relu1, kind: relu}
  - {name: fc, kind: fully_connected, out_features: 2}
"""


def diagnostics_of(section: str):
    checked, diagnostics = check_text("netdsl: 1\n" + section + LAYERS)
    return checked, [(d.code, d.pos.line, d.pos.col, d.message) for d in diagnostics]


def test_defaults():
    checked, problems = diagnostics_of("quantization: {}\n")
    assert problems == []
    section = checked.graph.quantization
    assert (section.dtype, section.scales, section.residual) == ("int8", None, True)
    assert set(placement(checked).layers) == {"conv1", "fc"}
    assert placement(checked).tensors == ["x", "relu1"]


def test_errors_point_at_the_value():
    _, problems = diagnostics_of("quantization: {dtype: int2, exclude: [conv9], kinds: [conv], residual: 1}\n")
    codes = sorted((code, line, col) for code, line, col, _ in problems)
    # columns of int2, conv, conv9 and 1 on the line
    assert codes == [("invalid-value", 2, 23), ("invalid-value", 2, 55), ("unknown-name", 2, 39),
                     ("wrong-type", 2, 72)]
    messages = " ".join(message for *_, message in problems)
    assert "int8, fp8" in messages and "`conv9`" in messages


def test_int4_is_weight_only_for_matrix_multiplies():
    checked, problems = diagnostics_of("quantization: {dtype: int4}\n")
    where = placement(checked)
    assert problems == [] and set(where.layers) == {"fc"} and where.tensors == []
    assert where.layers["fc"].inputs == ()
    _, problems = diagnostics_of("quantization: {dtype: int4, kinds: [convolution, linear]}\n")
    assert [(code, col) for code, _, col, _ in problems] == [("invalid-value", 37)]


def test_unknown_key_is_reported():
    _, problems = diagnostics_of("quantization: {dtypes: fp8}\n")
    assert [code for code, *_ in problems] == ["unknown-key"]


def test_exclusions_by_name_prefix_and_kind():
    checked = load(str(ROOT / "specs/zoo/resnet18.yaml"))
    from netdsl.spec.quantization import Quantization

    everything = placement(checked, Quantization())
    convolutions = [n.name for n in checked.graph.nodes if n.kind == "convolution"]
    assert set(convolutions) | {"fc"} <= set(everything.layers)
    fewer = placement(checked, Quantization(exclude=("conv1", "layer4", "fully_connected")))
    assert "conv1" not in fewer.layers and "fc" not in fewer.layers
    assert not any(name.startswith("layer4.") for name in fewer.layers)
    assert "layer3.1.conv2" in fewer.layers


def test_residual_add_quantizes_its_other_input():
    checked = load(str(ROOT / "specs/zoo/resnet18.yaml"))
    from netdsl.spec.quantization import Quantization

    where = placement(checked, Quantization())
    add = where.layers["layer1.0.add"]  # inputs [layer1.0.bn2, maxpool]: bn2 comes from conv2 and fuses
    assert add.inputs == (1,) and add.weight_axis is None
    assert where.layers["layer2.0.add"].inputs == (1,)  # the downsample branch's batch norm
    assert "layer2.0.downsample.1" in where.tensors
    # the block input read by conv1 and by the add has one scale
    assert where.tensors.count("maxpool") == 1
    assert "layer1.0.add" not in placement(checked, Quantization(residual=False)).layers


def test_shipped_int8_spec():
    checked, diagnostics = check(str(ROOT / "specs/quantized/lenet_int8.yaml"))
    assert list(diagnostics) == []
    assert checked.graph.quantization.scales == str(ROOT / "weights/lenet_int8.scales")


def test_diff_shows_quantization_apart_from_the_architecture():
    from netdsl.diff import compare, format_text

    old, _ = diagnostics_of("quantization: {dtype: int8}\n")
    new, _ = diagnostics_of("quantization: {dtype: fp8, exclude: [conv1]}\n")
    diff = compare(old, new)
    assert diff.changed == [] and diff.quantization == ["quantization dtype: int8 -> fp8",
                                                        "quantization exclude: [] -> [conv1]"]
    assert "quantization exclude: [] -> [conv1]: fixed when the engine is built" in diff.refit_reasons
    assert "quantization:\n  quantization dtype: int8 -> fp8" in format_text(diff)
    plain, _ = check_text("netdsl: 1\n" + LAYERS)
    assert compare(plain, new).quantization == ["quantization added: fp8, scales (none), excluding [conv1]"]
    assert compare(new, plain).quantization == ["quantization removed"]
    assert compare(new, new).identical
