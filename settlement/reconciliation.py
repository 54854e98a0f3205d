"""Event reconciliation: what each dispatched device delivered against what it committed.

Telemetry is aggregated in SQL, grouped by device: first to one average per minute (so
a device that reports every 10 s and one that reports every minute weigh the same, and
a burst of near-duplicate readings counts once), then to the window's mean of those
minutes. The minutes with data, against the intervals the program's telemetry cadence
asks for in the window, are the coverage.

Two paths give the same results: on PostgreSQL every device's result is computed and
written by a few set-based statements (``settlement.reconcile_sql``, issue 18: 100,000
devices no longer pass through Python); the Python loop here is the reference, and what
SQLite runs. tests/settlement/test_reconcile_sql.py holds them to each other.
"""

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from devices.choices import Channel
from devices.models import TelemetrySample
from programs.choices import COUNTED_STATUSES, EventKind, EventStatus
from programs.controls import PLANNED_KINDS
from programs.models import Dispatch, Event, OptOut
from settlement import reconcile_sql
from settlement.choices import TREATMENT_ORDER, BaselineMethod, Flag, Treatment
from settlement.models import EventResult, ReconciliationRun, SettlementRules
from settlement.rules import rules_for_program, rules_snapshot
from tenancy.db import insert_rows

OPT_OUT_RESPONSE = 4  # 2030.5 Response status "event opted out" (programs.selectors.OPT_OUT)
TEN_IN_TEN_DAYS = 10
TEN_IN_TEN_LOOKBACK_DAYS = 45
ADJUSTMENT_HOURS = 3
ADJUSTMENT_CLIP = (0.8, 1.2)  # ±20 %
PF_PLACES = Decimal("0.0001")
# The per-device columns of an EventResult, in the order event_reconcile builds them.
RESULT_FIELDS = [
    "device_id",
    "window_s",
    "committed_w",
    "measured_w",
    "baseline_w",
    "delivered_w",
    "energy_wh",
    "performance_factor",
    "coverage",
    "flags",
    "treatment",
    "counted",
]


class SettlementError(Exception):
    """A settlement action that cannot be done in the current state."""


@dataclass(frozen=True)
class WindowStats:
    """One device's telemetry over a window: mean of per-minute means, minutes, last minute."""

    avg: float
    minutes: int
    last_minute: int  # whole minutes since 1970


def _minute_sql() -> str:
    if connection.vendor == "postgresql":
        return "CAST(floor(extract(epoch FROM s.at) / 60) AS bigint)"
    return "(CAST(strftime('%%s', s.at) AS INTEGER) / 60)"


def window_stats(
    *, event: Event, channel: str, since: datetime, until: datetime
) -> dict[int, WindowStats]:
    """Per dispatched device, its ``channel`` over [since, until), in one grouped query."""
    sample = TelemetrySample._meta.db_table
    dispatch = Dispatch._meta.db_table
    minute = _minute_sql()
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        "SELECT device_id, AVG(v), COUNT(*), MAX(m) FROM ("  # noqa: S608 - identifiers are ours
        f"SELECT s.device_id AS device_id, {minute} AS m, AVG(s.value) AS v "
        f"FROM {sample} s JOIN {dispatch} d ON d.device_id = s.device_id "
        "WHERE d.event_id = %s AND s.utility_id = %s AND s.channel = %s "
        "AND s.at >= %s AND s.at < %s "
        f"GROUP BY s.device_id, {minute}) per_minute GROUP BY device_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [event.pk, event.utility_id, channel, adapt(since), adapt(until)])
        return {
            device_id: WindowStats(float(avg), int(n), int(last))
            for device_id, avg, n, last in cursor.fetchall()
        }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def ten_in_ten_days(*, event: Event) -> list[datetime]:
    """Start times, on the last 10 eligible weekdays before the event, of its clock window.

    Eligible: Monday to Friday in the utility's time zone, with no other live or completed
    event of the program that day. Same local clock time, so DST changes keep the hours.
    """
    tz = ZoneInfo(event.utility.timezone)
    local_start = event.start.astimezone(tz)
    lookback_start = local_start - timedelta(days=TEN_IN_TEN_LOOKBACK_DAYS)
    event_days = {
        start.astimezone(tz).date()
        for start in Event.objects.for_utility(event.utility)
        .filter(
            program_id=event.program_id,
            status__in=COUNTED_STATUSES,
            start__gte=lookback_start,
            start__lt=event.start,
        )
        .exclude(pk=event.pk)
        .values_list("start", flat=True)
    }
    days = []
    for back in range(1, TEN_IN_TEN_LOOKBACK_DAYS + 1):
        day = (local_start - timedelta(days=back)).date()
        if day.weekday() >= 5 or day in event_days:
            continue
        start = datetime.combine(day, local_start.timetz().replace(tzinfo=None), tzinfo=tz)
        days.append(start)
        if len(days) == TEN_IN_TEN_DAYS:
            break
    return days


