"""Writes for the fleet: device registration and state, and the one telemetry ingest.

Every transport (the 2030.5 server, the SunSpec connectors, the simulators) feeds these
functions with plain values; nothing here knows about XML or Modbus.
"""

import contextlib
import functools
import json
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, Q, UniqueConstraint, Value, When
from django.utils import timezone

from devices.choices import (
    CHANNEL_LIVE_FIELDS,
    CHANNEL_RANGES,
    CHANNEL_UNITS,
    ROLLUP_PERIOD_SECONDS,
    Channel,
    RejectReason,
    RollupPeriod,
    SiteStatus,
)
from devices.models import (
    ConnectorCommand,
    ConnectorSite,
    Device,
    FleetRollup,
    OtherReading,
    TelemetryRollup,
    TelemetryRollupPending,
    TelemetrySample,
)
from devices.signals import telemetry_ingested

logger = logging.getLogger(__name__)

# A reading may be this far ahead of our clock (clock skew) before it counts as future.
FUTURE_TOLERANCE = timedelta(seconds=60)
MAX_POWER_OF_TEN = 9

_LIVE_FIELDS = [*CHANNEL_LIVE_FIELDS.values(), "telemetry_at", "last_heard_at"]


# --- Devices ---------------------------------------------------------------------------


def device_register(
    *,
    utility,
    vendor_name: str,
    model_name: str,
    serial: str,
    max_charge_w: int = 0,
    max_discharge_w: int = 0,
    capacity_wh: int = 0,
    reserve_pct: float = 0,
    lfdi: str | None = None,
    sfdi: int | None = None,
    zip_code: str = "",
    state: str = "",
    feeder: str = "",
) -> Device:
    """Add a device to a utility's fleet (from a 2030.5 EndDevice or a connector config)."""
    device = Device(
        utility=utility,
        vendor_name=vendor_name.strip(),
        model_name=model_name.strip(),
        serial=serial.strip(),
        max_charge_w=max_charge_w,
        max_discharge_w=max_discharge_w,
        capacity_wh=capacity_wh,
        reserve_pct=reserve_pct,
        # Blank is "no LFDI", stored as NULL so it never collides in the unique constraint.
        lfdi=lfdi.strip().upper() if lfdi and lfdi.strip() else None,
        sfdi=sfdi,
        zip_code=zip_code.strip(),
        state=state.strip().upper(),
        feeder=feeder.strip(),
    )
    device.full_clean()
    device.save()
    return device


# Fields a unique constraint covers: changing one needs the full validation (lookups).
_UNIQUE_FIELDS = frozenset(
    name
    for constraint in Device._meta.constraints
    if isinstance(constraint, UniqueConstraint)
    for name in constraint.fields
) | frozenset(f.name for f in Device._meta.fields if f.unique)


def _device_set(device: Device, changes: dict, *, extra: Iterable[str] = ()) -> Device:
    for field, value in changes.items():
        setattr(device, field, value)
    if _UNIQUE_FIELDS.isdisjoint(changes):
        # Only what changed can have become invalid: validate those fields and the check
        # constraints on them alone, without the unique lookups every status PUT paid.
        unchanged = [f.name for f in Device._meta.fields if f.name not in changes]
        device.full_clean(exclude=unchanged, validate_unique=False)
    else:
        device.full_clean()
    device.save(update_fields=[*changes, *extra])
    return device


def device_update_identity(
    *, device: Device, serial: str, model_name: str, vendor_name: str
) -> Device:
    """Store who made the device and its serial, as the device itself reports them."""
    return _device_set(
        device,
        {
            "serial": serial.strip(),
            "model_name": model_name.strip(),
            "vendor_name": vendor_name.strip(),
        },
    )


def device_update_ratings(
    *,
    device: Device,
    rtg_max_w: int | None = None,
    rtg_max_charge_rate_w: int | None = None,
    rtg_max_discharge_rate_w: int | None = None,
    rtg_max_wh: int | None = None,
    doe_modes_supported: int | None = None,
) -> Device:
    """Store what the device says it can do (DERCapability); each PUT replaces the last."""
    return _device_set(
        device,
        {
            "rtg_max_w": rtg_max_w,
            "rtg_max_charge_rate_w": rtg_max_charge_rate_w,
            "rtg_max_discharge_rate_w": rtg_max_discharge_rate_w,
            "rtg_max_wh": rtg_max_wh,
            "doe_modes_supported": doe_modes_supported,
        },
    )


def device_update_settings(
    *,
    device: Device,
    set_max_w: int | None = None,
    set_max_charge_rate_w: int | None = None,
    set_max_discharge_rate_w: int | None = None,
    set_max_wh: int | None = None,
    doe_modes_enabled: int | None = None,
    other: dict | None = None,
) -> Device:
    """Store the limits the device is configured to (DERSettings); each PUT replaces the last.

    `other` holds the settings no dispatch plan uses (setGradW, setES*, modesEnabled, ...),
    by their 2030.5 names, for the device page.
    """
    return _device_set(
        device,
        {
            "set_max_w": set_max_w,
            "set_max_charge_rate_w": set_max_charge_rate_w,
            "set_max_discharge_rate_w": set_max_discharge_rate_w,
            "set_max_wh": set_max_wh,
            "doe_modes_enabled": doe_modes_enabled,
            "der_settings": dict(other or {}),
        },
    )


def device_set_connection_point(*, device: Device, connection_point_id: str) -> Device:
    """Record the site's connection point (CSIP-AUS ConnectionPoint: the NMI).

    Anything but an NMI (the field's validator, `devices.nmi.validate_nmi`) is refused
    with the reason, and the connection point held stays as it was.
    """
    value = connection_point_id.strip()
    if not value:
        raise ValidationError({"connection_point_id": "The connection point id is empty."})
    return _device_set(device, {"connection_point_id": value})


@dataclass(frozen=True)
class DeviceStatus:
    """What a DERStatus says of a device at `at`; a field left None says nothing of its own.

    `other` replaces the rest of the last status (inverter, storage mode, local control and
    manufacturer status, by their 2030.5 names), shown on the device page.
    """

    at: datetime
    soc_pct: float | None = None
    storage_connect_status: int | None = None
    operating_mode: str | None = None
    alarms: list[str] | None = None
    gen_connect_status: int | None = None
    other: dict | None = None

    def changes(self, device: Device) -> dict:
        """The device fields this status sets, cleaned (ValidationError: write nothing)."""
        changes: dict = {"status_at": self.at}
        if self.storage_connect_status is not None:
            changes["storage_connect_status"] = self.storage_connect_status
        if self.operating_mode is not None:
            changes["operating_mode"] = self.operating_mode
        if self.alarms is not None:
            changes["alarms"] = list(self.alarms)
        if self.gen_connect_status is not None:
            changes["gen_connect_status"] = self.gen_connect_status
        if self.other is not None:
            changes["der_status"] = dict(self.other)
        return _device_fields_clean(device, changes)


