"""Time units and durations: one parser, no 30-day months, no unit confusion."""

from __future__ import annotations

import pytest

from clm_utils.config import duration_in_units, unit_days
from clm_utils.errors import ParameterError


def test_unit_lengths_in_days():
    assert unit_days("W") == 7 and unit_days("d") == 1
    assert unit_days("M") == pytest.approx(30.4375) and unit_days("Y") == 365.25  # a month is not 30 days


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [("26W", "W", 26.0), ("26W", "D", 182.0), ("6M", "W", 6 * 30.4375 / 7), ("1Y", "M", 12.0),
     ("182D", "W", 26.0), (13, "W", 13.0), (2.5, "M", 2.5), (" 1.5 y ", "Y", 1.5)],
)
def test_duration_in_units(value, unit, expected):
    assert duration_in_units(value, unit) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["six months", "6X", "", -3, 0, None, "W"])
def test_bad_durations_are_parameter_errors(value):
    with pytest.raises(ParameterError):
        duration_in_units(value, "W", "inactivity")
