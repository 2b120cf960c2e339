"""Named dynamic dimensions, `dims:` and `profiles:`: reading them, and shapes refused for a size some
profile allows (the error names the size and the profile)."""

import pathlib

import pytest

from netdsl.spec import check_text
from netdsl.symbolic import Dim

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEADER = """netdsl: 1
inputs:
  - {name: image, shape: [batch, 3, height, width]}
"""
DIMS = """dims:
  batch: {min: 1, opt: 1, max: 4}
  height: {min: 64, opt: 128, max: 256}
  width: {min: 64, opt: 128, max: 256}
"""


def check(text):
    checked, diagnostics = check_text(text)
    return checked, [(d.code, d.message) for d in diagnostics]


def test_named_dims_and_two_profiles_are_read():
    checked, problems = check(HEADER + DIMS + """profiles:
  - {height: [64, 64, 128], width: [64, 64, 128]}
  - {height: [128, 256, 256]}
layers:
  - {name: relu, kind: relu}
""")
    assert problems == []
    assert checked.types["relu"].shape == (Dim("batch"), 3, Dim("height"), Dim("width"))
    first, second = checked.graph.profiles
    assert first.ranges == {"batch": (1, 1, 4), "height": (64, 64, 128), "width": (64, 64, 128)}
    assert second.ranges["height"] == (128, 256, 256) and second.ranges["width"] == (64, 128, 256)  # from dims


@pytest.mark.parametrize("extra, code, fragment", [
    ("dims:\n  height: {min: 64, opt: 128, max: 256}\n", "missing-key", "dimension `batch` has no range"),
    (DIMS + "  depth: {min: 1, opt: 1, max: 2}\n", "unknown-dim", "dimension `depth` is not used"),
    (DIMS + "profiles:\n  - {heigth: [64, 64, 64]}\n", "unknown-dim", "profile 0 gives `heigth`"),
    (DIMS.replace("opt: 128, max: 256}\n  width", "opt: 300, max: 256}\n  width"), "invalid-value",
     "min <= opt <= max"),
    (DIMS.replace("max: 256}\n  width", "max: 256, multiple_of: 48}\n  width"), "invalid-value",
     "multiples of 48"),
    (DIMS + "profiles: []\n", "invalid-value", "`profiles` is empty"),
])
def test_bad_dims_are_located_errors(extra, code, fragment):
    _, problems = check(HEADER + extra + "layers:\n  - {name: relu, kind: relu}\n")
    assert any(c == code and fragment in m for c, m in problems), problems


UNET_STEP = """layers:
  - {name: down, kind: max_pool, kernel: 2}
  - {name: up, kind: upsample, scale: 2}
  - {name: join, kind: concat, inputs: [up, image]}
"""


def test_odd_sizes_into_a_stride_2_encoder_decoder_concat_are_refused_with_the_size():
    _, problems = check(HEADER + DIMS + UNET_STEP)
    [(code, message)] = problems
    assert code == "shape-mismatch" and "concat layer `join`" in message
    assert "at height=65 (profile 0: height 64..256): 2*(height//2) = 64, height = 65" in message


def test_the_same_network_is_valid_where_every_allowed_size_is_even():
    text = HEADER + DIMS.replace("max: 256}\n  width", "max: 256, multiple_of: 2}\n  width") + UNET_STEP
    _, problems = check(text.replace("max: 256}\n", "max: 256, multiple_of: 2}\n"))
    assert problems == []


def test_a_reshape_that_hard_codes_a_size_is_refused_with_a_size_that_breaks_it():
    _, problems = check(HEADER + DIMS + """layers:
  - {name: conv, kind: convolution, out_channels: 4, kernel: 1}
  - {name: rows, kind: reshape, shape: [0, 4, 16384]}
""")
    [(code, message)] = problems
    assert code == "shape-mismatch" and "reshape layer `rows`" in message
    assert "4*batch*height*width elements become 65536*batch at batch=1, height=64, width=64" in message


def test_a_profile_where_a_window_no_longer_fits_is_refused():
    _, problems = check(HEADER + DIMS + "layers:\n  - {name: pool, kind: max_pool, kernel: 128}\n")
    [(code, message)] = problems
    assert "at height=64 (profile 0: height 64..256): height//128 = 0" in message


def test_kinds_that_need_static_sizes_refuse_named_dims_clearly():
    _, problems = check(HEADER + DIMS + "layers:\n  - {name: pool, kind: adaptive_avg_pool, output_size: 2}\n")
    [(code, message)] = problems
    assert "static channel and spatial sizes" in message


def test_the_minus_one_batch_still_reads_as_before():
    checked, problems = check("""netdsl: 1
inputs:
  - {name: data, shape: [-1, 3, 8, 8], batch: {min: 1, opt: 2, max: 4}}
layers:
  - {name: relu, kind: relu}
""")
    assert problems == [] and str(checked.types["relu"].shape[0]) == "N"
    assert checked.graph.profiles[0].ranges == {"N": (1, 2, 4)}


@pytest.mark.parametrize("name", ["unet_dynamic", "detector_dynamic"])
def test_shipped_dynamic_specs_refuse_sizes_that_are_not_multiples(name):
    text = (ROOT / "specs" / "dynamic" / f"{name}.yaml").read_text()
    _, problems = check(text.replace("multiple_of: 4", "multiple_of: 2").replace("multiple_of: 32", "multiple_of: 8"))
    assert problems and all(c == "shape-mismatch" and "at height=" in m and "profile 0" in m for c, m in problems)


def test_dims_take_the_spec_parameters():
    """A classification variant's default 224 where detection's is 640 (specs/zoo/yolov8.yaml)."""
    text = HEADER + """params: {small: false}
dims:
  batch: {min: 1, opt: 1, max: 4}
  height: {min: 32, opt: "${224 if small else 640}", max: 1280, multiple_of: 32}
  width: {min: 32, opt: "${224 if small else 640}", max: 1280, multiple_of: 32}
layers:
  - {name: r, kind: relu}
"""
    for params, opt in (({}, 640), ({"small": True}, 224)):
        checked, diagnostics = check_text(text, params=params)
        assert checked is not None, [d.message for d in diagnostics]
        assert checked.graph.profiles[0].ranges["height"] == (32, opt, 1280)
    checked, diagnostics = check_text(text.replace("224 if small else 640", "100"))
    assert checked is None and "multiples of 32" in diagnostics[0].message
