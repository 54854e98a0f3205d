"""Writes for the 2030.5 server: client registry, EndDevices, mirrors, Responses, logs and
subscriptions (their notifications are queued as jobs by name, see protocol.jobs).

The function-set views translate the wire into the plain values these take; business
rules stay in the domain services (devices, programs) that these call.
"""

import ipaddress
import secrets
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from devices.models import Device
from devices.services import (
    DeviceStatus,
    IngestResult,
    Reading,
    device_readings_statement,
    device_register,
    device_set_connection_point,
    device_status_statement,
    device_update_identity,
    telemetry_ingest,
)
from programs.choices import LIVE_STATUSES, ResponseStatus
from programs.models import Dispatch, Event
from programs.services import opt_out_record, participant_add
from programs.signals import dispatch_responded
from protocol import cache, seen
from protocol.identity import sfdi_check_digit, sfdi_from_lfdi, sfdi_is_valid
from protocol.jobs import NOTIFICATION_DELIVER, job_queue
from protocol.models import (
    Client,
    ClientKind,
    ControlResponse,
    EndDevice,
    ExchangeRecord,
    LogEvent,
    MirrorMeterReading,
    MirrorUsagePoint,
    NotificationDelivery,
    Subscription,
)
from protocol.selectors import (
    device_enrolled_through_client_vendor,
    end_devices_for_client,
    subscriptions_to,
    utility_has_subscriptions,
)
from tenancy.db import one_row

OPT_OUT = 4
# Response status codes 2030.5 defines (DOMAIN.md).
RESPONSE_CODES = frozenset(ResponseStatus.values)
PLACEHOLDER_VENDOR = "2030.5"
PLACEHOLDER_MODEL = "unidentified"


class Conflict(Exception):
    """The resource already exists (answered 409)."""


class NotYours(Exception):
    """The client may not act on this resource (answered 403)."""


# --- Clients -----------------------------------------------------------------------------


def client_register(
    *,
    utility,
    lfdi: str,
    kind: str,
    name: str,
    sfdi: int | None = None,
    program=None,
    cert_not_after: datetime | None = None,
) -> Client:
    """Map a certificate (by LFDI) to a utility: the only way a 2030.5 client gets in."""
    lfdi = lfdi.strip().upper()
    client = Client(
        utility=utility,
        lfdi=lfdi,
        sfdi=sfdi if sfdi is not None else sfdi_from_lfdi(lfdi),
        kind=kind,
        name=name,
        program=program,
        cert_not_after=cert_not_after,
    )
    client.full_clean()
    client.save()
    return client


def client_revoke(*, client: Client, now: datetime | None = None) -> Client:
    """Refuse the certificate from the next request on."""
    client.revoked = True
    client.revoked_at = now or timezone.now()
    client.save(update_fields=["revoked", "revoked_at"])
    return client


def client_restore(*, client: Client) -> Client:
    """Let a revoked or suspended certificate in again from the next request on."""
    client.revoked = False
    client.revoked_at = None
    client.save(update_fields=["revoked", "revoked_at"])
    return client


def client_touch(*, client: Client, now: datetime) -> None:
    """Note the client's contact: protocol.seen writes it within SEP2_SEEN_FLUSH_S, with
    every other contact of that interval, so no request waits on an UPDATE."""
    seen.client_seen(client_id=client.pk, at=now)


def client_edition_note(*, client: Client, schema_ver: str | None) -> None:
    """Note the schemaVer a client's body carried (one UPDATE, only when it changes)."""
    if schema_ver and schema_ver != client.schema_ver:
        Client.objects.filter(pk=client.pk).update(schema_ver=schema_ver)
        client.schema_ver = schema_ver


def end_device_touch(*, end_device, now: datetime) -> None:
    """Note an EndDevice's poll (written by protocol.seen's next flush, not inline)."""
    seen.end_device_polled(end_device_id=end_device.pk, at=now)


def end_device_poll_note(*, end_device_id: int, now: datetime) -> None:
    """end_device_touch for a poll answered from the cache (no row loaded)."""
    seen.end_device_polled(end_device_id=end_device_id, at=now)


