"""Live fleet and event aggregates, pushed to browsers after telemetry commits.

Any process may ingest telemetry (the ASGI server for 2030.5, a Celery worker for Modbus).
Ingest only marks its utility dirty in the shared cache. One publisher loop, running in
the ASGI server next to the WebSockets, publishes each dirty utility's aggregates at most
once per ``THROTTLE_S`` per group, so bursts of any size cost at most two messages a second and
the in-memory channel layer of the embedded setup still reaches the browsers. The same
loop sends what other processes relayed to it (``portal.realtime.relay_drain``).
"""

import asyncio
import atexit
import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import close_old_connections
from django.db.models import Count, Q, Sum
from django.utils import timezone
from redis.exceptions import RedisError

from devices.choices import Health
from devices.models import Device
from devices.selectors import device_stale_after, fleet_health_counts, health_count_aggregates
from portal.realtime import push, relay_drain
from programs.choices import EventStatus, ProgramStatus, participation, response_label
from programs.models import Dispatch, Event, Program
from programs.selectors import answer_overdue, event_dispatches, event_funnel
from tenancy.models import Utility

# At most one message per group per THROTTLE_S. While devices report, every window has
# news, so a reading waits up to one window: with 1 s the p99 from a reading to the browser
# could not be under 1 s (issue 18); half a second leaves room for the aggregate and Redis.
THROTTLE_S = 0.5
# The event snapshot carries this many device rows (the first pages of the event's table).
EVENT_LIVE_ROWS = 200
# A scheduled event is published while Responses to it are this recent (active ones always).
RESPONDED_WINDOW = timedelta(seconds=10)
logger = logging.getLogger(__name__)
# What the cache and channel layer raise while Redis (or the file cache) is unreachable.
LIVE_UNAVAILABLE = (RedisError, OSError)


def fleet_devices(*, utility: Utility, program=None):
    devices = Device.objects.for_utility(utility)
    if program is not None:
        devices = devices.filter(
            participations__program=program, participations__left_at__isnull=True
        )
    return devices


def _soc_bucket(index: int) -> Q:
    """Tenths of SoC: bucket 0 is below 10 %, bucket 9 is 90 % and above."""
    below = Q(soc_pct__lt=(index + 1) * 10) if index < SOC_BUCKETS - 1 else Q()
    at_least = Q(soc_pct__gte=index * 10) if index > 0 else Q(soc_pct__isnull=False)
    return at_least & below


SOC_BUCKETS = 10


def fleet_snapshot(*, utility: Utility, program=None, now=None) -> dict:
    """Fleet power, available power, SoC distribution and health in one aggregate query.

    One pass over the fleet whatever its size: the publisher runs this every throttle window
    while devices report, so at 10,000 devices three scans (totals, histogram, health) were
    most of the time from a reading to the browser.
    """
    now = now or timezone.now()
    fresh = Q(last_heard_at__gt=now - device_stale_after())
    aliases, health = health_count_aggregates(now)
    buckets = {f"soc_{i}": Count("pk", filter=fresh & _soc_bucket(i)) for i in range(SOC_BUCKETS)}
    totals = (
        fleet_devices(utility=utility, program=program)
        .alias(**aliases)
        .aggregate(
            power_w=Sum("power_w", filter=fresh),
            avail_w=Sum("stat_w_avail_w", filter=fresh),
            reporting=Count("pk", filter=fresh),
            **buckets,
            **{f"health_{state}": count for state, count in health.items()},
        )
    )
    return {
        "t": now.timestamp(),
        "power_w": round(totals["power_w"] or 0),
        "avail_w": round(totals["avail_w"] or 0),
        "reporting": totals["reporting"],
        "soc_histogram": [totals[f"soc_{i}"] for i in range(SOC_BUCKETS)],
        "health": {state: totals[f"health_{state}"] for state in Health.values},
    }


def health_counts(devices, *, now) -> dict[str, int]:
    """Online, stale, offline and faulted counts of any device queryset (one query)."""
    return fleet_health_counts(utility=None, now=now, devices=devices)


