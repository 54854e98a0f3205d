import dataclasses
import math
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.choices import Channel, RejectReason, RollupPeriod
from devices.models import Device, TelemetryRollup, TelemetrySample
from devices.services import (
    COPY_MIN_ROWS,
    Reading,
    device_readings_statement,
    interval_bucket,
    telemetry_ingest,
    telemetry_rollup_pending,
)
from devices.signals import telemetry_ingested
from tenancy.db import one_row
from tests.devices.conftest import NOW


def ingest(utility, readings, **kwargs):
    return telemetry_ingest(utility=utility, readings=readings, source="test", now=NOW, **kwargs)


def stored(device, channel):
    return list(
        TelemetrySample.objects.filter(device=device, channel=channel)
        .order_by("at")
        .values_list("value", flat=True)
    )


@pytest.mark.parametrize(
    ("channel", "value", "unit", "power_of_ten", "expected"),
    [
        (Channel.W, 1.5, "kW", 0, 1500.0),
        (Channel.W, -2500, "", 0, -2500.0),
        (Channel.W, -25, "W", 2, -2500.0),
        (Channel.SITE_W, 3.2, "kW", 0, 3200.0),
        (Channel.VAR, 0.4, "kvar", 0, 400.0),
        (Channel.V, 2405, "V", -1, 240.5),
        (Channel.HZ, 6001, "Hz", -2, 60.01),
        (Channel.SOC_PCT, 87, "%", 0, 87.0),
        (Channel.WH_IMPORT, 12.5, "kWh", 0, 12500.0),
        (Channel.WH_EXPORT, 42, "Wh", 3, 42000.0),
    ],
)
def test_units_are_normalized_to_canonical(
    utility, device, channel, value, unit, power_of_ten, expected
):
    reading = Reading(
        device_id=device.pk,
        at=NOW,
        channel=channel,
        value=value,
        unit=unit,
        power_of_ten=power_of_ten,
    )

    result = ingest(utility, [reading])

    assert (result.accepted, result.duplicates, result.rejected) == (1, 0, [])
    [got] = stored(device, channel)
    assert math.isclose(got, expected)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"channel": "watts"}, RejectReason.UNKNOWN_CHANNEL),
        ({"unit": "kWh"}, RejectReason.UNKNOWN_UNIT),
        ({"channel": Channel.V, "unit": "kW"}, RejectReason.UNKNOWN_UNIT),
        ({"power_of_ten": 10}, RejectReason.BAD_POWER_OF_TEN),
        ({"power_of_ten": -12}, RejectReason.BAD_POWER_OF_TEN),
        ({"value": float("nan")}, RejectReason.NOT_FINITE),
        ({"value": float("inf")}, RejectReason.NOT_FINITE),
        ({"value": 10.5, "unit": "kW", "power_of_ten": 3}, RejectReason.OUT_OF_RANGE),
        ({"channel": Channel.SOC_PCT, "value": 100.5}, RejectReason.OUT_OF_RANGE),
        ({"channel": Channel.SOC_PCT, "value": -1}, RejectReason.OUT_OF_RANGE),
        ({"channel": Channel.V, "value": 1200}, RejectReason.OUT_OF_RANGE),
        ({"channel": Channel.HZ, "value": 39.9}, RejectReason.OUT_OF_RANGE),
        ({"channel": Channel.HZ, "value": 70.1}, RejectReason.OUT_OF_RANGE),
        ({"at": NOW + timedelta(seconds=61)}, RejectReason.FUTURE),
        ({"at": NOW.replace(tzinfo=None)}, RejectReason.NAIVE_TIME),
        ({"device_id": 987654}, RejectReason.UNKNOWN_DEVICE),
    ],
)
def test_bad_readings_are_rejected_with_a_reason_and_nothing_is_written(
    utility, device, changes, reason
):
    fields = {"device_id": device.pk, "at": NOW, "channel": Channel.W, "value": 1000.0}
    reading = Reading(**{**fields, **changes})

    result = ingest(utility, [reading])

    assert result.accepted == 0
    assert [(r.reading, r.reason) for r in result.rejected] == [(reading, reason)]
    assert not TelemetrySample.objects.exists()
    device.refresh_from_db()
    assert device.last_heard_at is None
    assert device.power_w is None


