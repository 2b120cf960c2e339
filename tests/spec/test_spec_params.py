"""The spec's own `params:` (values, tables, `${...}` expressions), `--set`, and `m.*` references: what
lets one spec cover a model family (YOLO's n/s/m/l/x scales) without editing it."""

import json
import math
import textwrap

import pytest

from netdsl.cli import main
from netdsl.spec import check_text
from netdsl.spec.expressions import ExpressionError, evaluate

HEAD = """\
netdsl: 1
inputs:
  - {name: data, shape: [1, 3, 16, 16]}
"""

FAMILY = HEAD + """\
params:
  scale: n
  depth: {by: scale, n: 0.33, m: 0.67}
  width: {by: scale, n: 0.25, m: 0.75}
  c64: ${ceil(min(64, 1024) * width / 8) * 8}
  n3: ${max(round(3 * depth), 1)}
blocks:
  unit:
    params: {c: required, shortcut: true}
    layers:
      - {name: cv1, kind: convolution, out_channels: $c, kernel: 3, padding: 1}
      - {name: add, kind: add, inputs: [cv1, input], when: $shortcut}
  c2f:
    params: {c2: required, n: 1, e: 0.5, c: "${int(c2 * e)}"}
    layers:
      - {name: cv1, kind: convolution, out_channels: "${2 * c}", kernel: 1}
      - {name: split, kind: chunk, chunks: 2, dim: 1}
      - {name: m, block: unit, inputs: split.1, repeat: $n, with: {c: $c}}
      - {name: cat, kind: concat, inputs: [split.0, split.1, m.*], axis: 1}
      - {name: cv2, kind: convolution, out_channels: $c2, kernel: 1}
layers:
  - {name: model.0, kind: convolution, out_channels: $c64, kernel: 3, padding: 1}
  - {name: model.1, block: c2f, with: {c2: $c64, n: $n3}}
"""


def checked(text: str, params=None):
    result, diagnostics = check_text(textwrap.dedent(text), params=params)
    assert result is not None, [f"{d.pos}: {d.code}: {d.message}" for d in diagnostics]
    return result


def errors(text: str, params=None):
    result, diagnostics = check_text(textwrap.dedent(text), params=params)
    assert result is None
    return [(d.code, d.message, d.pos.line) for d in diagnostics if d.severity == "error"]


def test_tables_and_expressions_follow_ultralytics_scaling():
    # ultralytics: c2 = make_divisible(min(c2, max_channels) * width, 8); n = max(round(n * depth), 1)
    def make_divisible(x, d):
        return math.ceil(x / d) * d

    for scale, depth, width in (("n", 0.33, 0.25), ("m", 0.67, 0.75)):
        result = checked(FAMILY, {"scale": scale})
        channels, repeats = make_divisible(64 * width, 8), max(round(3 * depth), 1)
        assert result.types["model.1.cv2"].shape == (1, channels, 16, 16)
        assert [n.name for n in result.graph.nodes if n.name.endswith(".cv1") and ".m." in n.name] == [
            f"model.1.m.{i}.cv1" for i in range(repeats)]
        assert result.graph.params["c64"] == channels and result.graph.params["scale"] == scale


def test_star_lists_every_repetition_in_order():
    result = checked(FAMILY, {"scale": "m"})  # n3 = 2
    assert result.graph.node("model.1.cat").inputs == [
        "model.1.split.0", "model.1.split.1", "model.1.m.0.add", "model.1.m.1.add"]
    c = result.graph.params["c64"] // 2
    assert result.types["model.1.cat"].shape[1] == 4 * c


def test_block_defaults_may_be_expressions_over_the_arguments():
    result = checked(FAMILY)
    c64 = result.graph.params["c64"]
    assert result.types["model.1.cv1"].shape[1] == 2 * int(c64 * 0.5)


def test_a_set_that_picks_no_table_entry_is_one_located_error():
    found = errors(FAMILY, {"scale": "q"})
    assert len(found) == 1, found
    code, message, line = found[0]
    assert code == "invalid-value" and "'q'" in message and "entries: n, m" in message and line == 5


def test_set_of_an_unknown_parameter_is_refused_naming_the_known_ones():
    found = errors(FAMILY, {"scael": "m"})
    assert any(code == "unknown-param" and "scael" in message and "scale" in message for code, message, _ in found)


def test_unknown_parameter_in_a_layer_is_located():
    found = errors(HEAD + "layers:\n  - {name: c, kind: convolution, out_channels: $channels, kernel: 1}\n")
    assert found and found[0][0] == "unknown-param" and "`$channels`" in found[0][1] and found[0][2] == 5


