"""The layer limit: a network of exactly MAX_LAYERS layers is read, one more is refused, and only layers
count (graph inputs, block instances and disabled layers do not). docs/security.md states the same number."""

import os
import pathlib

import pytest

from netdsl.spec import blocks, check_text

ROOT = pathlib.Path(__file__).resolve().parents[2]


def spec(layers: int, inputs: int = 1, repeat_unit: int = 10) -> str:
    """`layers` relu layers: a block of `repeat_unit` layers repeated, then the rest one by one."""
    head = ["netdsl: 1", "inputs:"]
    head += [f"  - {{name: in{i}, shape: [1, 4]}}" for i in range(inputs)]
    head += ["blocks:", "  unit:", "    layers:"]
    head += [f"      - {{name: r{i}, kind: relu}}" for i in range(repeat_unit)]
    body = ["layers:", "  - {name: sum, kind: add, inputs: [" + ", ".join(f"in{i}" for i in range(inputs)) + "]}"
            if inputs > 1 else "  - {name: first, kind: relu}"]
    remaining = layers - 1
    repeats, rest = divmod(remaining, repeat_unit)
    for start in range(0, repeats, blocks.MAX_REPEAT):
        body.append(f"  - {{name: chain{start}, block: unit, repeat: {min(blocks.MAX_REPEAT, repeats - start)}}}")
    body += [f"  - {{name: last{i}, kind: relu}}" for i in range(rest)]
    return "\n".join(head + body) + "\n"


def too_many(diagnostics) -> list:
    return [d for d in diagnostics if d.code == "too-many-layers"]


def test_documented_limit_is_accepted_and_one_more_refused():
    checked, diagnostics = check_text(spec(blocks.MAX_LAYERS))
    assert checked is not None, list(diagnostics)[:3]
    assert len(checked.graph.nodes) == blocks.MAX_LAYERS
    one_more = spec(blocks.MAX_LAYERS) + "  - {name: one_more, kind: relu}\n"
    checked, diagnostics = check_text(one_more)
    assert checked is None
    [error] = too_many(diagnostics)
    assert f"more than {blocks.MAX_LAYERS:,} layers" in error.message
    assert error.layer == "one_more" and error.pos.line == one_more.count("\n")


@pytest.mark.parametrize("inputs", [1, 3])
def test_graph_inputs_do_not_count(monkeypatch, inputs):
    monkeypatch.setattr(blocks, "MAX_LAYERS", 25)
    checked, diagnostics = check_text(spec(25, inputs=inputs, repeat_unit=4))
    assert checked is not None and len(checked.graph.nodes) == 25, list(diagnostics)[:3]
    checked, diagnostics = check_text(spec(26, inputs=inputs, repeat_unit=4))
    assert checked is None and len(too_many(diagnostics)) == 1


def test_disabled_layers_and_block_instances_do_not_count(monkeypatch):
    monkeypatch.setattr(blocks, "MAX_LAYERS", 4)
    text = """\
netdsl: 1
inputs:
  - {name: x, shape: [1, 4]}
blocks:
  pair:
    layers:
      - {name: a, kind: relu}
      - {name: off, kind: sigmoid, when: false}
      - {name: b, kind: relu}
layers:
  - {name: p, block: pair, repeat: 2}
  - {name: skipped, kind: relu, when: false}
"""
    checked, diagnostics = check_text(text)
    assert checked is not None, list(diagnostics)
    assert [n.name for n in checked.graph.nodes] == ["p.0.a", "p.0.b", "p.1.a", "p.1.b"]
    checked, diagnostics = check_text(text + "  - {name: fifth, kind: relu}\n")
    assert checked is None and too_many(diagnostics)[0].layer == "fifth"


def test_security_page_states_the_limit():
    page = (ROOT / "docs" / "security.md").read_text()
    assert f"networks of more than {blocks.MAX_LAYERS:,} layers" in " ".join(page.split())


