"""Reads about the fleet. Every read takes the utility and narrows to it (fail closed)."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Case, CharField, Count, F, Min, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from devices.choices import (
    DOE_MODES,
    INVERTER_STATUS,
    LOCAL_CONTROL_MODE_STATUS,
    STORAGE_MODE_STATUS,
    Channel,
    Health,
    RollupPeriod,
    StorageConnect,
    bit_names,
)
from devices.models import (
    Device,
    FleetRollup,
    TelemetryRollup,
    TelemetryRollupPending,
    TelemetrySample,
)
from tenancy.lists import prefix_q
from tenancy.selectors import get_for_utility

OFFLINE_AFTER = timedelta(minutes=60)


def device_stale_after() -> timedelta:
    """How long a device may be silent before it counts as stale (``DEVICE_STALE_AFTER_S``)."""
    return timedelta(seconds=settings.DEVICE_STALE_AFTER_S)


def device_offline_after() -> timedelta:
    """Offline after an hour of silence, and never before it is stale."""
    return max(OFFLINE_AFTER, device_stale_after())


def device_health(
    *,
    device: Device,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    offline_after: timedelta | None = None,
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
    if silent_for >= (offline_after or device_offline_after()):
        return Health.OFFLINE
    if silent_for >= (stale_after or device_stale_after()):
        return Health.STALE
    return Health.ONLINE


_CONNECT_BITS = {flag.bit_length() - 1: flag.name.lower() for flag in StorageConnect}
# DERSettings the device page lists, in this order: 2030.5 name, label, scale to the unit
# shown (many are in hundredths), unit. Values come from der_settings.
_SETTINGS_SHOWN = (
    ("setGradW", "Ramp rate", 0.01, "% of max W per s"),
    ("setSoftGradW", "Soft-start ramp rate", 0.01, "% of max W per s"),
    ("setESDelay", "Enter-service delay", 0.01, "s"),
    ("setESRandomDelay", "Enter-service random delay", 0.01, "s"),
    ("setESRampTms", "Enter-service ramp time", 0.01, "s"),
    ("setESHighVolt", "Enter-service high voltage", 0.01, "% of nominal"),
    ("setESLowVolt", "Enter-service low voltage", 0.01, "% of nominal"),
    ("setESHighFreq", "Enter-service high frequency", 0.01, "Hz"),
    ("setESLowFreq", "Enter-service low frequency", 0.01, "Hz"),
    ("setMaxVA", "Max apparent power", 1, "VA"),
    ("setMaxVar", "Max reactive power injected", 1, "var"),
    ("setMaxVarNeg", "Max reactive power absorbed", 1, "var"),
    ("setVNom", "Nominal voltage", 1, "V"),
    ("setMaxV", "Max voltage", 1, "V"),
    ("setMinV", "Min voltage", 1, "V"),
    ("setMaxA", "Max current", 1, "A"),
    ("setMaxAh", "Usable capacity", 1, "Ah"),
)


def _connect_words(bits: int | None) -> str:
    if bits is None:
        return "not reported"
    return ", ".join(bit_names(bits, _CONNECT_BITS)) or "disconnected, unavailable"


def _status_words(status: dict | None, names: dict[int, str]) -> str:
    if not status:
        return "not reported"
    return names.get(status["value"], f"code {status['value']}")


def device_der_report(*, device: Device) -> dict:
    """The device's last DERStatus and DERSettings (and its DOE modes) in words, for its page."""
    status = device.der_status or {}
    manufacturer = status.get("manufacturerStatus")
    settings_shown = [
        (label, f"{round(device.der_settings[key] * scale, 2):g} {unit}")
        for key, label, scale, unit in _SETTINGS_SHOWN
        if key in device.der_settings
    ]
    modes_enabled = device.der_settings.get("modesEnabled")
    return {
        "connection_point": device.connection_point_id or "not reported",
        "status_at": device.status_at,
        "operating_mode": device.get_operating_mode_display(),
        "storage_connect": _connect_words(device.storage_connect_status),
        "gen_connect": _connect_words(device.gen_connect_status),
        "alarms": ", ".join(device.alarms) if device.alarms else "none",
        "soc": "not reported" if device.soc_pct is None else f"{device.soc_pct:g} %",
        "inverter": _status_words(status.get("inverterStatus"), INVERTER_STATUS),
        "storage_mode": _status_words(status.get("storageModeStatus"), STORAGE_MODE_STATUS),
        "local_control": _status_words(
            status.get("localControlModeStatus"), LOCAL_CONTROL_MODE_STATUS
        ),
        "manufacturer": manufacturer["value"] if manufacturer else "not reported",
        "doe_modes_supported": _doe_words(device.doe_modes_supported),
        "doe_modes_enabled": _doe_words(device.doe_modes_enabled),
        "modes_enabled": None if modes_enabled is None else f"0x{modes_enabled:08X}",
        "settings": settings_shown,
    }


