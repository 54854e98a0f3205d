"""Season settlements and payment batches: every dollar is a Decimal and a readable line.

Arithmetic on a line: the quantity is rounded to what the line shows (kW and kWh to two
places, ROUND_HALF_UP), multiplied by the rate, and the product rounded to cents with the
program's rounding rule. A payment is the sum of its rounded lines, so each statement
adds up exactly as printed.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Avg, Case, Count, F, FloatField, Max, Q, Sum, When
from django.utils import timezone

from devices.models import Device
from programs.choices import EventStatus
from programs.models import Event, Participant, Season
from settlement.choices import FINAL_BATCH_STATUSES, BatchStatus, CreditPeriod, LineKind
from settlement.models import (
    Adjustment,
    CustomerPayment,
    EventResult,
    ImmutableError,
    PaymentBatch,
    PaymentLine,
    ReconciliationRun,
    SeasonSettlement,
)
from settlement.rules import rules_for_program, rules_snapshot, to_cents, usd
from settlement.selectors import payees_for_utility
from tenancy.choices import Role
from tenancy.db import insert_rows
from tenancy.models import Membership

TWO = Decimal("0.01")
TIMES = "\u00d7"  # the multiplication sign on statements
ZERO = Decimal("0")


def _qty(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(TWO, rounding=ROUND_HALF_UP)


def season_bounds(season: Season) -> tuple[datetime, datetime]:
    """The season as [start, end) in UTC; dates are taken as UTC days."""
    start = datetime.combine(season.start_date, time.min, tzinfo=UTC)
    end = datetime.combine(season.end_date, time.max, tzinfo=UTC)
    return start, end


def months_between(start: date, end: date) -> int:
    """Whole months from ``start`` to ``end`` (a month counts once its day-of-month is reached)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return max(0, months)


def season_months(season: Season) -> int:
    """Calendar months the season touches (June 1 to Sep 30 is 4)."""
    s, e = season.start_date, season.end_date
    return (e.year - s.year) * 12 + (e.month - s.month) + 1


def current_runs_for_season(*, season: Season):
    """Current reconciliation runs of the season's completed events."""
    start, end = season_bounds(season)
    events = Event.objects.for_utility(season.utility).filter(
        program_id=season.program_id, status=EventStatus.COMPLETED, start__gte=start, start__lte=end
    )
    return ReconciliationRun.objects.for_utility(season.utility).filter(
        event__in=events, is_current=True
    )


PAYMENT_FIELDS = [
    "utility_id",
    "settlement_id",
    "batch_id",
    "device_id",
    "customer_id",
    "account_number",
    "events_counted",
    "avg_delivered_w",
    "energy_wh",
    "avg_performance_factor",
    "amount",
]
LINE_FIELDS = [
    "utility_id",
    "payment_id",
    "kind",
    "quantity",
    "unit",
    "rate",
    "amount",
    "explanation",
]


@dataclass
class _Line:
    kind: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal
    explanation: str