def exchange_record(*, client: Client, request, response, started: datetime) -> None:
    """Keep one request of a client a conformance run is watching (its evidence)."""
    run_id = client.recording_run_id
    if run_id is None:  # no run is watching (callers check this first)
        return
    body = b""
    if request.method in ("POST", "PUT"):
        body = request.body[:500]
    path = request.get_full_path()[:300]
    ExchangeRecord.objects.create(
        utility_id=client.utility_id,
        client=client,
        run_id=run_id,
        method=request.method[:8],
        path=path,
        status=response.status_code,
        body_excerpt=body.decode("utf-8", "replace"),
        duration_ms=max(0, int((timezone.now() - started).total_seconds() * 1000)),
        at=started,
    )


# --- EndDevices --------------------------------------------------------------------------


def _new_pin() -> int:
    """Five random digits and the 2030.5 check digit."""
    digits = secrets.randbelow(100_000)
    return digits * 10 + sfdi_check_digit(digits)


def pin_is_valid(pin: int) -> bool:
    """A registration PIN: up to 6 digits, the last the 2030.5 check digit (as for SFDI)."""
    return sfdi_is_valid(pin) and pin <= 999_999


def end_device_preregister(
    *,
    utility,
    lfdi: str,
    sfdi: int,
    pin: int | None = None,
    device: Device | None = None,
    registered_by: Client | None = None,
    post_rate_s: int | None = None,
    placeholder_device: bool = False,
) -> EndDevice:
    """Out-of-band registration: the utility enters the device's LFDI, SFDI and PIN (a new
    random PIN when none is printed on the device).

    `registered_by` is the client (an aggregator, or the device's own certificate) that
    will act for the device. With `placeholder_device` (and no `device`) the EndDevice is
    linked to the utility's devices.Device of that LFDI, or to a new placeholder one as
    in-band registration makes, so it can join programs before the client first calls.
    """
    lfdi = lfdi.strip().upper()
    pin = _new_pin() if pin is None else pin
    if device is not None and device.utility_id != utility.pk:
        raise ValidationError("The device belongs to another utility.")
    if registered_by is not None and registered_by.utility_id != utility.pk:
        raise ValidationError("The client belongs to another utility.")
    if not pin_is_valid(pin):
        raise ValidationError("The PIN's last digit is not its 2030.5 check digit.")
    if not sfdi_is_valid(sfdi) or sfdi != sfdi_from_lfdi(lfdi):
        raise ValidationError("The SFDI does not belong to the LFDI.")
    if (
        registered_by is not None
        and registered_by.kind == ClientKind.DEVICE
        and lfdi != registered_by.lfdi
    ):
        raise ValidationError("A device certificate may act only for its own LFDI.")
    if EndDevice.objects.for_utility(utility).filter(lfdi=lfdi).exists():
        raise ValidationError("An EndDevice with this LFDI is already registered.")
    own_aggregator = (
        registered_by is not None
        and registered_by.kind == ClientKind.AGGREGATOR
        and lfdi == registered_by.lfdi
    )
    if device is None and placeholder_device and not own_aggregator:
        device = Device.objects.for_utility(utility).filter(lfdi=lfdi).first()
        if device is None:
            device = device_register(
                utility=utility,
                vendor_name=PLACEHOLDER_VENDOR,
                model_name=PLACEHOLDER_MODEL,
                serial=lfdi,
                lfdi=lfdi,
                sfdi=sfdi,
            )
    end_device = EndDevice(
        utility=utility,
        lfdi=lfdi.strip().upper(),
        sfdi=sfdi,
        pin=pin,
        device=device,
        registered_by=registered_by,
        changed_time=timezone.now(),
        post_rate_s=post_rate_s,
    )
    end_device.full_clean()
    end_device.save()
    return end_device


def end_device_pin_set(*, end_device: EndDevice, pin: int) -> EndDevice:
    """Change the registration PIN (a client must read /edev/{id}/rg again)."""
    if not pin_is_valid(pin):
        raise ValidationError("The PIN's last digit is not its 2030.5 check digit.")
    end_device.pin = pin
    end_device.changed_time = timezone.now()
    end_device.save(update_fields=["pin", "changed_time"])
    return end_device


def end_device_post_rate_set(*, end_device: EndDevice, post_rate_s: int | None) -> EndDevice:
    """The telemetry post rate this EndDevice is told (None: its program's)."""
    end_device.post_rate_s = post_rate_s
    end_device.full_clean()
    end_device.save(update_fields=["post_rate_s"])
    return end_device


