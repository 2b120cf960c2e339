"""netdsl compare: per-layer errors of TensorRT's side against the reference executor. On this project's
machines (no GPU that TensorRT runs on) TensorRT's side is the TensorRT-semantics evaluator, and the
report must say so; the engine path (marking tensors as outputs) is written against the documented API
and not run here."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorrt_rtx")
ROOT = pathlib.Path(__file__).resolve().parent.parent


def netdsl(*args):
    return subprocess.run([sys.executable, "-m", "netdsl", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120, env=dict(os.environ))


def test_cli_prints_the_layer_table_from_the_evaluator():
    result = netdsl("compare", "specs/lenet.yaml", "--random-weights", "--fp16")
    assert result.returncode == 0, result.stderr
    assert "TensorRT-semantics evaluator vs reference executor, float16: no engine was run" in result.stdout
    for layer in ("conv1", "pool2", "fc3", "prob"):
        assert f"\n{layer} " in result.stdout
    assert "all 12 tensors within tolerance" in result.stdout


def test_cli_json_and_layer_filter():
    result = netdsl("compare", "specs/zoo/resnet18.yaml", "--random-weights", "--evaluator", "--layer", "fc",
                    "--layer", "layer1.0.add", "--format", "json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["compared"] == "evaluator" and record["first_failure"] is None
    assert [row["layer"] for row in record["rows"]] == ["layer1.0.add", "fc"]  # graph order
    assert record["rows"][1]["shape"] == [8, 1000]  # the profile's opt batch (specs/zoo/resnet18.yaml: 1, 8, 32)
    assert record["inputs"] == {"input": [8, 3, 224, 224]}
    assert record["rows"][1]["max_abs"] < 1e-4


def test_first_layer_over_tolerance_is_named(monkeypatch):
    """A wrong lowering (the pooling divisor counting padding) shows up at its layer, not only at the output."""
    from netdsl import compare
    from netdsl.ops import REGISTRY
    from netdsl.spec import check_text
    from netdsl.trt.inspect import concrete

    import tensorrt_rtx as trt

    text = ("netdsl: 1\ninputs:\n  - {name: x, shape: [1, 3, 6, 6]}\nlayers:\n"
            "  - {name: pool, kind: avg_pool, kernel: 3, stride: 1, padding: 1, count_include_pad: false}\n"
            "  - {name: act, kind: relu}\n")
    checked, _ = check_text(text)
    original = type(REGISTRY["avg_pool"]).lower

    def lower(self, node, ctx, x):
        result = original(self, node, ctx, x)
        _, layer = concrete(trt, ctx.network.get_layer(ctx.network.num_layers - 1))
        layer.average_count_excludes_padding = False
        return result

    inputs = {"x": np.random.default_rng(0).standard_normal((1, 3, 6, 6)).astype(np.float32) + 3}
    assert compare.compare(checked, {}, inputs).first_failure is None
    monkeypatch.setattr(type(REGISTRY["avg_pool"]), "lower", lower)
    result = compare.compare(checked, {}, inputs)
    assert result.first_failure.layer == "pool" and not result.rows[1].passed
    assert "first layer over tolerance: pool (avg_pool)" in compare.render(result)


def test_unknown_layer_is_a_usage_error():
    result = netdsl("compare", "specs/lenet.yaml", "--random-weights", "--layer", "nope")
    assert result.returncode == 2 and "no layer named `nope`" in result.stderr


def test_replaced_copies_a_slotted_record_with_changes():
    from netdsl.graph import Output, replaced
    from netdsl.spec import check

    checked, _ = check("specs/lenet.yaml")
    extra = Output("extra", "conv1", None)
    marked = replaced(checked, graph=replaced(checked.graph, outputs=list(checked.graph.outputs) + [extra]))
    assert [o.name for o in marked.graph.outputs] == ["prob", "extra"]
    assert [o.name for o in checked.graph.outputs] == ["prob"] and marked.types is checked.types
    with pytest.raises(TypeError):
        replaced(checked, nothing=1)


DYNAMIC = """\
netdsl: 1
inputs:
  - {name: image, shape: [batch, 3, height, width]}
dims:
  batch: {min: 1, opt: 2, max: 4}
  height: {min: 8, opt: 16, max: 64, multiple_of: 8}
  width: {min: 8, opt: 24, max: 64, multiple_of: 8}
layers:
  - {name: conv, kind: convolution, out_channels: 2, kernel: 3, padding: 1}
  - {name: act, kind: relu}
"""


@pytest.mark.parametrize("args,shape", [
    ((), [1, 1, 32, 32]),  # specs/lenet.yaml's batch: min 1, opt 1, max 64; it used to run at 64
    (("--batch", "3"), [3, 1, 32, 32]),
    (("--shapes", "N=2"), [2, 1, 32, 32]),
    (("--shapes", "data:5x1x32x32"), [5, 1, 32, 32]),  # trtexec's spelling
])
def test_random_inputs_take_the_opt_batch_or_the_given_one(args, shape):
    result = netdsl("compare", "specs/lenet.yaml", "--random-weights", "--evaluator", *args)
    assert result.returncode == 0, result.stderr
    assert f"\ninputs: data [{', '.join(map(str, shape))}]\n" in result.stdout  # the header says what ran
    assert re.search(rf"\nprob +softmax +\[{shape[0]}, 10\] ", result.stdout)
    result = netdsl("compare", "specs/lenet.yaml", "--random-weights", "--evaluator", "--format", "json", *args)
    record = json.loads(result.stdout)
    assert record["inputs"] == {"data": shape} and record["rows"][-1]["shape"] == [shape[0], 10]


@pytest.mark.parametrize("args,shape", [
    ((), [2, 3, 16, 24]),  # every named dimension at its opt
    (("--shapes", "height=32,batch=1"), [1, 3, 32, 24]),
    (("--shapes", "image:4x3x8x40"), [4, 3, 8, 40]),
])
def test_named_dimensions_take_the_profiles_opt_or_the_given_sizes(tmp_path, args, shape):
    spec = tmp_path / "dynamic.yaml"
    spec.write_text(DYNAMIC)
    result = netdsl("compare", str(spec), "--random-weights", "--evaluator", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["inputs"] == {"image": shape} and record["rows"][-1]["shape"] == [shape[0], 2, *shape[2:]]
    result = netdsl("compare", str(spec), "--random-weights", "--evaluator", "--batch", "2")
    assert result.returncode == 2 and "has no -1 batch; its dynamic sizes are named: --shapes batch=SIZE" \
        in result.stderr


@pytest.mark.parametrize("args,says", [
    (("--batch", "65"), "input `data` has batch 65, outside the range 1..64"),
    (("--batch", "0"), "--batch 0: the batch must be at least 1"),
    (("--batch", "2", "--shapes", "N=3"), "--batch 2: --shapes gives the batch 3"),
    (("--shapes", "height=3"), "--shapes height=3: `height` is not a dynamic dimension of specs/lenet.yaml; its "
                               "dynamic dimensions are N"),
    (("--shapes", "N=two"), "--shapes N=two: the size must be a positive integer"),
    (("--shapes", "data:2x3x32x32"), "only its named dimensions can vary"),
    (("--input", "x.npy", "--batch", "2"), "--batch and --shapes size random inputs; --input's arrays have their "
                                           "own sizes"),
])
def test_sizes_that_cannot_run_are_usage_errors(args, says):
    result = netdsl("compare", "specs/lenet.yaml", "--random-weights", "--evaluator", *args)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
