"""Named dynamic sizes through the kinds a detector of any image size needs (a YOLO head: split and
chunk, transposes, DFL's softmax over a static axis, boxes from distances against anchor rows [2, A] and
stride rows [1, A] where A = (height//32)*(width//32), attention over A, SPPF's stride-1 pooling, nearest
upsampling, reductions, gather, cast, top-k over the cells, resizing to a size or by 1/2**k), every
unary kind, and every elementwise kind broadcasting [B, 2, A] against [2, A], [1, A] and [B, 2, A].

Each case is a small spec with a dynamic batch, height and width and two optimization profiles:
- TensorRT-RTX's own shape inference at each profile's min, opt and max gives every tensor the shape
  netdsl's symbolic shape evaluates to there (netdsl.trt.dims.check_corners);
- the lowered network evaluated with TensorRT's documented layer semantics (netdsl.trt.evaluate, which
  shares no op code with the reference) equals the reference executor at one size in each profile;
- the reference executor equals PyTorch at those sizes.
Kinds that cannot take a named size refuse it with a located diagnostic naming it.

Tolerances: float32 on every side; the case's own where it has one (tests/opcases), else 1e-5 relative
to the largest |expected| (at least 1): the differences are summation order (softmax, matmul over at
most 20 terms, means) and float32 rounding of the same operations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from netdsl import reference
from netdsl.spec import check_text
from opcases import Case as OpCase, all_cases, random_weights

torch = pytest.importorskip("torch")
F = torch.nn.functional

# sizes that are multiples of 32 (a stride-32 detector), and sizes of every value (resizing to a size)
DIMS = {
    "strided": ({"height": [32, 64, 128, 32], "width": [32, 96, 160, 32]},
                [{"height": [32, 32, 64], "width": [32, 64, 96]}, {"height": [64, 128, 128], "width": [64, 96, 160]}],
                [(1, 64, 96), (2, 128, 160)]),
    "any": ({"height": [9, 20, 40, 1], "width": [7, 16, 33, 1]},
            [{"height": [9, 12, 20], "width": [7, 10, 16]}, {"height": [21, 30, 40], "width": [17, 24, 33]}],
            [(1, 13, 11), (2, 37, 29)]),
}
IMAGE = {"x": (["batch", 8, "height", "width"], "float32")}
ANCHOR_GRID = {**IMAGE, "grid": ([1, 2, "height", "width"], "float32")}


@dataclass
class DynamicCase:
    name: str
    layers: str  # YAML list items (the `layers:` section)
    torch: Callable  # {input name: tensor} -> the output tensor, or a tuple of them
    inputs: dict = field(default_factory=lambda: dict(IMAGE))  # name -> (shape, dtype)
    dims: str = "strided"
    low: float | None = None  # float inputs uniform in [low, high] instead of N(0, 1)
    high: float | None = None
    atol: float = 1e-5
    trt: bool = True
    outputs: list | None = None  # default: the last layer's

    def spec(self) -> str:
        ranges, profiles, _ = DIMS[self.dims]
        dims = {"batch": {"min": 1, "opt": 2, "max": 3}}
        for name, (low, opt, high, step) in ranges.items():
            dims[name] = {"min": low, "opt": opt, "max": high, **({"multiple_of": step} if step > 1 else {})}
        inputs = [{"name": n, "shape": shape, "dtype": dtype} for n, (shape, dtype) in self.inputs.items()]
        outputs = f"outputs: {json.dumps(self.outputs)}\n" if self.outputs else ""
        return (f"netdsl: 1\ninputs: {json.dumps(inputs)}\ndims: {json.dumps(dims)}\nprofiles: {json.dumps(profiles)}\n"
                f"layers:\n{self.layers.strip(chr(10))}\n{outputs}")

    def arrays(self, sizes: dict, seed: int) -> dict:
        rng = np.random.default_rng(seed)
        result = {}
        for name, (shape, dtype) in self.inputs.items():
            concrete = [sizes[d] if isinstance(d, str) else d for d in shape]
            if dtype == "bool":
                result[name] = rng.random(concrete) < 0.5
            elif dtype.startswith(("int", "uint")):
                result[name] = rng.integers(0 if dtype == "uint8" else -5, 6, concrete).astype(dtype)
            elif self.low is not None:
                result[name] = rng.uniform(self.low, self.high, concrete).astype(np.float32)
            else:
                result[name] = rng.standard_normal(concrete).astype(np.float32)
        return result


def cells(t):  # the stride-32 cells of x, one column each: [B, 8, (height//32)*(width//32)]
    return F.max_pool2d(t["x"], 32).flatten(2)


def anchors(t):  # [2, A]
    return F.max_pool2d(t["grid"], 32).reshape(2, -1)


CELLS = """
  - {name: cells, kind: max_pool, kernel: 32, inputs: [x]}
  - {name: flat, kind: flatten, start_dim: 2}
