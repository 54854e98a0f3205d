import datetime as dt

import pytest

from protocol.xml.resources.common import from_time_type, time_type
from protocol.xml.resources.units import active_power, watts_of


def test_time_type_is_utc_seconds():
    moment = dt.datetime(
        2025, 11, 22, 14, 0, 30, 900_000, tzinfo=dt.timezone(dt.timedelta(hours=11))
    )
    assert time_type(moment) == 1_763_780_430  # 03:00:30 UTC, fraction dropped
    assert from_time_type(1_763_780_430) == dt.datetime(2025, 11, 22, 3, 0, 30, tzinfo=dt.UTC)
    assert time_type(dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) == 0
    with pytest.raises(ValueError):
        time_type(dt.datetime(2025, 1, 1))  # noqa: DTZ001 -- naive on purpose


@pytest.mark.parametrize(
    ("watts", "multiplier", "value"),
    [
        (0, 0, 0),
        (5000, 0, 5000),
        (-32768, 0, -32768),
        (32768, 1, 3277),
        (-7000.4, 0, -7000),
        (123_456, 1, 12346),
        (5_000_000, 3, 5000),
    ],
)
def test_active_power_fits_int16(watts, multiplier, value):
    power = active_power(watts)
    assert (power.multiplier, power.value) == (multiplier, value)
    assert abs(watts_of(power) - watts) <= 10**multiplier / 2


def test_active_power_out_of_range():
    with pytest.raises(ValueError):
        active_power(1e15)
