"""Live aggregates: what they say, who receives them, and the one-per-second throttle."""

import asyncio
import itertools
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.core.cache import cache
from django.utils import timezone

from devices.services import Reading, telemetry_ingest
from portal.consumers import UtilityTopicConsumer
from portal.live import (
    Publisher,
    event_snapshot,
    fleet_snapshot,
    live_publish,
    mark_dirty,
    run_publisher,
)
from portal.tenancy.choices import Role
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


async def test_a_burst_of_10000_readings_is_at_most_one_message_per_second():
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
    assert len(times) <= int(elapsed) + 1, (len(times), elapsed)
    assert all(b - a >= 0.99 for a, b in itertools.pairwise(times)), times
    # The last message carries the final state: the last batch's power on every device.
    assert last is not None and last["power_w"] == 99 * 100


async def test_publisher_skips_utilities_with_nothing_new():
    utility = await sync_to_async(factories.utility)()
    await sync_to_async(cache.clear)()
    publisher = Publisher()
    assert await sync_to_async(publisher.tick)() == 0
    await sync_to_async(mark_dirty)(utility_id=utility.pk)
    assert await sync_to_async(publisher.tick)() == 1  # the fleet message
    assert await sync_to_async(publisher.tick)(time.time() + 5) == 0  # nothing new since