@transaction.atomic
def season_settle(*, season: Season, now: datetime | None = None) -> SeasonSettlement:
    """Compute what each participant earned in ``season``: a new settlement version each time.

    Performance ($/kW-season): the season's average kW delivered over all counted event
    hours (energy over hours, so a 3-hour event weighs three times a 1-hour one). Energy
    ($/kWh): each event's positive energy, summed. Participation: enrolled kW (the device's
    discharge rating) x rate x season months (or once a year). Upfront: enrolled kW x rate
    when the device joined during the season. Clawback: a participant who left during the
    season before its commitment ended returns the upfront pro rata to the months it still
    owed. Below the minimum average performance factor, performance pay is withheld.
    """
    now = now or timezone.now()
    program = season.program
    utility = season.utility
    rules = rules_for_program(program)
    rounding = rules.rounding
    runs = current_runs_for_season(season=season)
    event_count = runs.count()

    per_device = {
        row["device_id"]: row
        for row in EventResult.objects.for_utility(utility)
        .filter(run__in=runs)
        .values("device_id")
        .annotate(
            counted_events=Count("id", filter=Q(counted=True)),
            energy=Sum("energy_wh", filter=Q(counted=True)),
            positive_energy=Sum(
                Case(
                    When(counted=True, energy_wh__gt=0, then=F("energy_wh")),
                    default=0.0,
                    output_field=FloatField(),
                )
            ),
            seconds=Sum("window_s", filter=Q(counted=True)),
            pf=Avg("performance_factor", filter=Q(counted=True)),
        )
    }
    start, end = season_bounds(season)
    participations = {
        p["device_id"]: p
        for p in Participant.objects.for_utility(utility)
        .filter(program=program, joined_at__lte=end)
        .exclude(left_at__lt=start)
        .values("device_id")
        .annotate(joined_at=Max("joined_at"), left_at=Max("left_at"))
    }
    device_ids = set(per_device) | set(participations)
    # Two joins, not one OR of subqueries (which PostgreSQL plans poorly at fleet scale).
    enrolled_w = dict(
        Participant.objects.for_utility(utility)
        .filter(program=program)
        .values_list("device_id", "device__max_discharge_w")
    )
    for device_id, watts in (
        EventResult.objects.for_utility(utility)
        .filter(run__in=runs)
        .values_list("device_id", "device__max_discharge_w")
    ):
        enrolled_w.setdefault(device_id, watts)
    payees = payees_for_utility(utility=utility)

    version = (
        SeasonSettlement.objects.for_utility(utility)
        .filter(season=season)
        .aggregate(v=Max("version"))["v"]
        or 0
    ) + 1
    settlement = SeasonSettlement.objects.create(
        utility=utility,
        program=program,
        season=season,
        version=version,
        computed_at=now,
        rules=rules_snapshot(rules),
        event_count=event_count,
    )
    months = season_months(season)
    payments, lines_of = [], []
    for device_id in sorted(device_ids):
        row = per_device.get(device_id)
        lines: list[_Line] = []
        hours = (row["seconds"] or 0) / 3600 if row else 0
        avg_w = (row["energy"] or 0) / hours if hours else 0.0
        pf = Decimal(str(row["pf"])).quantize(Decimal("0.0001")) if row and row["pf"] else ZERO
        kwh = (row["positive_energy"] or 0) / 1000 if row else 0.0
        if row and row["counted_events"] and rules.kw_season_rate:
            avg_kw = max(ZERO, _qty(avg_w / 1000))
            amount = to_cents(avg_kw * rules.kw_season_rate, rounding=rounding)
            lines.append(
                _Line(
                    LineKind.KW_SEASON,
                    avg_kw,
                    "kW-season",
                    rules.kw_season_rate,
                    amount,
                    f"avg {avg_kw} kW {TIMES} {usd(rules.kw_season_rate)}/kW-season"
                    f" = {usd(amount)}",
                )
            )
        if row and row["counted_events"] and rules.kwh_rate:
            q = _qty(kwh)
            amount = to_cents(q * rules.kwh_rate, rounding=rounding)
            lines.append(
                _Line(
                    LineKind.KWH,
                    q,
                    "kWh",
                    rules.kwh_rate,
                    amount,
                    f"{q} kWh {TIMES} {usd(rules.kwh_rate)}/kWh = {usd(amount)}",
                )
            )
        if rules.min_performance_factor and row and row["counted_events"]:
            if pf < rules.min_performance_factor:
                performance = sum((ln.amount for ln in lines), ZERO)
                lines.append(
                    _Line(
                        LineKind.WITHHELD,
                        pf,
                        "PF",
                        rules.min_performance_factor,
                        -performance,
                        f"avg performance {pf} < minimum {rules.min_performance_factor}: "
                        f"performance pay withheld {usd(-performance)}",
                    )
                )
        kw = _qty(enrolled_w.get(device_id, 0) / 1000)
        part = participations.get(device_id)
        if part and rules.participation_rate:
            periods = Decimal(months if rules.participation_period == CreditPeriod.MONTH else 1)
            amount = to_cents(kw * rules.participation_rate * periods, rounding=rounding)
            unit = "month" if rules.participation_period == CreditPeriod.MONTH else "year"
            lines.append(
                _Line(
                    LineKind.PARTICIPATION,
                    kw,
                    f"kW-{unit}",
                    rules.participation_rate,
                    amount,
                    f"{kw} kW {TIMES} {usd(rules.participation_rate)}/kW-{unit} {TIMES} {periods} "
                    f"{unit}(s) = {usd(amount)}",
                )
            )
        if part and rules.upfront_rate:
            joined, left = part["joined_at"], part["left_at"]
            if start <= joined <= end:
                amount = to_cents(kw * rules.upfront_rate, rounding=rounding)
                lines.append(
                    _Line(
                        LineKind.UPFRONT,
                        kw,
                        "kW",
                        rules.upfront_rate,
                        amount,
                        f"upfront {kw} kW {TIMES} {usd(rules.upfront_rate)}/kW = {usd(amount)}",
                    )
                )
            if left is not None and start <= left <= end and rules.commitment_months:
                served = months_between(joined.date(), left.date())
                owed = rules.commitment_months - served
                if owed > 0:
                    upfront = kw * rules.upfront_rate
                    amount = -to_cents(
                        upfront * owed / Decimal(rules.commitment_months), rounding=rounding
                    )
                    lines.append(
                        _Line(
                            LineKind.CLAWBACK,
                            Decimal(owed),
                            "months",
                            rules.upfront_rate,
                            amount,
                            f"left after {served} of {rules.commitment_months} months: "
                            f"-{usd(to_cents(upfront, rounding=rounding))} {TIMES} {owed}/"
                            f"{rules.commitment_months} = {usd(amount)}",
                        )
                    )
        if not lines:
            continue
        customer_id, account = payees.get(device_id, (None, ""))
        # Plain tuples in PAYMENT_FIELDS order: 100,000 payments and their lines as model
        # instances cost more than the rest of the settlement (issue 18).
        payments.append(
            (
                utility.pk,
                settlement.pk,
                None,
                device_id,
                customer_id,
                account,
                row["counted_events"] if row else 0,
                avg_w,
                (row["energy"] or 0.0) if row else 0.0,
                pf,
                sum((ln.amount for ln in lines), ZERO),
            )
        )
        lines_of.append(lines)

    payment_ids = insert_rows(CustomerPayment, PAYMENT_FIELDS, payments, ids=True)
    insert_rows(
        PaymentLine,
        LINE_FIELDS,
        [
            (
                utility.pk,
                payment_id,
                str(ln.kind),
                ln.quantity,
                ln.unit,
                ln.rate,
                ln.amount,
                ln.explanation,
            )
            for payment_id, lines in zip(payment_ids, lines_of, strict=True)
            for ln in lines
        ],
    )
    settlement.total = sum((p[-1] for p in payments), ZERO)
    settlement.save(update_fields=["total"])
    return settlement


