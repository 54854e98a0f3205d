"""Reads of settlement: payees, event summaries, season views, the payment file."""

import io
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum

from devices.choices import Channel
from devices.models import TelemetrySample
from programs.choices import EventStatus
from programs.models import Dispatch, Event
from programs.selectors import event_funnel
from settlement.choices import ADJUSTMENT_REASON, REASON_CODES, BaselineMethod, Flag, Rounding
from settlement.models import (
    Adjustment,
    CustomerPayment,
    EventResult,
    Payee,
    PaymentBatch,
    PaymentLine,
    ReconciliationRun,
    SettlementRules,
)
from settlement.rules import to_cents
from tenancy.exports import SpreadsheetCsvWriter

BUCKET_S = 300


def payees_for_utility(*, utility) -> dict[int, tuple[int | None, str]]:
    """device id → (customer id, account number). The one place settlement learns who is paid.

    Today the account number lives on settlement's own ``Payee``; when enrollment's
    service accounts land, only this function changes.
    """
    return {
        device_id: (customer_id, account)
        for device_id, customer_id, account in Payee.objects.for_utility(utility).values_list(
            "device_id", "customer_id", "account_number"
        )
    }


def current_run(*, event: Event) -> ReconciliationRun | None:
    return (
        ReconciliationRun.objects.for_utility(event.utility)
        .filter(event=event, is_current=True)
        .first()
    )


@dataclass
class EventSummary:
    """An event's performance at a glance."""

    event: Event
    run: ReconciliationRun | None
    requested_mw: float | None
    committed_mw: float
    delivered_mw: float
    dispatched: int
    counted: int
    funnel: dict[str, int]
    curve: dict[str, list] = field(default_factory=dict)
    worst: list[EventResult] = field(default_factory=list)
    factors: list[float] = field(default_factory=list)


def _bucket_sql() -> str:
    if connection.vendor == "postgresql":
        return f"CAST(floor(extract(epoch FROM s.at) / {BUCKET_S}) AS bigint) * {BUCKET_S}"
    return f"(CAST(strftime('%%s', s.at) AS INTEGER) / {BUCKET_S}) * {BUCKET_S}"


def delivery_curve(*, event: Event, run: ReconciliationRun | None) -> dict[str, list]:
    """Fleet delivery in 5-minute buckets around the event, next to the request (MW).

    Each bucket is the sum over dispatched devices of their mean in that bucket, less the
    sum of their baselines (meter methods: baselines less the meter), so it is comparable
    with the requested MW.
    """
    method = run.baseline_method if run else BaselineMethod.BATTERY_TELEMETRY
    channel = Channel.W if method == BaselineMethod.BATTERY_TELEMETRY else Channel.SITE_W
    baseline_total = 0.0
    if run is not None:
        baseline_total = (
            EventResult.objects.filter(run=run).aggregate(b=Sum("baseline_w"))["b"] or 0.0
        )
    since = event.start - timedelta(minutes=30)
    until = event.end + timedelta(minutes=30)
    sample = TelemetrySample._meta.db_table
    dispatch = Dispatch._meta.db_table
    bucket = _bucket_sql()
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        "SELECT b, SUM(v) FROM ("  # noqa: S608 - identifiers are ours
        f"SELECT s.device_id, {bucket} AS b, AVG(s.value) AS v FROM {sample} s "
        f"JOIN {dispatch} d ON d.device_id = s.device_id "
        "WHERE d.event_id = %s AND s.utility_id = %s AND s.channel = %s "
        "AND s.at >= %s AND s.at < %s "
        f"GROUP BY s.device_id, {bucket}) per_device GROUP BY b ORDER BY b"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [event.pk, event.utility_id, channel, adapt(since), adapt(until)])
        rows = cursor.fetchall()
    sign = 1 if channel == Channel.W else -1
    start_s, end_s = event.start.timestamp(), event.end.timestamp()
    requested = (event.target_w or 0) / 1e6
    times, delivered, request = [], [], []
    for b, total in rows:
        times.append(int(b))
        delivered.append(round(sign * (float(total) - baseline_total) / 1e6, 6))
        request.append(requested if start_s <= int(b) < end_s else 0.0)
    return {"t": times, "delivered_mw": delivered, "requested_mw": request}


def event_summary(*, event: Event, worst: int = 10) -> EventSummary:
    """Requested, committed and delivered MW; the delivery curve; the funnel; worst devices."""
    run = current_run(event=event)
    dispatches = Dispatch.objects.for_utility(event.utility).filter(event=event)
    committed = dispatches.aggregate(c=Sum("committed_w"), n=Count("id"))
    delivered, counted, worst_rows, factors = 0.0, 0, [], []
    if run is not None:
        results = EventResult.objects.filter(run=run)
        totals = results.aggregate(d=Sum("delivered_w", filter=Q(counted=True)), n=Count("id"))
        delivered = totals["d"] or 0.0
        counted = results.filter(counted=True).count()
        worst_rows = list(
            results.select_related("device").order_by("performance_factor", "device_id")[:worst]
        )
        factors = [float(f) for f in results.values_list("performance_factor", flat=True)]
    return EventSummary(
        event=event,
        run=run,
        requested_mw=event.target_w / 1e6 if event.target_w is not None else None,
        committed_mw=(committed["c"] or 0) / 1e6,
        delivered_mw=delivered / 1e6,
        dispatched=committed["n"],
        counted=counted,
        funnel=event_funnel(event=event),
        curve=delivery_curve(event=event, run=run),
        worst=worst_rows,
        factors=factors,
    )