@pytest.mark.parametrize("expression, names, expected", [
    ("ceil(min(256, max_channels) * width / 8) * 8", {"max_channels": 512, "width": 1.25}, 320),
    ("max(round(9 * depth), 1)", {"depth": 0.33}, 3),  # 2.97 rounds to 3, as Python's round does
    ("round(2.5)", {}, 2),  # Python's round: half to even (ultralytics uses it)
    ("int(c2 * 0.5)", {"c2": 63}, 31),
    ("$a // 2 + a % 3", {"a": 7}, 4),
    ("'c3k' if c3k else 'bottleneck'", {"c3k": False}, "bottleneck"),
    ("scale in ['m', 'l', 'x'] and not flag", {"scale": "l", "flag": False}, True),
    ("1 < x <= 3", {"x": 3}, True),
    ("-x ** 2", {"x": 3}, -9),
    ("'yolov8' + scale + '.scales'", {"scale": "s"}, "yolov8s.scales"),
])
def test_expressions_compute_as_python_does(expression, names, expected):
    assert evaluate(expression, names) == expected
    assert evaluate(expression, names) == eval(expression.replace("$", ""), {"ceil": math.ceil, "__builtins__": {
        "min": min, "max": max, "round": round, "int": int}}, dict(names))


@pytest.mark.parametrize("expression, fragment", [
    ("__import__('os')", "not a function"),
    ("x.__class__", "cannot be written"),
    ("[i for i in range(9)]", "cannot be written"),
    ("open('f')", "not a function"),
    ("2 ** 1000", "exponent"),
    ("10 ** 16", "out of range"),
    ("1 / 0", "division by zero"),
    ("y + 1", "`y` is not a parameter"),
    ("1 +", "not an expression"),
    ("'a' * 3", "not a number"),
    ("'a' + 3", "not a number"),
    ("x" * 1001, "at most 1000"),
])
def test_expressions_refuse_what_they_cannot_do(expression, fragment):
    with pytest.raises(ExpressionError, match=None) as raised:
        evaluate(expression, {"x": 1})
    assert fragment in str(raised.value)


def test_expression_errors_in_layers_are_located():
    found = errors(HEAD + "layers:\n  - {name: c, kind: convolution, out_channels: \"${4 / 0}\", kernel: 1}\n")
    assert found == [("invalid-value", "division by zero (in the spec)", 5)]


def test_block_chosen_by_a_parameter_and_when_by_an_expression():
    result = checked(HEAD + """\
params: {deep: true}
blocks:
  one:
    params: {c: 4}
    layers: [{name: conv, kind: convolution, out_channels: $c, kernel: 1}]
  two:
    params: {c: 4}
    layers:
      - {name: conv, kind: convolution, out_channels: $c, kernel: 1}
      - {name: conv2, kind: convolution, out_channels: $c, kernel: 1}
layers:
  - {name: m, block: "${'two' if deep else 'one'}", repeat: 2}
  - {name: act, kind: relu, when: "${not deep}"}
""")
    assert [n.name for n in result.graph.nodes] == ["m.0.conv", "m.0.conv2", "m.1.conv", "m.1.conv2"]


def test_star_of_a_layer_that_is_not_repeated_is_an_error():
    found = errors(HEAD + """\
layers:
  - {name: a, kind: relu}
  - {name: cat, kind: concat, inputs: [a, a.*], axis: 1}
""")
    assert found and found[0][0] == "unknown-input" and "`a.*`" in found[0][1]