def test_later_readings_of_a_batch_are_checked_like_the_first(utility, device):
    """Each good reading is followed by a bad one of the same channel, unit and power of
    ten (the second is scaled with what the first looked up): the bad ones are refused
    for the same reasons, and a float power of ten equal to an int one is still refused."""
    base = {"device_id": device.pk, "channel": Channel.W}
    readings = [
        Reading(**base, at=NOW - timedelta(seconds=1), value=10.0, unit="kW", power_of_ten=3),
        Reading(**base, at=NOW - timedelta(seconds=2), value=10.5, unit="kW", power_of_ten=3),
        Reading(**base, at=NOW - timedelta(seconds=3), value=5.0, power_of_ten=1),
        Reading(**base, at=NOW - timedelta(seconds=4), value=5.0, power_of_ten=1.0),  # type: ignore[arg-type]
        Reading(**base, at=NOW - timedelta(seconds=5), value=float("nan"), power_of_ten=1),
        Reading(**base, at=NOW.replace(tzinfo=None), value=5.0, power_of_ten=1),
    ]

    result = ingest(utility, readings)

    assert result.accepted == 2
    assert [(r.reading, r.reason) for r in result.rejected] == [
        (readings[1], RejectReason.OUT_OF_RANGE),
        (readings[3], RejectReason.BAD_POWER_OF_TEN),
        (readings[4], RejectReason.NOT_FINITE),
        (readings[5], RejectReason.NAIVE_TIME),
    ]
    assert sorted(stored(device, Channel.W)) == [50.0, 10_000_000.0]


def test_small_clock_skew_is_tolerated(utility, device):
    reading = Reading(device_id=device.pk, at=NOW + timedelta(seconds=59), channel="w", value=1)

    assert ingest(utility, [reading]).accepted == 1


def test_another_utilitys_device_is_rejected_and_untouched(utility, other_utility, make_device):
    theirs = make_device(utility=other_utility)
    mine = make_device()
    readings = [
        Reading(device_id=theirs.pk, at=NOW, channel=Channel.W, value=100),
        Reading(device_id=mine.pk, at=NOW, channel=Channel.W, value=200),
    ]

    result = ingest(utility, readings)

    assert result.accepted == 1
    assert [(r.reading.device_id, r.reason) for r in result.rejected] == [
        (theirs.pk, RejectReason.UNKNOWN_DEVICE)
    ]
    assert list(TelemetrySample.objects.values_list("device_id", "utility_id")) == [
        (mine.pk, utility.pk)
    ]
    theirs.refresh_from_db()
    assert theirs.power_w is None and theirs.last_heard_at is None


def test_no_utility_means_nothing_is_accepted(device):
    result = telemetry_ingest(
        utility=None,
        readings=[Reading(device_id=device.pk, at=NOW, channel="w", value=1)],
        source="test",
        now=NOW,
    )

    assert result.accepted == 0
    assert result.rejected[0].reason == RejectReason.UNKNOWN_DEVICE


def test_resending_a_batch_is_idempotent(utility, device):
    readings = [
        Reading(device_id=device.pk, at=NOW - timedelta(minutes=i), channel=Channel.W, value=i)
        for i in range(5)
    ]

    first = ingest(utility, readings)
    second = ingest(utility, readings)

    assert (first.accepted, first.duplicates) == (5, 0)
    assert (second.accepted, second.duplicates, second.rejected) == (0, 5, [])
    assert TelemetrySample.objects.count() == 5


