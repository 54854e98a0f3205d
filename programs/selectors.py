"""Reads for programs: who is in a group, what it can deliver, how a target is shared out."""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devices.models import Device, TelemetryRollup
from devices.selectors import device_health
from programs.choices import (
    COUNTED_STATUSES,
    PARTICIPATION_REACHED,
    DispatchSelection,
    EventKind,
    EventStatus,
    Participation,
    SetpointRule,
    participation,
)
from programs.controls import PLANNED_KINDS
from programs.models import (
    Dispatch,
    DispatchGroup,
    DispatchGroupMember,
    Event,
    OptOut,
    Participant,
    Program,
    Season,
    SiteEnvelope,
)
from tenancy.generations import Fact

# Devices not heard from for this long cannot be counted on.
FORECAST_STALE_AFTER = timedelta(minutes=15)
FORECAST_OFFLINE_AFTER = timedelta(minutes=60)


def group_devices(*, group: DispatchGroup) -> QuerySet[Device]:
    """Devices currently participating in the group's program that match its criteria or
    were attached to it by hand (DispatchGroupMember)."""
    devices = Device.objects.for_utility(group.utility).filter(
        participations__program_id=group.program_id, participations__left_at__isnull=True
    )
    criteria = group.criteria
    matching = []
    if criteria["states"]:
        matching.append(Q(state__in=criteria["states"]))
    if criteria["zip_prefixes"]:
        zip_q = Q()
        for prefix in criteria["zip_prefixes"]:
            zip_q |= Q(zip_code__startswith=prefix)
        matching.append(zip_q)
    if criteria["feeders"]:
        matching.append(Q(feeder__in=criteria["feeders"]))
    if criteria["vendors"]:
        matching.append(Q(vendor_name__in=criteria["vendors"]))
    if matching:  # no criteria: every participant is in the group already
        attached = DispatchGroupMember.objects.filter(group=group).values("device_id")
        devices = devices.filter(Q(*matching) | Q(pk__in=attached))
    return devices.distinct()


@dataclass(frozen=True)
class DeviceCapacity:
    """What one device can sustain for a given duration, in W (both as magnitudes)."""

    device_id: int
    discharge_w: int
    charge_w: int
    soc_pct: float | None


def device_capacity(*, device: Device, reserve_soc_pct: float, duration_s: int) -> DeviceCapacity:
    hours = max(duration_s, 60) / 3600
    floor = max(reserve_soc_pct, device.reserve_pct or 0)
    soc = device.soc_pct
    capacity_wh = device.rated_capacity_wh
    if soc is None or not capacity_wh:
        return DeviceCapacity(device.pk, 0, 0, soc)
    discharge_power = device.rated_discharge_w
    if device.stat_w_avail_w is not None:
        discharge_power = min(discharge_power, max(device.stat_w_avail_w, 0))
    usable_wh = max(soc - floor, 0) / 100 * capacity_wh
    headroom_wh = max(100 - soc, 0) / 100 * capacity_wh
    return DeviceCapacity(
        device_id=device.pk,
        discharge_w=int(min(discharge_power, usable_wh / hours)),
        charge_w=int(min(device.rated_charge_w, headroom_wh / hours)),
        soc_pct=soc,
    )


@dataclass
class CapacityForecast:
    """Available discharge and charge for a group over a window, and what was left out."""

    duration_s: int
    devices: int = 0
    discharge_w: int = 0
    charge_w: int = 0
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def discharge_wh(self) -> int:
        return int(self.discharge_w * self.duration_s / 3600)

    @property
    def charge_wh(self) -> int:
        return int(self.charge_w * self.duration_s / 3600)

    @property
    def summary(self) -> str:
        hours = self.duration_s / 3600
        span = f"{hours:g} h" if hours >= 1 else f"{self.duration_s / 60:g} min"
        return (
            f"You can get about {format_power(self.discharge_w)} of discharge for {span} "
            f"from {self.devices} devices (or absorb {format_power(self.charge_w)})."
        )


def format_power(watts: float) -> str:
    if abs(watts) >= 1_000_000:
        return f"{watts / 1_000_000:.1f} MW"
    if abs(watts) >= 1000:
        return f"{watts / 1000:.1f} kW"
    return f"{watts:.0f} W"


