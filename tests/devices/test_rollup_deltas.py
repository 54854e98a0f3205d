"""Rollups against a recomputation from the raw samples, after mixed batches, resent
duplicates and out-of-order readings: every reader agrees before the deltas are folded
(PostgreSQL) and the stored rollups agree after. On SQLite ingest updates the rollups
itself, so the same checks hold with no deltas at all."""

from collections import defaultdict
from datetime import timedelta

import pytest
from django.db import connection

from devices.choices import Channel, RollupPeriod
from devices.models import (
    Device,
    FleetRollup,
    TelemetryRollup,
    TelemetryRollupDelta,
    TelemetrySample,
)
from devices.selectors import device_power_sums, device_telemetry_series, fleet_power_series
from devices.services import (
    Reading,
    interval_bucket,
    telemetry_ingest,
    telemetry_rollup,
    telemetry_rollup_fold,
)
from tests.devices.conftest import NOW

HOUR = NOW - timedelta(hours=3)  # 09:00 UTC
PERIODS = (RollupPeriod.FIVE_MINUTES, RollupPeriod.HOUR)


def ingest(utility, points):
    """points: (device, minute offset, value); returns the IngestResult."""
    return telemetry_ingest(
        utility=utility,
        readings=[
            Reading(device_id=d.pk, at=HOUR + timedelta(minutes=m), channel=Channel.W, value=v)
            for d, m, v in points
        ],
        source="test",
        now=NOW,
    )


def recomputed(utility) -> dict:
    """(device_id, period, bucket) -> (avg, min, max, count) from the stored samples."""
    values = defaultdict(list)
    for device_id, at, value in TelemetrySample.objects.filter(
        utility=utility, channel=Channel.W
    ).values_list("device_id", "at", "value"):
        for period in PERIODS:
            values[(device_id, period, interval_bucket(at, period=period))].append(value)
    return {k: (sum(v) / len(v), min(v), max(v), len(v)) for k, v in values.items()}


def fleet_of(expected: dict, period: str) -> dict:
    fleet = defaultdict(lambda: [0.0, 0])
    for (_device, p, bucket), (avg, *_rest) in expected.items():
        if p == period:
            fleet[bucket][0] += avg
            fleet[bucket][1] += 1
    return {bucket: (total, n) for bucket, (total, n) in fleet.items()}


def feed_mixed(utility, a, b, c):
    """Mixed batches: several devices per batch, two batches into one bucket, a resent
    batch, duplicates inside a batch, readings out of order and one two hours late."""
    ingest(utility, [(a, 0, 1000), (b, 0, -200), (c, 1, 50)])
    ingest(utility, [(a, 2, 3000), (b, 3, -600), (a, 7, 250)])
    result = ingest(utility, [(a, 0, 1000), (b, 0, -200), (c, 1, 50)])  # resent
    assert (result.accepted, result.duplicates) == (0, 3)
    result = ingest(utility, [(c, 62, 10), (c, 62, 20), (a, 4, 500)])  # in-batch duplicate
    assert (result.accepted, result.duplicates) == (2, 1)
    ingest(utility, [(b, 61, -100), (a, 1, 2000)])  # 09:01 after 09:07 and 10:01
    ingest(utility, [(a, 120 + 30, 700)])  # 11:30 arrives first ...
    ingest(utility, [(a, 30, 900), (b, 31, 0)])  # ... then 09:30 and 09:31, late


def assert_readers_agree(utility, devices, expected):
    until = NOW
    for period in PERIODS:
        series = fleet_power_series(utility=utility, since=HOUR, until=until, period=period)
        got = {p.bucket_start: (p.power_w, p.devices) for p in series}
        want = fleet_of(expected, period)
        assert got.keys() == want.keys()
        for bucket, (total, n) in want.items():
            assert got[bucket][0] == pytest.approx(total)
            assert got[bucket][1] == n
    for device in devices:
        points = device_telemetry_series(device=device, channel=Channel.W, since=HOUR, until=until)
        want = {
            bucket: avg
            for (d, p, bucket), (avg, *_rest) in expected.items()
            if d == device.pk and p == RollupPeriod.FIVE_MINUTES
        }
        assert [p.at for p in points] == sorted(want)
        assert [p.value for p in points] == pytest.approx([want[t] for t in sorted(want)])
        hourly = device_telemetry_series(
            device=device, channel=Channel.W, since=HOUR, until=until, hourly=True
        )
        want_hours = {
            bucket: avg
            for (d, p, bucket), (avg, *_rest) in expected.items()
            if d == device.pk and p == RollupPeriod.HOUR
        }
        assert [p.at for p in hourly] == sorted(want_hours)
        assert [p.value for p in hourly] == pytest.approx(
            [want_hours[t] for t in sorted(want_hours)]
        )
    two = Device.objects.filter(pk__in=[devices[0].pk, devices[1].pk]).values("pk")
    sums = device_power_sums(utility=utility, device_ids=two, since=HOUR, until=until)
    want = defaultdict(float)
    for (d, p, bucket), (avg, *_rest) in expected.items():
        if p == RollupPeriod.FIVE_MINUTES and d in (devices[0].pk, devices[1].pk):
            want[bucket] += avg
    assert sums.keys() == want.keys()
    assert list(sums.values()) == pytest.approx([want[b] for b in sums])


