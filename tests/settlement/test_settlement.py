"""Season settlement and payments, with every dollar worked out by hand in the comments."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db.models import RestrictedError

from programs.models import Participant, Season
from settlement.models import (
    CustomerPayment,
    EventResult,
    ImmutableError,
    Payee,
    PaymentLine,
    ReconciliationRun,
)
from settlement.payments import months_between, season_months
from settlement.rules import to_cents
from settlement.selectors import payment_file_csv
from settlement.services import (
    adjustment_add,
    event_reconcile,
    payment_batch_approve,
    payment_batch_create,
    payment_batch_delete,
    payment_batch_lock,
    season_settle,
    settlement_corrections,
)
from tenancy.choices import Role
from tests import factories
from tests.settlement.conftest import START, readings

JUNE = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)


@pytest.fixture
def season(program):
    # June to September: 4 months.
    return Season.objects.create(
        utility=program.utility,
        program=program,
        name="Summer",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 9, 30),
    )


@pytest.fixture
def result(utility, make_event):
    """A completed event with a current run holding one device's result."""

    def make(device, *, start, delivered_w, window_s=3600, committed_w=5000, pf="0.8", **kw):
        event = make_event(start=start, duration_s=window_s)
        run, _ = ReconciliationRun.objects.get_or_create(
            utility=utility,
            event=event,
            version=1,
            defaults={"baseline_method": "battery_telemetry", "created_at": start},
        )
        return EventResult.objects.create(
            utility=utility,
            run=run,
            device=device,
            window_s=window_s,
            committed_w=committed_w,
            delivered_w=delivered_w,
            energy_wh=delivered_w * window_s / 3600,
            performance_factor=Decimal(pf),
            coverage=1.0,
            **kw,
        )

    return make


def lines_of(settlement, device):
    payment = CustomerPayment.objects.get(settlement=settlement, device=device)
    return payment, {line.kind: line for line in payment.lines.all()}


def test_kw_season_is_the_average_over_all_event_hours(rules, season, utility, result):
    rules.kw_season_rate = Decimal("40")
    rules.save()
    d = factories.device(utility)
    # Event 1: 1 h at 4,000 W = 4,000 Wh. Event 2: 2 h at 3,130 W = 6,260 Wh.
    # Average over the 3 event hours: 10,260 Wh / 3 h = 3,420 W = 3.42 kW.
    # 3.42 kW x $40.00/kW-season = $136.80.
    result(d, start=JUNE, delivered_w=4000.0)
    result(d, start=JUNE + timedelta(days=7), delivered_w=3130.0, window_s=7200)
    # An excluded event is out of both the energy and the hours.
    result(d, start=JUNE + timedelta(days=14), delivered_w=0.0, counted=False)
    # An event after the season is not in it.
    result(d, start=datetime(2026, 10, 5, 18, tzinfo=UTC), delivered_w=9000.0)
    settlement = season_settle(season=season)
    payment, lines = lines_of(settlement, d)
    line = lines["kw_season"]
    assert line.quantity == Decimal("3.42")
    assert line.amount == Decimal("136.80")
    assert line.explanation == "avg 3.42 kW \u00d7 $40.00/kW-season = $136.80"
    assert payment.amount == Decimal("136.80")
    assert payment.events_counted == 2
    assert settlement.event_count == 3
    settlement.refresh_from_db()
    assert settlement.total == Decimal("136.80")
    for value in (line.amount, line.rate, line.quantity, payment.amount, settlement.total):
        assert isinstance(value, Decimal)