def end_device_poll_rate_set(*, end_device: EndDevice, poll_rate_s: int | None) -> EndDevice:
    """This site's pollRate on its own resources (its FSA, DERProgram and DER lists), over
    the program's per-resource rates (None: the program's)."""
    end_device.poll_rate_s = poll_rate_s
    end_device.full_clean()
    end_device.save(update_fields=["poll_rate_s"])
    return end_device


@transaction.atomic
def end_device_delete(*, end_device: EndDevice) -> None:
    """Remove the EndDevice and what hangs off it on the wire (its FSA and DER resources,
    MirrorUsagePoints, subscriptions). The devices.Device it was linked to stays, with its
    telemetry, dispatches and opt-outs: the device's history is the domain's."""
    end_device.delete()


def mirror_usage_points_clear(*, client: Client) -> int:
    """Delete every MirrorUsagePoint of the EndDevices this client acts for (a utility
    resets a site's mirrors); never another client's. The number deleted."""
    mups = MirrorUsagePoint.objects.for_utility(client.utility_id).filter(
        end_device__in=end_devices_for_client(client=client)
    )
    count = mups.count()
    mups.delete()
    return count


@transaction.atomic
def end_device_register(
    *,
    client: Client,
    lfdi: str,
    sfdi: int,
    post_rate_s: int | None = None,
    now: datetime | None = None,
) -> EndDevice:
    """In-band registration by POST /edev.

    A device certificate may register only itself; an aggregator registers the devices it
    acts for. A devices.Device is linked (by LFDI) or created with a placeholder identity
    that DeviceInformation later fills in.

    Ownership: an LFDI another client already registered, another client's own
    certificate LFDI, or a fleet Device with no EndDevice that is not enrolled through the
    aggregator's own vendor organisation (a manager pre-registers it for the aggregator
    otherwise), answers 403 (NotYours) and writes nothing; the same client's repeat
    is a genuine duplicate (409). An aggregator's own LFDI gets an EndDevice with no
    devices.Device: the aggregator is not a battery, so it never joins the fleet.
    """
    now = now or timezone.now()
    lfdi = lfdi.strip().upper()
    if client.kind == ClientKind.DEVICE and lfdi != client.lfdi:
        raise ValidationError("a device certificate may register only its own LFDI")
    if not sfdi_is_valid(sfdi) or sfdi != sfdi_from_lfdi(lfdi):
        raise ValidationError("sFDI does not belong to lFDI")
    utility = client.utility
    existing = EndDevice.objects.for_utility(utility).filter(lfdi=lfdi)
    for registered_by_id in existing.values_list("registered_by_id", flat=True):
        if registered_by_id != client.pk:
            raise NotYours("this lFDI is registered by another client")
        raise Conflict("an EndDevice with this lFDI is already registered")
    own_identity = lfdi == client.lfdi
    if not own_identity and Client.objects.filter(lfdi=lfdi).exists():
        raise NotYours("this lFDI is another client's certificate")
    device = None
    if own_identity and client.kind == ClientKind.AGGREGATOR:
        pass  # the aggregator itself: an EndDevice, never a battery
    elif (device := Device.objects.for_utility(utility).filter(lfdi=lfdi).first()) is None:
        device = device_register(
            utility=utility,
            vendor_name=PLACEHOLDER_VENDOR,
            model_name=PLACEHOLDER_MODEL,
            serial=lfdi,
            lfdi=lfdi,
            sfdi=sfdi,
        )
    elif not own_identity and not device_enrolled_through_client_vendor(
        client=client, device=device
    ):
        # A battery already in the fleet is claimed only through its enrollment's vendor
        # (or a manager's pre-registration for this client, which made its EndDevice).
        raise NotYours("this lFDI is a fleet device not enrolled through your organisation")
    end_device = EndDevice(
        utility=utility,
        lfdi=lfdi,
        sfdi=sfdi,
        registered_by=client,
        device=device,
        pin=_new_pin(),
        changed_time=now,
        post_rate_s=post_rate_s,
    )
    end_device.full_clean()
    try:
        with transaction.atomic():
            end_device.save()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("an EndDevice with this lFDI or sFDI is already registered") from exc
    program = client.program
    if device is not None and program is not None and program.is_sandbox:
        # A vendor's sandbox client: its devices take part in the sandbox at once.
        participant_add(program=program, device=device, now=now)
    return end_device