def device_update_status(*, device: Device, status: DeviceStatus) -> Device:
    """Apply a DERStatus. Fields left None are unchanged; an older status than held is ignored.

    The SoC goes through ``telemetry_ingest`` so it lands in the time series too; a SoC
    that ingest refuses (out of range, future time) fails the whole status.

    The status fields are validated in Python first (a bad one writes nothing), then
    written by one conditional UPDATE (`_device_status_write`): no lock and read of the
    device before it, which a status PUT, the most frequent write of a 2030.5 fleet, paid.
    """
    at = status.at
    changes = status.changes(device)
    with transaction.atomic():
        if status.soc_pct is not None:
            result = telemetry_ingest(
                utility=device.utility,
                readings=[
                    Reading(
                        device_id=device.pk, at=at, channel=Channel.SOC_PCT, value=status.soc_pct
                    )
                ],
                source="status",
            )
            if result.rejected:
                raise ValidationError({"soc_pct": RejectReason(result.rejected[0].reason).label})
        if _device_status_write(device.pk, changes, at):
            for field, value in changes.items():
                setattr(device, field, value)
            if device.last_heard_at is None or at > device.last_heard_at:
                device.last_heard_at = at
    return device


@dataclass(frozen=True)
class StatusStatement:
    """device_update_status as CTEs of one PostgreSQL statement (device_status_statement)."""

    ctes: str  # "name AS (...), " clauses, each guarded by `guard`
    params: list
    device_id: int
    utility_id: int
    ingested: bool  # a SoC sample is among the writes: telemetry_ingested is owed

    def applied(self) -> None:
        """What device_update_status does once its transaction commits."""
        if self.ingested:
            utility_id, device_ids = self.utility_id, [self.device_id]
            transaction.on_commit(
                lambda: telemetry_ingested.send(
                    sender=TelemetrySample,
                    utility_id=utility_id,
                    device_ids=device_ids,
                    source="status",
                )
            )


@functools.cache
def _unsaved_device() -> Device:
    """A Device for field validation to be given as the model instance (no field a status
    sets reads it): building one of its 46 fields per status cost more than the cleaning."""
    return Device()


def device_status_statement(
    *,
    device_id: int,
    utility_id: int,
    status: DeviceStatus,
    guard: str,
    now: datetime | None = None,
) -> StatusStatement | None:
    """device_update_status's writes as CTEs for one PostgreSQL statement (a caller adds its
    own writes and sends it: one round trip for a whole DERStatus PUT), or None when
    device_update_status would refuse the status (the caller lets it say why).

    The same validation (`DeviceStatus.changes`, ingest's `_normalize`) and the same
    effects: the SoC sample (duplicates skipped) with its rollup hour marked pending, the
    device's live SoC if newer than held, its status fields unless it holds a newer status,
    last_heard_at moved forward. Every write happens only when SQL condition `guard` holds.
    The device's live and status columns are set by one UPDATE: a statement may not update
    a row twice.
    """
    try:
        changes = status.changes(_unsaved_device())
    except ValidationError:
        return None
    at, soc_pct = status.at, status.soc_pct
    table = Device._meta.db_table
    ctes = ""
    params: list = []
    sets: list[str] = []
    set_params: list = []
    if soc_pct is not None:
        reading = Reading(device_id=device_id, at=at, channel=Channel.SOC_PCT, value=soc_pct)
        normalized = _normalize(reading, now=now or timezone.now())
        if isinstance(normalized, str):
            return None
        sample_at, value = normalized
        channel = str(Channel.SOC_PCT)
        ctes += (
            f"ins AS (INSERT INTO {TelemetrySample._meta.db_table} ({_SAMPLE_COLUMNS}) "
            f"SELECT %s, %s, %s, %s, %s WHERE {guard} "
            "ON CONFLICT (device_id, channel, at) DO NOTHING RETURNING utility_id, at), "
            f"marked AS ({_mark_pending_sql('ins')}), "
        )
        params += [device_id, utility_id, sample_at, channel, value]
        newer = '("telemetry_at" ->> %s) IS NULL OR ("telemetry_at" ->> %s)::timestamptz < %s'
        field = CHANNEL_LIVE_FIELDS[Channel.SOC_PCT]
        sets.append(f'"{field}" = CASE WHEN {newer} THEN %s ELSE "{field}" END')
        set_params += [channel, channel, sample_at, value]
        sets.append(
            f'"telemetry_at" = CASE WHEN {newer} THEN "telemetry_at" || '
            'jsonb_build_object(%s::text, %s::text) ELSE "telemetry_at" END'
        )
        set_params += [channel, channel, sample_at, channel, sample_at.isoformat()]
    # _device_status_write's condition: the device holds no newer status.
    current = '("status_at" IS NULL OR "status_at" <= %s)'
    for name, value in changes.items():
        field = Device._meta.get_field(name)
        sets.append(f'"{field.column}" = CASE WHEN {current} THEN %s ELSE "{field.column}" END')
        set_params += [at, field.get_db_prep_save(value, connection)]
    # The ingest moves last_heard_at forward; a status write too, when it is written.
    heard = '("last_heard_at" IS NULL OR "last_heard_at" < %s)'
    if soc_pct is not None:
        sets.append(f'"last_heard_at" = CASE WHEN {heard} THEN %s ELSE "last_heard_at" END')
        set_params += [at, at]
    else:
        sets.append(
            f'"last_heard_at" = CASE WHEN {heard} AND {current} THEN %s ELSE "last_heard_at" END'
        )
        set_params += [at, at, at]
    ctes += (
        f"dev AS (UPDATE {table} SET {', '.join(sets)} "  # noqa: S608 - names are ours
        f'WHERE "id" = %s AND {guard} RETURNING "id"), '
    )
    params += [*set_params, device_id]
    return StatusStatement(
        ctes=ctes,
        params=params,
        device_id=device_id,
        utility_id=utility_id,
        ingested=soc_pct is not None,
    )


# The check constraints `_device_fields_clean` leaves to the fields' own validation: each
# is exactly its field's choices (tests/devices pins this list against Device's constraints).
FIELD_CHECKED_CONSTRAINTS = frozenset({"device_operating_mode_valid"})