@pytest.mark.parametrize(("rounding", "expected"), [("half_up", "2.57"), ("half_even", "2.56")])
def test_kwh_rate_and_the_rounding_rule(rules, season, utility, result, rounding, expected):
    rules.kwh_rate = Decimal("0.25")
    rules.rounding = rounding
    rules.save()
    d = factories.device(utility)
    # 4.00 + 6.26 = 10.26 kWh x $0.25 = $2.565: half-up gives $2.57, banker's $2.56.
    # A charging result (-500 W) is no energy delivered; it does not reduce the kWh paid.
    result(d, start=JUNE, delivered_w=4000.0)
    result(d, start=JUNE + timedelta(days=7), delivered_w=3130.0, window_s=7200)
    result(d, start=JUNE + timedelta(days=8), delivered_w=-500.0)
    _, lines = lines_of(season_settle(season=season), d)
    assert lines["kwh"].quantity == Decimal("10.26")
    assert lines["kwh"].amount == Decimal(expected)


def test_rounding_rule_on_its_own():
    assert to_cents(Decimal("0.125")) == Decimal("0.13")
    assert to_cents(Decimal("0.125"), rounding="half_even") == Decimal("0.12")
    assert to_cents(Decimal("0.135"), rounding="half_even") == Decimal("0.14")
    assert to_cents(Decimal("-0.125")) == Decimal("-0.13")
    with pytest.raises(TypeError):
        to_cents(0.125)