def end_device_report_store(
    *, end_device: EndDevice, key: str, content: str, resource_href: str
) -> None:
    """Keep a resource as the client PUT it (`content`) and tell its subscribers."""
    end_device.reported[key] = content
    EndDevice.objects.filter(pk=end_device.pk).update(reported=end_device.reported)
    # What a client PUT shows in this EndDevice's GETs only (protocol.cache).
    cache.bump(cache.end_device_key(end_device.pk))
    subscriptions_notify(utility_id=end_device.utility_id, resources=[resource_href])


def der_status_store_at_once(
    *,
    end_device_id: int,
    device_id: int,
    utility_id: int,
    content: str,
    resource_href: str,
    key: str,
    status: DeviceStatus,
    now: datetime,
) -> bool:
    """PostgreSQL: a DERStatus PUT's writes in one statement (one round trip, no
    transaction of our own), as DERStatusView's device_update_status then
    end_device_report_store do them: the device's status and SoC (devices'
    device_status_statement), the EndDevice's `reported`, and the subscriptions to tell.

    False, with nothing written, when device_update_status would refuse the status or the
    EndDevice is gone: the caller lets the view answer (the same error, from the same
    rules). The caller has checked the EndDevice is the client's and links this device.
    """
    table = EndDevice._meta.db_table
    statement = device_status_statement(
        device_id=device_id,
        utility_id=utility_id,
        status=status,
        guard="EXISTS (SELECT 1 FROM ed)",
        now=now,
    )
    if statement is None:
        return False
    # The subscriptions to tell get their Notification rows (notifications_queue's) in the
    # same statement, so a status is never stored without them.
    sql = (
        f'WITH ed AS (UPDATE {table} SET "reported" = "reported" || '  # noqa: S608 - ours
        'jsonb_build_object(%s::text, %s::text) WHERE "id" = %s RETURNING "id"), '
        f"{statement.ctes}"
        f"subs AS (SELECT id, subscribed_resource FROM {Subscription._meta.db_table} "
        "WHERE utility_id = %s AND subscribed_resource = %s AND EXISTS (SELECT 1 FROM ed)), "
        f"owed AS (INSERT INTO {NotificationDelivery._meta.db_table} (subscription_id, "
        "resource, created_at, task_id, due_at, attempts) SELECT id, subscribed_resource, %s, "
        "gen_random_uuid()::text, %s, 0 FROM subs RETURNING id, task_id) "
        "SELECT (SELECT COUNT(*) FROM ed), "
        "(SELECT json_agg(json_build_array(id, task_id)) FROM owed)"
    )
    params = [
        key,
        content,
        end_device_id,
        *statement.params,
        utility_id,
        resource_href,
        now,
        now + timedelta(seconds=NOTIFY_LEASE_S),
    ]
    written, owed = one_row(sql, params) or (0, None)
    if not written:
        return False
    statement.applied()
    # What a client PUT shows in this EndDevice's GETs only (protocol.cache).
    cache.bump(cache.end_device_key(end_device_id))
    for pk, task_id in owed or ():
        job_queue(NOTIFICATION_DELIVER, pk, task_id=task_id)
    return True


def end_device_information_store(
    *, end_device: EndDevice, serial: str, model_name: str, vendor_name: str
) -> Device:
    """DeviceInformation: the device's real serial, model and manufacturer."""
    if end_device.device is None:
        raise ValidationError("this EndDevice is not linked to a device")
    return device_update_identity(
        device=end_device.device, serial=serial, model_name=model_name, vendor_name=vendor_name
    )


def end_device_connection_point_store(
    *, end_device: EndDevice, connection_point_id: str, resource_href: str
) -> Device:
    """A CSIP-AUS ConnectionPoint PUT: the site record keeps the NMI; subscribers hear."""
    if end_device.device is None:
        raise ValidationError("this EndDevice is not linked to a device")
    device = device_set_connection_point(
        device=end_device.device, connection_point_id=connection_point_id
    )
    subscriptions_notify(utility_id=end_device.utility_id, resources=[resource_href])
    return device


# --- Metering mirror ---------------------------------------------------------------------


@dataclass(frozen=True)
class MirrorQuantity:
    """A MirrorMeterReading's identity and scale, as the wire declared it."""

    mrid: str
    description: str
    channel: str
    unit: str
    power_of_ten: int
    uom: int
    flow_direction: int | None