def _available(
    *, group: DispatchGroup, duration_s: int, now: datetime, event: Event | None = None
) -> tuple[list[tuple[Device, DeviceCapacity]], dict[str, int]]:
    program = group.program
    excluded: dict[str, int] = {}
    opted_out = set()
    if event is not None:
        opted_out = set(
            OptOut.objects.for_utility(group.utility)
            .filter(event=event)
            .values_list("device_id", flat=True)
        )
    usable = []
    for device in group_devices(group=group):
        if device.pk in opted_out:
            excluded["opted out"] = excluded.get("opted out", 0) + 1
            continue
        health = _forecast_health(device, now)
        if health != "online":
            excluded[health] = excluded.get(health, 0) + 1
            continue
        usable.append(
            (
                device,
                device_capacity(
                    device=device, reserve_soc_pct=program.reserve_soc_pct, duration_s=duration_s
                ),
            )
        )
    return usable, excluded


def _forecast_health(device: Device, now: datetime) -> str:
    return device_health(
        device=device,
        now=now,
        stale_after=FORECAST_STALE_AFTER,
        offline_after=FORECAST_OFFLINE_AFTER,
    )


def _can_take_part(event: Event, cap: DeviceCapacity) -> bool:
    """Whether a usable device has something to give to the event (event_plan's filter)."""
    if event.kind not in PLANNED_KINDS:
        return True
    return (cap.charge_w if event.kind == EventKind.CHARGE else cap.discharge_w) > 0


# Bumped by every write to programs_event (ProgramsConfig.ready watches the table).
EVENTS_KEY = "programs.events"
# Per utility, what its last events_plans_may_take saw: (its `now`, the latest start of the
# scheduled events starting after it, or None when there was none).
_events_ahead: Fact[tuple[datetime, datetime | None]] = Fact(EVENTS_KEY)
# Bumped by every write to the events, participants, dispatches (but a Response noted on
# one) and opt-outs: what the plans of scheduled events may take in.
PLANS_KEY = "programs.plans"
# Per (utility, device ids): the `now` of a call that found no event could take them in.
_none_to_take: Fact[datetime] = Fact(PLANS_KEY, size=200_000)


def events_plans_may_take(*, utility_id: int, device_ids: list[int], now: datetime) -> list[int]:
    """The scheduled, not yet started events of the utility that one of `device_ids` might
    join: a current participant of the event's program with no Dispatch row and no opt-out
    for it, in an event whose target-selected plan does not meet its target yet.

    A superset of what `event_plan_joiners` takes in (group criteria, health and capacity
    are left to it), in one statement whatever the fleet: the common answer to a telemetry
    report, "every one of them is planned", is one round trip. Issue 18: the ORM's three
    queries were most of a PUT DERStatus; the same question through the ORM's nested
    subqueries still cost more to compile than to run, hence plain SQL on this hot path.

    And none while no event was written since a call found no scheduled event starting
    later than `now` (nothing scheduled, or everything started): the statement also
    answers when the utility's scheduled events start, kept per utility at the
    `EVENTS_KEY` token. Nor while nothing plans depend on was written since a call found
    that no event takes these devices in (they are planned already: the common report
    before an event), kept per (utility, devices) at the `PLANS_KEY` token.
    """
    if not device_ids:
        return []
    token = _events_ahead.token()
    seen = _events_ahead.kept(utility_id, token)
    if seen is not None:
        seen_at, latest = seen
        if seen_at <= now and (latest is None or latest <= now):
            return []
    ids = sorted({int(pk) for pk in device_ids})
    asked = (utility_id, tuple(ids))
    plans_token = _none_to_take.token()
    none_since = _none_to_take.kept(asked, plans_token)
    if none_since is not None and none_since <= now:
        return []
    ids_param: Any
    if connection.vendor == "postgresql":
        among, ids_param = "= ANY(%s)", ids
    else:  # one JSON parameter sidesteps SQLite's bound-variable limit
        among, ids_param = "IN (SELECT value FROM json_each(%s))", json.dumps(ids)
    sql = f"""
        SELECT e.id, e.start, CASE WHEN EXISTS (
            SELECT 1 FROM {Participant._meta.db_table} p
            WHERE p.utility_id = e.utility_id AND p.program_id = e.program_id
              AND p.left_at IS NULL AND p.device_id {among}
              AND NOT EXISTS (SELECT 1 FROM {Dispatch._meta.db_table} d
                              WHERE d.event_id = e.id AND d.device_id = p.device_id)
              AND NOT EXISTS (SELECT 1 FROM {OptOut._meta.db_table} o
                              WHERE o.event_id = e.id AND o.device_id = p.device_id))
          AND NOT (e.selection = %s AND COALESCE(e.target_w, 0) > 0
                   AND e.target_w <= COALESCE((SELECT SUM(d.committed_w)
                                               FROM {Dispatch._meta.db_table} d
                                               WHERE d.event_id = e.id), 0))
          THEN 1 ELSE 0 END
        FROM {Event._meta.db_table} e
        WHERE e.utility_id = %s AND e.status = %s AND e.start > %s
        ORDER BY e.id
    """  # noqa: S608 -- table names are ours; every value is a parameter
    target = DispatchSelection.TARGET
    at = connection.ops.adapt_datetimefield_value(now)  # as the ORM stores it (SQLite: text)
    params: list[Any] = [ids_param, target, utility_id, EventStatus.SCHEDULED, at]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    starts = [_db_datetime(start) for _, start, _ in rows]
    _events_ahead.keep(utility_id, token, (now, max(starts, default=None)))
    taking = [pk for pk, _, takes in rows if takes]
    if not taking:  # later, fewer events are still to start: none takes them in then either
        _none_to_take.keep(asked, plans_token, now)
    return taking


