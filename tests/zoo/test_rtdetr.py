"""The RT-DETR zoo specs (specs/zoo/rtdetr-l.yaml, rtdetr-x.yaml) against ultralytics 8.4.190 itself: models
built from the YAML configs it ships (no download), random weights and batch-norm statistics. Parameter
counts, state_dict names under --strict, the reference executor's `output0` against the model's eval
output, TensorRT-RTX's shapes and build, and `netdsl import` of ultralytics' own ONNX export."""

import pathlib
import re
import sys

import numpy as np
import pytest

from netdsl import reference, summary
from netdsl.spec import load
from netdsl.weights import read_weights
from netdsl.weights.bind import bind
from netdsl.weights.from_torch import export_weights
from yolo_oracle import same_order, ultralytics_module

torch = pytest.importorskip("torch")
tasks = ultralytics_module("ultralytics.nn.tasks")  # skips the module where ultralytics is not installed
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from torch_models import randomized  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PARAMETERS = {"l": 32_970_476, "x": 67_467_852}  # the issue's figures, ultralytics' model.info()


def spec(scale: str) -> str:
    return str(ROOT / "specs" / "zoo" / f"rtdetr-{scale}.yaml")


def ultralytics_model(scale: str, seed: int = 0):
    return randomized(tasks.RTDETRDetectionModel(f"rtdetr-{scale}.yaml", verbose=False), seed)


# -- parameters, names, and the two files ---------------------------------------------------------------


@pytest.mark.parametrize("scale", "lx")
def test_parameter_count_equals_ultralytics(scale):
    """model.info()'s count, the training-only denoising_class_embed and decoder score heads 0-4 included
    (on PyTorch's meta device: shapes only)."""
    with torch.device("meta"):
        model = tasks.RTDETRDetectionModel(f"rtdetr-{scale}.yaml", verbose=False)
    assert summary.to_json(load(spec(scale)))["total_params"] == sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[scale]


def test_classes_changes_the_heads_as_ultralytics_nc_does():
    with torch.device("meta"):
        model = tasks.RTDETRDetectionModel("rtdetr-l.yaml", nc=3, verbose=False)
    checked = load(spec("l"), params={"classes": 3})
    assert summary.to_json(checked)["total_params"] == sum(p.numel() for p in model.parameters()) == 32_812_241


@pytest.mark.slow  # thop's forward on the meta device: about 5 s each
@pytest.mark.parametrize("scale", "lx")
def test_macs_match_ultralytics_gflops(scale):
    """ultralytics' GFLOPs is thop's count x 2; thop counts convolutions and matrix products as netdsl
    does, plus 4 operations per batch-norm value (as tests/zoo/test_yolo.py explains). That leaves 1.1 M
    (l) and 1.5 M (x) of 55 G and 117 G, 2e-5, which this test does not break down further (thop's
    rules for nn.MultiheadAttention and LayerNorm)."""
    from netdsl.symbolic import evaluate

    get_flops = ultralytics_module("ultralytics.utils.torch_utils").get_flops
    with torch.device("meta"):
        model = tasks.RTDETRDetectionModel(f"rtdetr-{scale}.yaml", verbose=False)
    thop = get_flops(model, 640) / 2 * 1e9
    checked = load(spec(scale))
    macs = summary.to_json(checked)["total_macs"]
    batch_norm = sum(int(np.prod([evaluate(d, {}) for d in checked.types[node.name].shape[1:]]))
                     for node in checked.graph.nodes if node.kind == "batch_norm")
    assert abs(thop - macs - 4 * batch_norm) <= 2e-5 * macs
    assert 0.99 < macs / thop < 1.0


@pytest.mark.parametrize("scale", ["l", pytest.param("x", marks=pytest.mark.slow)])
def test_an_ultralytics_state_dict_binds_strictly(tmp_path, scale):
    """Every entry of ultralytics' state_dict (batch-norm buffers included) is a weight of the spec, by
    its own name and shape, and the spec needs no other: bind --strict."""
    model = tasks.RTDETRDetectionModel(f"rtdetr-{scale}.yaml", verbose=False)
    export_weights(model, str(tmp_path / "model.safetensors"))
    checked = load(spec(scale))
    bound = bind(checked, read_weights(str(tmp_path / "model.safetensors")), "model.safetensors", strict=True)
    assert len(bound) > 0


