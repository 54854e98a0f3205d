"""Reads about the fleet. Every read takes the utility and narrows to it (fail closed)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Sum
from django.utils import timezone

from devices.choices import Channel, Health, RollupPeriod, StorageConnect
from devices.models import Device, TelemetryRollup

STALE_AFTER = timedelta(minutes=15)
OFFLINE_AFTER = timedelta(minutes=60)


def device_health(
    *,
    device: Device,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    offline_after: timedelta = OFFLINE_AFTER,
) -> Health:
    """Online, stale or offline by how long ago it was heard; faulted while it reports a fault.

    A fault is a non-empty alarm list or the fault bit of the storage connect status.
    """
    connect = device.storage_connect_status or 0
    if device.alarms or connect & StorageConnect.FAULT:
        return Health.FAULTED
    if device.last_heard_at is None:
        return Health.OFFLINE
    silent_for = (now or timezone.now()) - device.last_heard_at
    if silent_for >= offline_after:
        return Health.OFFLINE
    if silent_for >= stale_after:
        return Health.STALE
    return Health.ONLINE


def device_list(*, utility, **filters) -> list[Device]:
    """A utility's devices, optionally narrowed by field lookups (e.g. ``feeder="F12"``)."""
    return list(Device.objects.for_utility(utility).filter(**filters))


def fleet_health_counts(
    *,
    utility,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    offline_after: timedelta = OFFLINE_AFTER,
) -> dict[str, int]:
    """How many of a utility's devices are in each health state."""
    counts = dict.fromkeys(Health.values, 0)
    now = now or timezone.now()
    devices = Device.objects.for_utility(utility).only(
        "alarms", "storage_connect_status", "last_heard_at"
    )
    for device in devices:
        health = device_health(
            device=device, now=now, stale_after=stale_after, offline_after=offline_after
        )
        counts[health] += 1
    return counts


@dataclass(frozen=True)
class FleetPowerPoint:
    """The fleet's battery power over one bucket: the sum of each device's average."""

    bucket_start: datetime
    power_w: float
    devices: int


def fleet_power_series(
    *,
    utility,
    since: datetime,
    until: datetime,
    period: str = RollupPeriod.FIVE_MINUTES,
    channel: str = Channel.W,
) -> list[FleetPowerPoint]:
    """Fleet power per bucket in [since, until), read from rollups, never raw samples."""
    rows = (
        TelemetryRollup.objects.for_utility(utility)
        .filter(channel=channel, period=period, bucket_start__gte=since, bucket_start__lt=until)
        .values("bucket_start")
        .annotate(power_w=Sum("avg"), devices=Count("device_id"))
        .order_by("bucket_start")
    )
    return [
        FleetPowerPoint(bucket_start=r["bucket_start"], power_w=r["power_w"], devices=r["devices"])
        for r in rows
    ]
