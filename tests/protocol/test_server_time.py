"""2030.5 Time for a utility's zone: standard offset, DST period and local time."""

import datetime as dt

import pytest

from protocol.managers.time import time_resource
from protocol.xml.resources.common import time_type


def _t(zone: str, iso: str):
    now = dt.datetime.fromisoformat(iso)
    return now, time_resource(zone_name=zone, now=now, poll_rate=60)


def test_los_angeles_in_summer():
    now, tm = _t("America/Los_Angeles", "2026-07-01T12:00:00+00:00")
    assert tm.tz_offset == -8 * 3600 and tm.dst_offset == 3600
    assert tm.dst_start_time == time_type(dt.datetime(2026, 3, 8, 10, tzinfo=dt.UTC))
    assert tm.dst_end_time == time_type(dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC))
    assert tm.local_time == time_type(now) - 7 * 3600


def test_los_angeles_in_december_gets_the_next_period():
    _, tm = _t("America/Los_Angeles", "2026-12-01T12:00:00+00:00")
    assert tm.dst_start_time == time_type(dt.datetime(2027, 3, 14, 10, tzinfo=dt.UTC))
    assert tm.dst_start_time < tm.dst_end_time


@pytest.mark.parametrize("iso", ["2026-12-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00"])
def test_sydney_period_spans_the_new_year(iso):
    now, tm = _t("Australia/Sydney", iso)
    assert tm.tz_offset == 10 * 3600 and tm.dst_offset == 3600
    assert tm.dst_start_time < tm.dst_end_time
    in_dst = tm.dst_start_time <= time_type(now) < tm.dst_end_time
    assert in_dst == (now.month == 12)


def test_zone_without_dst():
    _, tm = _t("Australia/Brisbane", "2026-12-01T00:00:00+00:00")
    assert (tm.tz_offset, tm.dst_offset) == (10 * 3600, 0)
    assert tm.dst_start_time == tm.dst_end_time == 0