def _doe_words(bits: int | None) -> str:
    if bits is None:
        return "not reported"
    return ", ".join(bit_names(bits, DOE_MODES)) or "none"


def device_list(*, utility, **filters) -> list[Device]:
    """A utility's devices, optionally narrowed by field lookups (e.g. ``feeder="F12"``)."""
    return list(Device.objects.for_utility(utility).filter(**filters))


def device_get(*, utility, pk: int) -> Device:
    """One of the utility's devices, or 404: another utility's answers like a missing one."""
    return get_for_utility(Device.objects.all(), utility=utility, pk=pk)


def device_by_lfdi(*, utility, lfdi: str) -> Device | None:
    """The utility's device with this LFDI (any hex case), if registered."""
    return Device.objects.for_utility(utility).filter(lfdi=lfdi.strip().upper()).first()


LFDI_FORMAT = re.compile(r"^[0-9A-Fa-f]{40}$")
SFDI_FORMAT = re.compile(r"^[0-9]{1,12}$")  # 36 bits and a check digit, in decimal


def device_by_identity(*, utility, identity: str) -> Device:
    """The fleet device with this LFDI (40 hex digits) or SFDI (decimal), as its 2030.5
    registration recorded it. Another utility's device answers like a missing one."""
    identity = identity.strip()
    devices = Device.objects.for_utility(utility)
    if LFDI_FORMAT.match(identity):
        device, kind = devices.filter(lfdi=identity.upper()).first(), "LFDI"
    elif SFDI_FORMAT.match(identity):
        device, kind = devices.filter(sfdi=int(identity)).first(), "SFDI"
    else:
        raise ValidationError(
            "Enter the device's LFDI (40 hexadecimal digits) or its SFDI (a decimal number)."
        )
    if device is None:
        raise ValidationError(f"No device registered with {kind} {identity} in this utility.")
    return device


def fleet_health_counts(
    *,
    utility,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    offline_after: timedelta | None = None,
    devices=None,
) -> dict[str, int]:
    """How many of a utility's devices are in each health state (one aggregate query).

    Same rules as ``device_health``. ``devices`` narrows to an already-scoped queryset.
    """
    now = now or timezone.now()
    if devices is None:
        devices = Device.objects.for_utility(utility)
    aliases, counts = health_count_aggregates(now, stale_after, offline_after)
    totals = devices.alias(**aliases).aggregate(**counts)
    return {health: totals[health] for health in Health.values}


def health_count_aggregates(
    now: datetime, stale_after: timedelta | None = None, offline_after: timedelta | None = None
) -> tuple[dict, dict]:
    """The aliases and aggregates that count devices per health state, keyed by state.

    For callers that fold the health counts into an aggregate query of their own (the live
    fleet snapshot reads everything in one pass over the fleet).
    """
    faulted, offline, stale = _health_rules(now, stale_after, offline_after)
    aliases = {"fault_bit": Coalesce(F("storage_connect_status").bitand(StorageConnect.FAULT), 0)}
    counts = {
        "faulted": Count("pk", filter=faulted),
        "offline": Count("pk", filter=~faulted & offline),
        "stale": Count("pk", filter=~faulted & ~offline & stale),
        "online": Count("pk", filter=~faulted & ~offline & ~stale),
    }
    return aliases, counts


