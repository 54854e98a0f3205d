from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.choices import Channel, RollupPeriod
from devices.models import FleetRollup, TelemetryRollup, TelemetryRollupPending, TelemetrySample
from devices.selectors import device_telemetry_series, fleet_power_series
from devices.services import (
    Reading,
    telemetry_ingest,
    telemetry_prune,
    telemetry_rollup,
    telemetry_rollup_pending,
)
from devices.tasks import telemetry_rollup_task
from tests.devices.conftest import NOW

HOUR = NOW - timedelta(hours=2)  # 10:00 UTC, a bucket boundary for both periods


def at(minutes, seconds=0):
    return HOUR + timedelta(minutes=minutes, seconds=seconds)


def feed(utility, device, points, channel=Channel.W):
    result = telemetry_ingest(
        utility=utility,
        readings=[Reading(device_id=device.pk, at=t, channel=channel, value=v) for t, v in points],
        source="test",
        now=NOW,
    )
    assert result.accepted == len(points)


def rollup(device, period, bucket_start, channel=Channel.W):
    return TelemetryRollup.objects.get(
        device=device, channel=channel, period=period, bucket_start=bucket_start
    )


def test_rollups_are_hand_computed_per_bucket(utility, make_device):
    a, b = make_device(), make_device()
    # Device a: 10:00-10:05 holds 1000, 2000, 3000 (10:04:59 is still inside); 10:05 opens the next.
    feed(utility, a, [(at(0), 1000), (at(2), 2000), (at(4, 59), 3000), (at(5), -500)])
    feed(utility, a, [(at(59, 59), 4500), (at(60), 7777)])  # 11:00 belongs to the next hour
    feed(utility, b, [(at(1), -2000), (at(3), -1000)])
    feed(utility, a, [(at(1), 55)], channel=Channel.SOC_PCT)
    # Ingest keeps the rollups current itself; clear them to check the job's recompute alone.
    TelemetryRollup.objects.all().delete()

    written = telemetry_rollup(since=HOUR, until=HOUR + timedelta(hours=1))

    r = rollup(a, RollupPeriod.FIVE_MINUTES, at(0))
    assert (r.avg, r.min, r.max, r.count) == (2000, 1000, 3000, 3)
    assert r.utility_id == utility.pk
    r = rollup(a, RollupPeriod.FIVE_MINUTES, at(5))
    assert (r.avg, r.min, r.max, r.count) == (-500, -500, -500, 1)
    r = rollup(a, RollupPeriod.FIVE_MINUTES, at(55))
    assert (r.avg, r.min, r.max, r.count) == (4500, 4500, 4500, 1)
    r = rollup(a, RollupPeriod.HOUR, at(0))
    assert (r.min, r.max, r.count) == (-500, 4500, 5)
    assert r.avg == pytest.approx((1000 + 2000 + 3000 - 500 + 4500) / 5)
    r = rollup(b, RollupPeriod.FIVE_MINUTES, at(0))
    assert (r.avg, r.min, r.max, r.count) == (-1500, -2000, -1000, 2)
    r = rollup(a, RollupPeriod.FIVE_MINUTES, at(0), channel=Channel.SOC_PCT)
    assert (r.avg, r.count) == (55, 1)
    # 11:00 lies outside [10:00, 11:00).
    assert not TelemetryRollup.objects.filter(bucket_start__gte=at(60)).exists()
    # a: 3 five-minute buckets + 1 hour (W), 1 + 1 (SoC); b: 1 + 1.
    assert written == TelemetryRollup.objects.count() == 8


def test_rerunning_a_rollup_updates_in_place(utility, device):
    feed(utility, device, [(at(0), 1000)])
    telemetry_rollup(since=HOUR, until=at(5))
    feed(utility, device, [(at(1), 3000)])  # a late reading in the same bucket

    telemetry_rollup(since=at(2), until=at(3))  # any window overlapping the bucket

    r = rollup(device, RollupPeriod.FIVE_MINUTES, at(0))
    assert (r.avg, r.min, r.max, r.count) == (2000, 1000, 3000, 2)
    assert TelemetryRollup.objects.filter(period=RollupPeriod.FIVE_MINUTES).count() == 1


def test_rollup_task_takes_iso_times(utility, device):
    feed(utility, device, [(at(0), 1000)])

    telemetry_rollup_task(since=HOUR.isoformat(), until=at(5).isoformat())

    assert rollup(device, RollupPeriod.FIVE_MINUTES, at(0)).avg == 1000