"""
ANCHORS = """
  - {name: grid_cells, kind: max_pool, kernel: 32, inputs: [grid]}
  - {name: anchors, kind: reshape, shape: [2, -1]}
"""


def dist2bbox(t):
    left, right = cells(t)[:, :4].chunk(2, 1)
    a = anchors(t)
    top_left, bottom_right = a - left, a + right
    return torch.cat([top_left + bottom_right, bottom_right - top_left], 1) * a[1:2]


def attention(t):
    q = cells(t).reshape(t["x"].shape[0], 2, 4, -1)
    weights = (q.transpose(-2, -1) @ q).softmax(-1)
    return q @ weights.transpose(-2, -1)


def sppf(t):
    x = t["x"]
    p1 = F.max_pool2d(x, 5, 1, 2)
    p2 = F.max_pool2d(p1, 5, 1, 2)
    return torch.cat([x, p1, p2, F.max_pool2d(p2, 5, 1, 2)], 1)


YOLO = [
    DynamicCase("chunk", CELLS + """
  - {name: halves, kind: chunk, chunks: 2, dim: 1}
  - {name: out, kind: mul, inputs: [halves.0, halves.1]}""", lambda t: torch.mul(*cells(t).chunk(2, 1))),
    DynamicCase("split-concat-static-axis", CELLS + """
  - {name: parts, kind: split, split_size_or_sections: [2, 6], dim: 1}
  - {name: out, kind: concat, inputs: [parts.1, parts.0], axis: 1}""",
                lambda t: torch.cat(cells(t).split([2, 6], 1)[::-1], 1)),
    DynamicCase("chunk-concat-dynamic-axis", """
  - {name: halves, kind: chunk, chunks: 2, dim: 1, inputs: [x]}
  - {name: out, kind: concat, inputs: [halves.0, halves.1], axis: 3}""", lambda t: torch.cat(t["x"].chunk(2, 1), 3)),
    DynamicCase("concat-levels-dynamic-axis", CELLS + """
  - {name: fine, kind: max_pool, kernel: 16, inputs: [x]}
  - {name: fine_flat, kind: flatten, start_dim: 2}
  - {name: out, kind: concat, inputs: [flat, fine_flat], axis: 2}""",
                lambda t: torch.cat([cells(t), F.max_pool2d(t["x"], 16).flatten(2)], 2)),
    DynamicCase("slice-static-axis", """
  - {name: out, kind: slice, dim: 1, start: 1, end: 7, step: 2, inputs: [x]}""", lambda t: t["x"][:, 1:7:2]),
    DynamicCase("transpose", CELLS + """
  - {name: out, kind: transpose, dim0: 1, dim1: 2}""", lambda t: cells(t).transpose(1, 2)),
    DynamicCase("permute", """
  - {name: out, kind: permute, dims: [0, 2, 3, 1], inputs: [x]}""", lambda t: t["x"].permute(0, 2, 3, 1)),
    DynamicCase("dfl-softmax", CELLS + """
  - {name: bins, kind: reshape, shape: [0, 2, 4, -1]}
  - {name: by_bin, kind: transpose, dim0: 1, dim1: 2}
  - {name: out, kind: softmax, axis: 1}""",
                lambda t: cells(t).reshape(t["x"].shape[0], 2, 4, -1).transpose(1, 2).softmax(1)),
    DynamicCase("log_softmax", CELLS + """
  - {name: out, kind: log_softmax, axis: 1}""", lambda t: cells(t).log_softmax(1)),
    DynamicCase("softmax-over-cells", CELLS + """
  - {name: out, kind: softmax, axis: 2}""", lambda t: cells(t).softmax(2)),
    DynamicCase("sigmoid", CELLS + """
  - {name: out, kind: sigmoid}""", lambda t: cells(t).sigmoid()),
    DynamicCase("dist2bbox", CELLS + ANCHORS + """
  - {name: distances, kind: slice, inputs: [flat], dim: 1, start: 0, end: 4}
  - {name: sides, kind: chunk, chunks: 2, dim: 1}
  - {name: top_left, kind: sub, inputs: [anchors, sides.0]}
  - {name: bottom_right, kind: add, inputs: [anchors, sides.1]}
  - {name: centre, kind: add, inputs: [top_left, bottom_right]}
  - {name: size, kind: sub, inputs: [bottom_right, top_left]}
  - {name: box, kind: concat, inputs: [centre, size], axis: 1}
  - {name: strides, kind: slice, inputs: [anchors], dim: 0, start: 1, end: 2}
  - {name: out, kind: mul, inputs: [box, strides]}""", dist2bbox, inputs=dict(ANCHOR_GRID)),
    DynamicCase("attention", CELLS + """
  - {name: q, kind: reshape, shape: [0, 2, 4, -1]}
  - {name: scores, kind: matmul, inputs: [q, q], transpose_a: true}
  - {name: weights, kind: softmax, axis: -1}
  - {name: out, kind: matmul, inputs: [q, weights], transpose_b: true}""", attention),
    DynamicCase("reduce_sum", CELLS + """
  - {name: out, kind: reduce_sum, dim: 1, keepdim: true}""", lambda t: cells(t).sum(1, keepdim=True)),
    DynamicCase("reduce_max", CELLS + """
  - {name: out, kind: reduce_max, dim: [1]}""", lambda t: cells(t).amax(1)),
    DynamicCase("reduce_mean", """
  - {name: out, kind: reduce_mean, dim: [1, 0]}""", lambda t: t["x"].mean((1, 0))),
    DynamicCase("reduce_min-over-cells", CELLS + """
  - {name: out, kind: reduce_min, dim: 2}""", lambda t: cells(t).amin(2)),
    DynamicCase("sppf", """
  - {name: p1, kind: max_pool, kernel: 5, stride: 1, padding: 2, inputs: [x]}
  - {name: p2, kind: max_pool, kernel: 5, stride: 1, padding: 2}
  - {name: p3, kind: max_pool, kernel: 5, stride: 1, padding: 2}
  - {name: out, kind: concat, inputs: [x, p1, p2, p3], axis: 1}""", sppf),
    DynamicCase("max_pool-dilated", """
  - {name: out, kind: max_pool, kernel: 3, stride: 2, padding: 1, dilation: 2, inputs: [x]}""",
                lambda t: F.max_pool2d(t["x"], 3, 2, 1, dilation=2), dims="any"),
    DynamicCase("upsample-nearest", """
  - {name: coarse, kind: max_pool, kernel: 2, inputs: [x]}
  - {name: up, kind: upsample, scale: 2, mode: nearest}
  - {name: out, kind: concat, inputs: [up, x], axis: 1}""",
                lambda t: torch.cat([F.interpolate(F.max_pool2d(t["x"], 2), scale_factor=2.0), t["x"]], 1)),
    DynamicCase("gather", CELLS + """
  - {name: out, kind: gather, dim: 1, index: [0, 3, 5]}""", lambda t: cells(t)[:, [0, 3, 5]]),
    DynamicCase("gather-one", CELLS + """
  - {name: out, kind: gather, dim: 1, index: 2}""", lambda t: cells(t)[:, 2]),
    # along the named axis itself (BERT's first token, x[:, 0]): indices every allowed size holds
    DynamicCase("gather-named-axis", CELLS + """
  - {name: out, kind: gather, dim: 2, index: [0, 0]}""", lambda t: cells(t)[:, :, [0, 0]]),
    # the reference keeps float16 values in float32 without rounding them: float16's half unit, 2^-11
    DynamicCase("cast-float16", CELLS + """
  - {name: out, kind: cast, dtype: float16}""", lambda t: cells(t).half(), atol=2 ** -11),
    DynamicCase("cast-int32", CELLS + """
  - {name: scaled, kind: mul, inputs: [flat, flat]}
  - {name: out, kind: cast, dtype: int32}""", lambda t: (cells(t) * cells(t)).int()),
    DynamicCase("argmax", CELLS + """
  - {name: out, kind: argmax, dim: 1}""", lambda t: cells(t).argmax(1)),
    DynamicCase("topk-over-pixels", """
  - {name: rows, kind: reshape, inputs: [x], shape: [0, 8, -1]}
  - {name: best, kind: topk, k: 5, dim: 2}""", lambda t: tuple(t["x"].flatten(2).topk(5, 2))),
    # a composite (not_equal) whose inputs' heights, (height+3)//4 and height//4, agree only because every
    # allowed height is a multiple of 32: its expansion compares them again in the reference and the lowering
    DynamicCase("composite-on-sizes-equal-over-the-profiles", """
  - {name: twice, kind: max_pool, kernel: 3, stride: 2, padding: 1, inputs: [x]}
  - {name: fourth, kind: max_pool, kernel: 3, stride: 2, padding: 1}
  - {name: quarter, kind: max_pool, kernel: 4, inputs: [x]}
  - {name: out, kind: not_equal, inputs: [fourth, quarter]}""",
                lambda t: F.max_pool2d(F.max_pool2d(t["x"], 3, 2, 1), 3, 2, 1) != F.max_pool2d(t["x"], 4)),
    DynamicCase("interpolate-size-nearest", """
  - {name: out, kind: interpolate, size: [12, 20], mode: nearest, inputs: [x]}""",
                lambda t: F.interpolate(t["x"], size=(12, 20), mode="nearest"), dims="any"),
    DynamicCase("interpolate-size-bilinear", """
  - {name: out, kind: interpolate, size: [25, 6], mode: bilinear, inputs: [x]}""",
                lambda t: F.interpolate(t["x"], size=(25, 6), mode="bilinear"), dims="any"),
    DynamicCase("upsample-size-bicubic-corners", """
  - {name: out, kind: upsample, size: 16, mode: bicubic, align_corners: true, inputs: [x]}""",
                lambda t: F.interpolate(t["x"], size=(16, 16), mode="bicubic", align_corners=True), dims="any"),
    DynamicCase("interpolate-half-bilinear", """
  - {name: out, kind: interpolate, scale_factor: 0.5, mode: bilinear, inputs: [x]}""",
                lambda t: F.interpolate(t["x"], scale_factor=0.5, mode="bilinear")),
    DynamicCase("interpolate-quarter-nearest", """
  - {name: out, kind: interpolate, scale_factor: [0.25, 0.5], inputs: [x]}""",
                lambda t: F.interpolate(t["x"], scale_factor=(0.25, 0.5))),
]


def first_cases(wanted) -> dict:
    """The first op case of each kind that ``wanted(case)`` accepts (tests/opcases: their PyTorch oracles)."""
    found = {}
    for case in all_cases():
        if case.error is None and case.torch is not None and not any(isinstance(i, np.ndarray) for i in case.inputs) \
                and case.kind not in found and wanted(case):
            found[case.kind] = case
    return found


def module_of(kind: str) -> str:
    from netdsl.ops import kind_index

    return kind_index()[kind]


def one_input(case) -> bool:
    return len(case.input_specs()) == 1 and not case.oracle_wants_weights()


def unary_case(kind, case) -> DynamicCase:
    """``kind`` on the cells [B, 8, A] (float32), or on the pixels as rows [B, 8, height*width] (other dtypes:
    max pooling takes floats only)."""
    [(_, dtype)] = case.input_specs()
    layer = f"  - {json.dumps({'name': 'out', 'kind': kind, **case.params})}"
    if dtype == "float32":
        return DynamicCase(f"unary-{kind}", CELLS + layer, lambda t, f=case.torch: f(cells(t)), low=case.low,
                           high=case.high, atol=case.atol, trt=case.trt)
    return DynamicCase(f"unary-{kind}", "  - {name: rows, kind: reshape, inputs: [x], shape: [0, 8, -1]}\n" + layer,
                       lambda t, f=case.torch: f(t["x"].flatten(2)), inputs={"x": (IMAGE["x"][0], dtype)},
                       low=case.low, high=case.high, atol=case.atol, trt=case.trt)


UNARY_MODULES = ("unary", "activations", "activations_smooth", "activations_piecewise")
UNARY = [unary_case(kind, case) for kind, case in first_cases(
    lambda c: module_of(c.kind) in UNARY_MODULES and one_input(c)).items()]

BROADCAST = """
  - {name: rows, kind: reshape, inputs: [a], shape: [0, 2, -1]}
  - {name: anchor_rows, kind: reshape, inputs: [b], shape: [2, -1]}
  - {name: one_row, kind: reshape, inputs: [c], shape: [1, -1]}
  - {name: other_rows, kind: reshape, inputs: [d], shape: [0, 2, -1]}
  - {name: with_anchors, kind: %(kind)s, inputs: [rows, anchor_rows]%(params)s}
  - {name: with_row, kind: %(kind)s, inputs: [rows, one_row]%(params)s}
  - {name: same_shape, kind: %(kind)s, inputs: [rows, other_rows]%(params)s}