def assert_stored_rollups_agree(utility, expected):
    stored = {
        (r.device_id, r.period, r.bucket_start): (r.avg, r.min, r.max, r.count)
        for r in TelemetryRollup.objects.filter(utility=utility, channel=Channel.W)
    }
    assert stored.keys() == expected.keys()
    for key, (avg, low, high, count) in expected.items():
        assert stored[key] == (pytest.approx(avg), low, high, count)
    for period in PERIODS:
        fleet = {
            f.bucket_start: (f.total, f.devices)
            for f in FleetRollup.objects.filter(utility=utility, channel=Channel.W, period=period)
        }
        want = fleet_of(expected, period)
        assert fleet.keys() == want.keys()
        for bucket, (total, n) in want.items():
            assert fleet[bucket] == (pytest.approx(total), n)


def test_readers_and_folded_rollups_match_the_samples(utility, other_utility, make_device):
    a, b, c = make_device(), make_device(), make_device()
    theirs = make_device(utility=other_utility)
    ingest(other_utility, [(theirs, 0, 4000), (theirs, 2, 4000)])
    feed_mixed(utility, a, b, c)
    expected = recomputed(utility)

    # Before any fold: the readers add the deltas (PostgreSQL) to what is stored.
    assert_readers_agree(utility, [a, b, c], expected)
    # Folded up to 09:25 (closed 30 s before "now"): hours part folded, part not.
    telemetry_rollup_fold(now=HOUR + timedelta(minutes=30, seconds=31))
    assert_readers_agree(utility, [a, b, c], expected)
    if connection.vendor == "postgresql":
        open_buckets = set(TelemetryRollupDelta.objects.values_list("bucket_start", flat=True))
        assert min(open_buckets) == HOUR + timedelta(minutes=30)

    telemetry_rollup_fold()
    assert not TelemetryRollupDelta.objects.exists()
    assert_stored_rollups_agree(utility, expected)
    assert_readers_agree(utility, [a, b, c], expected)

    # More batches after the fold merge into the folded rows; the fold is idempotent.
    ingest(utility, [(a, 3, 100), (c, 9, 70), (b, 44, -50)])
    expected = recomputed(utility)
    assert_readers_agree(utility, [a, b, c], expected)
    telemetry_rollup_fold()
    telemetry_rollup_fold()
    assert_stored_rollups_agree(utility, expected)

    # A recompute from the samples agrees, including with deltas pending in its hours.
    ingest(utility, [(a, 11, 600), (b, 12, -70)])
    expected = recomputed(utility)
    telemetry_rollup(since=HOUR, until=HOUR + timedelta(hours=3))
    assert not TelemetryRollupDelta.objects.filter(utility=utility).exists()
    assert_stored_rollups_agree(utility, expected)
    assert_readers_agree(utility, [a, b, c], expected)
    # The recompute covered every utility: the other one's bucket is whole, once.
    theirs_rollup = TelemetryRollup.objects.get(device=theirs, period=RollupPeriod.FIVE_MINUTES)
    assert (theirs_rollup.avg, theirs_rollup.count) == (4000, 2)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="deltas are PostgreSQL's path")
def test_ingest_only_appends_deltas_and_the_fold_moves_them(utility, make_device):
    a = make_device()
    ingest(utility, [(a, 0, 1000), (a, 1, 3000)])
    ingest(utility, [(a, 2, 2000)])  # the same bucket: a second row, no update

    assert not TelemetryRollup.objects.exists()
    assert sorted(TelemetryRollupDelta.objects.values_list("sum", "count")) == [
        (2000, 1),
        (4000, 2),
    ]
    assert telemetry_rollup_fold() == 2  # the fleet's 5-minute and hourly buckets
    assert not TelemetryRollupDelta.objects.exists()
    r = TelemetryRollup.objects.get(device=a, period=RollupPeriod.FIVE_MINUTES)
    assert (r.avg, r.min, r.max, r.count) == (2000, 1000, 3000, 3)
    assert telemetry_rollup_fold() == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="deltas are PostgreSQL's path")
def test_a_deleted_devices_deltas_are_dropped_by_the_fold(utility, make_device):
    a, b = make_device(), make_device()
    ingest(utility, [(a, 0, 1000), (b, 0, 500)])
    Device.objects.filter(pk=a.pk).delete()
    TelemetryRollupDelta.objects.create(  # as if its batch had committed after the delete
        utility=utility,
        device_id=a.pk,
        channel=Channel.W,
        bucket_start=HOUR,
        sum=1,
        min=1,
        max=1,
        count=1,
    )

    telemetry_rollup_fold()

    assert list(TelemetryRollup.objects.values_list("device_id", flat=True).distinct()) == [b.pk]
    fleet = FleetRollup.objects.get(period=RollupPeriod.FIVE_MINUTES)
    assert (fleet.total, fleet.devices) == (500, 1)