def test_fleet_power_series_sums_device_averages_from_rollups(utility, other_utility, make_device):
    a, b = make_device(), make_device()
    theirs = make_device(utility=other_utility)
    feed(utility, a, [(at(0), 1000), (at(2), 3000), (at(5), 500)])
    feed(utility, b, [(at(1), -400)])
    feed(other_utility, theirs, [(at(0), 99_999)])
    telemetry_rollup(since=HOUR, until=HOUR + timedelta(hours=1))
    # The series must come from rollups: with raw samples gone it is unchanged.
    TelemetrySample.objects.all().delete()

    with CaptureQueriesContext(connection) as queries:
        series = fleet_power_series(
            utility=utility, since=HOUR, until=at(60), period=RollupPeriod.FIVE_MINUTES
        )

    assert [(p.bucket_start, p.power_w, p.devices) for p in series] == [
        (at(0), 2000 - 400, 2),
        (at(5), 500, 1),
    ]
    assert len(queries) == 1
    assert TelemetrySample._meta.db_table not in queries[0]["sql"]
    hourly = fleet_power_series(utility=utility, since=HOUR, until=at(60), period="1h")
    assert [(p.bucket_start, p.power_w) for p in hourly] == [(at(0), 1500 - 400)]


def test_prune_removes_only_old_samples(utility, device):
    feed(utility, device, [(at(0), 1), (at(10), 2), (at(20), 3)])
    telemetry_rollup(since=HOUR, until=at(30))

    result = telemetry_prune(older_than=at(10))

    assert result.deleted_samples == 1
    assert sorted(TelemetrySample.objects.values_list("value", flat=True)) == [2, 3]
    assert TelemetryRollup.objects.count() == 4  # rollups are kept


def test_pending_hours_are_rolled_up_however_late_the_readings(utility, other_utility, make_device):
    a = make_device()
    theirs = make_device(utility=other_utility)
    feed(utility, a, [(at(0), 1000), (at(70), 3000)])  # 10:00 and 11:10
    feed(other_utility, theirs, [(at(1), 500)])
    assert sorted(TelemetryRollupPending.objects.values_list("utility_id", "hour_start")) == sorted(
        [(utility.pk, at(0)), (utility.pk, at(60)), (other_utility.pk, at(0))]
    )

    telemetry_rollup_task()  # no window: the pending hours

    assert not TelemetryRollupPending.objects.exists()
    assert rollup(a, RollupPeriod.HOUR, at(0)).avg == 1000
    assert rollup(a, RollupPeriod.FIVE_MINUTES, at(70)).avg == 3000
    assert rollup(theirs, RollupPeriod.HOUR, at(0)).avg == 500

    # A reading for 10:02 arrives an hour and a half late: its hour is redone.
    feed(utility, a, [(at(2), 2000)])
    assert telemetry_rollup_pending() == 2  # the 10:00 five-minute and hourly buckets
    assert (rollup(a, RollupPeriod.FIVE_MINUTES, at(0)).avg, rollup(a, "1h", at(0)).count) == (
        1500,
        2,
    )
    assert telemetry_rollup_pending() == 0


def test_a_batch_of_only_duplicates_marks_nothing(utility, device):
    feed(utility, device, [(at(0), 1)])
    telemetry_rollup_pending()

    telemetry_ingest(
        utility=utility,
        readings=[Reading(device_id=device.pk, at=at(0), channel="w", value=1)],
        source="test",
        now=NOW,
    )

    assert not TelemetryRollupPending.objects.exists()