def _end_device_lock(end_device: EndDevice) -> None:
    """Serialize mirror creation per EndDevice: a client's retries may arrive together."""
    list(EndDevice.objects.select_for_update().filter(pk=end_device.pk).values_list("pk"))


def _spellings(mrids) -> set[str]:
    """An mRID is hexBinary: `ab` and `AB` name the same object."""
    return {form for mrid in mrids for form in (mrid, mrid.upper(), mrid.lower())}


def _mirror_mrid_claimed(*, end_device: EndDevice, mrid: str) -> None:
    """An mRID names one object: a MirrorUsagePoint mRID another EndDevice's mirror already
    carries is not this client's to take (403; one query)."""
    taken = (
        MirrorUsagePoint.objects.for_utility(end_device.utility_id)
        .filter(mrid__in=_spellings([mrid]))
        .exclude(end_device=end_device)
        .exists()
    )
    if taken:
        raise NotYours("this MirrorUsagePoint mRID belongs to another EndDevice's mirror")


def _reading_mrids_claimed(*, mup: MirrorUsagePoint, mrids: Sequence[str]) -> None:
    """New MirrorMeterReading mRIDs already carried by another mirror are refused: another
    EndDevice's is not this client's to take (403), another of its own mirrors' is a
    conflict (409). One query, only when a request declares new quantities."""
    if not mrids:
        return
    owners = set(
        MirrorMeterReading.objects.for_utility(mup.utility_id)
        .filter(mrid__in=_spellings(mrids))
        .exclude(mirror_usage_point=mup)
        .values_list("mirror_usage_point__end_device_id", flat=True)
    )
    if owners - {mup.end_device_id}:
        raise NotYours("a MirrorMeterReading mRID belongs to another EndDevice's mirror")
    if owners:
        raise Conflict("a MirrorMeterReading mRID belongs to another MirrorUsagePoint")


@transaction.atomic
def mirror_usage_point_create(
    *,
    end_device: EndDevice,
    mrid: str,
    description: str = "",
    role_flags: int = 0,
    service_category_kind: int = 0,
    status: int = 1,
    quantities: Sequence[MirrorQuantity] = (),
) -> MirrorUsagePoint:
    _end_device_lock(end_device)
    if (
        MirrorUsagePoint.objects.for_utility(end_device.utility_id)
        .filter(end_device=end_device, mrid=mrid)
        .exists()
    ):
        raise Conflict("this MirrorUsagePoint mRID is already in use")
    _mirror_mrid_claimed(end_device=end_device, mrid=mrid)
    mup = MirrorUsagePoint.objects.create(
        utility_id=end_device.utility_id,
        end_device=end_device,
        mrid=mrid,
        description=description,
        role_flags=role_flags,
        service_category_kind=service_category_kind,
        status=status,
    )
    mirror_quantities_store(mup=mup, quantities=quantities)
    return mup


@transaction.atomic
def mirror_usage_point_post(
    *,
    end_device: EndDevice,
    mrid: str,
    description: str = "",
    role_flags: int = 0,
    service_category_kind: int = 0,
    status: int = 1,
    quantities: Sequence[MirrorQuantity] = (),
) -> tuple[MirrorUsagePoint, dict[str, MirrorMeterReading], bool]:
    """A POST to the MirrorUsagePoint list: the mirror with this mRID, created if new (True).

    A client that restarts or retries re-POSTs its mirrors: same mRID, same mirror, its
    first-level values (roleFlags, description, …) and its quantities' ReadingTypes
    replaced. Concurrent posts for one EndDevice take turns.
    """
    _end_device_lock(end_device)
    existing = (
        MirrorUsagePoint.objects.for_utility(end_device.utility_id)
        .select_related("end_device__utility")
        .filter(end_device=end_device, mrid=mrid)
        .first()
    )
    if existing is not None:  # a restart or a retry: its first-level values replace ours
        existing.description = description
        existing.role_flags = role_flags
        existing.service_category_kind = service_category_kind
        existing.status = status
        existing.full_clean(exclude=["utility", "end_device"], validate_unique=False)
        existing.save(
            update_fields=["description", "role_flags", "service_category_kind", "status"]
        )
        return existing, mirror_quantities_store(mup=existing, quantities=quantities), False
    mup = mirror_usage_point_create(
        end_device=end_device,
        mrid=mrid,
        description=description,
        role_flags=role_flags,
        service_category_kind=service_category_kind,
        status=status,
    )
    known = mirror_quantities_store(mup=mup, quantities=quantities)
    return mup, known, True