@pytest.mark.parametrize(
    ("period", "rate", "expected", "text"),
    [
        # 5.00 kW x $1.25/kW-month x 4 months = $25.00
        ("month", "1.25", "25.00", "5.00 kW \u00d7 $1.25/kW-month \u00d7 4 month(s) = $25.00"),
        # 5.00 kW x $15.00/kW-year x 1 = $75.00
        ("year", "15", "75.00", "5.00 kW \u00d7 $15.00/kW-year \u00d7 1 year(s) = $75.00"),
    ],
)
def test_participation_credit(rules, season, utility, program, period, rate, expected, text):
    rules.participation_rate = Decimal(rate)
    rules.participation_period = period
    rules.save()
    d = factories.device(utility, max_discharge_w=5000)
    Participant.objects.create(
        utility=utility, program=program, device=d, joined_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    _, lines = lines_of(season_settle(season=season), d)
    assert lines["participation"].amount == Decimal(expected)
    assert lines["participation"].explanation == text
    assert season_months(season) == 4


def test_upfront_incentive_and_prorated_clawback(rules, season, utility, program):
    rules.upfront_rate = Decimal("100")
    rules.commitment_months = 36
    rules.save()
    newcomer = factories.device(utility, max_discharge_w=5000)
    leaver = factories.device(utility, max_discharge_w=5000)
    # Joined during the season: 5.00 kW x $100/kW = $500.00 upfront.
    Participant.objects.create(
        utility=utility, program=program, device=newcomer, joined_at=JUNE - timedelta(days=5)
    )
    # Joined 1 Dec 2025, left 20 Jul 2026: 7 whole months served of 36, 29 owed.
    # Clawback = $500.00 x 29/36 = $402.777... = -$402.78.
    Participant.objects.create(
        utility=utility,
        program=program,
        device=leaver,
        joined_at=datetime(2025, 12, 1, tzinfo=UTC),
        left_at=datetime(2026, 7, 20, tzinfo=UTC),
    )
    settlement = season_settle(season=season)
    _, lines = lines_of(settlement, newcomer)
    assert lines["upfront"].amount == Decimal("500.00")
    payment, lines = lines_of(settlement, leaver)
    assert "upfront" not in lines
    assert lines["clawback"].amount == Decimal("-402.78")
    assert lines["clawback"].explanation == (
        "left after 7 of 36 months: -$500.00 \u00d7 29/36 = -$402.78"
    )
    assert payment.amount == Decimal("-402.78")
    assert months_between(date(2025, 12, 1), date(2026, 7, 20)) == 7
    assert months_between(date(2025, 12, 15), date(2026, 7, 14)) == 6


def test_minimum_performance_withholds_performance_pay(rules, season, utility, result):
    rules.kw_season_rate = Decimal("40")
    rules.min_performance_factor = Decimal("0.9")
    rules.save()
    weak, strong = factories.device(utility), factories.device(utility)
    # Weak: PF 0.8 and 0.6, average 0.7 < 0.9. 3.42 kW x $40 = $136.80, then withheld.
    result(weak, start=JUNE, delivered_w=4000.0, pf="0.8")
    result(weak, start=JUNE + timedelta(days=7), delivered_w=3130.0, window_s=7200, pf="0.6")
    # Strong: PF 1.0 twice, 5 kW: $200.00, kept.
    result(strong, start=JUNE + timedelta(days=1), delivered_w=5000.0, pf="1.0")
    result(strong, start=JUNE + timedelta(days=2), delivered_w=5000.0, pf="1.0")
    settlement = season_settle(season=season)
    payment, lines = lines_of(settlement, weak)
    assert lines["kw_season"].amount == Decimal("136.80")
    assert lines["withheld"].amount == Decimal("-136.80")
    assert payment.avg_performance_factor == Decimal("0.7000")
    assert payment.amount == Decimal("0.00")
    payment, lines = lines_of(settlement, strong)
    assert "withheld" not in lines and payment.amount == Decimal("200.00")


# --- End to end, batches and immutability ---------------------------------------------------


@pytest.fixture
def paid_season(rules, season, utility, program, event, dispatched, ingest):
    """Telemetry → reconciliation → settlement → a draft batch. Event at 15 July 18:00."""
    rules.kw_season_rate = Decimal("40")
    rules.participation_rate = Decimal("1.25")
    rules.save()
    d = dispatched(5000, max_discharge_w=5000)
    Payee.objects.create(utility=utility, device=d, account_number="ACCT-0001")
    Participant.objects.create(
        utility=utility, program=program, device=d, joined_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    # 30 minutes at 0 W before, then 4,000 W for the first 30 minutes only (late upload
    # pending): offline -> zero. kW-season 0.00 x $40 = $0.00; participation $25.00.
    ingest(
        readings(d, "w", START - timedelta(minutes=30), 30, 0.0),
        readings(d, "w", START, 30, 4000.0),
    )
    event_reconcile(event=event)
    settlement = season_settle(season=season)
    batch = payment_batch_create(program=program, period="Summer 2026", settlement=settlement)
    return {"device": d, "settlement": settlement, "batch": batch, "event": event}


def test_end_to_end_csv_and_approval(paid_season, utility):
    batch = paid_season["batch"]
    payment = CustomerPayment.objects.get(batch=batch)
    assert payment.amount == Decimal("25.00") and isinstance(payment.amount, Decimal)
    assert payment_file_csv(batch=batch) == (
        "account_number,amount,period,reason_codes\nACCT-0001,25.00,Summer 2026,PART;PERF\n"
    )
    manager = factories.member(utility, Role.PROGRAM_MANAGER)
    approved = payment_batch_approve(batch=batch, actor=manager)
    assert approved.status == "approved" and approved.approved_by == manager
    locked = payment_batch_lock(batch=approved)
    assert locked.status == "locked" and locked.locked_at is not None


def test_only_managers_approve(paid_season, utility):
    analyst = factories.member(utility, Role.ANALYST)
    outsider = factories.member(factories.utility(), Role.PROGRAM_MANAGER)
    for actor in (analyst, outsider, None):
        with pytest.raises(PermissionDenied):
            payment_batch_approve(batch=paid_season["batch"], actor=actor)
    paid_season["batch"].refresh_from_db()
    assert paid_season["batch"].status == "draft"


def test_a_draft_can_change_and_an_approved_batch_cannot(paid_season, utility):
    batch = paid_season["batch"]
    payment = CustomerPayment.objects.get(batch=batch)
    payment.account_number = "ACCT-0002"
    payment.save()  # draft: allowed
    payment_batch_approve(batch=batch, actor=factories.member(utility, Role.PROGRAM_MANAGER))
    batch.refresh_from_db()
    payment.refresh_from_db()
    line = PaymentLine.objects.filter(payment=payment).first()

    payment.amount = Decimal("1000.00")
    with pytest.raises(ImmutableError):
        payment.save()
    with pytest.raises(ImmutableError):
        payment.delete()
    with pytest.raises(ImmutableError):
        line.save()
    with pytest.raises(ImmutableError):
        line.delete()
    batch.period = "Rewritten"
    with pytest.raises(ImmutableError):
        batch.save()
    with pytest.raises(ImmutableError):
        batch.delete()
    with pytest.raises(ImmutableError):
        payment_batch_delete(batch=batch)
    with pytest.raises(ImmutableError):
        adjustment_add(
            batch=batch, device=paid_season["device"], amount=Decimal("5.00"), reason="x"
        )
    with pytest.raises(ImmutableError):
        payment_batch_approve(batch=batch, actor=factories.member(utility, Role.PROGRAM_MANAGER))
    locked = payment_batch_lock(batch=batch)
    locked.status = "draft"
    with pytest.raises(ImmutableError):
        locked.save()
    payment.refresh_from_db()
    assert payment.amount == Decimal("25.00")


def test_late_telemetry_after_payment_becomes_an_adjustment(
    paid_season, utility, program, season, ingest
):
    payment_batch_approve(
        batch=paid_season["batch"], actor=factories.member(utility, Role.PROGRAM_MANAGER)
    )
    d, event = paid_season["device"], paid_season["event"]
    # The second half hour arrives late: 60 minutes of 4,000 W, 1 event hour.
    # New kW-season: 4.00 kW x $40 = $160.00; with participation $185.00. Difference $160.00.
    ingest(readings(d, "w", START + timedelta(minutes=30), 30, 4000.0))
    run = event_reconcile(event=event)
    assert run.version == 2
    resettled = season_settle(season=season)
    assert resettled.version == 2 and resettled.total == Decimal("185.00")
    with pytest.raises(ImmutableError):  # no second full payment of a paid season
        payment_batch_create(program=program, period="again", settlement=resettled)
    later = payment_batch_create(program=program, period="Corrections Oct 2026")
    (adjustment,) = settlement_corrections(
        previous=paid_season["settlement"], current=resettled, batch=later
    )
    assert adjustment.amount == Decimal("160.00") and isinstance(adjustment.amount, Decimal)
    assert adjustment.account_number == "ACCT-0001"
    assert payment_file_csv(batch=later) == (
        "account_number,amount,period,reason_codes\nACCT-0001,160.00,Corrections Oct 2026,ADJ\n"
    )
    # The approved batch still says what was paid.
    assert CustomerPayment.objects.get(batch=paid_season["batch"]).amount == Decimal("25.00")


def test_adjustments_need_decimal_money(paid_season):
    with pytest.raises(TypeError):
        adjustment_add(
            batch=paid_season["batch"],
            device=paid_season["device"],
            amount=5.0,
            reason="float money",
        )


def test_bulk_writes_and_cascades_cannot_reach_approved_payments(paid_season, utility):
    batch = paid_season["batch"]
    payment_batch_approve(batch=batch, actor=factories.member(utility, Role.PROGRAM_MANAGER))
    with pytest.raises(ImmutableError):
        CustomerPayment.objects.filter(batch=batch).update(amount=Decimal("0"))
    with pytest.raises(ImmutableError):
        PaymentLine.objects.filter(payment__batch=batch).delete()
    with pytest.raises(RestrictedError):
        paid_season["device"].delete()
    with pytest.raises(RestrictedError):
        paid_season["settlement"].delete()
    assert CustomerPayment.objects.get(batch=batch).amount == Decimal("25.00")


def test_payment_file_writes_formula_like_text_as_text_and_keeps_negative_amounts(
    paid_season,
):
    batch = paid_season["batch"]
    CustomerPayment.objects.filter(batch=batch).update(account_number='=HYPERLINK("x","y")')
    adjustment_add(
        batch=batch, device=paid_season["device"], amount=Decimal("-5.00"), reason="clawback"
    )
    rows = list(csv.reader(io.StringIO(payment_file_csv(batch=batch))))
    assert rows[1] == ['\'=HYPERLINK("x","y")', "25.00", "Summer 2026", "PART;PERF"]
    assert rows[2][1] == "-5.00"