def _ten_in_ten(
    *, event: Event, rules: SettlementRules
) -> tuple[dict[int, float], dict[str, object]]:
    """Per device, the 10-in-10 baseline W (adjusted when the rules say so), and what was used."""
    days = ten_in_ten_days(event=event)
    window = timedelta(seconds=event.duration_s)
    before = timedelta(hours=ADJUSTMENT_HOURS)
    per_day: dict[int, list[float]] = {}
    pre_per_day: dict[int, list[float]] = {}
    for day_start in days:
        for device_id, stats in window_stats(
            event=event, channel=Channel.SITE_W, since=day_start, until=day_start + window
        ).items():
            per_day.setdefault(device_id, []).append(stats.avg)
        if rules.ten_in_ten_adjust:
            for device_id, stats in window_stats(
                event=event, channel=Channel.SITE_W, since=day_start - before, until=day_start
            ).items():
                pre_per_day.setdefault(device_id, []).append(stats.avg)
    baselines = {device_id: _mean(values) for device_id, values in per_day.items()}
    if rules.ten_in_ten_adjust:
        today = window_stats(
            event=event, channel=Channel.SITE_W, since=event.start - before, until=event.start
        )
        low, high = ADJUSTMENT_CLIP
        for device_id, baseline in baselines.items():
            typical = _mean(pre_per_day.get(device_id, []))
            actual = today.get(device_id)
            # A ratio needs a positive import to scale; otherwise leave the baseline alone.
            if typical and typical > 0 and actual is not None:
                baselines[device_id] = baseline * min(high, max(low, actual.avg / typical))
    used = {"days": [d.date().isoformat() for d in days], "adjusted": rules.ten_in_ten_adjust}
    return baselines, used


@dataclass
class _Measured:
    during: dict[int, WindowStats]
    baseline: dict[int, float]
    sign: int  # delivered = sign * (during - baseline)
    used: dict


def _measure(*, event: Event, rules: SettlementRules) -> _Measured:
    method = rules.baseline_method
    if method == BaselineMethod.TEN_IN_TEN:
        during = window_stats(
            event=event, channel=Channel.SITE_W, since=event.start, until=event.end
        )
        baseline, used = _ten_in_ten(event=event, rules=rules)
        # site_w > 0 imports: delivery is the import avoided, baseline minus during.
        return _Measured(during, baseline, -1, used)
    channel = Channel.W if method == BaselineMethod.BATTERY_TELEMETRY else Channel.SITE_W
    before = event.start - timedelta(minutes=rules.meter_before_minutes)
    during = window_stats(event=event, channel=channel, since=event.start, until=event.end)
    pre = window_stats(event=event, channel=channel, since=before, until=event.start)
    baseline = {device_id: stats.avg for device_id, stats in pre.items()}
    # Battery W > 0 discharges: delivery is during minus before. Meter: before minus during.
    sign = 1 if method == BaselineMethod.BATTERY_TELEMETRY else -1
    return _Measured(during, baseline, sign, {"before_minutes": rules.meter_before_minutes})


