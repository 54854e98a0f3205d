"""The set-based reconciliation (PostgreSQL) against the Python reference, device by device.

A mixed fleet in one event: full delivery, partial delivery (missing minutes), a device
going offline mid-event, opt-outs by the portal and by the 2030.5 response, a silent
device, one with no baseline data, a fast reporter and a zero commitment. Each baseline
method the program supports is reconciled both ways and must agree on every column.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from programs.models import OptOut
from settlement.models import EventResult
from settlement.reconciliation import RESULT_FIELDS, SettlementError, ten_in_ten_days
from settlement.services import event_reconcile
from tests.settlement.conftest import START, readings

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the set-based path runs on PostgreSQL"
)
FLOAT_FIELDS = {"measured_w", "baseline_w", "delivered_w", "energy_wh", "coverage"}
METHODS = [
    ("battery_telemetry", True),
    ("meter_before", True),
    ("ten_in_ten", True),
    ("ten_in_ten", False),
]


def _series(i):
    """Uneven watts, so averages and factors are not round numbers."""
    return lambda k: 3000.0 + 37.3 * k + 11.1 * i


def _baseline_readings(device, channel, method, event, i):
    if method != "ten_in_ten":
        return readings(device, channel, START - timedelta(minutes=60), 60, 150.0 + 7.7 * i)
    batches = []
    for n, day in enumerate(ten_in_ten_days(event=event)):
        batches += readings(device, channel, day, 60, 4000.0 + 53.1 * n + i, step_s=300)
        batches += readings(device, channel, day - timedelta(hours=3), 180, 900.0 + i, step_s=300)
    # The event day's three hours before: scales the baseline (within ±20 %).
    batches += readings(device, channel, START - timedelta(hours=3), 180, 1000.0 + 3.3 * i)
    return batches


@pytest.fixture
def mixed_fleet(rules, event, dispatched, ingest):
    """Build the fleet for ``method`` and return its devices."""

    def build(method, adjust):
        rules.baseline_method = method
        rules.ten_in_ten_adjust = adjust
        rules.save()
        channel = "w" if method == "battery_telemetry" else "site_w"
        meter = channel == "site_w"
        # A meter reads less import while the battery delivers: during below the baseline.
        during = (lambda i: lambda k: 900.0 - 3.7 * k - i) if meter else _series
        devices, batches = [], []
        for i, kind in enumerate(
            [
                "full",
                "partial",
                "offline",
                "opt_out_portal",
                "opt_out_response",
                "silent",
                "no_baseline",
                "fast",
                "zero_commitment",
            ]
        ):
            device = dispatched(
                0 if kind == "zero_commitment" else 4000 + 250 * i,
                last_response=4 if kind == "opt_out_response" else None,
            )
            devices.append(device)
            if kind == "opt_out_portal":
                OptOut.objects.create(
                    utility=event.utility, event=event, device=device, source="portal", at=START
                )
            if kind == "silent":
                continue
            if kind != "no_baseline":
                batches += _baseline_readings(device, channel, method, event, i)
            if kind == "partial":
                batches += readings(device, channel, START, 20, during(i))
                batches += readings(device, channel, START + timedelta(minutes=35), 25, during(i))
            elif kind == "offline":
                batches += readings(device, channel, START, 30, during(i))
            elif kind == "fast":
                batches += readings(device, channel, START, 60, during(i), step_s=10)
            else:
                batches += readings(device, channel, START, 60, during(i))
        ingest(batches)
        return devices

    return build


def _results(run) -> dict[int, dict]:
    return {
        row["device_id"]: row for row in EventResult.objects.filter(run=run).values(*RESULT_FIELDS)
    }


@needs_postgresql
@pytest.mark.parametrize(("method", "adjust"), METHODS)
def test_sql_and_reference_give_the_same_results(mixed_fleet, event, method, adjust):
    devices = mixed_fleet(method, adjust)
    reference = event_reconcile(event=event, set_based=False)
    in_sql = event_reconcile(event=event, set_based=True)
    assert in_sql.pk != reference.pk  # their digests differ by design: a new version

    expected, actual = _results(reference), _results(in_sql)
    assert sorted(actual) == sorted(expected) == sorted(d.pk for d in devices)
    for device_id, want in expected.items():
        got = actual[device_id]
        for field in RESULT_FIELDS:
            if field in FLOAT_FIELDS and want[field] is not None:
                assert got[field] == pytest.approx(want[field], rel=1e-12), (device_id, field)
            else:
                assert got[field] == want[field], (device_id, field)
    # The mix did reach every flag and treatment, so the comparison covered them.
    counts = reference.inputs["counts"]
    assert set(counts["flags"]) == {"offline", "missing_intervals", "stale", "opt_out"}
    assert {"none", "prorate", "zero", "exclude"} <= set(counts["treatments"])
    assert in_sql.inputs["counts"] == counts
    assert in_sql.inputs["baseline"] == reference.inputs["baseline"]


@needs_postgresql
def test_sql_path_is_idempotent_and_sees_late_telemetry(mixed_fleet, event, ingest):
    devices = mixed_fleet("battery_telemetry", True)
    first = event_reconcile(event=event)
    assert event_reconcile(event=event).pk == first.pk
    # Late minutes for the partial device: a new version with new numbers.
    ingest(readings(devices[1], "w", START + timedelta(minutes=20), 15, 3500.0))
    second = event_reconcile(event=event)
    assert second.version == first.version + 1
    old = EventResult.objects.get(run=first, device=devices[1])
    new = EventResult.objects.get(run=second, device=devices[1])
    assert (old.coverage, new.coverage) == (0.75, 1.0)


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite has no set-based path")
def test_set_based_on_sqlite_is_a_clear_error(rules, event):
    with pytest.raises(SettlementError):
        event_reconcile(event=event, set_based=True)


def _queries_to_reconcile(event) -> int:
    with CaptureQueriesContext(connection) as queries:
        event_reconcile(event=event)
    return len(queries)


@pytest.mark.parametrize(("method", "adjust"), METHODS)
def test_query_count_does_not_grow_with_the_fleet(
    rules, make_event, dispatched, ingest, django_assert_max_num_queries, method, adjust
):
    """One event with 2 devices, another with 20: the same statements (the default path)."""
    rules.baseline_method = method
    rules.ten_in_ten_adjust = adjust
    rules.save()
    channel = "w" if method == "battery_telemetry" else "site_w"
    counts = []
    for hour, size in ((6, 2), (12, 20)):
        event = make_event(start=START.replace(hour=hour))
        batch = []
        for _ in range(size):
            device = dispatched(5000, to=event)
            batch += readings(device, channel, event.start - timedelta(minutes=30), 90, 100.0)
        ingest(batch)
        counts.append(_queries_to_reconcile(event))
    assert counts[0] == counts[1]
    # And no more than that for 20 devices, as the house asserts it.
    rules.on_stale = "zero"  # a rule change: the 20-device event is measured again
    rules.save()
    with django_assert_max_num_queries(counts[0]):
        event_reconcile(event=event)