# --- Payment batches --------------------------------------------------------------------


@transaction.atomic
def payment_batch_create(
    *,
    program,
    period: str,
    settlement: SeasonSettlement | None = None,
    now: datetime | None = None,
) -> PaymentBatch:
    """A draft batch; with ``settlement``, holding its payments not yet in any batch.

    Without one it is an empty batch for adjustments (corrections of paid periods).
    """
    now = now or timezone.now()
    if settlement is not None and settlement.program_id != program.pk:
        raise ValueError("The settlement belongs to another program.")
    if settlement is not None:
        paid = CustomerPayment.objects.for_utility(program.utility).filter(
            settlement__season_id=settlement.season_id,
            batch__status__in=FINAL_BATCH_STATUSES,
        )
        if paid.exists():
            raise ImmutableError(
                "This season was already paid; pay the difference with settlement_corrections."
            )
    batch = PaymentBatch.objects.create(
        utility=program.utility, program=program, period=period, created_at=now
    )
    if settlement is not None:
        CustomerPayment.objects.for_utility(program.utility).filter(
            settlement=settlement, batch__isnull=True
        ).update(batch=batch)
    return batch


def _lock_batch(batch: PaymentBatch) -> PaymentBatch:
    return PaymentBatch.objects.select_for_update().get(pk=batch.pk, utility_id=batch.utility_id)