def _db_datetime(value: Any) -> datetime:
    """A datetime column read by a raw cursor: aware on PostgreSQL, UTC text on SQLite."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def event_plan_joiners(*, event: Event, device_ids: list[int], now: datetime) -> list[int]:
    """Which of `device_ids` the event's plan left out but would now take in: devices of
    its group with no Dispatch row that are online, not opted out, and have power to give.

    A target-selected plan that already meets its target takes nobody new before the start
    (the start re-plans anyway), so silent devices do not make it re-plan on every report.
    """
    dispatches = Dispatch.objects.for_utility(event.utility_id).filter(event=event)
    if event.selection == DispatchSelection.TARGET and event.target_w:
        planned = dispatches.aggregate(w=Sum("committed_w"))["w"] or 0
        if planned >= event.target_w:
            return []
    candidates = (
        group_devices(group=event.group)
        .filter(pk__in=device_ids)
        .exclude(pk__in=dispatches.values("device_id"))
        .exclude(
            pk__in=OptOut.objects.for_utility(event.utility_id)
            .filter(event=event)
            .values("device_id")
        )
    )
    reserve = event.program.reserve_soc_pct
    return [
        device.pk
        for device in candidates
        if _forecast_health(device, now) == "online"
        and _can_take_part(
            event,
            device_capacity(device=device, reserve_soc_pct=reserve, duration_s=event.duration_s),
        )
    ]


def capacity_forecast(
    *, group: DispatchGroup, duration_s: int, now: datetime | None = None
) -> CapacityForecast:
    """From the latest SoC, availability and health: what the group could do right now."""
    now = now or timezone.now()
    usable, excluded = _available(group=group, duration_s=duration_s, now=now)
    return CapacityForecast(
        duration_s=duration_s,
        devices=len(usable),
        discharge_w=sum(c.discharge_w for _, c in usable),
        charge_w=sum(c.charge_w for _, c in usable),
        excluded=excluded,
    )


def _times_called_this_season(program: Program, device_ids: list[int], when: datetime) -> dict:
    season = (
        Season.objects.for_utility(program.utility)
        .filter(program=program, start_date__lte=when.date(), end_date__gte=when.date())
        .first()
    )
    dispatches = Dispatch.objects.for_utility(program.utility).filter(
        device_id__in=device_ids, event__program=program, event__status__in=COUNTED_STATUSES
    )
    if season is not None:
        dispatches = dispatches.filter(
            event__start__date__gte=season.start_date, event__start__date__lte=season.end_date
        )
    return dict(
        dispatches.values_list("device_id").annotate(n=Count("id")).values_list("device_id", "n")
    )


def event_plan(*, event: Event, now: datetime | None = None) -> dict[int, tuple[int, int]]:
    """Per-device (signed setpoint W, committed W) for an event, honouring opt-outs.

    With ``selection=target`` only as many devices are called as the target needs, ranked
    by available power, then SoC, then how seldom each was called this season.
    """
    now = now or timezone.now()
    charging = event.kind == EventKind.CHARGE
    sign = -1 if charging else 1

    def avail(cap: DeviceCapacity) -> int:
        return cap.charge_w if charging else cap.discharge_w

    if event.kind not in PLANNED_KINDS:
        # Not planned: every member that did not opt out is told the event's modes (its
        # DERControl comes from the event's control base), whatever its health: a limit or
        # a disconnect binds a device that has not reported yet, or went quiet, as soon as
        # it polls. The Dispatch row records that it was told; its setpoint is the event's
        # export limit (an export-limit or multi-mode event that sets one), else 0 W.
        limit_w = event.op_mod_exp_lim_w
        opted_out = set(
            OptOut.objects.for_utility(event.utility_id)
            .filter(event=event)
            .values_list("device_id", flat=True)
        )
        return {
            d.pk: (limit_w or 0, 0)
            for d in group_devices(group=event.group)
            if d.pk not in opted_out
        }

    usable, _ = _available(group=event.group, duration_s=event.duration_s, now=now, event=event)
    usable = [(d, c) for d, c in usable if _can_take_part(event, c)]

    if event.selection == DispatchSelection.TARGET and event.target_w:
        called = _times_called_this_season(event.program, [d.pk for d, _ in usable], event.start)
        usable.sort(key=lambda dc: (-avail(dc[1]), -(dc[1].soc_pct or 0), called.get(dc[0].pk, 0)))
        chosen, total = [], 0
        for device, cap in usable:
            if total >= event.target_w:
                break
            chosen.append((device, cap))
            total += avail(cap)
        usable = chosen

    plan: dict[int, tuple[int, int]] = {}
    if event.setpoint_rule == SetpointRule.PER_DEVICE and event.per_device_w:
        for device, cap in usable:
            plan[device.pk] = (sign * min(event.per_device_w, avail(cap)), avail(cap))
    elif event.setpoint_rule == SetpointRule.PRO_RATA and event.target_w:
        total = sum(avail(c) for _, c in usable)
        share = min(Decimal(1), Decimal(event.target_w) / total) if total else Decimal(0)
        for device, cap in usable:
            plan[device.pk] = (sign * int(avail(cap) * share), avail(cap))
    else:  # everyone at full available power
        for device, cap in usable:
            plan[device.pk] = (sign * avail(cap), avail(cap))
    return plan


@dataclass(frozen=True)
class SeasonUsage:
    """How much of a season's budget is spent: the program page's usage meter."""

    season: Season
    events_used: int
    hours_used: Decimal

    @property
    def events_pct(self) -> float | None:
        if not self.season.max_events:
            return None
        return min(100.0, 100 * self.events_used / self.season.max_events)

    @property
    def hours_pct(self) -> float | None:
        if not self.season.max_hours:
            return None
        return min(100.0, float(100 * self.hours_used / self.season.max_hours))


def season_usage(*, program: Program, on: date | None = None) -> list[SeasonUsage]:
    on = on or timezone.localdate()
    usages = []
    seasons = Season.objects.for_utility(program.utility).filter(program=program)
    for season in seasons.filter(end_date__gte=on.replace(month=1, day=1)):
        counted = Event.objects.for_utility(program.utility).filter(
            program=program,
            status__in=COUNTED_STATUSES,
            is_test=False,
            start__date__gte=season.start_date,
            start__date__lte=season.end_date,
        )
        totals = counted.aggregate(n=Count("id"), seconds=Sum("duration_s"))
        usages.append(
            SeasonUsage(
                season=season,
                events_used=totals["n"] or 0,
                hours_used=(Decimal(totals["seconds"] or 0) / 3600).quantize(Decimal("0.1")),
            )
        )
    return usages


def response_grace() -> timedelta:
    """How long after an event's end a late Response is still awaited before the device is
    called silent (``EVENT_RESPONSE_GRACE_S``)."""
    return timedelta(seconds=settings.EVENT_RESPONSE_GRACE_S)


def answer_overdue(*, event: Event, now: datetime) -> bool:
    return now >= event.end + response_grace()


def event_dispatches(*, event: Event) -> QuerySet:
    """The event's dispatches as its page lists them: most committed first, then by id, each
    with ``opted_out`` (an opt-out recorded for that device and event)."""
    return (
        Dispatch.objects.for_utility(event.utility)
        .filter(event=event)
        .annotate(
            opted_out=Exists(
                OptOut.objects.filter(event_id=event.pk, device_id=OuterRef("device_id"))
            )
        )
        .order_by(F("committed_w").desc(nulls_last=True), "pk")
    )


def dispatch_participation(*, dispatch: Dispatch, event: Event, now: datetime) -> Participation:
    """One row of ``event_dispatches`` in the event status vocabulary."""
    return participation(
        code=dispatch.last_response,
        opted_out=bool(getattr(dispatch, "opted_out", False)),
        answer_overdue=answer_overdue(event=event, now=now),
    )


def event_funnel(*, event: Event, now: datetime | None = None) -> dict[str, int]:
    """How many dispatched devices received, started and completed the event (cumulative),
    opted out, refused it, are still awaited, or are silent (no answer after the event's end
    plus the grace period). 2030.5 Responses and Modbus read-back both count: each lands on
    the device's Dispatch. Keys are "dispatched" and the ``Participation`` values."""
    now = now or timezone.now()
    overdue = answer_overdue(event=event, now=now)
    groups = (
        event_dispatches(event=event)
        .order_by()
        .values_list("last_response", "opted_out")
        .annotate(n=Count("id"))
    )
    counts: dict[Participation, int] = dict.fromkeys(Participation, 0)
    total = 0
    for code, opted_out, n in groups:
        counts[participation(code=code, opted_out=opted_out, answer_overdue=overdue)] += n
        total += n
    # Opt-outs of devices the event did not dispatch (they left before it was planned).
    counts[Participation.OPTED_OUT] += (
        OptOut.objects.for_utility(event.utility)
        .filter(event=event)
        .exclude(device_id__in=Dispatch.objects.filter(event=event).values("device_id"))
        .count()
    )
    funnel = {"dispatched": total}
    for stage, reached in PARTICIPATION_REACHED.items():
        funnel[stage.value] = sum(counts[p] for p in reached)
    for stage in (
        Participation.OPTED_OUT,
        Participation.REFUSED,
        Participation.AWAITING,
        Participation.SILENT,
    ):
        funnel[stage.value] = counts[stage]
    return funnel


