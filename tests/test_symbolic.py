"""Symbolic sizes: canonical forms, evaluation equal to Python's integer arithmetic, and the checks over
every value the profiles allow."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from netdsl.symbolic import Dim, Profile, SymbolicError, allowed, below, disagreement, quotient, simplify

H, W = Dim("height"), Dim("width")


def test_window_arithmetic_has_one_printed_form():
    assert str((H - 2) // 2 + 1) == "height//2"  # 2x2 window, stride 2
    assert (H + 2 - 3) // 1 + 1 == H  # 3x3, padding 1: the Dim itself
    assert str((H + 2 - 3) // 2 + 1) == "(height+1)//2"  # 3x3, stride 2, padding 1
    assert str((((H + 1) // 2) + 1) // 2) == "(height+3)//4"  # nested floor divisions merge
    assert str(3 * H * W) == "3*height*width"
    assert (H // 2) * 2 - H != 0  # not simplified away: differs for odd heights
    assert H * 0 == 0 and isinstance(H - H, int)


OPERATIONS = st.lists(st.tuples(st.sampled_from("+-*/"), st.integers(1, 9)), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_evaluation_equals_integer_arithmetic(operations):
    def apply(value):
        for op, k in operations:
            value = value + k if op == "+" else value - k if op == "-" else value * k if op == "*" else value // k
        return value

    values = np.arange(-50, 200)
    assert np.array_equal(np.asarray(apply(H).evaluate({"height": values})) + 0 * values, apply(values))


def test_symbolic_sizes_refuse_comparison_and_division_by_a_size():
    with pytest.raises(SymbolicError):
        H < 3  # noqa: B015
    with pytest.raises(SymbolicError):
        6 // H  # noqa: B018


def test_disagreement_names_a_value_and_its_profile():
    profiles = [Profile(0, {"height": (64, 128, 256)}, {"height": 2}), Profile(1, {"height": (257, 300, 512)})]
    with allowed(profiles):
        assert disagreement(2 * (H // 2), H) == "at height=257 (profile 1: height 257..512): 2*(height//2) = 256, " \
                                                "height = 257"
        assert disagreement(H - H // 2, (H + 1) // 2) is None  # equal in value, not in form
        assert below(H // 128 - 1, 1) == "at height=64 (profile 0: height 64..256 (multiples of 2)): " \
                                         "height//128-1 = -1"
    assert disagreement(H - H // 2, (H + 1) // 2) is not None  # without profiles: only equal forms agree


@pytest.mark.parametrize("small_grid", [0, 1 << 12])  # 0: every grid through numpy; else small ones in Python
def test_where_gives_the_first_failing_point_by_either_walk(monkeypatch, small_grid):
    import netdsl.symbolic as symbolic

    monkeypatch.setattr(symbolic, "SMALL_GRID", small_grid)
    profiles = [Profile(0, {"height": (32, 64, 96), "width": (3, 5, 9)}, {"height": 32}),
                Profile(1, {"height": (40, 50, 60), "width": (1, 2, 4)})]
    with allowed(profiles):
        # brute force by hand: profile 0 never fails (height >= 32, width >= 3); profile 1, height-major as
        # the grid orders the dim with fewer values (width: 4) first: width=1, height=40 is the first point
        assert below(H // 8 + W - 6, 1) == "at height=40, width=1 (profile 1: height 40..60, width 1..4): " \
                                           "width+height//8-6 = 0"
        assert below(H // 8 + W - 3, 1) is None  # the interval bound proves it without a walk
        assert disagreement(H // 32 * 32 + W, H + W) == "at height=40, width=1 (profile 1: height 40..60, " \
                                                        "width 1..4): width+32*(height//32) = 33, height+width = 41"


def test_quotient_divides_whole_terms():
    assert quotient(16 * H * W, 4 * H) == 4 * W
    assert quotient(16 * H * W + 4, 4 * H) is None
    assert str(quotient(6 * H, 4)) == "height+height//2"


# -- simplify: exact over every allowed size -----------------------------------------------------------


def every_allowed(profiles, names) -> dict:
    """Name -> values, together every combination of allowed sizes of each profile (brute force)."""
    columns = {name: [] for name in names}
    for profile in profiles:
        axes = [np.arange(profile.ranges[n][0], profile.ranges[n][2] + 1, profile.steps.get(n, 1)) for n in names]
        for name, values in zip(names, np.meshgrid(*axes, indexing="ij")):
            columns[name].append(values.ravel())
    return {name: np.concatenate(values) for name, values in columns.items()}


def assert_exact(size, simpler, profiles):
    grid = every_allowed(profiles, ["height", "width"])
    count = len(grid["height"])
    expected = np.broadcast_to(np.asarray(size.evaluate(grid) if hasattr(size, "evaluate") else size), (count,))
    found = np.broadcast_to(np.asarray(simpler.evaluate(grid) if hasattr(simpler, "evaluate") else simpler), (count,))
    assert np.array_equal(expected, found), (str(size), str(simpler))


EVERY_32 = [Profile(0, {"height": (128, 640, 1280), "width": (128, 640, 1280)}, {"height": 32, "width": 32})]
YOLO_CELLS = sum((H + k - 1) // k * ((W + k - 1) // k) for k in (8, 16, 32))  # the anchors of 3 strides


@pytest.mark.parametrize("size, expected", [
    ((H + 15) // 16, "height//16"),  # exact when every height is a multiple of 32
    ((H + 1) // 2 * ((W + 1) // 2), "(height//2)*(width//2)"),
    ((((H + 1) // 2 + 1) // 2 + 1) // 2, "height//8"),  # three stride-2 convolutions
    (YOLO_CELLS, "21*(height//32)*(width//32)"),  # 8400 at 640x640, as yolov8 writes it
    ((H + W + 31) // 32, "height//32+width//32"),  # a floor division of a sum of multiples
    ((H + 63) // 64, "(height+63)//64"),  # no shorter form: as it was
    (3 * H * W, "3*height*width"),  # nothing to take out: as it was
    ((H - 1) // 2048 + W // 32, "width//32"),  # height-1 stays below 2048: the floor is 0
])
def test_simplify_under_multiple_of_and_ranges(size, expected):
    simpler = simplify(size, EVERY_32)
    assert str(simpler) == expected
    assert_exact(size, simpler, EVERY_32)


def test_simplify_keeps_a_form_that_only_some_sizes_make_exact():
    any_height = [Profile(0, {"height": (1, 64, 300), "width": (1, 64, 300)})]
    assert simplify((H + 15) // 16, any_height) == (H + 15) // 16
    odd_steps = [Profile(0, {"height": (32, 64, 320), "width": (32, 64, 320)}, {"height": 32}),
                 Profile(1, {"height": (16, 16, 48), "width": (1, 1, 48)}, {"height": 16})]
    simpler = simplify((H + 15) // 16 * W, odd_steps)  # the steps of all profiles count: 16, not 32
    assert str(simpler) == "width*(height//16)"
    assert_exact((H + 15) // 16 * W, simpler, odd_steps)
    assert simplify(7, EVERY_32) == 7 and simplify(H, []) is H


SIZES = st.lists(st.tuples(st.sampled_from("+-*/"), st.integers(1, 40)), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(SIZES, SIZES, st.sampled_from("+*"), st.sampled_from([1, 2, 4, 8, 16, 32, 3, 6, 12]),
       st.sampled_from([1, 2, 8, 32]), st.integers(1, 64), st.integers(0, 400))
def test_simplify_is_exact_for_every_allowed_size(on_height, on_width, join, step_h, step_w, low, span):
    def apply(value, operations):
        for op, k in operations:
            value = value + k if op == "+" else value - k if op == "-" else value * k if op == "*" else value // k
        return value

    size = apply(H, on_height) + apply(W, on_width) if join == "+" else apply(H, on_height) * apply(W, on_width)
    profiles = [Profile(0, {"height": (low * step_h, low * step_h, (low + span // step_h) * step_h),
                            "width": (step_w, step_w, step_w * (1 + span // step_w))}, {"height": step_h,
                                                                                        "width": step_w})]
    simpler = simplify(size, profiles)
    assert len(str(simpler)) <= len(str(size))
    assert_exact(size, simpler, profiles)