def event_device_rows(*, event: Event, now, limit: int = EVENT_LIVE_ROWS) -> list[dict]:
    """The first ``limit`` rows of the event's device table: last Response and power now."""
    fresh_after = now - device_stale_after()
    rows = event_dispatches(event=event).values_list(
        "pk", "last_response", "opted_out", "device__power_w", "device__last_heard_at"
    )[:limit]
    overdue = answer_overdue(event=event, now=now)
    out = []
    for pk, code, opted_out, power, heard in rows:
        fresh = power is not None and heard is not None and heard > fresh_after
        state = participation(code=code, opted_out=opted_out, answer_overdue=overdue)
        out.append(
            {
                "id": pk,
                "response": code,
                "response_label": response_label(code),
                "participation": state.value,
                "participation_label": state.label,
                "power_w": round(power) if fresh else None,
            }
        )
    return out


def event_snapshot(*, event: Event, now=None) -> dict:
    """Requested versus delivered power of the event's devices, its response funnel, and the
    first ``EVENT_LIVE_ROWS`` rows of its device table."""
    now = now or timezone.now()
    totals = (
        Dispatch.objects.for_utility(event.utility)
        .filter(event=event)
        .aggregate(
            requested_w=Sum("setpoint_w"),
            delivered_w=Sum(
                "device__power_w", filter=Q(device__last_heard_at__gt=now - device_stale_after())
            ),
        )
    )
    return {
        "t": now.timestamp(),
        "event": event.pk,
        "status": event.status,
        "status_label": event.get_status_display(),
        "requested_w": totals["requested_w"] or event.signed_target_w or 0,
        "delivered_w": round(totals["delivered_w"] or 0),
        "funnel": event_funnel(event=event, now=now),
        "devices": event_device_rows(event=event, now=now),
    }


def live_publish(*, utility_id: int, now=None) -> int:
    """Push the fleet aggregate and one per active event; returns the messages sent."""
    utility = Utility.objects.filter(pk=utility_id).first()
    if utility is None:
        return 0
    now = now or timezone.now()
    push(utility_id=utility.pk, topic="fleet", data=fleet_snapshot(utility=utility, now=now))
    sent = 1
    for program in Program.objects.for_utility(utility).filter(status=ProgramStatus.ACTIVE):
        data = fleet_snapshot(utility=utility, program=program, now=now)
        push(utility_id=utility.pk, topic=f"program.{program.pk}", data=data)
        sent += 1
    # Active events, and scheduled ones whose devices are answering (Response "received").
    responding = Q(
        status=EventStatus.SCHEDULED, dispatches__last_response_at__gte=now - RESPONDED_WINDOW
    )
    live = Event.objects.for_utility(utility).filter(Q(status=EventStatus.ACTIVE) | responding)
    for event in live.distinct():
        push(
            utility_id=utility.pk,
            topic=f"event.{event.pk}",
            data=event_snapshot(event=event, now=now),
        )
        sent += 1
    return sent


def throttle_key(utility_id: int, now: float) -> str:
    """The cache key one publisher claims to publish a utility in the window holding `now`.

    Cache timeouts are whole seconds (Redis), so the window is in the key, not the timeout.
    """
    return f"live:throttle:{utility_id}:{int(now // THROTTLE_S)}"


def dirty_key(utility_id: int) -> str:
    return f"live:dirty:{utility_id}"


def mark_dirty(*, utility_id: int) -> None:
    """Mark the utility's aggregates as changed: in the shared cache at once, or, in a
    process that marks in the background (the 2030.5 listener), by its marker thread."""
    if _marker.enabled:
        _marker.note(utility_id)
    else:
        cache.set(dirty_key(utility_id), time.time(), timeout=3600)


# How long the marker thread gathers marks before it writes them (added to the reading-
# to-browser time of what the 2030.5 listener ingests; the publisher's window is THROTTLE_S).
MARK_GATHER_S = 0.05