def factor_histogram(factors: list[float], *, bins: int = 10, top: float = 1.0) -> list[dict]:
    """Counts of performance factors in equal bins from 0 to ``top`` (the cap)."""
    top = top or 1.0
    counts = [0] * bins
    for f in factors:
        i = min(bins - 1, max(0, int(f / top * bins)))
        counts[i] += 1
    width = top / bins
    return [
        {"low": round(i * width, 4), "high": round((i + 1) * width, 4), "n": n}
        for i, n in enumerate(counts)
    ]


def payment_file_rows(*, batch: PaymentBatch) -> list[list[str]]:
    """One row per payment and adjustment: account, amount, period, reason codes."""
    payments = CustomerPayment.objects.for_utility(batch.utility).filter(batch=batch)
    codes: dict[int, set[str]] = {}
    for payment_id, kind in (
        PaymentLine.objects.filter(payment__in=payments)
        .values_list("payment_id", "kind")
        .distinct()
    ):
        codes.setdefault(payment_id, set()).add(REASON_CODES[kind])
    rows = [
        [account, str(amount), batch.period, ";".join(sorted(codes.get(pk, ())))]
        for pk, account, amount in payments.order_by("account_number", "device_id").values_list(
            "pk", "account_number", "amount"
        )
    ]
    for adjustment in Adjustment.objects.for_utility(batch.utility).filter(batch=batch):
        rows.append(
            [adjustment.account_number, str(adjustment.amount), batch.period, ADJUSTMENT_REASON]
        )
    return rows


def payment_file_csv(*, batch: PaymentBatch) -> str:
    """The CSV payment file of a batch."""
    out = io.StringIO()
    writer = SpreadsheetCsvWriter(out, lineterminator="\n")
    writer.writerow(["account_number", "amount", "period", "reason_codes"])
    writer.writerows(payment_file_rows(batch=batch))
    return out.getvalue()


@dataclass
class DevicePastEvent:
    """One finished event as its participant sees it: what the battery delivered, what it
    earned for that delivery, and why it did not count when it did not."""

    event: Event
    opted_out: bool
    result: EventResult | None
    committed_kw: float | None
    delivered_kw: float | None
    energy_kwh: float | None
    performance_pct: float | None
    energy_pay: Decimal | None
    kwh_rate: Decimal | None
    kw_season_rate: Decimal | None
    note: str


FINISHED = (EventStatus.COMPLETED, EventStatus.CANCELLED)


def device_past_events(*, device, program, limit: int = 50) -> list[DevicePastEvent]:
    """The device's finished events in a program, newest first, with the current
    reconciliation's result for the device. Earnings are the program's per-kWh rate times
    the event's delivered energy (what settlement pays for that event); the kW-season part
    depends on the whole season and is paid in the season settlement."""
    utility = device.utility
    dispatches = list(
        Dispatch.objects.for_utility(utility)
        .filter(device=device, event__program=program, event__status__in=FINISHED)
        .select_related("event")
        .order_by("-event__start")[:limit]
    )
    events = [d.event for d in dispatches]
    results = {
        r.run.event_id: r
        for r in EventResult.objects.for_utility(utility)
        .filter(device=device, run__is_current=True, run__event__in=events)
        .select_related("run")
    }
    opted = set(device.opt_outs.filter(event__in=events).values_list("event_id", flat=True))
    rules = SettlementRules.objects.for_utility(utility).filter(program=program).first()
    kwh_rate = rules.kwh_rate if rules and rules.kwh_rate else None
    kw_season_rate = rules.kw_season_rate if rules and rules.kw_season_rate else None
    rounding = rules.rounding if rules else None
    rows = []
    for event in events:
        r = results.get(event.pk)
        pay = None
        note = ""
        if event.status == EventStatus.CANCELLED:
            note = "Cancelled before it ran: nothing was asked of your battery."
        elif r is None:
            note = "Being settled: results appear within a day of the event."
        elif not r.counted:
            note = (
                "Not counted: "
                + (
                    ", ".join(Flag(f).label.lower() for f in r.flags if f in Flag.values)
                    or "excluded"
                )
                + "."
            )
        elif event.pk in opted:
            note = "You opted out of this event."
        if r is not None and r.counted and kwh_rate is not None:
            kwh = Decimal(str(max(r.energy_wh, 0) / 1000)).quantize(Decimal("0.0001"))
            pay = to_cents(kwh * kwh_rate, rounding=rounding or Rounding.HALF_UP)
        rows.append(
            DevicePastEvent(
                event=event,
                opted_out=event.pk in opted,
                result=r,
                committed_kw=r.committed_w / 1000 if r and r.committed_w is not None else None,
                delivered_kw=r.delivered_w / 1000 if r else None,
                energy_kwh=r.energy_wh / 1000 if r else None,
                performance_pct=float(r.performance_factor) * 100 if r else None,
                energy_pay=pay,
                kwh_rate=kwh_rate,
                kw_season_rate=kw_season_rate,
                note=note,
            )
        )
    return rows
