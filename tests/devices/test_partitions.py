from datetime import UTC, datetime

import pytest
from django.db import connection

from devices.models import TelemetrySample
from devices.services import (
    Reading,
    telemetry_ingest,
    telemetry_partitions_ensure,
    telemetry_prune,
)
from tests.devices.conftest import NOW

TABLE = TelemetrySample._meta.db_table

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="partitioning is a PostgreSQL feature"
)


def partitions():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY 1",
            [TABLE],
        )
        return [name for (name,) in cursor.fetchall()]


def rows_in(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ONLY {table}")  # noqa: S608
        return cursor.fetchone()[0]


def readings(device):
    return [
        Reading(
            device_id=device.pk, at=datetime(2026, 10, 31, 23, 59, tzinfo=UTC), channel="w", value=1
        ),
        Reading(device_id=device.pk, at=datetime(2026, 11, 1, tzinfo=UTC), channel="w", value=2),
        Reading(device_id=device.pk, at=NOW, channel="w", value=3),
    ]


def test_samples_table_is_range_partitioned_by_time(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_partkeydef(%s::regclass)",
            [TABLE],
        )
        assert cursor.fetchone()[0] == "RANGE (at)"
    assert partitions() == [f"{TABLE}_default"]


def test_monthly_partitions_take_over_rows_and_keep_duplicates_out(utility, device):
    assert (
        telemetry_ingest(utility=utility, readings=readings(device), source="t", now=NOW).accepted
        == 3
    )
    assert rows_in(f"{TABLE}_default") == 3

    created = telemetry_partitions_ensure(
        since=datetime(2026, 10, 15, tzinfo=UTC), through=datetime(2026, 12, 1, tzinfo=UTC)
    )

    assert created == [f"{TABLE}_p2026_10", f"{TABLE}_p2026_11", f"{TABLE}_p2026_12"]
    assert rows_in(f"{TABLE}_default") == 0
    assert rows_in(f"{TABLE}_p2026_10") == 1
    assert rows_in(f"{TABLE}_p2026_11") == 2
    # Running again is a no-op; the unique key still holds across partitions.
    assert telemetry_partitions_ensure(since=NOW, through=NOW) == []
    again = telemetry_ingest(utility=utility, readings=readings(device), source="t", now=NOW)
    assert (again.accepted, again.duplicates) == (0, 3)
    assert TelemetrySample.objects.count() == 3
    fresh = Reading(device_id=device.pk, at=NOW.replace(hour=11), channel="w", value=4)
    assert telemetry_ingest(utility=utility, readings=[fresh], source="t", now=NOW).accepted == 1
    assert rows_in(f"{TABLE}_p2026_11") == 3


def test_prune_drops_whole_expired_partitions(utility, device):
    telemetry_ingest(utility=utility, readings=readings(device), source="t", now=NOW)
    telemetry_partitions_ensure(
        since=datetime(2026, 10, 1, tzinfo=UTC), through=datetime(2026, 11, 1, tzinfo=UTC)
    )

    result = telemetry_prune(older_than=datetime(2026, 11, 10, tzinfo=UTC))

    assert result.dropped_partitions == [f"{TABLE}_p2026_10"]
    assert result.deleted_samples == 1  # 1 November, from the November partition
    assert list(TelemetrySample.objects.values_list("value", flat=True)) == [3]
    assert f"{TABLE}_p2026_11" in partitions()
