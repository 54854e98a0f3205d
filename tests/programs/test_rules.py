"""Each program rule refuses with its own sentence; caps are counted per season and year."""

from datetime import UTC, date, datetime, timedelta

import pytest

from programs.choices import EventStatus
from programs.models import BlackoutDate, Event, Season
from programs.rules import event_rule_check, ordinal
from tests import factories
from tests.programs.conftest import NOW

pytestmark = pytest.mark.django_db


def check(program, group, start, minutes=60, **kw):
    return event_rule_check(
        program=program, group_id=group.pk, start=start, duration_s=minutes * 60, now=NOW, **kw
    )


def rules_broken(violations):
    return {v.rule for v in violations}


# 2026-07-02 is a Thursday; 22:00 UTC is 15:00 in Portland (PDT, UTC-7).
GOOD_START = datetime(2026, 7, 2, 22, 0, tzinfo=UTC)


def test_a_conforming_event_passes(program, group):
    assert check(program, group, GOOD_START) == []


def test_duration_bounds(program, group):
    short = check(program, group, GOOD_START, minutes=2)
    assert short[0].message == ("An event of 2 min is shorter than the program's minimum of 5 min.")
    long = check(program, group, GOOD_START, minutes=181)
    assert rules_broken(long) >= {"max_duration"}
    assert "longer than the program's maximum of 180 min" in long[0].message


def test_notice_and_the_past(program, group):
    soon = check(program, group, NOW + timedelta(minutes=30))
    assert any(
        v.message == "It starts in 30 min; the program needs 60 min of notice." for v in soon
    )
    past = check(program, group, NOW - timedelta(minutes=1))
    assert "The event would start in the past." in [v.message for v in past]


def test_weekday_in_local_time(program, group):
    # Saturday 2026-07-04 15:00 PDT.
    saturday = datetime(2026, 7, 4, 22, 0, tzinfo=UTC)
    violations = check(program, group, saturday)
    assert "Saturday is not an allowed event day for this program." in [
        v.message for v in violations
    ]


def test_window_in_local_time(program, group):
    # 13:00 to 14:00 PDT starts before the 14:00 window.
    early = check(program, group, datetime(2026, 7, 2, 20, 0, tzinfo=UTC))
    assert [v.message for v in early if v.rule == "window"] == [
        "It runs 13:00 to 14:00; events must fall between 14:00 and 19:00 local time."
    ]
    # 18:30 + 60 min runs past 19:00.
    late = check(program, group, datetime(2026, 7, 3, 1, 30, tzinfo=UTC))
    assert "window" in rules_broken(late)


def test_blackout_day(program, group):
    BlackoutDate.objects.create(
        utility=program.utility, program=program, date=date(2026, 7, 2), reason="Heat advisory"
    )
    violations = check(program, group, GOOD_START)
    assert [v.message for v in violations] == ["2026-07-02 is a blackout day (Heat advisory)."]


def _past_events(program, group, n, *, start=datetime(2026, 6, 1, 22, 0, tzinfo=UTC), minutes=60):
    for i in range(n):
        Event.objects.create(
            utility=program.utility,
            program=program,
            group=group,
            kind="discharge",
            start=start + timedelta(days=i),
            duration_s=minutes * 60,
            status=EventStatus.COMPLETED,
            target_w=1000,
        )


def test_season_event_cap_counts_only_this_season(program, group):
    program.max_events_per_day = None
    program.save()
    _past_events(program, group, 30)  # June: in season
    _past_events(program, group, 30, start=datetime(2026, 5, 1, 22, tzinfo=UTC), minutes=5)
    Season.objects.filter(program=program).update(max_events=30, max_hours=1000)
    violations = check(program, group, GOOD_START)
    assert [v.message for v in violations] == [
        "It would be the 31st event this summer; the cap is 30."
    ]


def test_cancelled_and_test_events_do_not_count(program, group):
    Season.objects.filter(program=program).update(max_events=1)
    _past_events(program, group, 1)
    Event.objects.filter(program=program).update(status=EventStatus.CANCELLED)
    assert check(program, group, GOOD_START) == []
    Event.objects.filter(program=program).update(status=EventStatus.COMPLETED, is_test=True)
    assert check(program, group, GOOD_START) == []
    # A test event is not refused by caps either, only by timing rules.
    Event.objects.filter(program=program).update(is_test=False)
    assert rules_broken(check(program, group, GOOD_START)) == {"season_events"}
    assert check(program, group, GOOD_START, is_test=True) == []


def test_season_hour_budget(program, group):
    _past_events(program, group, 13, minutes=180)  # 39 h used
    violations = check(program, group, GOOD_START, minutes=120)
    assert [v.message for v in violations] == [
        "It would bring this summer to 41 h of events; the cap is 40 h."
    ]


def test_year_cap(program, group):
    program.max_events_per_year = 2
    program.max_events_per_day = None
    program.save()
    _past_events(program, group, 2, start=datetime(2026, 1, 5, 22, tzinfo=UTC))
    violations = check(program, group, GOOD_START)
    assert [v.message for v in violations] == [
        "It would be the 3rd event of 2026; the cap is 2 a year."
    ]


def test_events_per_day_in_local_days(program, group):
    # 2026-07-02 14:30 PDT already has an event.
    _past_events(program, group, 1, start=datetime(2026, 7, 2, 21, 30, tzinfo=UTC), minutes=5)
    Event.objects.update(status=EventStatus.SCHEDULED)
    other_group = factories.dispatch_group(program.utility, prog=program)
    violations = check(program, other_group, datetime(2026, 7, 3, 1, 0, tzinfo=UTC))
    assert [v.message for v in violations] == [
        "It would be the 2nd event on 2026-07-02; the cap is 1 a day."
    ]


def test_minimum_rest_between_events_of_a_group(program, group):
    program.min_rest_min = 120
    program.max_events_per_day = None
    program.save()
    _past_events(program, group, 1, start=GOOD_START - timedelta(minutes=90), minutes=60)
    violations = check(program, group, GOOD_START)
    assert [v.message for v in violations] == [
        "It is only 30 min from another event in this group; the program needs 120 min of "
        "rest between events."
    ]


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 61, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "61st",
        "111th",
    ]


def test_program_rules_are_validated(program):
    from django.core.exceptions import ValidationError

    program.min_duration_min, program.max_duration_min = 60, 30
    with pytest.raises(ValidationError, match="maximum duration is shorter"):
        program.full_clean()
    program.min_duration_min = 5
    program.window_end = None
    with pytest.raises(ValidationError, match="both ends"):
        program.full_clean()
