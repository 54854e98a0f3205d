"""The program rule checker: every refusal explained in words a program manager would use."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Q

from programs.choices import COUNTED_STATUSES, FINAL_STATUSES, EventKind
from programs.controls import PLANNED_KINDS, event_words
from programs.models import BlackoutDate, Event, OptOut, Program, Season


@dataclass(frozen=True)
class RuleViolation:
    """One rule an event would break, with the sentence that says why."""

    rule: str
    message: str


@dataclass(frozen=True)
class KindRule:
    """Whether one program rule applies to events of a kind, and why, in words."""

    rule: str
    label: str
    applies: bool
    why: str


def rules_for_kind(program: Program, kind: str) -> list[KindRule]:
    """Every rule of `program` for an event of `kind`: timing, caps, rest and opt-outs hold
    for every kind (an event is an event to the customer); the reserve and the target
    split only for planned kinds (discharge, charge), the only ones whose power the server
    plans per device. The event form shows what applies and says why the rest does not."""
    label = EventKind(kind).label.lower()
    planned = kind in PLANNED_KINDS

    def cap(value, unit: str) -> str:
        return f"at most {value} {unit}" if value is not None else "no cap"

    every = f"Applies to every kind of event, {label} included"
    window = (
        f"{program.window_start:%H:%M} to {program.window_end:%H:%M} local time"
        if program.window_start and program.window_end
        else "any time of day"
    )
    rules = [
        KindRule(
            "duration",
            "Event length",
            True,
            f"{every}: {program.min_duration_min} to {program.max_duration_min} min.",
        ),
        KindRule(
            "notice", "Notice", True, f"{every}: {program.min_notice_min} min before the start."
        ),
        KindRule("weekday", "Event days", True, f"{every}."),
        KindRule("window", "Window", True, f"{every}: {window}."),
        KindRule("blackout", "Blackout days", True, f"{every}."),
        KindRule(
            "caps",
            "Event caps",
            True,
            f"{every}: {cap(program.max_events_per_year, 'a year')}, "
            f"{cap(program.max_events_per_day, 'a day')}, and each season's caps.",
        ),
        KindRule("rest", "Rest", True, f"{every}: {program.min_rest_min} min between events."),
        KindRule(
            "opt_outs",
            "Opt-outs",
            True,
            f"{every}: a customer who opts out is sent no {label} control."
            if not planned
            else f"{every}: a customer who opts out is sent 0 W.",
        ),
    ]
    if planned:
        rules += [
            KindRule(
                "reserve_soc",
                "Backup reserve",
                kind == EventKind.DISCHARGE,
                f"Discharge never takes a battery below {program.reserve_soc_pct} % charge."
                if kind == EventKind.DISCHARGE
                else "Charging only adds charge, so the reserve is kept by itself.",
            ),
            KindRule(
                "target",
                "Target split",
                True,
                "The group target is split per device (pro rata, per device, or as needed).",
            ),
        ]
    else:
        rules += [
            KindRule(
                "reserve_soc",
                "Backup reserve",
                False,
                f"{event_words(kind)} sets modes each device follows itself; the server plans "
                "no discharge, so the device's own reserve setting applies.",
            ),
            KindRule(
                "target",
                "Target split",
                False,
                f"{event_words(kind)} has no group target to split: every device of the group "
                "gets the same mode values.",
            ),
        ]
    rules.append(
        KindRule(
            "energy_pay",
            "Paid as energy delivered",
            planned,
            "Settlement pays the energy delivered against each device's commitment."
            if planned
            else f"{event_words(kind)} commits no energy, so it is not paid as energy delivered "
            "or counted in the performance average.",
        )
    )
    return rules


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h".replace(".0 h", " h")


def _counted_events(program: Program, exclude_event_id: int | None):
    events = Event.objects.for_utility(program.utility).filter(
        program=program, status__in=COUNTED_STATUSES, is_test=False
    )
    if exclude_event_id is not None:
        events = events.exclude(pk=exclude_event_id)
    return events


def _local_day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    return start, start + timedelta(days=1)


def event_rule_check(
    *,
    program: Program,
    group_id: int,
    start: datetime,
    duration_s: int,
    now: datetime,
    is_test: bool = False,
    exclude_event_id: int | None = None,
) -> list[RuleViolation]:
    """Check a proposed event against its program's rules; an empty list means allowed.

    Test events are checked for timing but do not use up caps.
    """
    tz = ZoneInfo(program.utility.timezone)
    end = start + timedelta(seconds=duration_s)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    violations: list[RuleViolation] = []

    def refuse(rule: str, message: str) -> None:
        violations.append(RuleViolation(rule, message))

    minutes = duration_s / 60
    if minutes < program.min_duration_min:
        refuse(
            "min_duration",
            f"An event of {minutes:g} min is shorter than the program's minimum of "
            f"{program.min_duration_min} min.",
        )
    if minutes > program.max_duration_min:
        refuse(
            "max_duration",
            f"An event of {minutes:g} min is longer than the program's maximum of "
            f"{program.max_duration_min} min.",
        )

    notice_min = (start - now).total_seconds() / 60
    if notice_min < 0:
        refuse("notice", "The event would start in the past.")
    elif notice_min < program.min_notice_min:
        refuse(
            "notice",
            f"It starts in {notice_min:.0f} min; the program needs {program.min_notice_min} min "
            "of notice.",
        )

    if local_start.weekday() not in program.weekdays:
        refuse("weekday", f"{local_start:%A} is not an allowed event day for this program.")

    if program.window_start and program.window_end:
        inside = (
            local_start.time() >= program.window_start
            and local_end.date() == local_start.date()
            and local_end.time() <= program.window_end
        )
        if not inside:
            refuse(
                "window",
                f"It runs {local_start:%H:%M} to {local_end:%H:%M}; events must fall between "
                f"{program.window_start:%H:%M} and {program.window_end:%H:%M} local time.",
            )

    blackout = (
        BlackoutDate.objects.for_utility(program.utility)
        .filter(program=program, date=local_start.date())
        .first()
    )
    if blackout:
        refuse("blackout", f"{blackout.date:%Y-%m-%d} is a blackout day ({blackout.reason}).")

    if not is_test:
        counted = _counted_events(program, exclude_event_id)
        _check_season(program, counted, local_start, tz, duration_s, refuse)
        _check_year(program, counted, local_start, tz, refuse)
        _check_day(program, counted, local_start, tz, refuse)
    _check_rest(program, group_id, start, end, exclude_event_id, refuse)
    return violations


def _check_season(program, counted, local_start, tz, duration_s, refuse) -> None:
    day = local_start.date()
    season = (
        Season.objects.for_utility(program.utility)
        .filter(program=program, start_date__lte=day, end_date__gte=day)
        .first()
    )
    if season is None:
        return
    since, _ = _local_day_bounds(season.start_date, tz)
    _, until = _local_day_bounds(season.end_date, tz)
    in_season = counted.filter(start__gte=since, start__lt=until)
    if season.max_events is not None:
        nth = in_season.count() + 1
        if nth > season.max_events:
            refuse(
                "season_events",
                f"It would be the {ordinal(nth)} event this {season.name.lower()}; "
                f"the cap is {season.max_events}.",
            )
    if season.max_hours is not None:
        used_s = sum(in_season.values_list("duration_s", flat=True)) + duration_s
        if Decimal(used_s) / 3600 > season.max_hours:
            refuse(
                "season_hours",
                f"It would bring this {season.name.lower()} to {_hours(used_s)} of events; "
                f"the cap is {season.max_hours.normalize():f} h.",
            )


def _check_year(program, counted, local_start, tz, refuse) -> None:
    if program.max_events_per_year is None:
        return
    since, _ = _local_day_bounds(date(local_start.year, 1, 1), tz)
    _, until = _local_day_bounds(date(local_start.year, 12, 31), tz)
    nth = counted.filter(start__gte=since, start__lt=until).count() + 1
    if nth > program.max_events_per_year:
        refuse(
            "year_events",
            f"It would be the {ordinal(nth)} event of {local_start.year}; "
            f"the cap is {program.max_events_per_year} a year.",
        )


def _check_day(program, counted, local_start, tz, refuse) -> None:
    if program.max_events_per_day is None:
        return
    since, until = _local_day_bounds(local_start.date(), tz)
    nth = counted.filter(start__gte=since, start__lt=until).count() + 1
    if nth > program.max_events_per_day:
        refuse(
            "day_events",
            f"It would be the {ordinal(nth)} event on {local_start:%Y-%m-%d}; "
            f"the cap is {program.max_events_per_day} a day.",
        )


def _check_rest(program, group_id, start, end, exclude_event_id, refuse) -> None:
    if not program.min_rest_min:
        return
    rest = timedelta(minutes=program.min_rest_min)
    neighbours = Event.objects.for_utility(program.utility).filter(
        group_id=group_id, status__in=COUNTED_STATUSES
    )
    if exclude_event_id is not None:
        neighbours = neighbours.exclude(pk=exclude_event_id)
    # Overlapping events supersede each other (2030.5), so only near misses break rest.
    nearby = neighbours.filter(Q(start__lt=end + rest) & Q(start__gt=start - rest - _max_len()))
    for other in nearby:
        gap_before = (start - other.end).total_seconds() / 60
        gap_after = (other.start - end).total_seconds() / 60
        gap = gap_before if gap_before >= 0 else gap_after
        if 0 <= gap < program.min_rest_min:
            refuse(
                "rest",
                f"It is only {gap:.0f} min from another event in this group; the program "
                f"needs {program.min_rest_min} min of rest between events.",
            )
            return


def _max_len() -> timedelta:
    # Events are at most a day long in any program we model; bounds the neighbour query.
    return timedelta(days=1)


def _local_when(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def opt_out_refusal(*, event: Event, device, now: datetime) -> str | None:
    """Why this device's customer may not opt out of this event now, in words; None if
    they may. The program's rules: opt-outs close ``opt_out_lock_min`` before the start
    (or at the end when blank), and at most ``opt_outs_per_year`` per calendar year."""
    program = event.program
    tz = ZoneInfo(program.utility.timezone)
    if event.status in FINAL_STATUSES:
        return f"This event is already {event.get_status_display().lower()}."
    if event.end <= now:
        return "This event is over."
    if program.opt_out_lock_min is not None:
        closes = event.start - timedelta(minutes=program.opt_out_lock_min)
        if now >= closes:
            return (
                f"Opt-outs for this event closed at {_local_when(closes, tz)}: "
                f"{program.name} lets you opt out until {program.opt_out_lock_min} minutes "
                "before an event starts."
            )
    if program.opt_outs_per_year is not None:
        year = event.start.astimezone(tz).year
        begins = datetime(year, 1, 1, tzinfo=tz)
        ends = datetime(year + 1, 1, 1, tzinfo=tz)
        used = (
            OptOut.objects.for_utility(program.utility)
            .filter(
                device=device,
                event__program=program,
                event__start__gte=begins,
                event__start__lt=ends,
            )
            .exclude(event=event)
            .count()
        )
        if used >= program.opt_outs_per_year:
            allowed = program.opt_outs_per_year
            return (
                f"You have used all {allowed} opt-out{'s' if allowed != 1 else ''} that "
                f"{program.name} allows in {year}, so your battery takes part in this event."
            )
    return None


def opt_outs_left(*, program: Program, device, year: int) -> int | None:
    """Opt-outs the device still has in the program's calendar year; None for no limit."""
    if program.opt_outs_per_year is None:
        return None
    tz = ZoneInfo(program.utility.timezone)
    used = (
        OptOut.objects.for_utility(program.utility)
        .filter(
            device=device,
            event__program=program,
            event__start__gte=datetime(year, 1, 1, tzinfo=tz),
            event__start__lt=datetime(year + 1, 1, 1, tzinfo=tz),
        )
        .count()
    )
    return max(program.opt_outs_per_year - used, 0)