@transaction.atomic
def adjustment_add(
    *,
    batch: PaymentBatch,
    device,
    amount: Decimal,
    reason: str,
    corrects: CustomerPayment | None = None,
    actor=None,
    now: datetime | None = None,
) -> Adjustment:
    """A correction line in a draft batch (approved payments are never edited)."""
    if not isinstance(amount, Decimal):
        raise TypeError("amount must be a Decimal")
    batch = _lock_batch(batch)
    if batch.status != BatchStatus.DRAFT:
        raise ImmutableError("Adjustments go into a draft batch.")
    payees = payees_for_utility(utility=batch.utility)
    adjustment = Adjustment(
        utility_id=batch.utility_id,
        batch=batch,
        device=device,
        account_number=payees.get(device.pk, (None, ""))[1],
        corrects=corrects,
        amount=amount.quantize(TWO),
        reason=reason,
        created_at=now or timezone.now(),
        created_by=actor,
    )
    adjustment.full_clean()
    adjustment.save()
    return adjustment


@transaction.atomic
def settlement_corrections(
    *, previous: SeasonSettlement, current: SeasonSettlement, batch: PaymentBatch, actor=None
) -> list[Adjustment]:
    """Adjustments in ``batch`` for what changed since ``previous`` was paid."""
    before = {p.device_id: p for p in CustomerPayment.objects.filter(settlement=previous)}
    after = dict(
        CustomerPayment.objects.filter(settlement=current).values_list("device_id", "amount")
    )
    made = []
    for device_id in sorted(set(before) | set(after)):
        old = before.get(device_id)
        delta = after.get(device_id, ZERO) - (old.amount if old else ZERO)
        if delta:
            made.append(
                adjustment_add(
                    batch=batch,
                    device=Device.objects.get(pk=device_id, utility_id=batch.utility_id),
                    amount=delta,
                    reason=f"Re-settlement v{previous.version} → v{current.version}",
                    corrects=old,
                    actor=actor,
                )
            )
    # The new settlement's own payments stay unbatched: these adjustments pay the difference.
    return made


def _is_manager(*, actor, utility) -> bool:
    return (
        Membership.objects.for_utility(utility)
        .filter(user=actor, role=Role.PROGRAM_MANAGER)
        .exists()
    )


@transaction.atomic
def payment_batch_approve(
    *, batch: PaymentBatch, actor, now: datetime | None = None
) -> PaymentBatch:
    """draft → approved, by a program manager of the batch's utility. Final from here."""
    if actor is None or not _is_manager(actor=actor, utility=batch.utility):
        raise PermissionDenied("Only a program manager approves payments.")
    batch = _lock_batch(batch)
    if batch.status != BatchStatus.DRAFT:
        raise ImmutableError("Only a draft batch can be approved.")
    batch.status = BatchStatus.APPROVED
    batch.approved_at = now or timezone.now()
    batch.approved_by = actor
    batch.save()
    return batch


@transaction.atomic
def payment_batch_lock(*, batch: PaymentBatch, now: datetime | None = None) -> PaymentBatch:
    """approved → locked, once the payment file has gone out."""
    batch = _lock_batch(batch)
    if batch.status != BatchStatus.APPROVED:
        raise ImmutableError("Only an approved batch can be locked.")
    batch.status = BatchStatus.LOCKED
    batch.locked_at = now or timezone.now()
    batch.save()
    return batch


@transaction.atomic
def payment_batch_delete(*, batch: PaymentBatch) -> None:
    """Drop a draft batch; its payments go back to unbatched. Approved batches refuse."""
    batch = _lock_batch(batch)
    if batch.is_final:
        raise ImmutableError("An approved payment batch cannot be deleted.")
    CustomerPayment.objects.filter(batch=batch).update(batch=None)
    Adjustment.objects.filter(batch=batch).delete()
    batch.delete()
