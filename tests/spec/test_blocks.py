"""Block expansion: names, parameters, repeat/first, when, outputs and nesting."""

import textwrap

from netdsl.spec import check_text

HEAD = """\
netdsl: 1
inputs:
  - {name: data, shape: [-1, 8, 16, 16], batch: {min: 1, opt: 2, max: 4}}
"""


def checked(body: str):
    result, diagnostics = check_text(HEAD + textwrap.dedent(body))
    assert result is not None, [f"{d.pos}: {d.code}: {d.message}" for d in diagnostics]
    return result


def names(result):
    return [node.name for node in result.graph.nodes]


def test_instance_names_follow_state_dict_naming():
    result = checked("""
        blocks:
          unit:
            params: {channels: required}
            layers:
              - {name: conv, kind: convolution, out_channels: $channels, kernel: 3, padding: 1}
              - {name: relu, kind: relu}
        layers:
          - {name: stem, block: unit, with: {channels: 8}}
          - {name: stage, block: unit, repeat: 3, with: {channels: 16}}
        """)
    assert names(result) == ["stem.conv", "stem.relu"] + [
        f"stage.{i}.{n}" for i in range(3) for n in ("conv", "relu")]
    # repetitions chain: each takes the previous one's output
    assert result.graph.node("stage.1.conv").inputs == ["stage.0.relu"]
    assert result.graph.node("stage.0.conv").inputs == ["stem.relu"]


def test_first_overrides_only_the_first_repetition():
    result = checked("""
        blocks:
          down:
            params: {stride: 1}
            layers:
              - {name: conv, kind: convolution, out_channels: 8, kernel: 3, padding: 1, stride: $stride}
        layers:
          - {name: s, block: down, repeat: 3, first: {stride: 2}}
        """)
    assert [result.types[f"s.{i}.conv"].shape[2] for i in range(3)] == [8, 8, 8]
    assert [result.graph.node(f"s.{i}.conv").params["stride"] for i in range(3)] == [(2, 2), (1, 1), (1, 1)]


def test_when_false_passes_the_first_input_through():
    result = checked("""
        blocks:
          res:
            params: {project: false}
            inputs: [x]
            layers:
              - {name: conv, kind: convolution, out_channels: 8, kernel: 3, padding: 1}
              - {name: proj, kind: convolution, out_channels: 8, kernel: 1, inputs: x, when: $project}
              - {name: add, kind: add, inputs: [conv, proj]}
        layers:
          - {name: a, block: res}
          - {name: b, block: res, with: {project: true}}
        """)
    assert "a.proj" not in names(result)
    assert result.graph.node("a.add").inputs == ["a.conv", "data"]
    assert result.graph.node("b.add").inputs == ["b.conv", "b.proj"]


def test_instance_name_refers_to_the_block_output_and_inner_names_are_reachable():
    result = checked("""
        blocks:
          two:
            output: first
            layers:
              - {name: first, kind: relu}
              - {name: second, kind: sigmoid}
        layers:
          - {name: t, block: two}
          - {name: use_output, kind: tanh, inputs: t}
          - {name: use_inner, kind: tanh, inputs: t.second}
        outputs: [use_output, use_inner]
        """)
    assert result.graph.node("use_output").inputs == ["t.first"]
    assert result.graph.node("use_inner").inputs == ["t.second"]


def test_nested_blocks_pass_parameters_down():
    result = checked("""
        blocks:
          conv_bn:
            params: {channels: required, stride: 1}
            layers:
              - {name: conv, kind: convolution, out_channels: $channels, kernel: 3, padding: 1, stride: $stride, bias: false}
              - {name: bn, kind: batch_norm}
          stage:
            params: {width: required}
            layers:
              - {name: a, block: conv_bn, with: {channels: $width, stride: 2}}
              - {name: b, block: conv_bn, with: {channels: $width}}
        layers:
          - {name: s1, block: stage, with: {width: 32}}
        """)
    assert names(result) == ["s1.a.conv", "s1.a.bn", "s1.b.conv", "s1.b.bn"]
    assert result.types["s1.b.bn"].shape[1:] == (32, 8, 8)


def test_block_with_two_inputs():
    result = checked("""
        blocks:
          merge:
            inputs: [left, right]
            layers:
              - {name: cat, kind: concat, inputs: [left, right]}
        layers:
          - {name: a, kind: relu}
          - {name: m, block: merge, inputs: [a, data]}
        """)
    assert result.types["m.cat"].shape[1] == 16


def test_block_parameter_used_in_a_list_and_in_repeat():
    result = checked("""
        blocks:
          unit:
            params: {k: required}
            layers:
              - {name: pool, kind: max_pool, kernel: [$k, $k], stride: 1}
          many:
            params: {n: required}
            layers:
              - {name: u, block: unit, repeat: $n, with: {k: 2}}
        layers:
          - {name: m, block: many, with: {n: 3}}
        """)
    assert result.types["m.u.2.pool"].shape[2:] == (13, 13)


def test_errors_inside_a_block_point_at_the_block_and_the_instance():
    _, diagnostics = check_text(HEAD + textwrap.dedent("""
        blocks:
          unit:
            params: {channels: required}
            layers:
              - {name: conv, kind: convolution, out_channels: $channels, kernel: 99}
        layers:
          - {name: u, block: unit, with: {channels: 4}}
        """))
    [error] = diagnostics
    assert error.code == "shape-mismatch" and error.layer == "u.conv"
    assert error.pos.line == 9  # the kernel inside the block definition
    assert [note.pos.line for note in error.notes] == [11]  # where the block was instantiated


def test_a_mistake_in_a_block_used_many_times_is_reported_once():
    _, diagnostics = check_text(HEAD + textwrap.dedent("""
        blocks:
          unit:
            layers:
              - {name: act, kind: relu, slope: 2}
        layers:
          - {name: u, block: unit, repeat: 5}
        """))
    assert [d.code for d in diagnostics] == ["unknown-param"]


def test_a_layer_left_out_frees_its_name_for_another_and_passes_only_its_first_input():
    """One model's `model.9` is SPPF or a classification head, as a parameter chooses: whichever is left out
    gives the name to the other, in either order; a layer left out never looks past its first input, so
    it may name a constant that is left out as well."""
    body = """
        layers:
          - {name: a, kind: relu, when: $wide}
          - {name: half, kind: constant, value: 0.5, when: $wide}
          - {name: b, kind: mul, inputs: [a, half], when: $wide}
          - {name: a, kind: sigmoid, inputs: data, when: "${not wide}"}
          - {name: c, kind: add, inputs: [b, a]}
        """
    for wide, kinds in ((True, ["relu", "constant", "mul", "add"]), (False, ["sigmoid", "add"])):
        result, diagnostics = check_text(HEAD + "params: {wide: %s}\n" % str(wide).lower() + textwrap.dedent(body))
        assert result is not None, [d.message for d in diagnostics]
        assert [n.kind for n in result.graph.nodes] == kinds
        assert result.graph.node("c").inputs == (["b", "a"] if wide else ["data", "a"])


def test_two_layers_that_both_run_still_may_not_share_a_name():
    result, diagnostics = check_text(HEAD + textwrap.dedent("""
        layers:
          - {name: a, kind: relu, when: "${1 > 0}"}
          - {name: a, kind: sigmoid}
        """))
    assert result is None and [d.code for d in diagnostics] == ["duplicate-name"]
