"""Live aggregates: what they say, who receives them, and the per-group throttle."""

import asyncio
import itertools
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.services import Reading, telemetry_ingest
from portal.consumers import UtilityTopicConsumer
from portal.live import (
    THROTTLE_S,
    Publisher,
    event_device_rows,
    event_snapshot,
    fleet_snapshot,
    live_publish,
    mark_dirty,
    run_publisher,
    throttle_key,
)
from programs.models import Dispatch
from protocol.services import response_record
from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _socket(user, utility_id, topic="fleet"):
    communicator = WebsocketCommunicator(
        UtilityTopicConsumer.as_asgi(), f"/ws/utility/{utility_id}/{topic}/"
    )
    communicator.scope["user"] = user
    communicator.scope["url_route"] = {"kwargs": {"utility_id": utility_id, "topic": topic}}
    return communicator


def test_fleet_snapshot_adds_up_fresh_devices_only():
    utility = factories.utility()
    now = timezone.now()
    factories.device(utility, power_w=1500, soc_pct=55, stat_w_avail_w=4000, last_heard_at=now)
    factories.device(utility, power_w=-500, soc_pct=95, stat_w_avail_w=1000, last_heard_at=now)
    factories.device(utility, power_w=9999, soc_pct=5, last_heard_at=now - timedelta(hours=2))
    factories.device(factories.utility(), power_w=7777, soc_pct=50, last_heard_at=now)
    snapshot = fleet_snapshot(utility=utility, now=now)
    assert snapshot["power_w"] == 1000  # 1500 - 500; the silent device and utility B excluded
    assert snapshot["avail_w"] == 5000
    assert snapshot["reporting"] == 2
    assert snapshot["soc_histogram"] == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert snapshot["health"]["online"] == 2 and snapshot["health"]["offline"] == 1


def test_fleet_snapshot_histogram_edges_and_health():
    utility = factories.utility()
    now = timezone.now()
    for soc in (0, 9.99, 10, 89.9, 90, 100):
        factories.device(utility, power_w=1, soc_pct=soc, last_heard_at=now)
    factories.device(utility, power_w=1, soc_pct=None, last_heard_at=now)
    factories.device(utility, power_w=1, soc_pct=50, alarms=["fault"], last_heard_at=now)
    snapshot = fleet_snapshot(utility=utility, now=now)
    assert snapshot["soc_histogram"] == [2, 1, 0, 0, 0, 1, 0, 0, 1, 2]
    assert snapshot["reporting"] == 8
    assert snapshot["health"] == {"online": 7, "stale": 0, "offline": 0, "faulted": 1}


