"""Clients retry: the same MirrorUsagePoint and the same MirrorMeterReadings posted again,
even at the same moment from several connections, are stored once and never answer 5xx
(issue 20). Ingest is idempotent on (MUP quantity, reading time)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from devices.models import TelemetrySample
from protocol.models import MirrorMeterReading as StoredMmr
from protocol.models import MirrorUsagePoint as StoredMup
from protocol.xml import serialize
from protocol.xml.resources.common import DateTimeInterval, time_type
from protocol.xml.resources.mirror import (
    MirrorMeterReading,
    MirrorMeterReadingList,
    MirrorUsagePoint,
    Reading,
    ReadingType,
)
from tests.protocol.client import SepClient
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group

CONCURRENT = 12


def _mmr(mrid: str, at: int, value: int) -> MirrorMeterReading:
    return MirrorMeterReading(
        mrid=mrid,
        reading_type=ReadingType(uom=38, power_of_ten_multiplier=0, kind=37),
        reading=Reading(value=value, time_period=DateTimeInterval(duration=60, start=at)),
    )


def _mup(lfdi: str, readings: list[MirrorMeterReading]) -> bytes:
    return serialize(
        MirrorUsagePoint(
            mrid="E" * 32,
            role_flags=0x09,
            service_category_kind=0,
            status=1,
            device_lfdi=lfdi,
            mirror_meter_readings=readings,
        )
    )


def _all_at_once(send, count: int = CONCURRENT) -> list[int]:
    """Call `send()` from `count` threads released together; their status codes."""
    barrier = threading.Barrier(count)
    statuses: list[int] = []
    lock = threading.Lock()

    def run():
        try:
            barrier.wait()
            status = send().status_code
        finally:
            connections.close_all()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


@pytest.fixture
def world(utility_a):
    program, _ = program_with_group(utility_a)
    agg = actor(utility_a, program=program)
    ed = enrolled_end_device(utility_a, client=agg.client, program=program)
    return agg, ed


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_mirror_usage_point_posts_create_one(world):
    agg, ed = world
    at = time_type(datetime.now(UTC) - timedelta(minutes=2))
    body = _mup(ed.lfdi, [_mmr("F" * 32, at, 1200)])

    statuses = _all_at_once(
        lambda: SepClient(agg.cert, raise_request_exception=False).post_sep("/mup", body)
    )

    assert sorted(set(statuses)) <= [201, 204], statuses
    assert statuses.count(201) == 1, statuses
    assert StoredMup.objects.filter(end_device=ed).count() == 1
    assert StoredMmr.objects.filter(mirror_usage_point__end_device=ed).count() == 1
    assert TelemetrySample.objects.filter(device=ed.device).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_readings_to_one_mirror_are_stored_once(world):
    agg, ed = world
    created = agg.http.post_sep("/mup", _mup(ed.lfdi, []))
    assert created.status_code == 201, created.content
    href = created["Location"]
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)
    at = time_type(start)
    # A quantity the mirror does not know yet: every request declares its ReadingType.
    body = serialize(_mmr("A1" * 16, at, 900))

    statuses = _all_at_once(
        lambda: SepClient(agg.cert, raise_request_exception=False).post_sep(href, body)
    )

    assert statuses == [201] * CONCURRENT, statuses
    assert StoredMmr.objects.filter(mirror_usage_point__end_device=ed).count() == 1
    samples = TelemetrySample.objects.filter(device=ed.device)
    assert list(samples.values_list("value", flat=True)) == [900.0]


@pytest.mark.django_db
def test_a_mirror_post_costs_the_same_queries_for_one_reading_or_many(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agg, ed = world
    href = agg.http.post_sep("/mup", _mup(ed.lfdi, []))["Location"]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

    def cost(count: int, offset: int) -> int:
        readings = [
            _mmr(f"{offset + i:032X}", time_type(start + timedelta(minutes=offset + i)), 100 + i)
            for i in range(count)
        ]
        listed = MirrorMeterReadingList(mirror_meter_readings=readings, all=count, results=count)
        body = serialize(listed)
        with CaptureQueriesContext(connection) as queries:
            assert agg.http.post_sep(href, body).status_code == 201
        return len(queries)

    cost(1, 100)  # the first request after the mirror was made loads the client's identity
    assert cost(1, 0) == cost(40, 10)
    assert TelemetrySample.objects.filter(device=ed.device).count() == 42