def test_cli_set_reaches_the_spec(tmp_path, capsys):
    spec = tmp_path / "family.yaml"
    spec.write_text(FAMILY)
    assert main(["summary", str(spec), "--set", "scale=m", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    shapes = {row["name"]: row for row in report["layers"]} if "layers" in report else {}
    assert "model.1.m.1.cv1" in shapes
    assert main(["validate", str(spec), "--set", "scale=z"]) == 1
    assert "no entry in table `depth`" in capsys.readouterr().err
    assert main(["validate", str(spec), "--set", "scale"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


def test_set_does_not_outlive_its_command(tmp_path, capsys):
    """Commands run one after another in one process: each reads the spec with its own --set, or none."""
    spec = tmp_path / "family.yaml"
    spec.write_text(FAMILY)

    def repeats(*sets):
        argv = ["summary", str(spec), "--format", "json"] + [word for s in sets for word in ("--set", s)]
        assert main(argv) == 0
        names = [row["name"] for row in json.loads(capsys.readouterr().out)["layers"]]
        return sum(name.startswith("model.1.m.") and name.endswith(".cv1") for name in names)

    assert repeats("scale=m") == 2
    assert repeats() == 1  # the spec's own `scale: n`
    assert repeats("scale=m") == 2
    assert repeats("scale=n") == 1
    assert main(["validate", str(spec), "--set", "scale=z"]) == 1  # a failing command leaves nothing either
    assert repeats() == 1


def test_no_module_state_holds_set(tmp_path, capsys):
    """--set travels as params= through calls, never through a module-level variable."""
    import sys

    import netdsl.spec

    spec = tmp_path / "wide.yaml"
    spec.write_text(HEAD + "params: {width: 8}\nlayers:\n  - {name: c, kind: convolution, out_channels: $width, "
                    "kernel: 1}\n")
    assert main(["summary", str(spec), "--set", "width=7919"]) == 0
    assert "7919" in capsys.readouterr().out
    assert not hasattr(netdsl.spec, "use_params") and not hasattr(netdsl.spec, "_overrides")
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "netdsl":
            continue
        for attribute, value in list(vars(module).items()):
            held = value.get("width") if isinstance(value, dict) else None
            assert held != 7919, f"{name}.{attribute} holds --set width=7919 after the command"
            if isinstance(value, (list, set)):
                assert "width=7919" not in value, f"{name}.{attribute} holds --set width=7919 after the command"


def test_the_manifest_records_the_parameters_an_engine_was_built_with(tmp_path, capsys):
    pytest.importorskip("tensorrt_rtx")
    spec = tmp_path / "family.yaml"
    spec.write_text(FAMILY)
    plan = tmp_path / "family.plan"
    assert main(["build", str(spec), "--random-weights", "--set", "scale=m", "-o", str(plan)]) == 0
    recorded = json.loads((tmp_path / "family.plan.json").read_text())["spec"]["params"]
    assert recorded["scale"] == "m" and recorded["c64"] == 48 and recorded["n3"] == 2


FRAMES = HEAD.replace("inputs:\n  - {name: data, shape: [1, 3, 16, 16]}\n", "") + """\
params: {frames: false, nms: false}
inputs:
  - {name: data, shape: [1, 16, 16, 3], dtype: uint8, when: $frames}
  - {name: data, shape: [1, 3, 16, 16], when: "${not frames}"}
layers:
  - {name: nchw, kind: permute, dims: [0, 3, 1, 2], when: $frames}
  - {name: as_float, kind: cast, dtype: float32, when: $frames}
  - {name: act, kind: relu}
  - {name: top, kind: topk, k: 2, dim: 1}
outputs:
  - {name: features, from: act, when: "${not nms}"}
  - {name: best, from: top.values, when: $nms}
"""


def test_inputs_and_outputs_chosen_by_parameters():
    plain = checked(FRAMES)
    assert [(i.dtype, i.shape) for i in plain.graph.inputs] == [("float32", (1, 3, 16, 16))]
    assert [o.name for o in plain.graph.outputs] == ["features"]
    frames = checked(FRAMES, {"frames": True, "nms": True})
    assert [(i.dtype, i.shape) for i in frames.graph.inputs] == [("uint8", (1, 16, 16, 3))]
    assert [o.name for o in frames.graph.outputs] == ["best"]
    assert frames.types["act"].shape == (1, 3, 16, 16)


SIZED_INPUT = """\
netdsl: 1
params: {size: 16, channels: 3}
inputs:
  - {name: data, shape: [1, $channels, $size, "${size // 2}"]}
layers:
  - {name: act, kind: relu}
"""


def test_input_sizes_may_be_parameters():
    assert checked(SIZED_INPUT).graph.inputs[0].shape == (1, 3, 16, 8)
    assert checked(SIZED_INPUT, {"size": 32}).graph.inputs[0].shape == (1, 3, 32, 16)
    found = errors(SIZED_INPUT, {"size": 0})  # a size the parameter makes wrong: the shape's own error
    assert [code for code, _, _ in found] == ["bad-dims"]
    assert "dimension 2 must be a positive integer" in found[0][1] and "found the number 0" in found[0][1]


def test_leaving_out_every_output_is_an_error():
    text = FRAMES.replace("when: $nms}", "when: false}")
    found = errors(text, {"nms": True})
    assert ("invalid-value", "every output is left out by its `when`") in [(c, m) for c, m, _ in found]


def test_check_and_load_of_a_file_take_the_parameters(tmp_path):
    from netdsl.spec import check, load

    spec = tmp_path / "family.yaml"
    spec.write_text(textwrap.dedent(FAMILY))
    assert load(str(spec), params={"scale": "m"}).graph.params["n3"] == 2
    checked, _ = check(str(spec), params={"scale": "m"})
    assert checked.graph.params["scale"] == "m" and load(str(spec)).graph.params["scale"] == "n"


def test_quantization_section_chosen_by_a_parameter(tmp_path):
    text = HEAD + """\
params: {quantize: none}
quantization: {dtype: $quantize, when: "${quantize != 'none'}", exclude: [c1]}
layers:
  - {name: c1, kind: convolution, out_channels: 4, kernel: 1}
  - {name: c2, kind: convolution, out_channels: 4, kernel: 1}
"""
    assert checked(text).graph.quantization is None
    quantized = checked(text, {"quantize": "fp8"}).graph.quantization
    assert quantized.dtype == "fp8" and "c1" in quantized.exclude
    found = errors(text, {"quantize": "int3"})
    assert found and found[0][0] == "invalid-value" and "int3" in found[0][1]


def test_outputs_of_a_layer_left_out_pass_its_input_through():
    result = checked(HEAD + """\
params: {split: false}
layers:
  - {name: act, kind: relu}
  - {name: parts, kind: chunk, chunks: 3, dim: 1, when: $split}
  - {name: first, kind: sigmoid, inputs: parts.0}
""")
    assert result.graph.node("first").inputs == ["act"]
    assert result.types["first"].shape == (1, 3, 16, 16)


SIZED = HEAD + "params: {c: 8}\nlayers:\n  - {name: conv, kind: convolution, out_channels: $c, kernel: 1}\n"
SIXTY_DIGITS = "1" * 60


@pytest.mark.parametrize("value", [int(SIXTY_DIGITS), 10 ** 15 + 1, -(10 ** 16), math.nan, math.inf, "s" * 1001])
def test_set_values_go_through_the_bounds_of_expressions(value):
    # the same value computed by `${...}` is refused too: both paths are held to one rule
    with pytest.raises(ExpressionError):
        evaluate("x * 1", {"x": value}) if not isinstance(value, str) else evaluate("x + ''", {"x": value})
    found = errors(SIZED, {"c": value})
    assert len(found) == 1, found
    code, message, line = found[0]
    assert code == "invalid-value" and message.startswith("--set c=") and line == 4
    assert ("out of range" if not isinstance(value, str) else "too long") in message


def test_literal_parameters_are_bounded_like_expressions():
    found = errors(SIZED.replace("{c: 8}", "{c: 10000000000000000}"))
    assert found == [("invalid-value", "parameter `c`: a value is out of range (10000000000000000; the bound is "
                      "10^15 either way)", 4)]


def test_set_at_the_bound_is_accepted_and_reaches_the_tensor_bound():
    found = errors(SIZED, {"c": 10 ** 15})  # a legal parameter, but a convolution output of 256 * 10^15 elements
    assert [code for code, _, _ in found] == ["too-large"]


@pytest.mark.parametrize("text", [SIXTY_DIGITS, "9" * 5000, "nan", "-inf"])
def test_set_on_the_command_line_is_one_located_line(tmp_path, capsys, text):
    spec = tmp_path / "s.yaml"
    spec.write_text(SIZED)
    assert main(["validate", str(spec), "--set", f"c={text}"]) == 1
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert f"{spec}:4:" in output and "error[invalid-value]: --set c=" in output and "Traceback" not in output


def test_list_parameters_and_their_items():
    """kpt_shape: [17, 3] (ultralytics' YAML key), its items in expressions, replaced by --set as a list."""
    text = HEAD + textwrap.dedent("""
        params:
          kpt_shape: [17, 3]
          values: "${kpt_shape[0] * kpt_shape[-1]}"
        layers:
          - {name: c, kind: convolution, out_channels: $values, kernel: 1}
        """)
    assert checked(text).graph.node("c").params["out_channels"] == 51
    assert checked(text, params={"kpt_shape": [5, 2]}).graph.node("c").params["out_channels"] == 10
    assert checked(text).graph.params["kpt_shape"] == (17, 3)
    assert evaluate("[1, 2, 3][1]", {}) == 2
    assert evaluate("x + (['c'] if flag else [])", {"x": ("a", "b"), "flag": True}) == ("a", "b", "c")
    for expression, fragment in (("[1, 2][2]", "index 2 is outside a list of 2"),
                                 ("x[0]", "only a list takes an index"), ("[1, 2][0.5]", "whole number"),
                                 ("[1, 2][0:1]", "cannot be written")):
        with pytest.raises(ExpressionError) as raised:
            evaluate(expression, {"x": 1})
        assert fragment in str(raised.value)


def test_a_list_parameter_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(HEAD + "params:\n  shape: [2, 3]\nlayers:\n  - {name: c, kind: convolution, "
                    "out_channels: \"${shape[0] * shape[1]}\", kernel: 1}\n")
    assert main(["summary", str(path), "--set", "shape=[4, 5]", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"][0]["shape"][1] == 20