@pytest.mark.parametrize("n", [3, 40])
def test_fleet_snapshot_is_one_query_whatever_the_fleet_size(n):
    utility = factories.utility()
    now = timezone.now()
    for i in range(n):
        factories.device(utility, power_w=100, soc_pct=i % 101, last_heard_at=now)
    with CaptureQueriesContext(connection) as queries:
        snapshot = fleet_snapshot(utility=utility, now=now)
    assert snapshot["reporting"] == n and sum(snapshot["soc_histogram"]) == n
    assert len(queries) == 1, [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("n", [3, 40])
def test_a_publish_pass_costs_the_same_queries_for_any_fleet_size(n, django_assert_max_num_queries):
    utility = factories.utility()
    for _ in range(n):
        factories.device(utility, power_w=100, last_heard_at=timezone.now())
    # Utility, fleet aggregate, active programs, live events: nothing per device.
    with django_assert_max_num_queries(4):
        assert live_publish(utility_id=utility.pk) == 1


def test_event_snapshot_compares_requested_with_delivered():
    utility = factories.utility()
    event = factories.event(utility, status="active")
    now = timezone.now()
    for setpoint, power in ((3000, 2800), (2000, 1000)):
        dispatch = factories.dispatch(utility)
        dispatch.event, dispatch.setpoint_w = event, setpoint
        dispatch.save()
        dispatch.device.power_w, dispatch.device.last_heard_at = power, now
        dispatch.device.save()
    snapshot = event_snapshot(event=event, now=now)
    assert (snapshot["requested_w"], snapshot["delivered_w"]) == (5000, 3800)
    assert snapshot["funnel"]["dispatched"] == 2


def _dispatch(event, *, committed_w=None, last_response=None, **device_fields):
    device = factories.device(event.utility, **device_fields)
    return Dispatch.objects.create(
        utility=event.utility,
        event=event,
        device=device,
        setpoint_w=1000,
        committed_w=committed_w,
        last_response=last_response,
    )


def test_event_snapshot_carries_the_device_table_with_response_meanings():
    utility = factories.utility()
    event = factories.event(utility, status="active")
    now = timezone.now()
    done = _dispatch(event, committed_w=3000, last_response=3, power_w=2900.4, last_heard_at=now)
    stale = _dispatch(
        event, committed_w=2000, last_response=7, power_w=500, last_heard_at=now - timedelta(days=1)
    )
    silent = _dispatch(event, committed_w=None)
    odd = _dispatch(event, committed_w=1000, last_response=99)
    _dispatch(factories.event(utility, status="active"), last_response=1)  # another event
    rows = event_snapshot(event=event, now=now)["devices"]
    assert [r["id"] for r in rows] == [done.pk, stale.pk, odd.pk, silent.pk]  # as the page
    assert [r["response_label"] for r in rows] == [
        "Event completed",
        "Superseded",
        "code 99",
        "silent",
    ]
    assert [r["response"] for r in rows] == [3, 7, 99, None]
    assert [r["power_w"] for r in rows] == [2900, None, None, None]  # stale power is not "now"
    assert [r["id"] for r in event_device_rows(event=event, now=now, limit=2)] == [
        done.pk,
        stale.pk,
    ]


@pytest.mark.parametrize("n", [5, 60])
def test_event_snapshot_queries_do_not_grow_with_devices(n):
    utility = factories.utility()
    event = factories.event(utility, status="active")
    for i in range(n):
        _dispatch(event, committed_w=i, last_response=(i % 3) + 1, last_heard_at=timezone.now())
    event_snapshot(event=event)  # warm any per-process caches
    with CaptureQueriesContext(connection) as queries:
        snapshot = event_snapshot(event=event)
    assert len(snapshot["devices"]) == n
    # Aggregate, funnel (2 queries: participation groups with opt-outs, and opt-outs of
    # undispatched devices) and the device rows: the same for 5 or 60 devices.
    assert len(queries) == 4, [q["sql"] for q in queries.captured_queries]


async def test_a_response_pushes_the_scheduled_events_table_within_the_throttle():
    utility = await sync_to_async(factories.utility)()
    user = await sync_to_async(factories.member)(utility, Role.ANALYST)

    def setup():
        event = factories.event(utility, status="scheduled")
        end_device = factories.end_device(utility)
        dispatch = Dispatch.objects.create(
            utility=utility, event=event, device=end_device.device, setpoint_w=1000
        )
        return event, end_device, dispatch

    event, end_device, dispatch = await sync_to_async(setup)()
    await sync_to_async(cache.clear)()
    socket = _socket(user, utility.pk, topic=f"event.{event.pk}")
    assert (await socket.connect())[0]
    while not await socket.receive_nothing(timeout=0.2):
        await socket.receive_json_from()
    await sync_to_async(response_record)(end_device=end_device, event=event, status=1)
    assert await sync_to_async(cache.get)(f"live:dirty:{utility.pk}")  # due, not sent at once
    assert await socket.receive_nothing(timeout=0.3)
    publisher = Publisher()
    assert await sync_to_async(publisher.tick)() == 2  # the fleet, and this event
    message = await socket.receive_json_from(timeout=2)
    (row,) = message["data"]["devices"]
    assert (row["id"], row["response"], row["response_label"]) == (dispatch.pk, 1, "Event received")
    assert message["data"]["funnel"]["received"] == 1
    # A second Response inside the same second waits for the throttle.
    await sync_to_async(response_record)(end_device=end_device, event=event, status=2)
    assert await sync_to_async(publisher.tick)() == 0
    await socket.disconnect()


async def test_each_utility_hears_only_its_own_fleet():
    alpha = await sync_to_async(factories.utility)()
    bravo = await sync_to_async(factories.utility)()
    user = await sync_to_async(factories.member)(alpha, Role.ANALYST)
    socket = _socket(user, alpha.pk)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await sync_to_async(live_publish)(utility_id=bravo.pk)
    assert await socket.receive_nothing(timeout=0.3)
    await sync_to_async(live_publish)(utility_id=alpha.pk)
    message = await socket.receive_json_from(timeout=2)
    assert message["topic"] == "fleet" and "power_w" in message["data"]
    await socket.disconnect()


async def test_a_burst_of_10000_readings_is_at_most_one_message_per_throttle_window():
    utility = await sync_to_async(factories.utility)()
    user = await sync_to_async(factories.member)(utility, Role.ANALYST)
    devices = [await sync_to_async(factories.device)(utility) for _ in range(100)]
    await sync_to_async(cache.clear)()
    socket = _socket(user, utility.pk)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    stop = asyncio.Event()
    publisher = asyncio.create_task(run_publisher(interval_s=0.05, stop=stop))

    def burst():
        base = timezone.now() - timedelta(minutes=5)
        for batch in range(100):  # 100 committed batches of 100 readings
            readings = [
                Reading(
                    device_id=d.pk,
                    at=base + timedelta(seconds=batch),
                    channel="w",
                    value=float(batch),
                )
                for d in devices
            ]
            result = telemetry_ingest(utility=utility, readings=readings, source="test")
            assert result.accepted == 100

    started = time.monotonic()
    await sync_to_async(burst)()
    # Keep listening until the final state arrives (the trailing publish), bounded in time.
    times, last = [], None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (last is None or last["power_w"] != 99 * 100):
        if await socket.receive_nothing(timeout=0.2):
            continue
        message = await socket.receive_json_from()
        times.append(message["data"]["t"])
        last = message["data"]
    elapsed = time.monotonic() - started
    stop.set()
    await publisher
    while not await socket.receive_nothing(timeout=0.2):
        message = await socket.receive_json_from()
        times.append(message["data"]["t"])
    await socket.disconnect()
    assert times, "the burst must produce at least one live message"
    assert len(times) <= int(elapsed / THROTTLE_S) + 1, (len(times), elapsed)
    assert all(b - a >= THROTTLE_S - 0.01 for a, b in itertools.pairwise(times)), times
    # The last message carries the final state: the last batch's power on every device.
    assert last is not None and last["power_w"] == 99 * 100, (times, elapsed, last)


async def test_publisher_skips_utilities_with_nothing_new():
    utility = await sync_to_async(factories.utility)()
    await sync_to_async(cache.clear)()
    publisher = Publisher()
    assert await sync_to_async(publisher.tick)() == 0
    await sync_to_async(mark_dirty)(utility_id=utility.pk)
    assert await sync_to_async(publisher.tick)() == 1  # the fleet message
    assert await sync_to_async(publisher.tick)(time.time() + 5) == 0  # nothing new since


async def test_a_change_held_back_by_the_throttle_is_published_on_a_later_tick():
    # The throttle key can still be alive when this loop's own second is up (it was set a
    # moment after `now`), or another publisher holds it: the change must stay due.
    utility = await sync_to_async(factories.utility)()
    await sync_to_async(cache.clear)()
    publisher = Publisher()
    await sync_to_async(mark_dirty)(utility_id=utility.pk)
    now = time.time()
    key = throttle_key(utility.pk, now)
    await sync_to_async(cache.set)(key, 0, 60)
    assert await sync_to_async(publisher.tick)(now) == 0
    await sync_to_async(cache.delete)(key)
    assert await sync_to_async(publisher.tick)(now) == 1


def test_the_publisher_wakes_when_a_window_ends_not_on_the_next_interval():
    publisher = Publisher()
    assert publisher.sleep_s(100.0, 0.2) == 0.2  # nothing published: the plain interval
    publisher.published[1] = 100.0 - THROTTLE_S + 0.05
    assert publisher.sleep_s(100.0, 0.2) == pytest.approx(0.05)
    publisher.published[1] = 100.0 - THROTTLE_S - 1  # long past: the interval again
    assert publisher.sleep_s(100.0, 0.2) == 0.2


@pytest.fixture
def relaying(tmp_path, settings):
    """This test process behaves like a Celery worker next to the in-memory channel layer."""
    from portal import realtime

    settings.REALTIME_RELAY_DIR = tmp_path / "relay"
    realtime.relay_from_this_process()
    yield tmp_path / "relay"
    realtime._relaying = False


async def test_an_alert_raised_in_a_worker_reaches_the_browser_through_the_relay(relaying):
    # Regression: alerts opened by the beat-driven evaluation in the Celery worker were
    # sent to the worker's own in-memory channel layer, which no browser listens to.
    from portal.alerts import alerts_evaluate
    from portal.models import AlertRule

    utility = await sync_to_async(factories.utility)()
    user = await sync_to_async(factories.member)(utility, Role.ANALYST)
    device = await sync_to_async(factories.device)(
        utility, last_heard_at=timezone.now() - timedelta(hours=1)
    )
    await sync_to_async(AlertRule.objects.create)(
        utility=utility, kind="device_stale", threshold_min=15, email=False
    )
    socket = _socket(user, utility.pk, "alerts")
    assert (await socket.connect())[0]
    await socket.receive_json_from()

    assert (await sync_to_async(alerts_evaluate)())["opened"] == 1
    assert await socket.receive_nothing(timeout=0.3)  # nothing sent straight from a "worker"
    assert len(list(relaying.glob("*.json"))) == 1

    stop = asyncio.Event()
    publisher = asyncio.create_task(run_publisher(interval_s=0.05, stop=stop))
    try:
        message = await socket.receive_json_from(timeout=5)
    finally:
        stop.set()
        await publisher
    assert message["topic"] == "alerts"
    assert message["data"]["alert"]["url"] == f"/devices/{device.pk}/"
    assert not list(relaying.glob("*.json"))  # drained once
    await socket.disconnect()


async def test_the_relay_drops_messages_too_old_to_matter(relaying):
    import json

    from portal.realtime import RELAY_MAX_AGE_S, push, relay_drain

    utility = await sync_to_async(factories.utility)()
    user = await sync_to_async(factories.member)(utility, Role.ANALYST)
    socket = _socket(user, utility.pk, "alerts")
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await sync_to_async(push)(utility_id=utility.pk, topic="alerts", data={"n": 1})
    await sync_to_async(push)(utility_id=utility.pk, topic="alerts", data={"n": 2})
    first = sorted(relaying.glob("*.json"))[0]
    payload = json.loads(first.read_text())
    payload["at"] -= RELAY_MAX_AGE_S + 1
    first.write_text(json.dumps(payload))

    assert await relay_drain() == 1
    assert (await socket.receive_json_from(timeout=2))["data"] == {"n": 2}
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


def test_a_celery_worker_relays_only_when_the_layer_is_process_local(settings):
    from portal import realtime
    from portal.celery import _relay_live_pushes

    try:
        settings.REALTIME_RELAY_DIR = None  # Redis: every process reaches the layer
        _relay_live_pushes()
        assert realtime._relaying is False
        settings.REALTIME_RELAY_DIR = "/tmp/relay"
        _relay_live_pushes()
        assert realtime._relaying is True
    finally:
        realtime._relaying = False


async def test_an_event_status_change_is_pushed_to_its_page_and_the_control_rooms():
    from programs.services import event_cancel

    utility = await sync_to_async(factories.utility)()
    user = await sync_to_async(factories.member)(utility, Role.PROGRAM_MANAGER)
    event = await sync_to_async(factories.event)(utility, status="scheduled")
    page = _socket(user, utility.pk, f"event.{event.pk}")
    board = _socket(user, utility.pk, "events")
    for socket in (page, board):
        assert (await socket.connect())[0]
        await socket.receive_json_from()

    await sync_to_async(event_cancel)(event=event, actor=user, reason="test")

    snapshot = (await page.receive_json_from(timeout=2))["data"]
    assert (snapshot["status"], snapshot["status_label"]) == ("cancelled", "Cancelled")
    notice = (await board.receive_json_from(timeout=2))["data"]
    assert notice == {"event": event.pk, "status": "cancelled", "program": event.program_id}
    for socket in (page, board):
        await socket.disconnect()


def test_the_relay_folder_does_not_grow_forever_without_a_server(relaying):
    import os

    from portal import realtime

    utility = factories.utility()
    realtime.push(utility_id=utility.pk, topic="alerts", data={"n": 0})
    old = next(relaying.glob("*.json"))
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    realtime._written = 100  # the next write sweeps
    realtime.push(utility_id=utility.pk, topic="alerts", data={"n": 1})
    assert not old.exists()
    assert len(list(relaying.glob("*.json"))) == 1


@pytest.fixture
def marking_in_background():
    from portal import live

    live.mark_in_background(True)
    yield live
    live._marker.write()
    live.mark_in_background(False)


def test_the_listener_writes_a_burst_of_dirty_marks_as_one(marking_in_background, monkeypatch):
    """The 2030.5 listener ingests a fleet's reports; each mark was a Redis round trip on
    the write's thread. Marked in the background, a burst is one write, stamped after it."""
    from django.core.cache import caches

    live = marking_in_background
    first, second = factories.utility(), factories.utility()
    writes = []
    backend = type(caches["default"])  # the marker thread has its own cache instance
    set_many = backend.set_many

    def counted(self, data, *args, **kwargs):
        failed = set_many(self, data, *args, **kwargs)
        writes.append(data)  # once written: the test reads it as soon as it sees this
        return failed

    monkeypatch.setattr(backend, "set_many", counted)
    cache.delete_many([live.dirty_key(first.pk), live.dirty_key(second.pk)])
    before = time.time()
    for _ in range(200):
        mark_dirty(utility_id=first.pk)
    mark_dirty(utility_id=second.pk)
    deadline = time.monotonic() + 5
    while not writes and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(writes) == 1 and set(writes[0]) == {
        live.dirty_key(first.pk),
        live.dirty_key(second.pk),
    }
    assert cache.get(live.dirty_key(first.pk)) >= before
    # A mark after the write is a new one, never folded into the one already written.
    mark_dirty(utility_id=first.pk)
    assert live._marker.write() == 1
