"""Event reconciliation against hand-worked telemetry. Every expected number is derived in a
comment from the series fed in; the window is 18:00-19:00 UTC (60 one-minute intervals)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from programs.models import OptOut
from settlement.models import EventResult, ReconciliationRun
from settlement.reconciliation import SettlementError, event_reconcile, ten_in_ten_days
from tests.settlement.conftest import START, readings

BEFORE_30 = START - timedelta(minutes=30)


def result_of(run, device) -> EventResult:
    return EventResult.objects.get(run=run, device=device)


# --- Battery telemetry --------------------------------------------------------------------


def test_battery_telemetry_is_net_discharge_against_the_minutes_before(
    rules, event, dispatched, ingest
):
    a = dispatched(5000)
    b = dispatched(3000)
    ingest(
        # A: 200 W before (standby discharge), 4,200 W during.
        # delivered = 4200 - 200 = 4000 W; energy = 4000 W x 1 h = 4000 Wh; PF = 4000/5000 = 0.8
        readings(a, "w", BEFORE_30, 30, 200.0),
        readings(a, "w", START, 60, 4200.0),
        # B: idle before, 4,500 W during against 3,000 W committed: PF 1.5, capped at 1.0.
        readings(b, "w", BEFORE_30, 30, 0.0),
        readings(b, "w", START, 60, 4500.0),
    )
    run = event_reconcile(event=event)
    ra, rb = result_of(run, a), result_of(run, b)
    assert (ra.measured_w, ra.baseline_w, ra.delivered_w) == (4200.0, 200.0, 4000.0)
    assert ra.energy_wh == pytest.approx(4000.0)
    assert ra.performance_factor == Decimal("0.8000")
    assert ra.flags == [] and ra.treatment == "none" and ra.counted
    assert rb.delivered_w == 4500.0
    assert rb.performance_factor == Decimal("1.0000")
    assert isinstance(rb.performance_factor, Decimal)
    assert run.version == 1 and run.is_current
    assert run.inputs["counts"]["dispatched"] == 2
    assert run.inputs["rules"]["baseline_method"] == "battery_telemetry"


def test_performance_factor_cap_is_a_rule(rules, event, dispatched, ingest):
    rules.performance_factor_cap = Decimal("1.200")
    rules.save()
    b = dispatched(3000)
    # 4500 / 3000 = 1.5, capped at the program's 1.2.
    ingest(readings(b, "w", BEFORE_30, 30, 0.0), readings(b, "w", START, 60, 4500.0))
    assert result_of(event_reconcile(event=event), b).performance_factor == Decimal("1.2000")


def test_fast_reporters_are_averaged_per_minute_first(rules, event, dispatched, ingest):
    d = dispatched(5000)
    # Every 10 s, alternating 3,000 and 5,000 W: each minute averages 4,000 W.
    # 60 minutes of 4,000 W, baseline 0: delivered 4000 W, PF 0.8, coverage 1.
    ingest(
        readings(d, "w", BEFORE_30, 30, 0.0),
        readings(d, "w", START, 60, lambda i: 3000.0 if i % 2 == 0 else 5000.0, step_s=10),
    )
    r = result_of(event_reconcile(event=event), d)
    assert r.delivered_w == pytest.approx(4000.0)
    assert r.coverage == 1.0
    assert r.performance_factor == Decimal("0.8000")


def test_a_charge_event_counts_charging_as_delivery(rules, make_event, dispatched, ingest):
    charge = make_event(kind="charge")
    d = dispatched(4000, to=charge)
    # Solar soak: -3,000 W (charging) against 0 before. delivered = -(-3000 - 0) = 3000 W.
    ingest(readings(d, "w", BEFORE_30, 30, 0.0), readings(d, "w", START, 60, -3000.0))
    r = result_of(event_reconcile(event=charge), d)
    assert r.delivered_w == 3000.0
    assert r.performance_factor == Decimal("0.7500")


@pytest.mark.parametrize(
    ("kind", "modes"),
    [
        ("export_limit", {"op_mod_exp_lim_w": 2000, "target_w": None}),
        ("connect", {"op_mod_connect": False, "target_w": None}),
    ],
)
def test_a_control_that_is_not_planned_is_not_paid_as_energy(
    rules, make_event, dispatched, ingest, kind, modes
):
    """Failed before issue 17's settlement decision: an export limit was paid as if its
    limit were a discharge commitment. Only planned kinds commit energy."""
    limit = make_event(kind=kind, **modes)
    d = dispatched(5000, to=limit)
    ingest(readings(d, "w", BEFORE_30, 30, 0.0), readings(d, "w", START, 60, 4000.0))
    r = result_of(event_reconcile(event=limit), d)
    # What the device did is kept; nothing is paid or averaged into performance.
    assert (r.measured_w, r.baseline_w) == (4000.0, 0.0)
    assert (r.delivered_w, r.energy_wh, r.performance_factor) == (0.0, 0.0, Decimal("0.0000"))
    assert not r.counted


# --- Site meter, minutes before -----------------------------------------------------------


def test_meter_before_is_import_avoided(rules, event, dispatched, ingest):
    rules.baseline_method = "meter_before"
    rules.meter_before_minutes = 15
    rules.save()
    d = dispatched(5000)
    # site_w > 0 imports. 60 minutes before: 9,000 W for the first 45 (outside the 15-minute
    # baseline), then 3,000 W. Baseline = avg of the last 15 min = 3000 W.
    # During: 500 W import. delivered = 3000 - 500 = 2500 W; PF = 2500/5000 = 0.5.
    ingest(
        readings(d, "site_w", START - timedelta(minutes=60), 45, 9000.0),
        readings(d, "site_w", START - timedelta(minutes=15), 15, 3000.0),
        readings(d, "site_w", START, 60, 500.0),
    )
    r = result_of(event_reconcile(event=event), d)
    assert (r.baseline_w, r.measured_w, r.delivered_w) == (3000.0, 500.0, 2500.0)
    assert r.energy_wh == pytest.approx(2500.0)
    assert r.performance_factor == Decimal("0.5000")


# --- 10-in-10 -----------------------------------------------------------------------------

# Event Wed 15 July. Another event of the program on Mon 13 July removes that day; the
# weekends of 11-12 and 4-5 July are skipped. The last 10 eligible weekdays, newest first:
ELIGIBLE = [
    "2026-07-14",
    "2026-07-10",
    "2026-07-09",
    "2026-07-08",
    "2026-07-07",
    "2026-07-06",
    "2026-07-03",
    "2026-07-02",
    "2026-07-01",
    "2026-06-30",
]


@pytest.fixture
def ten_in_ten(rules, make_event, event, dispatched, ingest):
    rules.baseline_method = "ten_in_ten"
    rules.save()
    make_event(start=datetime(2026, 7, 13, 18, 0, tzinfo=UTC))
    d = dispatched(5000)
    batches = []
    for i, day in enumerate(ELIGIBLE):
        at = datetime.fromisoformat(day).replace(hour=18, tzinfo=UTC)
        # 18:00-19:00 on the i-th day: 2000 + 100 i W. Mean over i = 0..9: 2000 + 450 = 2450.
        batches.append(readings(d, "site_w", at, 60, 2000.0 + 100 * i, step_s=300))
        # 15:00-18:00 on every baseline day: 1,000 W.
        batches.append(readings(d, "site_w", at - timedelta(hours=3), 180, 1000.0, step_s=300))
    # The excluded days carry a huge load that must not leak into the baseline.
    for day in ("2026-07-13", "2026-07-11", "2026-07-12"):
        at = datetime.fromisoformat(day).replace(hour=18, tzinfo=UTC)
        batches.append(readings(d, "site_w", at, 60, 9000.0, step_s=300))
    # Event: 450 W import.
    batches.append(readings(d, "site_w", START, 60, 450.0))
    ingest(*batches)
    return d


def test_ten_in_ten_picks_the_last_ten_eligible_weekdays(ten_in_ten, event):
    assert [d.date().isoformat() for d in ten_in_ten_days(event=event)] == ELIGIBLE


def test_ten_in_ten_unadjusted(rules, ten_in_ten, event):
    rules.ten_in_ten_adjust = False
    rules.save()
    # baseline 2450, during 450: delivered 2000 W, PF 0.4.
    r = result_of(event_reconcile(event=event), ten_in_ten)
    assert r.baseline_w == pytest.approx(2450.0)
    assert r.delivered_w == pytest.approx(2000.0)
    assert r.performance_factor == Decimal("0.4000")


def test_ten_in_ten_adjusted_by_the_three_hours_before(rules, ten_in_ten, event, ingest):
    # Event day 15:00-18:00 runs at 1,100 W against the usual 1,000 W: ratio 1.1.
    # baseline 2450 x 1.1 = 2695; delivered 2695 - 450 = 2245 W; PF 0.449.
    ingest(readings(ten_in_ten, "site_w", START - timedelta(hours=3), 180, 1100.0, step_s=300))
    r = result_of(event_reconcile(event=event), ten_in_ten)
    assert r.baseline_w == pytest.approx(2695.0)
    assert r.delivered_w == pytest.approx(2245.0)
    assert r.performance_factor == Decimal("0.4490")


def test_ten_in_ten_adjustment_is_capped_at_twenty_percent(rules, ten_in_ten, event, ingest):
    # 2,000 W before against 1,000 W usual: ratio 2.0, clipped to 1.2.
    # baseline 2450 x 1.2 = 2940; delivered 2940 - 450 = 2490 W.
    ingest(readings(ten_in_ten, "site_w", START - timedelta(hours=3), 180, 2000.0, step_s=300))
    r = result_of(event_reconcile(event=event), ten_in_ten)
    assert r.baseline_w == pytest.approx(2940.0)
    assert r.delivered_w == pytest.approx(2490.0)


# --- Data quality -------------------------------------------------------------------------


def test_missing_intervals_are_prorated_by_coverage(rules, event, dispatched, ingest):
    d = dispatched(5000)
    # 4,000 W in minutes 0-19 and 35-59 only: 45 of 60 minutes, coverage 0.75 < 0.9.
    # Prorate: 4000 x 0.75 = 3000 W, 3000 Wh, PF 0.6. Last reading 18:59: not offline.
    ingest(
        readings(d, "w", BEFORE_30, 30, 0.0),
        readings(d, "w", START, 20, 4000.0),
        readings(d, "w", START + timedelta(minutes=35), 25, 4000.0),
    )
    r = result_of(event_reconcile(event=event), d)
    assert r.flags == ["missing_intervals"]
    assert r.treatment == "prorate"
    assert r.coverage == 0.75
    assert r.delivered_w == pytest.approx(3000.0)
    assert r.energy_wh == pytest.approx(3000.0)
    assert r.performance_factor == Decimal("0.6000")


def test_device_offline_mid_event(rules, event, dispatched, ingest):
    d = dispatched(5000)
    # Silent from 18:30: 30 minutes short of the end (> 600 s) is offline, and coverage
    # 0.5 is missing intervals too. Offline (zero) is stricter than prorate: 0 W, PF 0.
    ingest(readings(d, "w", BEFORE_30, 30, 0.0), readings(d, "w", START, 30, 4000.0))
    r = result_of(event_reconcile(event=event), d)
    assert r.flags == ["offline", "missing_intervals"]
    assert r.treatment == "zero"
    assert (r.delivered_w, r.energy_wh, r.performance_factor) == (0.0, 0.0, Decimal("0.0000"))
    assert r.counted

    # With offline prorated instead: 4000 x 0.5 = 2000 W, PF 0.4 (a new run version).
    rules.on_offline = "prorate"
    rules.save()
    r2 = result_of(event_reconcile(event=event), d)
    assert r2.run.version == 2
    assert r2.delivered_w == pytest.approx(2000.0)
    assert r2.performance_factor == Decimal("0.4000")


def test_opted_out_devices(rules, event, dispatched, ingest):
    by_portal = dispatched(5000)
    by_response = dispatched(5000, last_response=4)
    OptOut.objects.create(
        utility=event.utility, event=event, device=by_portal, source="portal", at=START
    )
    # Both discharged anyway (4,000 W); opt-out is zero by default: 0 W, PF 0.
    for d in (by_portal, by_response):
        ingest(readings(d, "w", BEFORE_30, 30, 0.0), readings(d, "w", START, 60, 4000.0))
    run = event_reconcile(event=event)
    for d in (by_portal, by_response):
        r = result_of(run, d)
        assert r.flags == ["opt_out"] and r.treatment == "zero" and r.delivered_w == 0.0
    assert run.inputs["counts"]["opted_out"] == 2

    # Excluded instead: not counted at all.
    rules.on_opt_out = "exclude"
    rules.save()
    run = event_reconcile(event=event)
    assert not result_of(run, by_portal).counted


def test_no_baseline_is_stale_and_excluded_by_default(rules, event, dispatched, ingest):
    d = dispatched(5000)
    ingest(readings(d, "w", START, 60, 4000.0))  # nothing in the 30 minutes before
    r = result_of(event_reconcile(event=event), d)
    assert r.flags == ["stale"]
    assert r.treatment == "exclude" and not r.counted
    assert r.baseline_w is None


def test_silent_device_is_offline(rules, event, dispatched):
    d = dispatched(5000)
    r = result_of(event_reconcile(event=event), d)
    assert r.flags == ["offline", "stale"]
    assert r.coverage == 0.0 and r.measured_w is None and r.delivered_w == 0.0


def test_clock_skewed_readings_count_by_their_timestamps(rules, event, dispatched, ingest):
    d = dispatched(5000)
    # The device clock runs 90 s fast. True series: 0 W from 17:30, 4,000 W from 18:00,
    # stamped 90 s late: the true-17:59 zero lands at 18:00:30 inside the window, and the
    # true 18:59 reading falls out at 19:00:30.
    # Window minutes: minute 0 = 0 W, minutes 1-59 = 4000 W. avg = 4000 x 59/60 = 3933.33 W.
    # Baseline: stamped 17:31:30-17:59:30, all 0 W. PF = 3933.33/5000 = 0.7867.
    ingest(
        readings(d, "w", BEFORE_30, 30, 0.0, offset_s=90),
        readings(d, "w", START, 60, 4000.0, offset_s=90),
    )
    r = result_of(event_reconcile(event=event), d)
    assert r.coverage == 1.0 and r.flags == []
    assert r.delivered_w == pytest.approx(4000 * 59 / 60)
    assert r.performance_factor == Decimal("0.7867")


def test_duplicate_readings_change_nothing(rules, event, dispatched, ingest):
    once, twice = dispatched(5000), dispatched(5000)
    ingest(readings(once, "w", BEFORE_30, 30, 0.0), readings(once, "w", START, 60, 4000.0))
    series = [readings(twice, "w", BEFORE_30, 30, 0.0), readings(twice, "w", START, 60, 4000.0)]
    ingest(*series)
    result = ingest(*series)  # resent batch: all duplicates
    assert result.accepted == 0 and result.duplicates == 90
    # Near-duplicates 2 s apart fall in the same minute and do not weigh twice.
    ingest(readings(twice, "w", START, 60, 4000.0, offset_s=2))
    run = event_reconcile(event=event)
    a, b = result_of(run, once), result_of(run, twice)
    assert (a.delivered_w, a.coverage) == (b.delivered_w, b.coverage) == (4000.0, 1.0)


# --- Versions -----------------------------------------------------------------------------


def test_rerunning_with_the_same_inputs_is_idempotent(rules, event, dispatched, ingest):
    d = dispatched(5000)
    ingest(readings(d, "w", BEFORE_30, 30, 0.0), readings(d, "w", START, 60, 4000.0))
    first = event_reconcile(event=event)
    again = event_reconcile(event=event)
    assert again.pk == first.pk
    assert ReconciliationRun.objects.filter(event=event).count() == 1
    assert EventResult.objects.filter(run__event=event).count() == 1


def test_late_telemetry_makes_a_new_version_with_new_numbers(rules, event, dispatched, ingest):
    d = dispatched(5000)
    # First pass: only 18:00-18:29 arrived: offline, zero.
    ingest(readings(d, "w", BEFORE_30, 30, 0.0), readings(d, "w", START, 30, 4000.0))
    first = event_reconcile(event=event)
    assert result_of(first, d).delivered_w == 0.0
    # The gateway uploads 18:30-18:59 late: 60 minutes of 4,000 W, PF 0.8.
    ingest(readings(d, "w", START + timedelta(minutes=30), 30, 4000.0))
    second = event_reconcile(event=event)
    first.refresh_from_db()
    assert second.version == 2 and second.is_current and not first.is_current
    assert result_of(second, d).delivered_w == 4000.0
    assert result_of(second, d).performance_factor == Decimal("0.8000")
    assert result_of(first, d).delivered_w == 0.0  # the old version is kept as it was
    assert second.inputs["counts"]["telemetry_minutes"] == 60
    assert first.inputs["counts"]["telemetry_minutes"] == 30


def test_only_completed_events_are_reconciled(rules, make_event):
    with pytest.raises(SettlementError):
        event_reconcile(event=make_event(status="active"))


def test_coverage_follows_the_program_cadence(rules, program, event, dispatched, ingest):
    program.telemetry_cadence_s = 300
    program.save()
    d = dispatched(5000)
    # One reading every 5 minutes as the program asks: 12 of 12 intervals, coverage 1.
    # Only 9 of them (18:00-18:40): coverage 9/12 = 0.75 < 0.9, and the last reading at 18:40
    # is 20 minutes before the end (> 600 s): offline too, so zero.
    ingest(
        readings(d, "w", BEFORE_30, 30, 0.0, step_s=300),
        readings(d, "w", START, 60, 4000.0, step_s=300),
    )
    r = result_of(event_reconcile(event=event), d)
    assert (r.coverage, r.flags, r.delivered_w) == (1.0, [], 4000.0)

    other = dispatched(5000)
    ingest(
        readings(other, "w", BEFORE_30, 30, 0.0, step_s=300),
        readings(other, "w", START, 45, 4000.0, step_s=300),
    )
    r = result_of(event_reconcile(event=event), other)
    assert r.coverage == 0.75
    assert r.flags == ["offline", "missing_intervals"]