def _digest(payload) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _performance_factor(delivered_w: float, committed_w: int | None, cap: Decimal) -> Decimal:
    if not committed_w or committed_w <= 0:
        return Decimal("0.0000")
    factor = Decimal(repr(delivered_w / committed_w)).quantize(PF_PLACES, rounding=ROUND_HALF_UP)
    return min(max(factor, Decimal("0")), cap).quantize(PF_PLACES)


def _treatment_for(flags: list[str], rules: SettlementRules) -> str:
    by_flag = {
        Flag.MISSING_INTERVALS: rules.on_missing_intervals,
        Flag.STALE: rules.on_stale,
        Flag.OPT_OUT: rules.on_opt_out,
        Flag.OFFLINE: rules.on_offline,
    }
    chosen = Treatment.NONE
    for flag in flags:
        if TREATMENT_ORDER.index(by_flag[flag]) > TREATMENT_ORDER.index(chosen):
            chosen = Treatment(by_flag[flag])
    return chosen


@dataclass(frozen=True)
class _Terms:
    """What every device's result in one event is measured against (both paths share it)."""

    window_s: int
    expected_intervals: int
    end_minute: int
    min_coverage: float
    sign_of_kind: int
    paid_as_energy: bool
    cap: Decimal


def _terms(*, event: Event, rules: SettlementRules) -> _Terms:
    # Coverage counts against the program's telemetry cadence: a device reporting every
    # 5 minutes as asked is fully covered with 12 of 60 minutes.
    interval_s = max(60, event.program.telemetry_cadence_s)
    # Only planned kinds (discharge, charge) commit energy. Any other control (a limit,
    # connect, a curve …) is not paid as energy delivered and does not count towards the
    # performance average: its results keep what each device measured, for the record.
    return _Terms(
        window_s=event.duration_s,
        expected_intervals=math.ceil(event.duration_s / interval_s),
        end_minute=math.floor(event.end.timestamp() / 60),
        min_coverage=rules.min_coverage_pct / 100,
        sign_of_kind=-1 if event.kind == EventKind.CHARGE else 1,
        paid_as_energy=event.kind in PLANNED_KINDS,
        cap=rules.performance_factor_cap,
    )


@dataclass
class _Outcome:
    """An event's measured results, ready to be compared by digest and written to a run."""

    digest: str
    used: dict
    counts: dict
    write: Callable[[ReconciliationRun], None]