def _health_rules(now: datetime, stale_after: timedelta | None, offline_after: timedelta | None):
    stale_after = stale_after or device_stale_after()
    offline_after = offline_after or device_offline_after()
    faulted = ~Q(alarms=[]) | Q(fault_bit__gt=0)
    offline = Q(last_heard_at__isnull=True) | Q(last_heard_at__lte=now - offline_after)
    stale = Q(last_heard_at__lte=now - stale_after)
    return faulted, offline, stale


def device_search(
    *,
    utility,
    health: str = "",
    vendor_name: str = "",
    state: str = "",
    zip_code: str = "",
    q: str = "",
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    offline_after: timedelta | None = None,
) -> QuerySet[Device]:
    """The utility's devices with a ``health`` column computed in SQL, filtered.

    Same rules as ``device_health``; ``zip_code`` matches a prefix; ``q`` is
    ``device_search_ids``. One query however many devices there are.
    """
    now = now or timezone.now()
    faulted, offline, stale = _health_rules(now, stale_after, offline_after)
    qs = (
        Device.objects.for_utility(utility)
        .alias(fault_bit=Coalesce(F("storage_connect_status").bitand(StorageConnect.FAULT), 0))
        .annotate(
            health=Case(
                When(faulted, then=Value(Health.FAULTED)),
                When(offline, then=Value(Health.OFFLINE)),
                When(stale, then=Value(Health.STALE)),
                default=Value(Health.ONLINE),
                output_field=CharField(),
            )
        )
    )
    qs = device_health_filter(
        qs, health=health, now=now, stale_after=stale_after, offline_after=offline_after
    )
    if vendor_name:
        qs = qs.filter(vendor_name=vendor_name)
    if state:
        qs = qs.filter(state=state.upper())
    if zip_code:
        qs = qs.filter(zip_code__startswith=zip_code.strip())
    if q := q.strip():
        qs = qs.filter(pk__in=device_search_ids(utility=utility, term=q))
    return qs


def device_health_filter(
    queryset: QuerySet[Device],
    *,
    health: str,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    offline_after: timedelta | None = None,
) -> QuerySet[Device]:
    """Narrow devices to one health state (same rules as ``device_health``); "" keeps all."""
    now = now or timezone.now()
    stale_after = stale_after or device_stale_after()
    offline_after = offline_after or device_offline_after()
    faulted, offline, _stale = _health_rules(now, stale_after, offline_after)
    queryset = queryset.alias(
        fault_bit=Coalesce(F("storage_connect_status").bitand(StorageConnect.FAULT), 0)
    )
    if health == Health.FAULTED:
        return queryset.filter(faulted)
    if health == Health.OFFLINE:
        return queryset.filter(~faulted & offline)
    # Online and stale as plain ranges of last_heard_at (same rows as ~offline & ±stale).
    # No index on last_heard_at: telemetry ingest rewrites it for every device it hears.
    if health == Health.STALE:
        return queryset.filter(
            ~faulted,
            last_heard_at__gt=now - offline_after,
            last_heard_at__lte=now - stale_after,
        )
    if health == Health.ONLINE:
        return queryset.filter(~faulted, last_heard_at__gt=now - stale_after)
    return queryset


def device_search_ids(*, utility, term: str) -> QuerySet:
    """Ids of the utility's devices whose serial (as typed or upper case), LFDI or ZIP code
    starts with ``term``.

    Prefixes, not substrings, and a UNION of one index range per column rather than an OR,
    which the planners answer with a scan: each side stays an index range at 100,000 devices.
    """
    term = term.strip()
    devices = Device.objects.for_utility(utility).order_by()
    ranges = [prefix_q("serial", term)]
    if term.upper() != term:
        ranges.append(prefix_q("serial", term.upper()))
    if all(c in "0123456789abcdefABCDEF" for c in term):
        ranges.append(prefix_q("lfdi", term.upper()))
    if term[:1].isdigit():
        ranges.append(prefix_q("zip_code", term))
    first, *rest = (devices.filter(r).values("pk") for r in ranges)
    return first.union(*rest) if rest else first