# -- the bound on every tensor ----------------------------------------------------------------------------

BOUND = 2**31  # docs/security.md states it; every count below is worked out by hand from the shapes

TOO_LARGE = {
    # the case: 2^62 output channels (output [1, 2^62, 8, 8])
    "huge_channels": ("inputs: [{name: x, shape: [1, 1, 8, 8]}]\nlayers:\n"
                      "  - {name: conv, kind: convolution, out_channels: 4611686018427387904, kernel: 1}\n",
                      "conv", 4, f"{2**62 * 64:,} elements"),
    # a constant of 10^10 elements
    "big_constant": ("inputs: [{name: x, shape: [1, 100000]}]\nlayers:\n"
                     "  - {name: c, kind: constant, shape: [100000, 100000], value: 1.0}\n"
                     "  - {name: a, kind: add, inputs: [x, c]}\n", "c", 4, "10,000,000,000 elements"),
    # only the weight is too large: output [1, 100000], weight [100000, 100000]
    "big_weight": ("inputs: [{name: x, shape: [1, 100000]}]\nlayers:\n"
                   "  - {name: fc, kind: fully_connected, out_features: 100000}\n", "fc", 4,
                   "its weight `weight` would be [100000, 100000] float32, 10,000,000,000 elements"),
    # small at the opt sizes, 64 * 8192 * 8192 = 2^32 elements at the profile's max
    "dynamic_at_max": ("dims: {h: {min: 32, opt: 64, max: 8192}, w: {min: 32, opt: 64, max: 8192}}\n"
                       "inputs: [{name: x, shape: [1, 16, h, w]}]\nlayers:\n"
                       "  - {name: ok, kind: relu}\n"
                       "  - {name: wide, kind: convolution, out_channels: 64, kernel: 1}\n", "wide", 6,
                       f"{2**32:,} elements (16 GiB) at h=8192, w=8192"),
    # the -1 batch at its max: output [2^20, 4096], 2^32 elements (the input has 2^30)
    "batch_at_max": ("inputs: [{name: x, shape: [-1, 1024], batch: {min: 1, opt: 1, max: 1048576}}]\nlayers:\n"
                     "  - {name: fc, kind: fully_connected, out_features: 4096}\n", "fc", 4,
                     f"{2**32:,} elements (16 GiB) at N=1048576"),
}


@pytest.mark.parametrize("name", TOO_LARGE)
def test_a_tensor_over_the_bound_is_refused_at_its_layer(name):
    body, layer, line, found = TOO_LARGE[name]
    text = "netdsl: 1\n" + body
    checked, diagnostics = check_text(text)
    assert checked is None
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert (error.code, error.layer, error.pos.line) == ("too-large", layer, line), error.message
    assert found in error.message and f"at most {BOUND:,} elements" in error.message
    assert "--max-tensor-elements" in error.hint


def test_an_input_over_the_bound_is_refused_at_its_line():
    text = "netdsl: 1\ninputs:\n  - {name: x, dtype: int64, shape: [65536, 65536]}\nlayers: [{name: r, kind: relu}]\n"
    checked, diagnostics = check_text(text)
    [error] = list(diagnostics)
    assert checked is None and (error.code, error.pos.line) == ("too-large", 3)
    assert "input `x`" in error.message and "32 GiB" in error.message  # 2^32 int64 elements


def test_the_bound_itself_is_accepted_and_one_element_more_refused():
    def constant(rows):
        return (f"netdsl: 1\ninputs: [{{name: x, shape: [1, 1]}}]\nlayers:\n"
                f"  - {{name: c, kind: constant, shape: [{rows}, 32768], value: 0.0}}\n"
                "  - {name: a, kind: add, inputs: [x, c]}\n")

    assert check_text(constant(65536))[0] is not None  # 65536 * 32768 = 2^31
    checked, diagnostics = check_text(constant(65537))
    assert checked is None and [d.code for d in diagnostics] == ["too-large"]