def _outcome_in_python(*, event: Event, rules: SettlementRules) -> _Outcome:
    """The reference: per-window aggregates from SQL, each device's result in Python.

    SQLite runs this; on PostgreSQL ``_outcome_in_sql`` gives the same results in sets.
    """
    rules_json = rules_snapshot(rules)
    dispatches = list(
        Dispatch.objects.for_utility(event.utility)
        .filter(event=event)
        .values_list("device_id", "committed_w", "last_response")
        .order_by("device_id")
    )
    opted_out = set(
        OptOut.objects.for_utility(event.utility)
        .filter(event=event)
        .values_list("device_id", flat=True)
    )
    opted_out |= {d for d, _c, response in dispatches if response == OPT_OUT_RESPONSE}
    measured = _measure(event=event, rules=rules)

    digest = _digest(
        {
            "rules": rules_json,
            "window": [event.start.isoformat(), event.duration_s],
            "dispatches": [[d, c] for d, c, _r in dispatches],
            "opted_out": sorted(opted_out),
            "during": sorted(
                [d, round(s.avg, 6), s.minutes, s.last_minute] for d, s in measured.during.items()
            ),
            "baseline": sorted([d, round(b, 6)] for d, b in measured.baseline.items()),
        }
    )
    terms = _terms(event=event, rules=rules)
    window_s = terms.window_s
    results, flag_counts, treatment_counts = [], {}, {}
    for device_id, committed_w, _response in dispatches:
        stats = measured.during.get(device_id)
        baseline_w = measured.baseline.get(device_id)
        coverage = min(1.0, stats.minutes / terms.expected_intervals) if stats else 0.0
        flags = []
        if stats is None or (terms.end_minute - stats.last_minute) * 60 > rules.offline_after_s:
            flags.append(Flag.OFFLINE)
        if stats is not None and coverage < terms.min_coverage:
            flags.append(Flag.MISSING_INTERVALS)
        if baseline_w is None:
            flags.append(Flag.STALE)
        if device_id in opted_out:
            flags.append(Flag.OPT_OUT)
        treatment = _treatment_for(flags, rules)

        measured_w = stats.avg if stats else None
        if measured_w is None:
            delivered_w = 0.0
        elif baseline_w is None:
            # No baseline: battery telemetry assumes an idle battery; a meter cannot say.
            delivered_w = measured_w if measured.sign > 0 else 0.0
        else:
            delivered_w = measured.sign * (measured_w - baseline_w)
        delivered_w *= terms.sign_of_kind
        if treatment == Treatment.PRORATE:
            delivered_w *= coverage
        elif treatment in (Treatment.ZERO, Treatment.EXCLUDE):
            delivered_w = 0.0
        if not terms.paid_as_energy:
            delivered_w = 0.0
        for flag in flags:
            flag_counts[str(flag)] = flag_counts.get(str(flag), 0) + 1
        treatment_counts[str(treatment)] = treatment_counts.get(str(treatment), 0) + 1
        # Plain tuples, not EventResult instances: 100,000 model instances cost more than
        # the rest of the reconciliation (issue 18). Order: RESULT_FIELDS after the run.
        results.append(
            (
                device_id,
                window_s,
                committed_w,
                measured_w,
                baseline_w,
                delivered_w,
                delivered_w * window_s / 3600,
                _performance_factor(delivered_w, committed_w, terms.cap),
                coverage,
                [str(f) for f in flags],
                str(treatment),
                terms.paid_as_energy and treatment != Treatment.EXCLUDE,
            )
        )

    def write(run: ReconciliationRun) -> None:
        insert_rows(
            EventResult,
            ["utility_id", "run_id", *RESULT_FIELDS],
            [(event.utility_id, run.pk, *row) for row in results],
        )

    counts = {
        "dispatched": len(dispatches),
        "opted_out": len(opted_out),
        "with_telemetry": len(measured.during),
        "with_baseline": len(measured.baseline),
        "telemetry_minutes": sum(s.minutes for s in measured.during.values()),
        "flags": flag_counts,
        "treatments": treatment_counts,
    }
    return _Outcome(digest, measured.used, counts, write)


def _sql_plan(*, event: Event, rules: SettlementRules) -> tuple[reconcile_sql.Plan, dict]:
    """The windows and terms of ``_measure`` and ``_terms``, for the set-based path."""
    method = rules.baseline_method
    during = reconcile_sql.Window("during", 0, event.start, event.end)
    if method == BaselineMethod.TEN_IN_TEN:
        before = timedelta(hours=ADJUSTMENT_HOURS)
        days = ten_in_ten_days(event=event)
        windows = [
            during,
            *reconcile_sql.day_windows(
                days,
                duration=timedelta(seconds=event.duration_s),
                before=before,
                adjust=rules.ten_in_ten_adjust,
            ),
        ]
        if rules.ten_in_ten_adjust:
            windows.append(reconcile_sql.Window("today_pre", 0, event.start - before, event.start))
        channel, sign = Channel.SITE_W, -1
        used = {"days": [d.date().isoformat() for d in days], "adjusted": rules.ten_in_ten_adjust}
    else:
        before_start = event.start - timedelta(minutes=rules.meter_before_minutes)
        windows = [during, reconcile_sql.Window("pre", 0, before_start, event.start)]
        battery = method == BaselineMethod.BATTERY_TELEMETRY
        channel, sign = (Channel.W, 1) if battery else (Channel.SITE_W, -1)
        used = {"before_minutes": rules.meter_before_minutes}
    terms = _terms(event=event, rules=rules)
    by_flag = {
        Flag.MISSING_INTERVALS: rules.on_missing_intervals,
        Flag.STALE: rules.on_stale,
        Flag.OPT_OUT: rules.on_opt_out,
        Flag.OFFLINE: rules.on_offline,
    }
    plan = reconcile_sql.Plan(
        event_id=event.pk,
        utility_id=event.utility_id,
        channel=str(channel),
        windows=windows,
        ten_in_ten=method == BaselineMethod.TEN_IN_TEN,
        adjust=rules.ten_in_ten_adjust,
        sign=sign,
        sign_of_kind=terms.sign_of_kind,
        paid_as_energy=terms.paid_as_energy,
        window_s=terms.window_s,
        expected_intervals=terms.expected_intervals,
        end_minute=terms.end_minute,
        offline_after_s=rules.offline_after_s,
        min_coverage=terms.min_coverage,
        cap=terms.cap,
        treatment_rank={flag: TREATMENT_ORDER.index(t) for flag, t in by_flag.items()},
        clip=ADJUSTMENT_CLIP,
    )
    return plan, used