def mirror_quantities_move(*, moved: Sequence[MirrorMeterReading]) -> None:
    """Save the channels a mirror's new role gave its quantities (already set on them)."""
    if moved:
        MirrorMeterReading.objects.bulk_update(moved, ["channel"])


def _mirror_quantities(mup: MirrorUsagePoint) -> dict[str, MirrorMeterReading]:
    return {
        m.mrid: m
        for m in MirrorMeterReading.objects.for_utility(mup.utility_id).filter(
            mirror_usage_point=mup
        )
    }


def mirror_quantities_store(
    *, mup: MirrorUsagePoint, quantities, held: dict[str, MirrorMeterReading] | None = None
) -> dict[str, MirrorMeterReading]:
    """Create or replace the ReadingTypes of a mirror's quantities (three queries); with
    none declared (a post of readings alone, the usual one) just read them (one query), or
    take `held`, the quantities the caller read with the mirror and non-empty (none)."""
    if not quantities:
        return held or _mirror_quantities(mup)
    with transaction.atomic():
        return _mirror_quantities_replace(mup, quantities)


def _mirror_quantities_replace(mup: MirrorUsagePoint, quantities) -> dict[str, MirrorMeterReading]:
    """The mirror's row is locked first, so concurrent posts declaring the same new quantity
    take turns and the second finds the first's row instead of violating its uniqueness."""
    list(MirrorUsagePoint.objects.select_for_update().filter(pk=mup.pk).values_list("pk"))
    existing = _mirror_quantities(mup)
    _reading_mrids_claimed(mup=mup, mrids=[q.mrid for q in quantities if q.mrid not in existing])
    new, changed = [], []
    for q in quantities:
        row = existing.get(q.mrid)
        values = {
            "description": q.description,
            "channel": q.channel,
            "unit": q.unit,
            "power_of_ten": q.power_of_ten,
            "uom": q.uom,
            "flow_direction": q.flow_direction,
        }
        if row is None:
            row = MirrorMeterReading(
                utility_id=mup.utility_id, mirror_usage_point=mup, mrid=q.mrid, **values
            )
            new.append(row)
        else:
            for field, value in values.items():
                setattr(row, field, value)
            changed.append(row)
        existing[q.mrid] = row
    MirrorMeterReading.objects.bulk_create(new)
    if changed:
        MirrorMeterReading.objects.bulk_update(
            changed, ["description", "channel", "unit", "power_of_ten", "uom", "flow_direction"]
        )
    return existing


def mirror_readings_ingest(*, mup: MirrorUsagePoint, readings: list[Reading]):
    """All of one request's readings in one telemetry_ingest; any rejection writes nothing."""
    with transaction.atomic():
        result = telemetry_ingest(utility=mup.end_device.utility, readings=readings, source="sep2")
        if result.rejected:
            transaction.set_rollback(True)
    return result


def mirror_readings_store_at_once(
    *, device_id: int, utility_id: int, readings: list[Reading], now: datetime | None = None
) -> IngestResult | None:
    """PostgreSQL: a post of readings, all of one device, ingested in one statement (one
    round trip, no transaction of our own) as mirror_readings_ingest ingests them
    (devices' device_readings_statement), telemetry_ingested sent as it sends it; what
    telemetry_ingest would return.

    None, with nothing written, when telemetry_ingest would refuse a reading (its value,
    unit or time, or the device not the utility's): the caller lets the view answer why.
    """
    statement = device_readings_statement(
        device_id=device_id, utility_id=utility_id, readings=readings, source="sep2", now=now
    )
    if statement is None:
        return None
    found, inserted = one_row(statement.sql, statement.params) or (0, 0)
    if not found:
        return None
    statement.applied()
    return statement.result(inserted)


# --- Responses, logs, subscriptions ------------------------------------------------------