def test_the_bound_can_be_raised_and_lowered(monkeypatch):
    text = "netdsl: 1\n" + TOO_LARGE["big_constant"][0]
    lenet = (ROOT / "specs" / "lenet.yaml").read_text()
    monkeypatch.setenv("NETDSL_MAX_TENSOR_ELEMENTS", str(10**10))
    assert check_text(text)[0] is not None
    monkeypatch.setenv("NETDSL_MAX_TENSOR_ELEMENTS", str(64 * 6 * 28 * 28))  # conv1's output at batch 64
    assert check_text(lenet)[0] is not None
    monkeypatch.setenv("NETDSL_MAX_TENSOR_ELEMENTS", str(64 * 6 * 28 * 28 - 1))
    checked, diagnostics = check_text(lenet)
    assert checked is None and [(d.code, d.layer) for d in diagnostics] == [("too-large", "conv1")]


def netdsl(*args, env=None):
    import os
    import subprocess
    import sys

    environment = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env=environment)


@pytest.mark.parametrize("command", [["validate"], ["inspect"], ["summary"], ["reference", "--weights", "{out}/../w.npz"],
                                     ["export", "--random-weights", "-o", "{out}/x.onnx"],
                                     ["build", "--random-weights", "-o", "{out}/x.plan"]])
def test_commands_refuse_a_huge_tensor_with_one_located_line(tmp_path, command):
    spec = tmp_path / "huge.yaml"
    spec.write_text("netdsl: 1\n" + TOO_LARGE["huge_channels"][0])
    out = tmp_path / "out"
    out.mkdir()
    args = [part.format(out=out) for part in command]
    if command[0] == "reference":
        import numpy as np

        np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
        args += ["--input", str(tmp_path / "x.npy")]
    result = netdsl(*args, str(spec))
    assert result.returncode == 1, result.stderr
    text = result.stdout + result.stderr
    assert f"{spec}:4:5: error[too-large]" in text and "Traceback" not in text
    assert list(out.iterdir()) == []


def test_the_flag_raises_the_bound():
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        spec = pathlib.Path(folder) / "big.yaml"
        spec.write_text("netdsl: 1\n" + TOO_LARGE["big_constant"][0])
        assert netdsl("validate", str(spec)).returncode == 1
        assert netdsl("validate", "--max-tensor-elements", str(10**10), str(spec)).returncode == 0
        result = netdsl("validate", str(spec), env={"NETDSL_MAX_TENSOR_ELEMENTS": "lots"})
        assert result.returncode == 2 and "NETDSL_MAX_TENSOR_ELEMENTS" in result.stderr
        assert "Traceback" not in result.stderr


def test_security_page_states_the_tensor_bound():
    from netdsl import tensors

    page = " ".join((ROOT / "docs" / "security.md").read_text().split())
    assert tensors.MAX_TENSOR_ELEMENTS == BOUND
    assert "2^31 (2,147,483,648) elements" in page
    assert "--max-tensor-elements" in page and "NETDSL_MAX_TENSOR_ELEMENTS" in page


def test_the_tensor_bound_flag_lasts_one_command(monkeypatch):
    # --max-tensor-elements is read through NETDSL_MAX_TENSOR_ELEMENTS; a second main() in the same process
    # must not inherit the first one's bound
    from netdsl.cli import main
    from netdsl.tensors import MAX_TENSOR_ELEMENTS_VARIABLE

    monkeypatch.delenv(MAX_TENSOR_ELEMENTS_VARIABLE, raising=False)
    lenet = str(ROOT / "specs" / "lenet.yaml")
    assert main(["validate", lenet, "--max-tensor-elements", "1000"]) == 1
    assert MAX_TENSOR_ELEMENTS_VARIABLE not in os.environ
    assert main(["validate", lenet]) == 0