def _device_fields_clean(device: Device, changes: dict) -> dict:
    """`changes` cleaned as ``full_clean`` cleans those fields (types, choices, validators;
    every error at once, by field), without a query: the status fields carry no unique
    constraint, and their only check constraint is a field's choices."""
    errors: dict[str, list] = {}
    cleaned = {}
    for name, value in changes.items():
        field = Device._meta.get_field(name)
        if field.blank and value in field.empty_values:
            cleaned[name] = value
            continue
        try:
            cleaned[name] = field.clean(value, device)
        except ValidationError as exc:
            errors[name] = exc.error_list
    if errors:
        raise ValidationError(errors)
    return cleaned


def _device_status_write(device_id: int, changes: dict, at: datetime) -> bool:
    """Write a status's fields unless the device holds a newer status (one UPDATE), and
    move last_heard_at forward to `at`; whether it was written."""
    newer_held = Q(status_at__gt=at)
    heard_before = Q(last_heard_at__isnull=True) | Q(last_heard_at__lt=at)
    written = (
        Device.objects.filter(pk=device_id)
        .exclude(newer_held)
        .update(
            **changes,
            last_heard_at=Case(When(heard_before, then=Value(at)), default=F("last_heard_at")),
        )
    )
    return written > 0


def device_update_availability(
    *,
    device: Device,
    at: datetime,
    stat_w_avail_w: int | None = None,
    stat_var_avail_var: int | None = None,
    availability_duration_s: int | None = None,
    max_charge_duration_s: int | None = None,
    reserve_charge_pct: float | None = None,
    reserve_pct_avail: float | None = None,
) -> Device:
    """Replace the device's availability (DERAvailability); an older one than held is ignored."""
    with transaction.atomic():
        device = Device.objects.select_for_update().get(pk=device.pk)
        if device.availability_at is not None and at < device.availability_at:
            return device
        return _device_set(
            device,
            {
                "stat_w_avail_w": stat_w_avail_w,
                "stat_var_avail_var": stat_var_avail_var,
                "availability_duration_s": availability_duration_s,
                "max_charge_duration_s": max_charge_duration_s,
                "reserve_charge_pct": reserve_charge_pct,
                "reserve_pct_avail": reserve_pct_avail,
                "availability_at": at,
            },
        )


# --- Connector sites (directly polled batteries) ---------------------------------------

# The longest error text kept on a site or a command row.
ERROR_MAX = 500


def connector_site_create(
    *,
    utility,
    name: str,
    host: str,
    port: int = 502,
    unit_id: int = 1,
    device: Device | None = None,
    poll_interval_s: int = 10,
    enabled: bool = True,
) -> ConnectorSite:
    """Add a Modbus site to a utility; it is polled from the next beat on."""
    if device is not None and device.utility_id != utility.pk:
        raise ValidationError({"device": "That device belongs to another utility."})
    site = ConnectorSite(
        utility=utility,
        name=name.strip(),
        host=host.strip(),
        port=port,
        unit_id=unit_id,
        device=device,
        poll_interval_s=poll_interval_s,
        enabled=enabled,
    )
    site.full_clean()
    site.save()
    return site


# A claimed site is not handed to another polling round for this long (beat may overlap).
POLL_LEASE = timedelta(seconds=60)


def connector_sites_claim(*, now: datetime, limit: int = 5000) -> list[ConnectorSite]:
    """Take the due sites for one polling round, so an overlapping round skips them.

    Each claimed site's ``next_attempt_at`` moves a lease ahead; recording the poll then
    sets the real next time. Rows another round holds locked are skipped, so two pollers
    share the due sites between them. Sites come with their utility, ordered by pk.
    """
    if connection.vendor == "postgresql":
        return _claim_returning(now, limit)
    return _claim_select_then_update(now, limit)