class _Marker:
    """Dirty marks gathered and written in sets: a fleet's 2030.5 listener ingests a
    thousand times a second, each a Redis round trip on its write thread before."""

    def __init__(self):
        self.enabled = False
        self._pending: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, utility_id: int) -> None:
        with self._lock:
            self._pending.add(utility_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-marks", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            time.sleep(MARK_GATHER_S)
            self.write()

    def write(self) -> int:
        """Write the gathered marks (stamped now, after the writes they mark committed)."""
        with self._lock:
            taken, self._pending = self._pending, set()
        if taken:
            now = time.time()
            try:
                cache.set_many({dirty_key(uid): now for uid in taken}, timeout=3600)
            except LIVE_UNAVAILABLE as exc:
                logger.warning("live marks skipped: %s", exc)
        return len(taken)


_marker = _Marker()


def mark_in_background(enabled: bool = True) -> None:
    """Have this process write its dirty marks from a thread, gathered for MARK_GATHER_S,
    and once more at exit (the 2030.5 listener calls this at import)."""
    _marker.enabled = enabled


@atexit.register
def _write_marks_at_exit() -> None:
    if _marker.enabled:
        _marker.write()


class Publisher:
    """Publishes dirty utilities' aggregates, each at most once per ``THROTTLE_S``.

    Several ASGI workers may each run one; the shared cache's ``add`` on the window's key
    lets only one of them publish a given utility in a given window.
    """

    def __init__(self):
        self.published: dict[int, float] = {}
        self.utility_ids: list[int] = []
        self.utilities_loaded_at = 0.0

    def due(self, now: float) -> list[int]:
        if now - self.utilities_loaded_at > 30:
            self.utility_ids = list(Utility.objects.values_list("pk", flat=True))
            self.utilities_loaded_at = now
        keys = {dirty_key(uid): uid for uid in self.utility_ids}
        dirty = cache.get_many(list(keys))
        return [
            keys[key]
            for key, marked_at in dirty.items()
            if marked_at > self.published.get(keys[key], 0)
            and now - self.published.get(keys[key], 0) >= THROTTLE_S
        ]

    def sleep_s(self, now: float, interval_s: float) -> float:
        """Until the next tick: `interval_s`, or less when a utility's window ends sooner.

        A utility published at t may publish again at t + THROTTLE_S; waking then, not on
        the next `interval_s` boundary, takes up to a tick off the reading-to-browser time.
        """
        ends = [at + THROTTLE_S - now for at in self.published.values() if now - at < THROTTLE_S]
        return max(0.01, min([interval_s, *ends]))

    def tick(self, now: float | None = None) -> int:
        """One pass: returns the number of messages sent."""
        now = now or time.time()
        sent = 0
        for utility_id in self.due(now):
            # The key may outlive this loop's own second by the time it took to set it,
            # or belong to another publisher: then the utility stays due for the next
            # tick, so the last change of a burst is never dropped.
            if not cache.add(throttle_key(utility_id, now), now, timeout=1):
                continue
            self.published[utility_id] = now
            sent += live_publish(utility_id=utility_id, now=datetime.fromtimestamp(now, tz=UTC))
        return sent


async def run_publisher(*, interval_s: float = 0.2, stop=None) -> None:
    """The ASGI server's loop; ``stop`` (an asyncio.Event) ends it."""
    publisher = Publisher()

    def tick():
        close_old_connections()
        return publisher.tick()

    while stop is None or not stop.is_set():
        try:
            await sync_to_async(tick, thread_sensitive=False)()
            await relay_drain()
        except Exception:  # keep publishing after a transient database or cache error
            logger.exception("live publisher tick failed")
        await asyncio.sleep(publisher.sleep_s(time.time(), interval_s))


class PublisherLifespan:
    """ASGI lifespan handler: runs the publisher loop for as long as the server runs."""

    async def __call__(self, scope, receive, send):
        stop = asyncio.Event()
        task = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                task = asyncio.create_task(run_publisher(stop=stop))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                stop.set()
                if task is not None:
                    await asyncio.wait_for(task, timeout=5)
                await send({"type": "lifespan.shutdown.complete"})
                return