@transaction.atomic
def response_record(
    *, end_device: EndDevice, event: Event, status: int, created_at: datetime | None = None
) -> ControlResponse:
    """A Response to a DERControl; it updates the device's Dispatch, and 4 is an opt-out.

    Responses to cancelled or superseded controls are stored too (they arrive late).
    """
    if status not in RESPONSE_CODES:
        raise ValidationError(f"response status {status} is not a 2030.5 response code")
    if event.utility_id != end_device.utility_id:
        raise ValidationError("the event belongs to another utility")
    # Every stored Response is counted in the event's funnel, which counts Dispatch rows:
    # a device the plan left out was shown no control, so it has nothing to answer.
    dispatches = Dispatch.objects.for_utility(end_device.utility_id).filter(
        event=event, device_id=end_device.device_id
    )
    if end_device.device_id is None or not dispatches.exists():
        raise ValidationError("this EndDevice is not in this event's dispatch plan")
    now = timezone.now()
    response = ControlResponse.objects.create(
        utility_id=end_device.utility_id,
        event=event,
        end_device=end_device,
        status=status,
        created_at=created_at or now,
    )
    dispatches.update(last_response=status, last_response_at=now)
    # Throttled, unlike event_changed: a fleet answers in bursts.
    transaction.on_commit(
        lambda: dispatch_responded.send(
            sender=Dispatch, event_id=event.pk, utility_id=end_device.utility_id
        )
    )
    # An opt-out from a finished event changes nothing; the Response itself is kept.
    if status == OPT_OUT and event.status in LIVE_STATUSES:
        opt_out_record(event=event, device=end_device.device, source="response", now=now)
    return response


def log_event_record(*, end_device: EndDevice, **fields) -> LogEvent:
    log_event = LogEvent(utility_id=end_device.utility_id, end_device=end_device, **fields)
    log_event.full_clean(exclude=["utility", "end_device"])
    log_event.save()
    return log_event


