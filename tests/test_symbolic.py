"""Symbolic sizes: canonical forms, evaluation equal to Python's integer arithmetic, and the checks over
every value the profiles allow."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from netdsl.symbolic import Dim, Profile, SymbolicError, allowed, below, disagreement, quotient

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


def test_quotient_divides_whole_terms():
    assert quotient(16 * H * W, 4 * H) == 4 * W
    assert quotient(16 * H * W + 4, 4 * H) is None
    assert str(quotient(6 * H, 4)) == "height+height//2"