"""


def broadcast_case(kind, case) -> DynamicCase:
    (_, first), (_, second) = case.input_specs()
    params = "".join(f", {k}: {json.dumps(v)}" for k, v in case.params.items())
    inputs = {"a": (["batch", 2, "height", "width"], first), "b": ([1, 2, "height", "width"], second),
              "c": ([1, 1, "height", "width"], second), "d": (["batch", 2, "height", "width"], second)}

    def oracle(t, f=case.torch):
        rows = t["a"].flatten(2)
        return f(rows, t["b"].reshape(2, -1)), f(rows, t["c"].reshape(1, -1)), f(rows, t["d"].flatten(2))

    return DynamicCase(f"broadcast-{kind}", BROADCAST % {"kind": kind, "params": params}, oracle, inputs=inputs,
                       dims="any", low=case.low, high=case.high, atol=case.atol, trt=case.trt,
                       outputs=["with_anchors", "with_row", "same_shape"])


ELEMENTWISE = [broadcast_case(kind, case) for kind, case in first_cases(
    lambda c: module_of(c.kind) in ("elementwise", "unary") and len(c.input_specs()) == 2).items()] + [
    broadcast_case("max", OpCase("max", inputs=[(1,), (1,)], torch=torch.maximum))]  # its cases take 3 inputs
CASES = YOLO + UNARY + ELEMENTWISE


def checked_case(case: DynamicCase):
    checked, diagnostics = check_text(case.spec(), f"{case.name}.yaml")
    assert checked is not None, [str(d) for d in diagnostics]
    return checked


def sizes_of(case) -> list[dict]:
    return [dict(zip(("batch", "height", "width"), s)) for s in DIMS[case.dims][2]]


def as_list(value) -> list:
    return list(value) if isinstance(value, tuple) else [value]


def assert_close(got, expected, atol, what):
    assert got.shape == expected.shape, (what, got.shape, expected.shape)
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected.astype(got.dtype), err_msg=what)
        return
    scale = max(1.0, float(np.abs(expected).max()))
    error = float(np.abs(got.astype(np.float32) - expected.astype(np.float32)).max()) / scale
    assert error <= atol, f"{what}: relative error {error:.3g}"


IDS = [case.name for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_reference_equals_pytorch_at_a_size_in_each_profile(case):
    checked = checked_case(case)
    names = [o.name for o in checked.graph.outputs]
    for index, sizes in enumerate(sizes_of(case)):
        feed = case.arrays(sizes, index)
        got = reference.run(checked, random_weights(checked), feed)
        with torch.no_grad():
            expected = as_list(case.torch({k: torch.from_numpy(v) for k, v in feed.items()}))
        for name, want in zip(names, expected):
            assert_close(got[name], want.numpy(), case.atol, f"{name} at {sizes}")


@pytest.mark.parametrize("case", [c for c in CASES if c.trt], ids=[c.name for c in CASES if c.trt])
def test_tensorrt_shapes_at_every_corner_and_values_at_a_size_in_each_profile(case):
    pytest.importorskip("tensorrt_rtx")
    from netdsl.build import network_for
    from netdsl.trt.dims import check_corners
    from netdsl.trt.evaluate import Evaluator

    checked = checked_case(case)
    bound = random_weights(checked)
    _, network, ctx = network_for(checked, bound)
    tensors = sum(1 for i in range(network.num_layers) for j in range(network.get_layer(i).num_outputs)
                  if network.get_layer(i).get_output(j).name in checked.types)
    assert check_corners(network, checked.types, checked.graph.profiles) == 6 * tensors
    for index, sizes in enumerate(sizes_of(case)):
        feed = case.arrays(sizes, index)
        expected = reference.run(checked, bound, feed)
        got = Evaluator(network, ctx).run(feed)
        for name, want in expected.items():
            assert_close(got[name], want, case.atol, f"{name} at {sizes}")


REFUSED = [  # (the layers, the last named `out`; dims; code; what the message says)
    ("  - {name: out, kind: slice, dim: 2, start: 0, end: 8, inputs: [x]}", "strided", "dynamic-shape",
     "slice cannot work on the dynamic dimension height (dimension 2)"),
    ("  - {name: out, kind: pad, pad: [1, 1], inputs: [x]}", "strided", "dynamic-shape",
     "pad cannot work on the dynamic dimension width (dimension 3)"),
    ("  - {name: out, kind: roll, shifts: 1, dims: 3, inputs: [x]}", "strided", "dynamic-shape",
     "roll cannot work on the dynamic dimension width"),
    (CELLS + "  - {name: by_cell, kind: transpose, dim0: 1, dim1: 2}\n  - {name: out, kind: batch_norm}", "strided",
     "dynamic-shape", "its weight `weight` would have the shape [(height//32)*(width//32)]"),
    (CELLS + "  - {name: out, kind: fully_connected, out_features: 4}", "strided", "dynamic-shape",
     "its weight `weight` would have the shape [4, 8*(height//32)*(width//32)]"),
    (CELLS + "  - {name: out, kind: linear, out_features: 4}", "strided", "dynamic-shape",
     "the last axis of [batch, 8, (height//32)*(width//32)] is dynamic"),
    ("  - {name: out, kind: adaptive_avg_pool, output_size: 4, inputs: [x]}", "strided", "dynamic-shape",
     "needs static channel and spatial sizes"),
    ("  - {name: out, kind: interpolate, size: 8, mode: area, inputs: [x]}", "strided", "dynamic-shape",
     "mode area (adaptive average pooling) needs static spatial sizes"),
    ("  - {name: out, kind: upsample, scale: 1.5, inputs: [x]}", "strided", "dynamic-shape",
     "scale 1.5 on the dynamic size height: only integer factors and 1/2, 1/4, ..."),
    ("  - {name: out, kind: interpolate, scale_factor: 0.5, mode: bilinear, inputs: [x]}", "any", "dynamic-shape",
     "differ where height is not a multiple of 2: at height=9 (profile 0: height 9..20): height = 9, "
     "2*(height//2) = 8"),
    (CELLS + "  - {name: out, kind: interpolate, scale_factor: 0.5, inputs: [cells]}", "strided", "dynamic-shape",
     "differ where height//32 is not a multiple of 2: at height=32"),
    (CELLS + "  - {name: out, kind: gather, dim: 2, index: 1}", "strided", "invalid-value",
     "index 1 is past the dynamic dimension (height//32)*(width//32) at height=32, width=32"),
    (CELLS + "  - {name: out, kind: gather, dim: 2, index: -1}", "strided", "dynamic-shape",
     "gather cannot work on the dynamic dimension (height//32)*(width//32)"),
    (CELLS + "  - {name: out, kind: topk, k: 2, dim: 2}", "strided", "invalid-value",
     "k 2 is larger than the dynamic axis 2 of [batch, 8, (height//32)*(width//32)] at height=32, width=32 "
     "(profile 0: height 32..64 (multiples of 32), width 32..96 (multiples of 32)): (height//32)*(width//32) = 1"),
]


@pytest.mark.parametrize("layers, dims, code, message", REFUSED, ids=[r[3][:40] for r in REFUSED])
def test_what_a_named_size_cannot_do_is_refused_at_the_layer(layers, dims, code, message):
    text = DynamicCase("refused", layers, None, dims=dims).spec()
    checked, diagnostics = check_text(text, "refused.yaml")
    assert checked is None
    [error] = [d for d in diagnostics if d.severity == "error"]
    assert error.code == code and message in error.message, (error.code, error.message)
    assert error.layer == "out" and error.pos.line == text.splitlines().index(next(
        line for line in text.splitlines() if "{name: out," in line)) + 1


@pytest.mark.parametrize("case", YOLO, ids=[c.name for c in YOLO])
def test_the_detector_pieces_build_with_two_optimization_profiles(case):
    # (about 0.2 s each on the CPU; build_plan checks the corners again and builds both profiles)
    pytest.importorskip("tensorrt_rtx")
    from netdsl import build

    checked = checked_case(case)
    plan = build.build_plan(checked, random_weights(checked), build.options_for(checked))
    assert plan.data.nbytes > 0 and len(plan.profiles) == 2