def device_state_codes(*, utility) -> list[str]:
    """The US states in the utility's fleet, for filter choices."""
    return list(
        Device.objects.for_utility(utility)
        .exclude(state="")
        .order_by("state")
        .values_list("state", flat=True)
        .distinct()
    )


def device_vendor_names(*, utility) -> list[str]:
    """The vendor names in the utility's fleet, for filter choices."""
    return list(
        Device.objects.for_utility(utility)
        .order_by("vendor_name")
        .values_list("vendor_name", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class TelemetryPoint:
    """One point of a device chart: a bucket's average, or one raw sample."""

    at: datetime
    value: float


def device_telemetry_series(
    *, device: Device, channel: str, since: datetime, until: datetime, hourly: bool = False
) -> list[TelemetryPoint]:
    """A device's channel over [since, until): 5-minute rollups, then raw samples newer
    than the last rolled-up bucket (the hour being filled has no rollup yet).

    ``hourly`` (for a week or a season) starts with the hourly rollups and continues with
    the 5-minute ones, then the raw samples, after the last hour rolled up.

    Rollups are recomputed a minute or so after ingest (``telemetry_rollup_pending``):
    from the first hour still marked pending on, the raw samples are read instead, so the
    chart is as current as the samples.
    """
    pending = TelemetryRollupPending.objects.filter(
        utility_id=device.utility_id,
        hour_start__gt=since - timedelta(hours=1),
        hour_start__lt=until,
    ).aggregate(first=Min("hour_start"))["first"]
    rolled_until = min(until, pending) if pending else until
    points: list[TelemetryPoint] = []
    if hourly:
        hours = list(
            TelemetryRollup.objects.filter(
                utility_id=device.utility_id,
                device=device,
                channel=channel,
                period=RollupPeriod.HOUR,
                bucket_start__gte=since,
                bucket_start__lt=rolled_until,
            )
            .order_by("bucket_start")
            .values_list("bucket_start", "avg")
        )
        points = [TelemetryPoint(at, value) for at, value in hours]
        if hours:
            since = hours[-1][0] + timedelta(hours=1)
    rollups = list(
        TelemetryRollup.objects.filter(
            utility_id=device.utility_id,
            device=device,
            channel=channel,
            period=RollupPeriod.FIVE_MINUTES,
            bucket_start__gte=since,
            bucket_start__lt=rolled_until,
        )
        .order_by("bucket_start")
        .values_list("bucket_start", "avg")
    )
    points.extend(TelemetryPoint(at, value) for at, value in rollups)
    raw_since = rollups[-1][0] + timedelta(minutes=5) if rollups else since
    samples = (
        TelemetrySample.objects.filter(
            utility_id=device.utility_id,
            device=device,
            channel=channel,
            at__gte=raw_since,
            at__lt=until,
        )
        .order_by("at")
        .values_list("at", "value")
    )
    points.extend(TelemetryPoint(at, value) for at, value in samples)
    return points


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
    """Fleet power per bucket in [since, until), from the fleet rollup: buckets, not devices."""
    rows = (
        FleetRollup.objects.for_utility(utility)
        .filter(channel=channel, period=period, bucket_start__gte=since, bucket_start__lt=until)
        .order_by("bucket_start")
        .values("bucket_start", "devices", power_w=F("total"))
    )
    return [
        FleetPowerPoint(bucket_start=r["bucket_start"], power_w=r["power_w"], devices=r["devices"])
        for r in rows
    ]


def device_other_quantities(*, device: Device, recent: int = 200) -> list:
    """The latest reading of each quantity no telemetry channel models (one query)."""
    latest = {}
    for r in device.other_readings.for_utility(device.utility_id).order_by("-at")[:recent]:
        latest.setdefault(r.quantity, r)
    return sorted(latest.values(), key=lambda r: r.quantity)
