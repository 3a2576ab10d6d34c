import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eval.formatting import DIGITS, SIGNIFICANT, format_delta, format_value, round_floats


def test_value_with_and_without_its_interval():
    assert format_value(0.41234, [0.3711, 0.4549]) == "0.412 [0.371, 0.455]"
    assert format_value(0.41234, None) == "0.412"
    assert format_value(None, [0.1, 0.2]) == "—"
    assert format_value(1523.4, [1490.2, 1561.0], digits=0) == "1523 [1490, 1561]"


def test_delta_is_signed_and_starred_only_when_significant():
    assert format_delta({"value": 0.0431, "ci": [0.0102, 0.0801], "significant": True}) == \
        f"+0.043 [+0.010, +0.080] {SIGNIFICANT}"
    assert format_delta({"value": -0.012, "ci": [-0.05, 0.021], "significant": False}) == "-0.012 [-0.050, +0.021]"
    assert format_delta({"value": 0.5}, digits=2) == "+0.50"
    assert format_delta(None) == format_delta({"value": None}) == "—"


def test_round_floats_reaches_inside_lists_and_dicts_and_leaves_the_rest():
    data = {"a": 0.123456789, "b": [1.0000004, {"c": 2 / 3}], "n": 7, "s": "0.123456789", "none": None}
    assert round_floats(data) == {"a": 0.123457, "b": [1.0, {"c": 0.666667}], "n": 7, "s": "0.123456789",
                                  "none": None}
    assert round_floats(2 / 3, 2) == 0.67


@pytest.mark.property
@given(st.recursive(st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
                    max_leaves=12))
def test_rounded_reports_are_stable_json(value):
    # Saved reports must be byte-identical between reruns: rounding twice changes nothing.
    once = round_floats(value)
    assert json.dumps(round_floats(once), sort_keys=True) == json.dumps(once, sort_keys=True)
    if isinstance(value, float):
        assert math.isclose(once, value, abs_tol=10 ** -DIGITS)
