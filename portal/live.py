"""Live fleet and event aggregates, pushed to browsers after telemetry commits.

However many devices report, each utility's groups get at most one message per second:
the first ingest in a second publishes at once (leading edge); later ones in the same
second leave one trailing publish to a Celery task, so the last state is never lost.
"""

import time

from django.core.cache import cache
from django.db.models import Case, Count, IntegerField, Q, Sum, When
from django.utils import timezone

from devices.models import Device
from devices.selectors import STALE_AFTER, fleet_health_counts
from portal.models import Utility
from portal.realtime import push
from programs.choices import EventStatus
from programs.models import Dispatch, Event
from programs.selectors import event_funnel

THROTTLE_S = 1


def fleet_snapshot(*, utility: Utility, now=None) -> dict:
    """Fleet power, available power, SoC distribution and health, in two aggregate queries."""
    now = now or timezone.now()
    fresh = Q(last_heard_at__gt=now - STALE_AFTER)
    soc_bucket = Case(
        *[When(soc_pct__lt=(i + 1) * 10, then=i) for i in range(9)],
        default=9,
        output_field=IntegerField(),
    )
    devices = Device.objects.for_utility(utility)
    totals = devices.aggregate(
        power_w=Sum("power_w", filter=fresh),
        avail_w=Sum("stat_w_avail_w", filter=fresh),
        reporting=Count("pk", filter=fresh),
    )
    histogram = [0] * 10
    rows = (
        devices.filter(fresh, soc_pct__isnull=False)
        .annotate(bucket=soc_bucket)
        .values_list("bucket")
        .annotate(n=Count("pk"))
    )
    for bucket, n in rows:
        histogram[bucket] = n
    return {
        "t": now.timestamp(),
        "power_w": round(totals["power_w"] or 0),
        "avail_w": round(totals["avail_w"] or 0),
        "reporting": totals["reporting"],
        "soc_histogram": histogram,
        "health": fleet_health_counts(utility=utility, now=now),
    }


def event_snapshot(*, event: Event, now=None) -> dict:
    """Requested versus delivered power of the event's devices, and its response funnel."""
    now = now or timezone.now()
    totals = (
        Dispatch.objects.for_utility(event.utility)
        .filter(event=event)
        .aggregate(
            requested_w=Sum("setpoint_w"),
            delivered_w=Sum(
                "device__power_w", filter=Q(device__last_heard_at__gt=now - STALE_AFTER)
            ),
        )
    )
    return {
        "t": now.timestamp(),
        "event": event.pk,
        "status": event.status,
        "requested_w": totals["requested_w"] or event.signed_target_w or 0,
        "delivered_w": round(totals["delivered_w"] or 0),
        "funnel": event_funnel(event=event),
    }


def live_publish(*, utility_id: int) -> int:
    """Push the fleet aggregate and one per active event; returns the messages sent."""
    utility = Utility.objects.filter(pk=utility_id).first()
    if utility is None:
        return 0
    now = timezone.now()
    push(utility_id=utility.pk, topic="fleet", data=fleet_snapshot(utility=utility, now=now))
    sent = 1
    active = Event.objects.for_utility(utility).filter(status=EventStatus.ACTIVE)
    for event in active:
        push(
            utility_id=utility.pk,
            topic=f"event.{event.pk}",
            data=event_snapshot(event=event, now=now),
        )
        sent += 1
    return sent


def _throttle_key(utility_id: int) -> str:
    return f"live:throttle:{utility_id}"


def live_publish_throttled(*, utility_id: int) -> bool:
    """Publish now if nothing was published this second; else leave one trailing publish."""
    if cache.add(_throttle_key(utility_id), time.time(), timeout=THROTTLE_S):
        live_publish(utility_id=utility_id)
        return True
    if cache.add(f"live:pending:{utility_id}", 1, timeout=THROTTLE_S * 2):
        from portal.tasks import live_publish_trailing

        live_publish_trailing.apply_async(args=[utility_id], countdown=THROTTLE_S, expires=10)
    return False


def on_telemetry_ingested(sender, *, utility_id: int, **kwargs) -> None:
    live_publish_throttled(utility_id=utility_id)
