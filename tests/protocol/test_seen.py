"""Last-seen and last-poll times (protocol.seen): noted per request in memory, written in
sets by the flusher, never inline, within SEP2_SEEN_FLUSH_S, and never backwards."""

import time
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bench.sep2 import READING_BODY, STATUS_BODY, fill
from protocol import cache, seen
from protocol.models import Client, EndDevice, MirrorMeterReading, MirrorUsagePoint
from tenancy.choices import Role
from tests import factories
from tests.protocol.test_server_cache import world

pytestmark = pytest.mark.django_db


def mix(end_device, group, program) -> list[str]:
    """The polling mix's GETs for one EndDevice (bench.sep2's endpoints)."""
    base = f"/edev/{end_device.pk}"
    return [
        "/tm",
        "/dcap",
        "/edev?l=10",
        base,
        f"{base}/fsa?l=10",
        f"{base}/derp?l=10",
        f"{base}/derp/{group.pk}/derc?l=10",
        f"{base}/derp/{group.pk}/dderc",
    ]


def mirror(end_device) -> MirrorUsagePoint:
    mup = MirrorUsagePoint.objects.create(
        utility_id=end_device.utility_id, end_device=end_device, mrid="A" * 32, role_flags=9
    )
    MirrorMeterReading.objects.create(
        utility_id=end_device.utility_id,
        mirror_usage_point=mup,
        mrid="1" * 32,
        channel="w",
        uom=38,
    )
    return mup


def written(sql: str) -> bool:
    return sql.lstrip().upper().startswith("UPDATE") and (
        "last_seen_at" in sql or "last_poll_at" in sql
    )


def test_no_request_of_the_mix_writes_last_seen_or_last_poll(manager_a):
    _, program, group, agg, end_devices = world(manager_a)
    one = end_devices[0]
    mup = mirror(one)
    now = int(time.time()) - 5
    before = timezone.now()
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(2):  # first contact, then cached
            for path in mix(one, group, program):
                assert agg.http.get(path).status_code == 200, path
        status = fill(STATUS_BODY, now, 1).encode()
        assert agg.http.put_sep(f"/edev/{one.pk}/der/0/ders", status).status_code == 204
        readings = fill(READING_BODY, now, 2).encode()
        assert agg.http.post_sep(f"/mup/{mup.pk}", readings).status_code in (201, 204)
    assert not [q["sql"] for q in ctx.captured_queries if written(q["sql"])]
    assert Client.objects.get(pk=agg.client.pk).last_seen_at is None
    assert EndDevice.objects.get(pk=one.pk).last_poll_at is None

    with CaptureQueriesContext(connection) as ctx:
        seen.flush()
    assert len([q for q in ctx.captured_queries if written(q["sql"])]) == 2  # one per table
    last_seen = Client.objects.get(pk=agg.client.pk).last_seen_at
    last_poll = EndDevice.objects.get(pk=one.pk).last_poll_at
    assert last_seen is not None and before <= last_seen <= timezone.now()
    assert last_poll is not None and before <= last_poll <= last_seen
    # The EndDevices no request was about were not polled.
    assert EndDevice.objects.get(pk=end_devices[1].pk).last_poll_at is None
    assert seen.flush() == 0  # nothing left to write


def test_the_portal_shows_a_poll_once_flushed(manager_a, client):
    utility, _, _, agg, end_devices = world(manager_a)
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    agg.http.get(f"/edev/{end_devices[0].pk}")
    page = client.get(reverse("protocol:end-device-list")).content.decode()
    assert page.count(">never<") == 3
    seen.flush()
    page = client.get(reverse("protocol:end-device-list")).content.decode()
    assert page.count(">never<") == 2


def test_a_flush_never_moves_a_time_back(manager_a):
    _, _, _, agg, end_devices = world(manager_a)
    later = timezone.now() + timedelta(minutes=5)
    EndDevice.objects.filter(pk=end_devices[0].pk).update(last_poll_at=later)
    Client.objects.filter(pk=agg.client.pk).update(last_seen_at=later)
    seen.end_device_polled(end_device_id=end_devices[0].pk, at=timezone.now())
    seen.end_device_polled(end_device_id=end_devices[1].pk, at=timezone.now())
    seen.client_seen(client_id=agg.client.pk, at=timezone.now())
    assert seen.flush() == 1  # only the EndDevice never polled
    assert EndDevice.objects.get(pk=end_devices[0].pk).last_poll_at == later
    assert Client.objects.get(pk=agg.client.pk).last_seen_at == later


