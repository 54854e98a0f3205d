"""2030.5 Time for a utility's zone: standard offset, DST period and local time."""

import datetime as dt
from zoneinfo import ZoneInfo

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


def test_los_angeles_in_december_gets_the_next_period_and_no_offset_now():
    # Failed before issue 22: dstOffset 3600 in December (the period's, not the one in
    # effect), which a client adding dstOffset unconditionally reads an hour off.
    now, tm = _t("America/Los_Angeles", "2026-12-01T12:00:00+00:00")
    assert tm.dst_start_time == time_type(dt.datetime(2027, 3, 14, 10, tzinfo=dt.UTC))
    assert tm.dst_start_time < tm.dst_end_time
    assert tm.dst_offset == 0
    assert tm.local_time == time_type(now) - 8 * 3600


@pytest.mark.parametrize("iso", ["2026-12-01T00:00:00+00:00", "2026-06-01T00:00:00+00:00"])
def test_sydney_period_spans_the_new_year(iso):
    now, tm = _t("Australia/Sydney", iso)
    assert tm.tz_offset == 10 * 3600
    assert tm.dst_start_time < tm.dst_end_time
    in_dst = tm.dst_start_time <= time_type(now) < tm.dst_end_time
    assert in_dst == (now.month == 12)
    assert tm.dst_offset == (3600 if in_dst else 0)


def test_zone_without_dst():
    _, tm = _t("Australia/Brisbane", "2026-12-01T00:00:00+00:00")
    assert (tm.tz_offset, tm.dst_offset) == (10 * 3600, 0)
    assert tm.dst_start_time == tm.dst_end_time == 0


def _utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# (zone, transition instant in UTC, DST in effect from it, the period then reported)
LA, SYDNEY = "America/Los_Angeles", "Australia/Sydney"
TRANSITIONS = [
    # Los Angeles: DST 2026-03-08 10:00 UTC to 2026-11-01 09:00 UTC; next 2027-03-14 10:00.
    (LA, _utc(2026, 3, 8, 10), True, (_utc(2026, 3, 8, 10), _utc(2026, 11, 1, 9))),
    (LA, _utc(2026, 11, 1, 9), False, (_utc(2027, 3, 14, 10), _utc(2027, 11, 7, 9))),
    # Sydney: DST ends 2026-04-04 16:00 UTC and starts again 2026-10-03 16:00 UTC.
    (SYDNEY, _utc(2026, 4, 4, 16), False, (_utc(2026, 10, 3, 16), _utc(2027, 4, 3, 16))),
    (SYDNEY, _utc(2026, 10, 3, 16), True, (_utc(2026, 10, 3, 16), _utc(2027, 4, 3, 16))),
]


@pytest.mark.parametrize(("zone", "at", "dst_after", "period"), TRANSITIONS)
def test_both_transitions_of_a_dst_zone(zone, at, dst_after, period):
    for now, in_dst in ((at - dt.timedelta(seconds=1), not dst_after), (at, dst_after)):
        tm = time_resource(zone_name=zone, now=now, poll_rate=60)
        assert tm.dst_offset == (3600 if in_dst else 0), now
        assert tm.local_time == tm.current_time + tm.tz_offset + tm.dst_offset
        # The local wall clock the zone itself shows.
        wall = now.astimezone(ZoneInfo(zone)).replace(tzinfo=dt.UTC)
        assert tm.local_time == time_type(wall)
        if now >= at:
            assert (tm.dst_start_time, tm.dst_end_time) == tuple(time_type(p) for p in period)


def test_a_zone_without_dst_never_has_an_offset():
    for iso in ("2026-01-15T00:00:00+00:00", "2026-07-15T00:00:00+00:00"):
        now, tm = _t("Australia/Brisbane", iso)
        assert (tm.dst_offset, tm.dst_start_time, tm.dst_end_time) == (0, 0, 0)
        assert tm.local_time == time_type(now) + 10 * 3600


def _next(month: int, day: int) -> dt.datetime:
    """The next such day at 11:00 UTC, later than a day from now (inside the test
    certificate's validity)."""
    now = dt.datetime.now(dt.UTC)
    moment = dt.datetime(now.year, month, day, 11, tzinfo=dt.UTC)
    return moment if moment > now + dt.timedelta(days=1) else moment.replace(year=now.year + 1)


@pytest.mark.django_db
@pytest.mark.parametrize(("month", "dst_offset"), [(1, 0), (7, 3600)])
def test_tm_reports_the_offset_in_effect_at_the_request(utility_a, monkeypatch, month, dst_offset):
    from django.utils import timezone

    from protocol.xml import parse
    from protocol.xml.resources.time import Time
    from tests.protocol.sep_world import actor

    utility_a.timezone = "America/Los_Angeles"
    utility_a.save()
    agg = actor(utility_a)
    frozen = _next(month, 15)
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    tm = parse(agg.http.get("/tm").content, Time)
    assert (tm.current_time, tm.dst_offset) == (time_type(frozen), dst_offset)
    assert tm.local_time == tm.current_time + tm.tz_offset + tm.dst_offset


@pytest.mark.parametrize("profile", ["csip", "csipaus"])
@pytest.mark.parametrize("zone", [LA, SYDNEY, "Australia/Brisbane", "Australia/Lord_Howe"])
def test_the_time_template_renders_what_the_document_would(zone, profile):
    """time_body (the template /tm is served from) gives serialize(time_resource) byte for
    byte, walking across both of a year's transitions and the new year in order, so a
    template built before a transition is never served after it."""
    from protocol.managers.time import time_body
    from protocol.xml import serialize

    moments = [_utc(2026, 12, 31, 23, 59, 59), _utc(2027, 1, 1), _utc(2027, 1, 1, 0, 0, 1)]
    for _, at, _, _ in TRANSITIONS:
        moments += [at - dt.timedelta(seconds=1), at, at + dt.timedelta(seconds=1)]
    moments += [_utc(2026, month, 15, 3, 7, 11) for month in range(1, 13)]
    for now in sorted(moments):
        for poll_rate in (60, 300):
            expected = serialize(
                time_resource(zone_name=zone, now=now, poll_rate=poll_rate), profile=profile
            )
            got = time_body(zone_name=zone, now=now, poll_rate=poll_rate, profile=profile)
            assert got == expected, (zone, now, poll_rate)