def notification_target_allowed(uri: str) -> bool:
    """Whether the server may POST to `uri`: http(s), and, unless SEP2_NOTIFY_ALLOW_PRIVATE,
    never to loopback, private, link-local or reserved addresses (no SSRF into our own
    network). Checked when subscribing and again at delivery (DNS may change)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if getattr(settings, "SEP2_NOTIFY_ALLOW_PRIVATE", False):
        return True
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return False
    return bool(infos)


def subscription_create(
    *,
    end_device: EndDevice,
    subscribed_resource: str,
    notification_uri: str,
    encoding: int = 0,
    level: str = "+S1",
    limit: int = 1,
) -> Subscription:
    if not notification_target_allowed(notification_uri):
        raise ValidationError("notificationURI must be a public http(s) address")
    subscription = Subscription(
        utility_id=end_device.utility_id,
        end_device=end_device,
        subscribed_resource=subscribed_resource,
        notification_uri=notification_uri,
        encoding=encoding,
        level=level,
        limit=limit,
    )
    subscription.full_clean(exclude=["utility", "end_device"])
    subscription.save()
    return subscription


def subscription_delete(*, subscription: Subscription) -> None:
    subscription.delete()


def subscriptions_notify(*, utility_id: int, resources: list[str]) -> list[int]:
    """Queue a Notification for each subscription to one of `resources`, after commit."""
    if not utility_has_subscriptions(utility_id=utility_id):
        return []
    pairs = list(
        subscriptions_to(utility_id=utility_id, resources=resources).values_list(
            "pk", "subscribed_resource"
        )
    )
    notifications_queue(pairs)
    return [pk for pk, _ in pairs]


def subscriptions_reshaped_notify(
    *, utility_id: int, end_devices: Q, wanted: Callable[[str, int], bool]
) -> list[int]:
    """Queue a Notification (after commit) for each subscription of these EndDevices whose
    (subscribed resource, EndDevice id) is `wanted`. One query."""
    subscriptions = Subscription.objects.for_utility(utility_id).filter(
        end_device__in=EndDevice.objects.for_utility(utility_id).filter(end_devices)
    )
    pairs = [
        (pk, resource)
        for pk, end_device_id, resource in subscriptions.values_list(
            "pk", "end_device_id", "subscribed_resource"
        )
        if wanted(resource, end_device_id)
    ]
    notifications_queue(pairs)
    return [pk for pk, _ in pairs]


# --- the notification outbox (see NotificationDelivery) -----------------------------------
# How long a task owns a notification it has claimed, or was handed, before the sweep gives
# it to another task: more than a POST can take (two socket timeouts of
# protocol.notifications.NOTIFY_TIMEOUT_S), and what bounds the delay after a lost task.
NOTIFY_LEASE_S = 30
# Done (delivered or given up) notifications are kept this long, then deleted by the sweep.
NOTIFY_KEEP_DONE = timedelta(days=1)
NOTIFY_SWEEP_BATCH = 500


def _pending():
    return NotificationDelivery.objects.filter(delivered_at__isnull=True, given_up_at__isnull=True)


def notifications_queue(pairs: Sequence[tuple[int, str]]) -> list[NotificationDelivery]:
    """Record a Notification of `resource` owed to each (subscription id, resource), in the
    caller's transaction (one query), and queue a task owning each once it commits. Were the
    task lost, the sweep sends the notification again after NOTIFY_LEASE_S."""
    if not pairs:
        return []
    now = timezone.now()
    rows = NotificationDelivery.objects.bulk_create(
        NotificationDelivery(
            subscription_id=pk,
            resource=resource,
            created_at=now,
            task_id=str(uuid.uuid4()),
            due_at=now + timedelta(seconds=NOTIFY_LEASE_S),
        )
        for pk, resource in pairs
    )
    for row in rows:
        job_queue(NOTIFICATION_DELIVER, row.pk, task_id=row.task_id)
    return rows


def notification_claim(*, delivery_id: int, task_id: str) -> NotificationDelivery | None:
    """Take the pending notification for one attempt by task `task_id`, atomically: when
    that task owns it, or its owner's time is up. None when it is done or another task's (a
    duplicate or late task then does nothing), else the row, its attempts counting this one.
    """
    now = timezone.now()
    claimed = (
        _pending()
        .filter(pk=delivery_id)
        .filter(Q(task_id=task_id) | Q(due_at__lte=now))
        .update(
            task_id=task_id,
            due_at=now + timedelta(seconds=NOTIFY_LEASE_S),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return NotificationDelivery.objects.get(pk=delivery_id)


def notification_retry_at(*, delivery: NotificationDelivery, delay_s: float) -> None:
    """The attempt failed; its task retries in `delay_s` and keeps the notification until
    then plus a lease (after which the sweep sends it again)."""
    NotificationDelivery.objects.filter(pk=delivery.pk, task_id=delivery.task_id).update(
        due_at=timezone.now() + timedelta(seconds=delay_s + NOTIFY_LEASE_S)
    )


def notification_done(*, delivery: NotificationDelivery, delivered: bool) -> None:
    """The subscriber took the notification (`delivered`), or it is given up: never sent
    again, whichever task comes for it."""
    field = "delivered_at" if delivered else "given_up_at"
    NotificationDelivery.objects.filter(pk=delivery.pk).update(**{field: timezone.now()})


def notifications_overdue_requeue(*, give_up_after: timedelta) -> dict[str, int]:
    """The sweep: hand each pending notification whose owner's time is up (its task was
    lost with a killed worker, or is late) to a new task; give up those older than
    `give_up_after`; delete done ones kept long enough. Counts of each."""
    now = timezone.now()
    given_up = _pending().filter(created_at__lt=now - give_up_after).update(given_up_at=now)
    overdue = list(
        _pending().filter(due_at__lte=now).values_list("pk", "task_id")[:NOTIFY_SWEEP_BATCH]
    )
    requeued = 0
    for pk, old_task_id in overdue:
        task_id = str(uuid.uuid4())
        # Only if nobody claimed it since it was read: then the new task is its one owner.
        if (
            _pending()
            .filter(pk=pk, task_id=old_task_id, due_at__lte=now)
            .update(task_id=task_id, due_at=now + timedelta(seconds=NOTIFY_LEASE_S))
        ):
            job_queue(NOTIFICATION_DELIVER, pk, task_id=task_id)
            requeued += 1
    kept_since = now - NOTIFY_KEEP_DONE
    deleted, _ = NotificationDelivery.objects.filter(
        Q(delivered_at__lt=kept_since) | Q(given_up_at__lt=kept_since)
    ).delete()
    return {"requeued": requeued, "given_up": given_up, "deleted": deleted}


def subscription_failure_record(*, subscription: Subscription) -> None:
    """The subscriber did not take a notification (the job retries it)."""
    Subscription.objects.filter(pk=subscription.pk).update(failures=subscription.failures + 1)


def subscription_delivery_record(*, subscription: Subscription) -> None:
    """The subscriber took a notification."""
    Subscription.objects.filter(pk=subscription.pk).update(
        last_notified_at=timezone.now(), failures=0
    )