def _claim_select_then_update(now: datetime, limit: int) -> list[ConnectorSite]:
    """The portable claim (SQLite): select the due sites for update, lease them, load them."""
    with transaction.atomic():
        due = list(
            ConnectorSite.objects.filter(enabled=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by(F("next_attempt_at").asc(nulls_first=True), "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        ConnectorSite.objects.filter(pk__in=due).update(next_attempt_at=now + POLL_LEASE)
    return list(
        # The poll needs the utility (to ingest) and the device's id, not the device.
        ConnectorSite.objects.filter(pk__in=due).select_related("utility").order_by("pk")
    )


def _claim_sql() -> str:
    """One statement: lock the due sites (skipping locked ones), lease them, return them
    with their utilities. Three statements in a transaction were five round trips."""
    site, utility = ConnectorSite._meta, ConnectorSite._meta.get_field("utility").related_model
    columns = ", ".join(
        [f"s.{f.column}" for f in site.concrete_fields]
        + [f"u.{f.column}" for f in utility._meta.concrete_fields]
    )
    return (
        f"WITH due AS MATERIALIZED (SELECT id FROM {site.db_table}"  # noqa: S608 - ours
        " WHERE enabled AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
        " ORDER BY next_attempt_at ASC NULLS FIRST, id LIMIT %s FOR UPDATE SKIP LOCKED)"
        f" UPDATE {site.db_table} s SET next_attempt_at = %s"
        f" FROM due, {utility._meta.db_table} u WHERE s.id = due.id AND u.id = s.utility_id"
        f" RETURNING {columns}"
    )


def _row_loader(model):
    """Build instances of `model` from raw column values, through the fields' converters
    (a JSON column arrives as text), as the ORM's own iterator would."""
    fields = model._meta.concrete_fields
    names = [f.attname for f in fields]
    converting = [
        (i, field, converters)
        for i, field in enumerate(fields)
        if (converters := field.get_db_converters(connection))
    ]

    def load(values):
        values = list(values)
        for i, field, converters in converting:
            for converter in converters:
                values[i] = converter(values[i], field.cached_col, connection)
        return model.from_db(connection.alias, names, values)

    return load


def _claim_returning(now: datetime, limit: int) -> list[ConnectorSite]:
    utility_model = ConnectorSite._meta.get_field("utility").related_model
    width = len(ConnectorSite._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), [now, limit, now + POLL_LEASE])
        rows = cursor.fetchall()
    load_site, load_utility = _row_loader(ConnectorSite), _row_loader(utility_model)
    utilities: dict = {}
    sites = []
    for row in rows:
        site = load_site(row[:width])
        if site.utility_id not in utilities:
            utilities[site.utility_id] = load_utility(row[width:])
        site.utility = utilities[site.utility_id]
        sites.append(site)
    return sorted(sites, key=lambda site: site.pk)


@dataclass(frozen=True, slots=True)
class PollRecord:
    """One site's outcome in a polling round, as `connector_sites_record_polls` stores it."""

    site: ConnectorSite
    ok: bool
    error: str = ""
    failures: int = 0
    retry_at: datetime | None = None
    model_map: dict | None = None  # stored only when it differs from the site's

    def __str__(self) -> str:
        return f"{self.site} {'ok' if self.ok else 'failed'}"


def _poll_fields(record: PollRecord, at: datetime) -> dict:
    """The columns one outcome sets. Outcomes that set the same columns share one UPDATE."""
    site = record.site
    if record.ok:
        return {
            "last_polled_at": at,
            "status": SiteStatus.ONLINE,
            "last_ok_at": at,
            "last_error": "",
            "failures": 0,
            "next_attempt_at": at + timedelta(seconds=site.poll_interval_s),
        }
    return {
        "last_polled_at": at,
        "status": SiteStatus.OFFLINE if record.failures <= 1 else SiteStatus.BACKOFF,
        "last_error": record.error[:ERROR_MAX],
        "failures": record.failures,
        "next_attempt_at": record.retry_at or at + timedelta(seconds=site.poll_interval_s),
    }


def connector_sites_record_polls(*, records: Iterable[PollRecord], at: datetime) -> None:
    """Store a round's outcomes in a few statements, not one UPDATE per site.

    A site that has just failed is offline; one that keeps failing is in backoff. Either
    way it is not polled again before its ``retry_at``. Sites with the same outcome (all
    the online ones of one poll interval, typically) are updated together; model maps are
    written only when discovery found a different one (after a reconnect, new firmware).
    """
    groups: dict[tuple, list[int]] = defaultdict(list)
    remapped: list[ConnectorSite] = []
    for record in records:
        fields = _poll_fields(record, at)
        for name, value in fields.items():
            setattr(record.site, name, value)
        groups[tuple(sorted(fields.items()))].append(record.site.pk)
        if record.model_map is not None and record.model_map != record.site.model_map:
            record.site.model_map = record.model_map
            remapped.append(record.site)
    with transaction.atomic():
        for fields_key, pks in groups.items():
            ConnectorSite.objects.filter(pk__in=pks).update(**dict(fields_key))
        for site in remapped:
            ConnectorSite.objects.filter(pk=site.pk).update(model_map=site.model_map)


def connector_site_record_poll(
    *,
    site: ConnectorSite,
    at: datetime,
    ok: bool,
    error: str = "",
    failures: int = 0,
    retry_at: datetime | None = None,
    model_map: dict | None = None,
) -> ConnectorSite:
    """Store one poll's outcome (see `connector_sites_record_polls`)."""
    record = PollRecord(site, ok, error, failures, retry_at, model_map)
    connector_sites_record_polls(records=[record], at=at)
    return site


def connector_command_log(
    *,
    site: ConnectorSite,
    kind: str,
    at: datetime,
    ok: bool,
    requested_w: int | None = None,
    readback: dict | None = None,
    error: str = "",
    event_id: int | None = None,
    event_mrid: str = "",
) -> ConnectorCommand:
    """Record a command sent to a site and what the device read back."""
    command = ConnectorCommand(
        utility_id=site.utility_id,
        site=site,
        device_id=site.device_id,
        kind=kind,
        at=at,
        ok=ok,
        requested_w=requested_w,
        readback=readback or {},
        error=error[:ERROR_MAX],
        event_id=event_id,
        event_mrid=event_mrid,
    )
    command.full_clean(exclude=["utility", "site", "device"])
    command.save()
    return command


# --- Telemetry ingest ------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One measurement as a transport received it, before normalization."""

    device_id: int
    at: datetime  # aware; stored UTC
    channel: str  # a Channel value
    value: float  # in `unit`, scaled by 10**power_of_ten
    unit: str = ""  # "" means the channel's canonical unit
    power_of_ten: int = 0


@dataclass
class Rejection:
    """A reading the ingest refused, and why (a RejectReason value)."""

    reading: Reading
    reason: str


@dataclass
class IngestResult:
    """What one ingest call did."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]


def interval_bucket(at: datetime, *, period: str) -> datetime:
    """The start (UTC) of the rollup bucket of ``period`` ("5m", "1h") that holds ``at``."""
    seconds = ROLLUP_PERIOD_SECONDS[period]
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _normalize(reading: Reading, *, now: datetime) -> tuple[datetime, float] | str:
    """The reading's UTC time and canonical value, or the reason it is refused."""
    scale = _scale(reading.channel, reading.unit, reading.power_of_ten)
    if isinstance(scale, str):
        return scale
    factor, multiplier, low, high = scale
    try:
        value = float(reading.value) * factor * multiplier
    except (TypeError, ValueError, OverflowError):
        return RejectReason.NOT_FINITE
    if not math.isfinite(value):
        return RejectReason.NOT_FINITE
    if not low <= value <= high:
        return RejectReason.OUT_OF_RANGE
    if not isinstance(reading.at, datetime) or timezone.is_naive(reading.at):
        return RejectReason.NAIVE_TIME
    if reading.at > now + FUTURE_TOLERANCE:
        return RejectReason.FUTURE
    return reading.at.astimezone(UTC), value


# (channel, unit, power of ten) -> what _normalize scales and checks a value with. A
# batch repeats a handful of them; looking them up anew per reading was a fifth of its
# validation time.
_SCALES: dict[tuple, tuple[float, float, float, float]] = {}


def _scale(channel, unit, power_of_ten) -> tuple[float, float, float, float] | str:
    """(unit factor, 10**power_of_ten, lowest, highest canonical value), or the reason a
    reading of that channel, unit and power of ten is refused."""
    key = (channel, unit, power_of_ten)
    known = _SCALES.get(key) if type(power_of_ten) is int else None
    if known is not None:
        return known
    units = CHANNEL_UNITS.get(channel)
    if units is None:
        return RejectReason.UNKNOWN_CHANNEL
    factor = units.get(unit)
    if factor is None:
        return RejectReason.UNKNOWN_UNIT
    if not isinstance(power_of_ten, int) or abs(power_of_ten) > MAX_POWER_OF_TEN:
        return RejectReason.BAD_POWER_OF_TEN
    scale = (factor, 10.0**power_of_ten, *CHANNEL_RANGES[channel])
    if type(power_of_ten) is int:
        _SCALES[key] = scale
    return scale


def _insert_samples(
    rows: list[tuple[int, int, datetime, str, float]], *, utility_id: int, live: dict[int, dict]
) -> int:
    """Insert all rows, skipping (device, channel, at) already stored; mark their hours and
    store the ``live`` state of the devices it changed (id -> _LIVE_FIELDS values).

    On PostgreSQL the live-state UPDATE is one more CTE of the INSERT statement: a round
    trip fewer per call, whatever the batch size.

    The rollups are not touched here: every hour that got a sample is marked pending in
    the same transaction, and ``telemetry_rollup_pending`` (the ``devices.rollup`` beat
    task, every minute) recomputes its buckets from the samples, once per run rather than
    once per batch. Merging each batch into its buckets cost four times the
    sample INSERT itself (a connector sweep touches one 5-minute and one hourly row per
    sample). Returns how many were inserted; the rest were duplicates.
    """
    table = TelemetrySample._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= COPY_MIN_ROWS:
            return _copy_samples(cursor, rows, live=live)
        if connection.vendor == "postgresql":
            # A few readings (a DERStatus PUT, a short MMR post): one statement with five
            # array parameters is one round trip where COPY would take three.
            live_sql, live_params = _live_state_sql(live)
            cursor.execute(
                "WITH ins AS ("  # noqa: S608 - table names are ours
                f"INSERT INTO {table} ({_SAMPLE_COLUMNS}) "
                "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[],"
                " %s::varchar[], %s::double precision[]) "
                "ON CONFLICT (device_id, channel, at) DO NOTHING RETURNING utility_id, at), "
                f"{live_sql}marked AS ({_mark_pending_sql('ins')}) "
                "SELECT COUNT(*) FROM ins",
                [*[list(column) for column in zip(*rows, strict=True)], *live_params],
            )
            return cursor.fetchone()[0]
        # One JSON parameter sidesteps SQLite's bound-variable limit; OR IGNORE skips
        # duplicates and rowcount (sqlite3_changes) counts what went in.
        adapt = connection.ops.adapt_datetimefield_value
        payload = json.dumps([[d, u, adapt(at), c, v] for d, u, at, c, v in rows])
        cursor.execute(
            f"INSERT OR IGNORE INTO {table} ({_SAMPLE_COLUMNS}) "  # noqa: S608 - table is ours
            "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
            " json_extract(value, '$[2]'), json_extract(value, '$[3]'),"
            " json_extract(value, '$[4]') FROM json_each(%s)",
            [payload],
        )
        inserted = cursor.rowcount
    if inserted:
        _mark_rollups_pending(utility_id, {at for _, _, at, _, _ in rows})
    if live:
        Device.objects.bulk_update(
            [Device(pk=pk, **values) for pk, values in live.items()], _LIVE_FIELDS
        )
    return inserted


# From this many samples a batch goes through COPY (PostgreSQL); fewer go in one statement.
COPY_MIN_ROWS = 200
_STAGE = "reservoir_sample_stage"
_SAMPLE_COLUMNS = "device_id, utility_id, at, channel, value"


def _copy_samples(cursor, rows, *, live: dict[int, dict]) -> int:
    """PostgreSQL: COPY the rows into a session-temporary staging table, then move them
    into the partitioned sample table in one statement; how many were inserted.

    COPY cannot skip conflicts, so it fills the staging table and one INSERT ... SELECT
    ... ON CONFLICT (device_id, channel, at) DO NOTHING keeps a resent sample stored once.
    The same statement empties the staging table (DELETE ... RETURNING feeds the INSERT,
    so nothing is left for a later ingest in the same outer transaction), marks the
    inserted samples' hours pending for ``telemetry_rollup_pending`` and stores the
    ``live`` state. Three round trips
    whatever the batch size: the staging table (created once per session), the COPY, the
    move.
    """
    table = TelemetrySample._meta.db_table
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (device_id bigint, utility_id bigint,"
        " at timestamptz, channel varchar(16), value double precision)"
    )
    # Text COPY: ids are ints, channels are known Channel values, values finite floats and
    # times aware UTC datetimes, so nothing needs escaping.
    data = "".join(f"{d}\t{u}\t{at.isoformat()}\t{c}\t{v!r}\n" for d, u, at, c, v in rows).encode()
    copy_sql = f"COPY {_STAGE} ({_SAMPLE_COLUMNS}) FROM STDIN"
    # Django's query log (and so django_assert_num_queries) does not see COPY: count it.
    debug_sql = getattr(cursor, "debug_sql", None)
    with debug_sql(copy_sql) if debug_sql else contextlib.nullcontext():
        with cursor.cursor.copy(copy_sql) as copy:
            copy.write(data)
    live_sql, live_params = _live_state_sql(live)
    cursor.execute(
        f"WITH staged AS (DELETE FROM {_STAGE} RETURNING {_SAMPLE_COLUMNS}), "  # noqa: S608
        f"ins AS (INSERT INTO {table} ({_SAMPLE_COLUMNS}) SELECT {_SAMPLE_COLUMNS} FROM staged "
        "ON CONFLICT (device_id, channel, at) DO NOTHING RETURNING utility_id, at), "
        f"{live_sql}marked AS ({_mark_pending_sql('ins')}) "
        "SELECT COUNT(*) FROM ins",
        live_params,
    )
    return cursor.fetchone()[0]


def _mark_pending_sql(source: str) -> str:
    """An INSERT marking the hours of CTE ``source``'s samples for telemetry_rollup_pending."""
    hour = _bucket_sql(ROLLUP_PERIOD_SECONDS[RollupPeriod.HOUR])
    return (
        f"INSERT INTO {TelemetryRollupPending._meta.db_table} (utility_id, hour_start) "  # noqa: S608
        f"SELECT DISTINCT utility_id, {hour} FROM {source}"
    )


def telemetry_ingest(
    *,
    utility,
    readings: Iterable[Reading],
    source: str,
    now: datetime | None = None,
) -> IngestResult:
    """Validate, normalize and store a batch of readings; update each device's live state.

    Bad readings are returned as rejections and never written. Duplicates of stored
    (device, channel, at) are counted and skipped, so a transport may resend a batch.
    The whole batch commits or none of it does; after commit, ``telemetry_ingested`` fires.
    """
    now = now or timezone.now()
    readings = list(readings)
    rejected: list[Rejection] = []
    # (device_id, channel, at) -> value; the last of in-batch duplicates wins.
    accepted: dict[tuple[int, str, datetime], float] = {}
    in_batch_duplicates = 0

    with transaction.atomic():
        device_ids = {r.device_id for r in readings if isinstance(r.device_id, int)}
        # Lock in id order so concurrent batches for the same devices cannot deadlock.
        devices = {
            pk: dict(zip(_LIVE_FIELDS, live, strict=True))
            for pk, *live in Device.objects.for_utility(utility)
            .filter(pk__in=device_ids)
            .select_for_update()
            .order_by("pk")
            # Only what the live state reads and writes, as plain values: building model
            # instances, even deferred ones, cost a third of a 2,000-reading call.
            .values_list("pk", *_LIVE_FIELDS)
        }
        for reading in readings:
            if reading.device_id not in devices:
                rejected.append(Rejection(reading, RejectReason.UNKNOWN_DEVICE))
                continue
            normalized = _normalize(reading, now=now)
            if isinstance(normalized, str):
                rejected.append(Rejection(reading, normalized))
                continue
            at, value = normalized
            key = (reading.device_id, reading.channel, at)
            if key in accepted:
                in_batch_duplicates += 1
            accepted[key] = value

        inserted = 0
        if accepted:
            inserted = _insert_samples(
                [(d, utility.pk, at, c, v) for (d, c, at), v in accepted.items()],
                utility_id=utility.pk,
                live=_apply_live_state(devices, accepted),
            )
            touched = sorted({device_id for device_id, _, _ in accepted})
            transaction.on_commit(
                lambda: telemetry_ingested.send(
                    sender=TelemetrySample,
                    utility_id=utility.pk,
                    device_ids=touched,
                    source=source,
                )
            )

    result = IngestResult(
        accepted=inserted,
        duplicates=len(accepted) - inserted + in_batch_duplicates,
        rejected=rejected,
    )
    if rejected:
        logger.info(
            "telemetry from %s: %d accepted, %d duplicates, %d rejected (first: %s)",
            source,
            result.accepted,
            result.duplicates,
            len(rejected),
            rejected[0].reason,
        )
    return result


@dataclass(frozen=True)
class ReadingsStatement:
    """telemetry_ingest of one device's readings as one PostgreSQL statement
    (device_readings_statement): `sql` and `params` answer one row, (whether the device is
    the utility's, how many samples went in)."""

    sql: str
    params: list
    device_id: int
    utility_id: int
    accepted: int  # distinct (channel, at) in the batch
    in_batch_duplicates: int
    source: str

    def result(self, inserted: int) -> IngestResult:
        """What telemetry_ingest returns, once the statement inserted `inserted` samples."""
        return IngestResult(
            accepted=inserted,
            duplicates=self.accepted - inserted + self.in_batch_duplicates,
            rejected=[],
        )

    def applied(self) -> None:
        """What telemetry_ingest does once its transaction commits."""
        utility_id, device_ids, source = self.utility_id, [self.device_id], self.source
        transaction.on_commit(
            lambda: telemetry_ingested.send(
                sender=TelemetrySample,
                utility_id=utility_id,
                device_ids=device_ids,
                source=source,
            )
        )


def device_readings_statement(
    *,
    device_id: int,
    utility_id: int,
    readings: Iterable[Reading],
    source: str,
    now: datetime | None = None,
) -> ReadingsStatement | None:
    """telemetry_ingest of readings all of one device, as one PostgreSQL statement (one
    round trip, no transaction of its own), or None when telemetry_ingest would refuse one
    of them for its value, unit or time (the caller lets it say why).

    The same effects: the samples inserted, duplicates of stored (device, channel, at)
    skipped; their hours marked pending; the device's live fields as _apply_live_state sets
    them (per channel the batch's newest value, only if newer than the `telemetry_at` held
    for it, with its isoformat string) and last_heard_at moved forward. The device row is
    locked before the samples go in (telemetry_ingest's SELECT ... FOR UPDATE) and its own
    values are compared in the UPDATE: concurrent ingests cannot move a channel back.
    Nothing is written unless the device is the utility's (telemetry_ingest's
    UNKNOWN_DEVICE): the statement says so.
    """
    now = now or timezone.now()
    accepted: dict[tuple[str, datetime], float] = {}
    in_batch_duplicates = 0
    for reading in readings:
        if reading.device_id != device_id:
            return None
        normalized = _normalize(reading, now=now)
        if isinstance(normalized, str):
            return None
        at, value = normalized
        key = (reading.channel, at)
        if key in accepted:
            in_batch_duplicates += 1
        accepted[key] = value
    if not accepted:
        return None
    # _apply_live_state's newest per channel (the first of equal times: none, keys unique).
    latest: dict[str, tuple[datetime, float]] = {}
    for (channel, at), value in accepted.items():
        held = latest.get(channel)
        if held is None or at > held[0]:
            latest[channel] = (at, value)
    table = Device._meta.db_table
    newer = '(("telemetry_at" ->> %s) IS NULL OR ("telemetry_at" ->> %s)::timestamptz < %s)'
    sets: list[str] = []
    set_params: list = []
    moved = ['"telemetry_at"']
    moved_params: list = []
    for channel, (at, value) in latest.items():
        field = CHANNEL_LIVE_FIELDS.get(channel)
        if field is None:
            continue
        sets.append(f'"{field}" = CASE WHEN {newer} THEN %s ELSE "{field}" END')
        set_params += [channel, channel, at, value]
        moved.append(
            f"CASE WHEN {newer} THEN jsonb_build_object(%s::text, %s::text) ELSE '{{}}'::jsonb END"
        )
        moved_params += [channel, channel, at, channel, at.isoformat()]
    if len(moved) > 1:
        sets.append(f'"telemetry_at" = {" || ".join(moved)}')
        set_params += moved_params
    heard = max(at for at, _ in latest.values())
    sets.append(
        '"last_heard_at" = CASE WHEN "last_heard_at" IS NULL OR "last_heard_at" < %s '
        'THEN %s ELSE "last_heard_at" END'
    )
    set_params += [heard, heard]
    # The samples as rows of plain parameters (binding arrays cost psycopg ten times more):
    # one prepared statement per batch size.
    values = ", ".join(
        ["(%s::timestamptz, %s::varchar, %s::double precision)"]
        + ["(%s, %s, %s)"] * (len(accepted) - 1)
    )
    sql = (
        # The device locked first, as telemetry_ingest locks it: two ingests of the same
        # samples cannot each wait for the other.
        f'WITH dev AS (SELECT "id" FROM {table} WHERE "id" = %s AND "utility_id" = %s '  # noqa: S608 - ours
        "FOR UPDATE), "
        f"ins AS (INSERT INTO {TelemetrySample._meta.db_table} ({_SAMPLE_COLUMNS}) "
        f"SELECT %s::bigint, %s::bigint, s.at, s.channel, s.value FROM (VALUES {values}) "
        "AS s (at, channel, value) WHERE EXISTS (SELECT 1 FROM dev) "
        "ON CONFLICT (device_id, channel, at) DO NOTHING RETURNING utility_id, at), "
        f"marked AS ({_mark_pending_sql('ins')}), "
        f"live AS (UPDATE {table} SET {', '.join(sets)} "
        'WHERE "id" IN (SELECT "id" FROM dev) RETURNING "id") '
        "SELECT (SELECT COUNT(*) FROM live), (SELECT COUNT(*) FROM ins)"
    )
    params = [device_id, utility_id, device_id, utility_id]
    for (channel, at), value in accepted.items():
        params += (at, channel, value)
    params += set_params
    return ReadingsStatement(
        sql=sql,
        params=params,
        device_id=device_id,
        utility_id=utility_id,
        accepted=len(accepted),
        in_batch_duplicates=in_batch_duplicates,
        source=source,
    )


def _mark_rollups_pending(utility_id: int, times: set[datetime]) -> None:
    """Note the hours that got samples, for ``telemetry_rollup_pending`` (one INSERT).

    SQLite only: on PostgreSQL the sample INSERT marks them in the same statement.
    """
    hours = {interval_bucket(at, period=RollupPeriod.HOUR) for at in times}
    TelemetryRollupPending.objects.bulk_create(
        [TelemetryRollupPending(utility_id=utility_id, hour_start=h) for h in sorted(hours)]
    )


def _apply_live_state(
    devices: dict[int, dict], accepted: dict[tuple[int, str, datetime], float]
) -> dict[int, dict]:
    """Copy the newest value per device and channel onto the device's live fields
    (``devices`` maps id to _LIVE_FIELDS values), if newer than held; the changed ones."""
    latest: dict[tuple[int, str], tuple[datetime, float]] = {}
    for (device_id, channel, at), value in accepted.items():
        held = latest.get((device_id, channel))
        if held is None or at > held[0]:
            latest[(device_id, channel)] = (at, value)

    changed: dict[int, dict] = {}
    for (device_id, channel), (at, value) in latest.items():
        live = devices[device_id]
        if live["last_heard_at"] is None or at > live["last_heard_at"]:
            live["last_heard_at"] = at
            changed[device_id] = live
        field = CHANNEL_LIVE_FIELDS.get(channel)
        if field is None:
            continue
        held_at = live["telemetry_at"].get(channel)
        if held_at is not None and at <= datetime.fromisoformat(held_at):
            continue
        live[field] = value
        live["telemetry_at"] = {**live["telemetry_at"], channel: at.isoformat()}
        changed[device_id] = live
    return changed


def _live_state_sql(live: dict[int, dict]) -> tuple[str, list]:
    """PostgreSQL: a CTE (with its trailing comma) storing the live fields of the ``live``
    devices (id -> values) and its one parameter; nothing when no device changed.

    ``bulk_update`` builds a CASE per field per device: for a 500-device batch it cost
    nearly 90 % of an ingest call in its expression compiler. ``UPDATE ... FROM
    jsonb_array_elements(...)`` with a single parameter does it.
    """
    if not live:
        return "", []
    floats = list(CHANNEL_LIVE_FIELDS.values())
    columns = ["id", *floats, "telemetry_at", "last_heard_at"]
    types = ["bigint", *["double precision"] * len(floats), "jsonb", "timestamptz"]
    # One JSON parameter, not an array per column: psycopg dumps arrays element by element
    # in Python (a regex per string), json.dumps does the whole batch in C.
    payload = json.dumps(
        [
            [
                pk,
                *[values[field] for field in floats],
                values["telemetry_at"],
                values["last_heard_at"].isoformat() if values["last_heard_at"] else None,
            ]
            for pk, values in live.items()
        ]
    )
    assignments = ", ".join(f'"{c}" = v."{c}"' for c in columns[1:])
    picks = ", ".join(
        f'(e ->> {i})::{t} AS "{c}"' if t != "jsonb" else f'e -> {i} AS "{c}"'
        for i, (c, t) in enumerate(zip(columns, types, strict=True))
    )
    table = Device._meta.db_table
    return (
        f"live AS (UPDATE {table} SET {assignments} "  # noqa: S608 - ours
        f"FROM (SELECT {picks} FROM jsonb_array_elements(%s::jsonb) AS e) AS v "
        f'WHERE {table}."id" = v."id"), ',
        [payload],
    )


# --- Rollups and retention -------------------------------------------------------------


def _bucket_sql(period_s: int) -> str:
    """SQL for the bucket start of samples' ``at``, as the backend stores a datetime."""
    if connection.vendor == "postgresql":
        # date_bin is timezone-free and, unlike extract(epoch ...), needs no numeric
        # arithmetic: the ingest statement's GROUP BY took half the time with it.
        return f"date_bin('{period_s} seconds', at, TIMESTAMPTZ '1970-01-01 00:00:00+00')"
    return (
        f"datetime((CAST(strftime('%%s', at) AS INTEGER) / {period_s}) * {period_s}, 'unixepoch')"
    )


def _rollup_buckets(cursor, *, since: datetime, until: datetime, utility_id=None) -> int:
    """Upsert the 5-minute and hourly buckets overlapping [since, until); rows written."""
    sample_table = TelemetrySample._meta.db_table
    rollup_table = TelemetryRollup._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    written = 0
    for period, period_s in ROLLUP_PERIOD_SECONDS.items():
        # Whole buckets only: a bucket is always recomputed from all of its samples.
        start = interval_bucket(since, period=period)
        end = interval_bucket(until, period=period)
        if end < until:
            end += timedelta(seconds=period_s)
        bucket = _bucket_sql(period_s)
        params = [period, adapt(start), adapt(end)]
        only_utility = ""
        if utility_id is not None:
            only_utility = "AND utility_id = %s "
            params.append(utility_id)
        cursor.execute(
            f"INSERT INTO {rollup_table} "  # noqa: S608 - identifiers are ours
            "(utility_id, device_id, channel, period, bucket_start, avg, min, max, count) "
            f"SELECT utility_id, device_id, channel, %s, {bucket}, "
            "AVG(value), MIN(value), MAX(value), COUNT(*) "
            f"FROM {sample_table} WHERE at >= %s AND at < %s {only_utility}"
            f"GROUP BY utility_id, device_id, channel, {bucket} "
            "ON CONFLICT (device_id, channel, period, bucket_start) DO UPDATE SET "
            "avg = excluded.avg, min = excluded.min, max = excluded.max,"
            " count = excluded.count",
            params,
        )
        written += cursor.rowcount
        _fleet_rollup_buckets(cursor, period=period, start=start, end=end, utility_id=utility_id)
    return written


def _fleet_rollup_buckets(cursor, *, period: str, start, end, utility_id=None) -> None:
    """Re-sum the fleet rows of the ``period`` buckets in [start, end) from the device
    rollups just recomputed.
    """
    adapt = connection.ops.adapt_datetimefield_value
    params = [period, adapt(start), adapt(end)]
    only_utility = ""
    if utility_id is not None:
        only_utility = "AND utility_id = %s "
        params.append(utility_id)
    cursor.execute(
        f"INSERT INTO {FleetRollup._meta.db_table} "  # noqa: S608 - identifiers are ours
        "(utility_id, channel, period, bucket_start, total, devices) "
        "SELECT utility_id, channel, period, bucket_start, SUM(avg), COUNT(*) "
        f"FROM {TelemetryRollup._meta.db_table} "
        f"WHERE period = %s AND bucket_start >= %s AND bucket_start < %s {only_utility}"
        "GROUP BY utility_id, channel, period, bucket_start "
        # Key order: two overlapping runs lock the fleet rows in the same order, so they
        # queue instead of deadlocking.
        "ORDER BY utility_id, channel, period, bucket_start "
        "ON CONFLICT (utility_id, channel, period, bucket_start) DO UPDATE SET "
        "total = excluded.total, devices = excluded.devices",
        params,
    )


def telemetry_rollup(*, since: datetime, until: datetime) -> int:
    """Recompute every 5-minute and hourly rollup bucket that overlaps [since, until).

    Set-based: one INSERT ... SELECT ... GROUP BY per period, upserting, so it is safe
    to run twice or over overlapping windows. Returns the number of rollup rows written.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        return _rollup_buckets(cursor, since=since, until=until)


def telemetry_rollup_pending() -> int:
    """Recompute the rollups of every hour that got new samples since it was last rolled up.

    This is what keeps the rollups up to date: ingest stores samples and marks the hours
    it writes to, however late the readings arrive, and this job (the ``devices.rollup``
    beat task, every minute) recomputes each marked hour's 5-minute and hourly buckets,
    device and fleet, from the samples. So a rollup lags its samples by at most one beat
    period plus the run; ``device_telemetry_series`` reads the raw samples of still-marked
    hours, so a device chart is never behind.

    The marks are deleted in the same transaction as the recompute, and only those
    committed before it: an ingest still in flight adds its own mark, which the next run
    picks up. Beat may fire this twice; it is idempotent. Returns the number of rollup
    rows written.
    """
    table = TelemetryRollupPending._meta.db_table
    # SKIP LOCKED lets two overlapping runs share the work instead of queueing.
    lock = (
        " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}{lock}) "  # noqa: S608
            "RETURNING utility_id, hour_start"
        )
        # Many ingests mark the same hour: recompute it once, in time order.
        hours = sorted({(_utc(hour), utility_id) for utility_id, hour in cursor.fetchall()})
        for hour, utility_id in hours:
            written += _rollup_buckets(
                cursor, since=hour, until=hour + timedelta(hours=1), utility_id=utility_id
            )
    return written


def _utc(value: datetime) -> datetime:
    """A datetime column read by raw SQL: aware on PostgreSQL, naive UTC on SQLite."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class PruneResult:
    """What a retention run removed."""

    deleted_samples: int
    dropped_partitions: list[str]


_PARTITION_RE = re.compile(r"_p(\d{4})_(\d{2})$")


def _month_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(month: datetime) -> datetime:
    return (month + timedelta(days=32)).replace(day=1)


def _sample_partitions(cursor) -> dict[str, datetime]:
    """The monthly partitions of the samples table, name -> month start (PostgreSQL)."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        [TelemetrySample._meta.db_table],
    )
    partitions = {}
    for (name,) in cursor.fetchall():
        if match := _PARTITION_RE.search(name):
            partitions[name] = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
    return partitions


def telemetry_partitions_ensure(*, through: datetime, since: datetime | None = None) -> list[str]:
    """Create the monthly sample partitions from ``since`` (default: now) through ``through``.

    Rows that already sit in the DEFAULT partition for a new month are moved into it.
    A no-op on databases without partitioning (SQLite). Returns the partitions created.
    """
    if connection.vendor != "postgresql":
        return []
    table = TelemetrySample._meta.db_table
    default = f"{table}_default"
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        existing = _sample_partitions(cursor)
        month = _month_start(since or timezone.now())
        while month <= through:
            upper = _next_month(month)
            name = f"{table}_p{month:%Y_%m}"
            if name not in existing:
                # Build it standalone, move strays out of DEFAULT, then attach: attaching
                # fails if DEFAULT still holds rows of the new range.
                cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)")
                cursor.execute(
                    f"WITH moved AS (DELETE FROM {default} WHERE at >= %s AND at < %s"  # noqa: S608
                    f" RETURNING *) INSERT INTO {name} SELECT * FROM moved",
                    [month, upper],
                )
                cursor.execute(
                    f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
                    [month, upper],
                )
                created.append(name)
            month = upper
    return created


def telemetry_prune(*, older_than: datetime) -> PruneResult:
    """Remove samples older than ``older_than`` (retention). Rollups are kept.

    On PostgreSQL whole monthly partitions below the cutoff are dropped (cheap); what is
    left below it is deleted row by row.
    """
    table = TelemetrySample._meta.db_table
    dropped = []
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for name, month in sorted(_sample_partitions(cursor).items()):
                    if _next_month(month) <= older_than:
                        cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
                        cursor.execute(f"DROP TABLE {name}")
                        dropped.append(name)
        # Plain SQL: the ORM's delete() would load every row into memory as soon as any
        # delete signal receiver exists, and retention deletes millions.
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE at < %s",  # noqa: S608 - table name is ours
                [connection.ops.adapt_datetimefield_value(older_than)],
            )
            deleted = cursor.rowcount
    return PruneResult(deleted_samples=deleted, dropped_partitions=dropped)


@dataclass(frozen=True)
class OtherMeasurement:
    """A reading of a quantity no telemetry channel models, as a transport received it."""

    device_id: int
    at: datetime  # aware
    quantity: str
    unit: str
    value: float  # already scaled to `unit`


def other_readings_store(*, utility, readings: list[OtherMeasurement]) -> int:
    """Keep readings of unmodelled quantities (one insert; repeats are skipped).

    Refuses, changing nothing, a reading that is not finite, has a naive time or lies in
    the future. Returns how many were stored.
    """
    now = timezone.now()
    rows = []
    for r in readings:
        if not math.isfinite(r.value):
            raise ValidationError(f"{r.quantity}: the value is not a finite number")
        if timezone.is_naive(r.at):
            raise ValidationError(f"{r.quantity}: the time has no time zone")
        if r.at > now + FUTURE_TOLERANCE:
            raise ValidationError(f"{r.quantity}: the reading is from the future")
        rows.append(
            OtherReading(
                utility=utility,
                device_id=r.device_id,
                at=r.at.astimezone(UTC),
                quantity=r.quantity[:80],
                unit=r.unit[:16],
                value=r.value,
            )
        )
    created = OtherReading.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)
