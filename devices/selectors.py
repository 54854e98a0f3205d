"""Reads about the fleet. Every read takes the utility and narrows to it (fail closed)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices.choices import Channel, Health, RollupPeriod, StorageConnect
from devices.models import Device, TelemetryRollup
from portal.tenancy.selectors import get_for_utility

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


def device_get(*, utility, pk: int) -> Device:
    """One of the utility's devices, or 404: another utility's answers like a missing one."""
    return get_for_utility(Device.objects.all(), utility=utility, pk=pk)


def device_by_lfdi(*, utility, lfdi: str) -> Device | None:
    """The utility's device with this LFDI (any hex case), if registered."""
    return Device.objects.for_utility(utility).filter(lfdi=lfdi.strip().upper()).first()


def fleet_health_counts(
    *,
    utility,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
    offline_after: timedelta = OFFLINE_AFTER,
    devices=None,
) -> dict[str, int]:
    """How many of a utility's devices are in each health state (one aggregate query).

    Same rules as ``device_health``. ``devices`` narrows to an already-scoped queryset.
    """
    now = now or timezone.now()
    faulted = ~Q(alarms=[]) | Q(fault_bit__gt=0)
    offline = Q(last_heard_at__isnull=True) | Q(last_heard_at__lte=now - offline_after)
    stale = Q(last_heard_at__lte=now - stale_after)
    if devices is None:
        devices = Device.objects.for_utility(utility)
    counts = devices.alias(
        fault_bit=Coalesce(F("storage_connect_status").bitand(StorageConnect.FAULT), 0)
    ).aggregate(
        faulted=Count("pk", filter=faulted),
        offline=Count("pk", filter=~faulted & offline),
        stale=Count("pk", filter=~faulted & ~offline & stale),
        online=Count("pk", filter=~faulted & ~offline & ~stale),
    )
    return {health: counts[health] for health in Health.values}


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