# What the funnel's keys say, wherever it is shown.
FUNNEL_LABELS = {"dispatched": "Dispatched", **{p.value: p.label for p in Participation}}


def event_power_series(*, event: Event, margin: timedelta = timedelta(hours=1)) -> list[dict]:
    """Delivered power of the event's dispatched devices per 5-minute bucket, from rollups."""
    rows = (
        TelemetryRollup.objects.for_utility(event.utility)
        .filter(
            channel="w",
            period="5m",
            bucket_start__gte=event.start - margin,
            bucket_start__lt=event.end + margin,
            device_id__in=Dispatch.objects.filter(event=event).values("device_id"),
        )
        .values("bucket_start")
        .annotate(power_w=Sum("avg"))
        .order_by("bucket_start")
    )
    return [{"t": int(r["bucket_start"].timestamp()), "w": r["power_w"]} for r in rows]


def events_in_month(*, utility, year: int, month: int, tz) -> QuerySet[Event]:
    first = datetime(year, month, 1, tzinfo=tz)
    after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return (
        Event.objects.for_utility(utility)
        .filter(start__gte=first, start__lt=after)
        .select_related("program", "group")
        .order_by("start")
    )


def interval_end() -> ExpressionWrapper:
    """`start` + `duration_s` (an event's or an envelope's end) as a database expression."""
    duration: Expression
    if connection.vendor == "sqlite":  # durations are integer microseconds there
        duration = ExpressionWrapper(F("duration_s") * 1_000_000, output_field=DurationField())
    else:
        duration = F("duration_s") * Value(timedelta(seconds=1), output_field=DurationField())
    return ExpressionWrapper(F("start") + duration, output_field=DateTimeField())


def site_envelopes(
    *,
    program: Program,
    connection_point_id: str = "",
    active_at: datetime | None = None,
) -> QuerySet[SiteEnvelope]:
    """The program's site envelopes, by NMI and start: of one NMI (given with or without its
    checksum digit), and only those in force at `active_at` (started, not ended, not
    cancelled), when asked."""
    envelopes = SiteEnvelope.objects.for_utility(program.utility_id).filter(program=program)
    if connection_point_id:
        envelopes = envelopes.filter(connection_point_id=connection_point_id[:10])
    if active_at is not None:
        envelopes = envelopes.annotate(end_at=interval_end()).filter(
            start__lte=active_at, end_at__gt=active_at, cancelled_at__isnull=True
        )
    return envelopes.order_by("connection_point_id", "start", "pk")