def _outcome_in_sql(*, event: Event, rules: SettlementRules) -> _Outcome:
    """Every device's result computed in PostgreSQL: a constant number of statements."""
    plan, used = _sql_plan(event=event, rules=rules)
    reconcile_sql.results_compute(plan)
    summary = reconcile_sql.results_summary(event_id=event.pk)
    digest = _digest(
        {
            "rules": rules_snapshot(rules),
            "window": [event.start.isoformat(), event.duration_s],
            "telemetry": summary["telemetry_digest"],
        }
    )

    def write(run: ReconciliationRun) -> None:
        reconcile_sql.results_write(
            run_id=run.pk, utility_id=event.utility_id, fields=RESULT_FIELDS
        )

    return _Outcome(digest, used, summary["counts"], write)


@transaction.atomic
def event_reconcile(
    *, event: Event, now: datetime | None = None, set_based: bool | None = None
) -> ReconciliationRun:
    """Measure every dispatched device of a completed event; idempotent.

    Versioning: the inputs (rules, dispatches, opt-outs and the per-device telemetry
    aggregates) are hashed. When they match the current run's, that run is returned and
    nothing is written. When they differ (late telemetry, a rule change) a new version is
    written and becomes the current one; older versions stay for audit.

    ``set_based`` (default: on PostgreSQL) computes the results in SQL; otherwise the
    Python reference does. Both give the same results; their digests differ, so a run
    made by one path is re-made, not reused, by the other.
    """
    now = now or timezone.now()
    event = Event.objects.select_for_update().select_related("utility", "program").get(pk=event.pk)
    if event.status != EventStatus.COMPLETED:
        raise SettlementError("Only completed events are reconciled.")
    rules = rules_for_program(event.program)
    if set_based is None:
        set_based = connection.vendor == "postgresql"
    if set_based and connection.vendor != "postgresql":
        raise SettlementError("Set-based reconciliation needs PostgreSQL.")
    outcome = (_outcome_in_sql if set_based else _outcome_in_python)(event=event, rules=rules)

    runs = ReconciliationRun.objects.for_utility(event.utility).filter(event=event)
    current = runs.filter(is_current=True).first()
    if current is not None and current.inputs_digest == outcome.digest:
        return current

    version = (runs.aggregate(Max("version"))["version__max"] or 0) + 1
    runs.filter(is_current=True).update(is_current=False)
    run = ReconciliationRun.objects.create(
        utility_id=event.utility_id,
        event=event,
        version=version,
        is_current=True,
        baseline_method=rules.baseline_method,
        inputs={
            "rules": rules_snapshot(rules),
            "telemetry_cutoff": now.isoformat(),
            "window": {"start": event.start.isoformat(), "end": event.end.isoformat()},
            "baseline": outcome.used,
            "counts": outcome.counts,
        },
        inputs_digest=outcome.digest,
        created_at=now,
    )
    outcome.write(run)
    return run