def test_the_two_specs_share_their_blocks_word_for_word():
    """rtdetr-l.yaml and rtdetr-x.yaml differ only in their layer lists (a spec cannot include another's
    blocks, and layer names left out by `when` stay taken, so the scales are two files): the blocks and
    parameters are kept identical by this test."""
    def body(scale):
        text = pathlib.Path(spec(scale)).read_text()
        return re.sub(r"^name: .*$", "", text.split("\nlayers:\n")[0], flags=re.M)

    assert body("l") == body("x")


# -- output0 against the model ---------------------------------------------------------------------------


def float64_error(model, x) -> float:
    """PyTorch float32's own error on the boxes: its output0 against the same model in float64."""
    import copy

    double = copy.deepcopy(model).double()
    double.model[-1].shapes = []  # the anchors were cached in float32
    with torch.no_grad():
        exact = double(torch.from_numpy(x).double())[0].numpy()
        single = model(torch.from_numpy(x))[0].numpy()
    return float(np.abs(single[..., :4] - exact[..., :4]).max()), single


@pytest.mark.slow  # RT-DETR-l through numpy and PyTorch (float32 and float64): about a minute at 640x640
@pytest.mark.parametrize("batch, height, width", [(1, 640, 640), (2, 480, 640)])
def test_reference_output0_equals_ultralytics(tmp_path, batch, height, width):
    """Scores (sigmoids) within 2e-6 and classes equal, row by row; boxes (0-1) within twice PyTorch
    float32's own distance from float64 (3.5e-6 at 640x640, seed 0: six decoder layers each sample the
    value maps at points moved by the last layer's boxes, so float32 rounding grows through them for any
    float32 executor; netdsl's distance from float64 is the same size). The rows are sorted by score in
    both; near-equal scores may come in either order (same_order)."""
    model = ultralytics_model("l")
    export_weights(model, str(tmp_path / "rtdetr-l.safetensors"))
    x = np.random.default_rng(1).random((batch, 3, height, width), dtype=np.float32)
    box_tolerance, expected = float64_error(model, x)
    checked = load(spec("l"), params={"height": height, "width": width})
    bound = bind(checked, read_weights(str(tmp_path / "rtdetr-l.safetensors")), "rtdetr-l.safetensors", strict=True)
    output = reference.run(checked, bound, {"images": x})["output0"]
    assert output.shape == expected.shape == (batch, 300, 6)
    assert box_tolerance < 1e-5
    for ours, theirs in zip(output, expected):
        assert np.abs(ours[:, 4] - theirs[:, 4]).max() <= 2e-6
        assert (np.diff(ours[:, 4]) <= 0).all()
        ours, theirs = same_order(ours, theirs, 2e-6)
        assert len(theirs) > 250
        np.testing.assert_array_equal(ours[:, 5], theirs[:, 5])
        assert np.abs(ours[:, :4] - theirs[:, :4]).max() <= 2 * box_tolerance


@pytest.mark.slow  # RT-DETR-l at 320x320, batch 2, through numpy and PyTorch: about 30 s
def test_max_det_and_conf_keep_the_rows_the_predictor_keeps(tmp_path):
    """max_det 100: the first 100 rows; conf: rows scoring above it (RTDETRPredictor.postprocess keeps
    score > conf, then the first max_det) come first, each as ultralytics gives it, the rest are
    [0, 0, 0, 0, 0, -1]. conf is the median score, so that both kinds of rows occur."""
    model = ultralytics_model("l", seed=2)
    export_weights(model, str(tmp_path / "rtdetr-l.safetensors"))
    x = np.random.default_rng(3).random((2, 3, 320, 320), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x))[0].numpy()[:, :100]
    conf = float(np.round(np.median(expected[..., 4]), 3))
    checked = load(spec("l"), params={"height": 320, "width": 320, "max_det": 100, "conf": conf})
    bound = bind(checked, read_weights(str(tmp_path / "rtdetr-l.safetensors")), "rtdetr-l.safetensors", strict=True)
    output = reference.run(checked, bound, {"images": x})["output0"]
    assert output.shape == (2, 100, 6)
    for ours, theirs in zip(output, expected):
        kept = theirs[theirs[:, 4] > conf]
        count = len(kept)
        assert 0 < count < 100
        assert (ours[count:, :5] == 0).all() and (ours[count:, 5] == -1).all()
        assert np.abs(ours[:count, 4] - kept[:, 4]).max() <= 2e-6
        ours, kept = same_order(ours[:count], kept, 2e-6)
        np.testing.assert_array_equal(ours[:, 5], kept[:, 5])
        assert np.abs(ours[:, :4] - kept[:, :4]).max() <= 1e-5