def test_one_job_run_brings_every_batch_into_the_rollups(utility, make_device):
    """Ingest only stores and marks; one run of the job rolls every batch up, device and
    fleet, counting a resent sample once."""

    a, b = make_device(), make_device()
    feed(utility, a, [(at(0), 1000), (at(2), 2000)])
    feed(utility, a, [(at(4, 59), 3000), (at(5), -500)])  # a second batch into the same bucket
    feed(utility, b, [(at(1), -2000), (at(3), -1000)])
    # A resent batch is stored once and counted once.
    result = telemetry_ingest(
        utility=utility,
        readings=[Reading(device_id=a.pk, at=at(0), channel=Channel.W, value=1000)],
        source="test",
        now=NOW,
    )
    assert (result.accepted, result.duplicates) == (0, 1)
    assert not TelemetryRollup.objects.exists()

    assert telemetry_rollup_pending() == 5  # a: two 5-minute buckets and the hour; b: two

    r = rollup(a, RollupPeriod.FIVE_MINUTES, at(0))
    assert (r.avg, r.min, r.max, r.count) == (2000, 1000, 3000, 3)
    r = rollup(a, RollupPeriod.FIVE_MINUTES, at(5))
    assert (r.avg, r.min, r.max, r.count) == (-500, -500, -500, 1)
    r = rollup(a, RollupPeriod.HOUR, at(0))
    assert (r.avg, r.min, r.max, r.count) == (1375, -500, 3000, 4)
    r = rollup(b, RollupPeriod.FIVE_MINUTES, at(0))
    assert (r.avg, r.count) == (-1500, 2)

    fleet = FleetRollup.objects.get(
        utility=utility, channel=Channel.W, period=RollupPeriod.FIVE_MINUTES, bucket_start=at(0)
    )
    assert (fleet.total, fleet.devices) == (500, 2)
    fleet = FleetRollup.objects.get(
        utility=utility, channel=Channel.W, period=RollupPeriod.HOUR, bucket_start=at(0)
    )
    assert (fleet.total, fleet.devices) == (-125, 2)


def _rollup_rows():
    device = TelemetryRollup.objects.order_by("device_id", "channel", "period", "bucket_start")
    fleet = FleetRollup.objects.order_by("utility_id", "channel", "period", "bucket_start")
    return (
        list(
            device.values_list(
                "device_id", "channel", "period", "bucket_start", "avg", "min", "max", "count"
            )
        ),
        list(
            fleet.values_list("utility_id", "channel", "period", "bucket_start", "total", "devices")
        ),
    )


def test_job_runs_between_batches_agree_with_one_recompute_from_the_samples(
    utility, other_utility, make_device
):
    """Batches with late readings (into hours already rolled up), resent and in-batch
    duplicates, two utilities, the job run after some batches: the rollups end equal to a
    recompute of every bucket from the stored samples."""
    a, b = make_device(), make_device()
    theirs = make_device(utility=other_utility)
    feed(utility, a, [(at(0), 1000), (at(7), 2000), (at(65), 40)])
    feed(other_utility, theirs, [(at(3), 7)])
    telemetry_rollup_pending()
    feed(utility, b, [(at(1), -300), (at(66), 20)])
    feed(utility, a, [(at(2), 500)])  # late, into a bucket already rolled up
    duplicates = telemetry_ingest(
        utility=utility,
        readings=[
            Reading(device_id=a.pk, at=at(7), channel=Channel.W, value=2000),  # resent
            Reading(device_id=b.pk, at=at(8), channel=Channel.W, value=10),
            Reading(device_id=b.pk, at=at(8), channel=Channel.W, value=10),  # in-batch
            Reading(device_id=b.pk, at=at(9), channel=Channel.SOC_PCT, value=50),
        ],
        source="test",
        now=NOW,
    )
    assert (duplicates.accepted, duplicates.duplicates) == (2, 2)
    telemetry_rollup_pending()
    feed(utility, a, [(at(119), 3)])
    telemetry_rollup_pending()
    by_job = _rollup_rows()

    TelemetryRollup.objects.all().delete()
    FleetRollup.objects.all().delete()
    telemetry_rollup(since=HOUR, until=HOUR + timedelta(hours=2))

    assert by_job == _rollup_rows()
    assert rollup(a, RollupPeriod.FIVE_MINUTES, at(0)).avg == 750


def test_a_device_chart_reads_the_samples_of_hours_still_pending(utility, device):
    """Between an ingest and the job's next run the chart shows the raw samples of the
    marked hours, not their stale rollups; after the run, the rollups again."""
    feed(utility, device, [(at(0), 1000), (at(10), 3000)])
    telemetry_rollup_pending()
    feed(utility, device, [(at(1), 2000)])  # the 10:00 bucket's rollup is now stale

    def chart():
        series = device_telemetry_series(device=device, channel=Channel.W, since=HOUR, until=at(60))
        return [(p.at, p.value) for p in series]

    assert chart() == [(at(0), 1000), (at(1), 2000), (at(10), 3000)]
    telemetry_rollup_pending()
    assert chart() == [(at(0), 1500), (at(10), 3000)]