def test_the_latest_note_wins_and_large_sets_go_in_batches(manager_a, monkeypatch):
    _, _, _, _, end_devices = world(manager_a, n=25)
    monkeypatch.setattr(seen, "FLUSH_BATCH", 10)
    now = timezone.now()
    for minutes in (3, 1, 2):  # out of order: the newest stays
        for ed in end_devices:
            seen.end_device_polled(end_device_id=ed.pk, at=now - timedelta(minutes=minutes))
    with CaptureQueriesContext(connection) as ctx:
        assert seen.flush() == 25
    assert len([q for q in ctx.captured_queries if written(q["sql"])]) == 3
    polls = set(
        EndDevice.objects.filter(pk__in=[e.pk for e in end_devices]).values_list(
            "last_poll_at", flat=True
        )
    )
    assert polls == {now - timedelta(minutes=1)}


def test_a_flush_invalidates_no_cached_answer(manager_a, django_assert_num_queries):
    _, _, group, agg, end_devices = world(manager_a)
    path = f"/edev/{end_devices[0].pk}/derp/{group.pk}/derc?l=10"
    agg.http.get(path)
    before = cache.tokens((cache.GLOBAL,))
    seen.flush()
    assert cache.tokens((cache.GLOBAL,)) == before
    with django_assert_num_queries(0):
        assert agg.http.get(path).status_code == 200


def test_a_failed_flush_keeps_the_notes(manager_a, monkeypatch):
    _, _, _, agg, _ = world(manager_a)
    at = timezone.now()
    seen.client_seen(client_id=agg.client.pk, at=at)

    def down(*args, **kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(seen, "_write", down)
    assert seen.flush() == 0
    monkeypatch.undo()
    assert seen.flush() == 1
    assert Client.objects.get(pk=agg.client.pk).last_seen_at == at


@pytest.mark.django_db(transaction=True)
def test_the_listener_flushes_every_interval_on_its_own(manager_a, settings):
    """The bound: a note is written by the flusher thread, which flushes every
    SEP2_SEEN_FLUSH_S (here 0.1 s), without anyone calling flush()."""
    settings.SEP2_SEEN_FLUSH_S = 0.1
    _, _, _, agg, end_devices = world(manager_a)
    seen.flush_in_background()
    try:
        agg.http.get(f"/edev/{end_devices[0].pk}")
        deadline = time.monotonic() + 20  # a generous wait for a loaded machine: not a timing
        while time.monotonic() < deadline:
            if EndDevice.objects.get(pk=end_devices[0].pk).last_poll_at is not None:
                break
            time.sleep(0.05)
        assert EndDevice.objects.get(pk=end_devices[0].pk).last_poll_at is not None
        assert Client.objects.get(pk=agg.client.pk).last_seen_at is not None
        # And again: the thread keeps flushing.
        later = timezone.now()
        seen.end_device_polled(end_device_id=end_devices[1].pk, at=later)
        while time.monotonic() < deadline:
            if EndDevice.objects.get(pk=end_devices[1].pk).last_poll_at == later:
                break
            time.sleep(0.05)
        assert EndDevice.objects.get(pk=end_devices[1].pk).last_poll_at == later
    finally:
        seen.flush_in_background(False)


def test_the_flusher_waits_the_stated_interval(settings, monkeypatch):
    """Each tick writes everything noted before it, and the ticks are SEP2_SEEN_FLUSH_S
    apart: so a contact reaches the database within that bound."""
    settings.SEP2_SEEN_FLUSH_S = 7
    waits: list[float] = []
    ticks: list[int] = []

    class Stop:
        def wait(self, timeout):
            waits.append(timeout)
            return len(waits) > 2

    flusher = seen._Flusher()
    flusher._stop = Stop()  # type: ignore[assignment]
    monkeypatch.setattr(flusher, "_tick", lambda: ticks.append(1))
    flusher._run()
    assert waits == [7, 7, 7]
    assert len(ticks) == 3  # two interval ticks and the last one on stopping
