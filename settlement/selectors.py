"""Reads of settlement: payees, event summaries, season views, the payment file."""

import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.db.models import Count, Q, Sum

from devices.choices import Channel
from devices.models import TelemetrySample
from programs.models import Dispatch, Event
from programs.selectors import event_funnel
from settlement.choices import ADJUSTMENT_REASON, REASON_CODES, BaselineMethod
from settlement.models import (
    Adjustment,
    CustomerPayment,
    EventResult,
    Payee,
    PaymentBatch,
    PaymentLine,
    ReconciliationRun,
)
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