def test_a_copied_batch_resent_and_overlapped_is_stored_once(utility, make_device):
    """Batches from COPY_MIN_ROWS on take the COPY path on PostgreSQL: a resent batch and
    one overlapping it by half store each (device, channel, at) once, and the rollups
    count each sample once."""
    devices = [make_device() for _ in range(4)]
    size = 2 * COPY_MIN_ROWS
    batch = _batch(devices, size)

    first = ingest(utility, batch)
    again = ingest(utility, batch)
    later = [
        Reading(
            device_id=r.device_id,
            at=r.at - timedelta(seconds=size // 2),
            channel=r.channel,
            value=r.value,
        )
        for r in batch
    ]
    overlap = ingest(utility, later)

    assert (first.accepted, first.duplicates) == (size, 0)
    assert (again.accepted, again.duplicates, again.rejected) == (0, size, [])
    assert (overlap.accepted, overlap.duplicates) == (size // 2, size // 2)
    assert TelemetrySample.objects.count() == size + size // 2
    telemetry_rollup_pending()
    hourly = TelemetryRollup.objects.filter(period=RollupPeriod.HOUR)
    assert sum(hourly.values_list("count", flat=True)) == size + size // 2


def test_partly_new_batch_counts_both(utility, device):
    old = [minutes_ago(device, 1, "w", 1)]
    ingest(utility, old)

    result = ingest(utility, [*old, Reading(device_id=device.pk, at=NOW, channel="w", value=2)])

    assert (result.accepted, result.duplicates) == (1, 1)


def test_duplicates_within_one_batch_are_counted(utility, device):
    reading = Reading(device_id=device.pk, at=NOW, channel=Channel.SOC_PCT, value=50)

    result = ingest(utility, [reading, reading])

    assert (result.accepted, result.duplicates) == (1, 1)


def test_same_instant_in_another_time_zone_is_a_duplicate(utility, device):
    from zoneinfo import ZoneInfo

    at_local = NOW.astimezone(ZoneInfo("America/Denver"))
    ingest(utility, [Reading(device_id=device.pk, at=NOW, channel="w", value=1)])

    result = ingest(utility, [Reading(device_id=device.pk, at=at_local, channel="w", value=1)])

    assert (result.accepted, result.duplicates) == (0, 1)


def _batch(devices, size):
    return [
        Reading(
            device_id=devices[i % len(devices)].pk,
            at=NOW - timedelta(seconds=i),
            channel=Channel.W,
            value=float(i),
        )
        for i in range(size)
    ]


@pytest.mark.parametrize(
    ("small", "large"), [(10, COPY_MIN_ROWS - 1), (COPY_MIN_ROWS, 5 * COPY_MIN_ROWS)]
)
def test_query_count_does_not_grow_with_the_batch(utility, make_device, small, large):
    """Below COPY_MIN_ROWS a batch goes in one statement, from it through COPY (PostgreSQL):
    within either the count does not depend on the batch size."""
    devices = [make_device() for _ in range(5)]

    with CaptureQueriesContext(connection) as few:
        assert ingest(utility, _batch(devices, small)).accepted == small
    TelemetrySample.objects.all().delete()
    Device.objects.update(last_heard_at=None, telemetry_at={})
    with CaptureQueriesContext(connection) as many:
        assert ingest(utility, _batch(devices, large)).accepted == large

    table = TelemetrySample._meta.db_table
    inserts = [q for q in many.captured_queries if f"INTO {table} " in q["sql"]]
    assert len(inserts) == 1
    assert len(many.captured_queries) == len(few.captured_queries)
    assert TelemetrySample.objects.count() == large


@pytest.mark.parametrize("n_devices", [5, 40])
@pytest.mark.parametrize(("size", "pg_bound"), [(50, 4), (500, 6)])
def test_query_count_is_bounded(
    utility, make_device, django_assert_max_num_queries, n_devices, size, pg_bound
):
    devices = [make_device() for _ in range(n_devices)]

    # Savepoint, device lock, release; then on PostgreSQL one statement inserting the
    # samples, marking their hours pending and storing the live state, which from
    # COPY_MIN_ROWS samples on takes the staging table (IF NOT EXISTS), a COPY into it
    # (counted too) and that statement reading from it; on SQLite the INSERT, the
    # rollup-pending INSERT and the live-state UPDATE. The same for 5 devices as for 40.
    bound = pg_bound if connection.vendor == "postgresql" else 6
    with django_assert_max_num_queries(bound):
        assert ingest(utility, _batch(devices, size)).accepted == size


def minutes_ago(device, minutes, channel, value):
    return Reading(
        device_id=device.pk, at=NOW - timedelta(minutes=minutes), channel=channel, value=value
    )


def test_live_state_follows_the_newest_reading_only(utility, device):
    ingest(
        utility,
        [
            minutes_ago(device, 2, "w", -3000),
            minutes_ago(device, 1, "w", 2000),
            minutes_ago(device, 5, "soc_pct", 60),
            minutes_ago(device, 1, "v", 241),
            minutes_ago(device, 1, "hz", 60),
            minutes_ago(device, 1, "var", -5),
        ],
    )
    device.refresh_from_db()
    assert (device.power_w, device.soc_pct, device.voltage_v) == (2000, 60, 241)
    assert (device.frequency_hz, device.reactive_var) == (60, -5)
    assert device.last_heard_at == NOW - timedelta(minutes=1)

    # Late arrivals: an older power reading must not win; a newer SoC must.
    ingest(
        utility,
        [
            minutes_ago(device, 3, "w", 999),
            minutes_ago(device, 4, "soc_pct", 58),
        ],
    )
    device.refresh_from_db()
    assert device.power_w == 2000
    assert device.soc_pct == 58
    assert device.last_heard_at == NOW - timedelta(minutes=1)
    assert TelemetrySample.objects.filter(device=device).count() == 8


def test_channels_without_a_live_field_still_mark_the_device_heard(utility, device):
    ingest(utility, [Reading(device_id=device.pk, at=NOW, channel="wh_import", value=10)])

    device.refresh_from_db()
    assert device.last_heard_at == NOW
    assert device.power_w is None


def test_signal_fires_after_commit_with_the_devices(
    utility, make_device, django_capture_on_commit_callbacks
):
    devices = [make_device(), make_device()]
    received = []

    def receiver(**kwargs):
        received.append((kwargs["utility_id"], kwargs["device_ids"]))

    telemetry_ingested.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            ingest(utility, _batch(devices, 4))
        assert received == []  # not before commit
        for callback in callbacks:
            callback()
    finally:
        telemetry_ingested.disconnect(receiver)

    assert received == [(utility.pk, sorted(d.pk for d in devices))]


def test_nothing_is_signalled_when_everything_is_rejected(
    utility, device, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        ingest(utility, [Reading(device_id=device.pk, at=NOW, channel="nope", value=1)])

    assert callbacks == []


def test_raw_time_is_kept_and_buckets_floor_it(utility, device):
    at = NOW + timedelta(minutes=7, seconds=12, microseconds=500_000) - timedelta(hours=1)
    ingest(utility, [Reading(device_id=device.pk, at=at, channel="w", value=1)])

    assert TelemetrySample.objects.get().at == at
    assert interval_bucket(at, period="5m") == NOW - timedelta(hours=1) + timedelta(minutes=5)
    assert interval_bucket(at, period="1h") == NOW - timedelta(hours=1)


def _at_once(utility, readings):
    """device_readings_statement sent: (whether the device was found, its IngestResult)."""
    statement = device_readings_statement(
        device_id=readings[0].device_id,
        utility_id=utility.pk,
        readings=readings,
        source="test",
        now=NOW,
    )
    assert statement is not None
    found, inserted = one_row(statement.sql, statement.params)  # as the listener sends it
    return found, statement.result(inserted)


def _live(device):
    device.refresh_from_db()
    fields = ("power_w", "voltage_v", "soc_pct", "telemetry_at", "last_heard_at")
    samples = TelemetrySample.objects.filter(device=device).order_by("at", "channel")
    return (
        {name: getattr(device, name) for name in fields},
        list(samples.values_list("at", "channel", "value")),
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one PostgreSQL statement")
def test_the_one_statement_ingest_does_what_telemetry_ingest_does(utility, make_device):
    ingested, at_once = make_device(), make_device()
    m = timedelta(minutes=1)
    t = NOW - timedelta(hours=1)
    batches = [
        [(Channel.W, t - 10 * m, 100), (Channel.W, t - 9 * m, 200), (Channel.V, t, 230)],
        # older than held on W, newer on V, a channel without a live field, a duplicate
        [(Channel.W, t - 20 * m, 5), (Channel.V, t + m, 231), (Channel.WH_IMPORT, t, 9)],
        [(Channel.W, t - 9 * m, 200), (Channel.W, t - 9 * m, 300), (Channel.V, t, 1)],
        # equal times across channels, newer on both
        [(Channel.W, t + 2 * m, 7), (Channel.V, t + 2 * m, 232), (Channel.SOC_PCT, t, 50)],
    ]
    for batch in batches:
        expected = ingest(
            utility, [Reading(device_id=ingested.pk, at=a, channel=c, value=v) for c, a, v in batch]
        )
        found, got = _at_once(
            utility, [Reading(device_id=at_once.pk, at=a, channel=c, value=v) for c, a, v in batch]
        )
        assert found == 1
        assert (got.accepted, got.duplicates, got.rejected) == (
            expected.accepted,
            expected.duplicates,
            expected.rejected,
        )
        live, samples = _live(at_once)
        expected_live, expected_samples = _live(ingested)
        assert live == expected_live
        assert [s[1:] for s in samples] == [s[1:] for s in expected_samples]
        assert [s[0] for s in samples] == [s[0] for s in expected_samples]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one PostgreSQL statement")
def test_the_one_statement_ingest_refuses_what_telemetry_ingest_refuses(
    utility, other_utility, make_device
):
    device = make_device()
    foreign = make_device(utility=other_utility)
    before = _live(device)
    assert (
        device_readings_statement(
            device_id=device.pk,
            utility_id=utility.pk,
            readings=[
                Reading(device_id=device.pk, at=NOW + timedelta(hours=1), channel="w", value=1)
            ],
            source="test",
            now=NOW,
        )
        is None
    )
    found, _ = _at_once(utility, [Reading(device_id=foreign.pk, at=NOW, channel="w", value=1)])
    assert found == 0
    assert _live(device) == before
    assert not TelemetrySample.objects.filter(device=foreign).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one PostgreSQL statement")
@pytest.mark.django_db(transaction=True)
def test_the_same_readings_ingested_at_once_twice_are_stored_once(utility, make_device):
    """Two connections send a device's readings at the same moment, in opposite orders (a
    client retrying while its first post is still in flight): the device lock taken first
    lets one statement wait for the other, not deadlock on each other's rows."""
    device = make_device()
    start = threading.Barrier(2)
    results: list = []

    def post(readings) -> None:
        try:
            start.wait(timeout=10)
            results.append(_at_once(utility, readings)[1].accepted)
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    m = timedelta(minutes=1)
    for n in range(10):
        at = NOW - timedelta(hours=2) + n * 10 * m
        readings = [
            Reading(device_id=device.pk, at=at + k * m, channel=Channel.W, value=100 * n + k)
            for k in range(6)
        ]
        results.clear()
        threads = [
            threading.Thread(target=post, args=(batch,)) for batch in (readings, readings[::-1])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(results) == [0, 6], results  # one stored all six, the other none
    assert len(stored(device, Channel.W)) == 60


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one PostgreSQL statement")
@pytest.mark.django_db(transaction=True)
def test_the_one_statement_ingest_takes_the_devices_lock_before_its_samples(utility, make_device):
    """As telemetry_ingest does: an ingest holding the device and storing one of the same
    samples is waited for. Samples first, then the device, would deadlock with it (each
    waiting for a row the other holds)."""
    from django.db import transaction

    device = make_device()
    readings = [
        Reading(device_id=device.pk, at=NOW - timedelta(minutes=k), channel=Channel.W, value=k)
        for k in range(1, 4)
    ]
    done = threading.Event()
    results: list = []

    def post() -> None:
        try:
            results.append(_at_once(utility, readings)[1].accepted)
        except Exception as exc:
            results.append(exc)
        finally:
            done.set()
            connection.close()

    with transaction.atomic():
        Device.objects.select_for_update().get(pk=device.pk)
        thread = threading.Thread(target=post)
        thread.start()
        assert not done.wait(0.5), "the statement did not wait for the device"
        # The first ingest stores one of the same samples while it holds the device.
        ingest(utility, [dataclasses.replace(readings[0], value=99)])
    thread.join(timeout=10)
    assert results == [2]
    assert stored(device, Channel.W) == [3.0, 2.0, 99.0]