# -- TensorRT-RTX ------------------------------------------------------------------------------------------


def lowered(scale, precision="float32", bound=None, **params):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import network_for
    from netdsl.spec.buildopts import BuildOptions
    from opcases import random_weights

    checked = load(spec(scale), params=params)
    bound = bound or random_weights(checked)
    _, network, ctx = network_for(checked, bound, BuildOptions(precision=precision))
    return checked, bound, network, ctx


@pytest.mark.slow  # lowering about 1000 layers: about 10 s each
@pytest.mark.parametrize("scale", "lx")
def test_tensorrt_shapes_at_every_profile_corner(scale):
    """TensorRT's own shape inference of the lowered network equals netdsl's for every tensor at the
    batch profile's min, opt and max, and output0 is [B, 300, 6] float32."""
    from netdsl.trt.dims import check_corners, corners

    checked, _, network, _ = lowered(scale, height=480, width=640)
    assert check_corners(network, checked.types, checked.graph.profiles) > network.num_layers
    output, images = network.get_output(0), network.get_input(0)
    assert (output.name, str(output.dtype).rsplit(".", 1)[-1]) == ("output0", "FLOAT")
    for where, sizes in corners(checked.graph.profiles):
        images.shape = (sizes["batch"], 3, 480, 640)
        assert tuple(output.shape) == (sizes["batch"], 300, 6), where


@pytest.mark.slow  # a TensorRT-RTX build of RT-DETR-l on the CPU
def test_tensorrt_rtx_builds_rtdetr_l():
    from netdsl import build
    from netdsl.spec.buildopts import BuildOptions
    from opcases import random_weights

    pytest.importorskip("tensorrt_rtx")
    checked = load(spec("l"))
    plan = build.build_plan(checked, random_weights(checked), BuildOptions(precision="float32"))
    record = build.manifest(plan, "rtdetr-l.plan")
    [output] = record["outputs"]
    assert (output["name"], output["dtype"], output["shape"]) == ("output0", "float32", [-1, 300, 6])
    assert record["inputs"][0]["shape"] == [-1, 3, 640, 640]
    assert plan.data.nbytes > 0.8 * PARAMETERS["l"] * 4


@pytest.mark.slow  # the TensorRT-semantics evaluator and the reference through RT-DETR-l at 320x320
def test_tensorrt_network_evaluated_matches_the_reference(tmp_path):
    """The network TensorRT is given, computed with TensorRT's layer semantics (netdsl.trt.evaluate),
    against the reference executor on ultralytics' weights, float32, batch 2: the same rows (scores within
    2e-6, classes equal, boxes within 1e-5 as above)."""
    from netdsl.trt.evaluate import Evaluator

    model = ultralytics_model("l", seed=4)
    export_weights(model, str(tmp_path / "rtdetr-l.safetensors"))
    checked = load(spec("l"), params={"height": 320, "width": 320})
    bound = bind(checked, read_weights(str(tmp_path / "rtdetr-l.safetensors")), "rtdetr-l.safetensors", strict=True)
    x = np.random.default_rng(5).random((2, 3, 320, 320), dtype=np.float32)
    expected = reference.run(checked, bound, {"images": x})["output0"]
    _, _, network, ctx = lowered("l", bound=bound, height=320, width=320)
    [output] = Evaluator(network, ctx).run({"images": x}).values()
    for ours, theirs in zip(output, expected):
        assert np.abs(ours[:, 4] - theirs[:, 4]).max() <= 2e-6
        ours, theirs = same_order(ours, theirs, 2e-6)
        np.testing.assert_array_equal(ours[:, 5], theirs[:, 5])
        assert np.abs(ours[:, :4] - theirs[:, :4]).max() <= 1e-5
