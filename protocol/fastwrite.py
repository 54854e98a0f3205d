"""The 2030.5 listener's lean write path: a DERStatus PUT stored without Django's request
machinery, in one statement (PostgreSQL).

The most frequent write of a 2030.5 fleet is a DERStatus PUT. Through Django it cost a
thread of its own, the view's gate and nine ORM-compiled statements. Here, for the common
case only, the listener answers it as DERStatusView would, by the same rules:

- the client is cached and entitled now (protocol.fastpath's rules: trusted proxy and
  secret, a GLOBAL token still current, not refused, not recorded, not in an outage);
- the EndDevice is the client's and links a device of the client's utility
  (selectors.end_device_for_client, kept per (client, EndDevice) at the GLOBAL token:
  any change to who owns what bumps it);
- the body is an application/sep+xml DERStatus within the body limit that the codec
  parses, whose values device_update_status takes, and carries no new schemaVer to note;
- the writes (protocol.services.der_status_store_at_once) run in one statement on one of
  a few long-lived threads with their own connections, not a thread per request.

A post of MirrorMeterReadings to one MirrorUsagePoint (POST /mup/<id>) is taken the same
way when it only carries readings of quantities the mirror holds (no ReadingType declared,
none kept as other readings): the mirror and its quantities kept per (client, mirror) at
the GLOBAL and MIRRORS tokens (selectors.MIRROR_TABLES), then telemetry_ingest's writes in
one statement (protocol.services.mirror_readings_store_at_once; a reading it would refuse
writes nothing and Django answers why); 201 with the mirror's Location, as Django answers.

Anything else goes to Django unchanged (with the body read so far handed back), which
answers it, errors included, as before. The answer is Django's: 204, Content-Length 0.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, connection, connections

from protocol import cache, fastpath, seen, selectors
from protocol.fsets.base import BadInput, client_profile
from protocol.fsets.der import DERStatusView, device_status_of
from protocol.fsets.mirror import OTHER, MirrorUsagePointView, readings_of
from protocol.managers.der import DER_STATUS, der_part_href
from protocol.managers.edev import reported_content
from protocol.managers.mirror import mup_href
from protocol.models import Client
from protocol.services import der_status_store_at_once, mirror_readings_store_at_once
from protocol.xml import SepXmlError, parse, schema_version
from protocol.xml.parser import max_body_bytes
from protocol.xml.resources.der import DERStatus
from protocol.xml.resources.mirror import MirrorMeterReading, MirrorMeterReadingList
from tenancy.generations import Fact

logger = logging.getLogger(__name__)

# What Django answers a stored PUT (SepView.no_content through the ASGI handler).
NO_CONTENT_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", b"0"),
]
_SEP_TYPE = "application/sep+xml"


@functools.cache
def _on_postgresql() -> bool:
    # Read once: on the event loop every request is a task of its own, and `connection`
    # there made a new database wrapper per task (10 % of the listener's CPU per PUT).
    return connections["default"].vendor == "postgresql"


def _enabled() -> bool:
    return getattr(settings, "SEP2_LEAN_WRITES", True) and _on_postgresql()


def is_der_status(match) -> bool:
    """Whether the resolved view is a DERStatus (and the listener on PostgreSQL)."""
    return getattr(match.func, "view_class", None) is DERStatusView and _enabled()


# (client pk, EndDevice pk) -> (device id, utility id), while nothing GLOBAL watches changed.
owners: Fact[tuple[int, int]] = Fact(cache.GLOBAL, size=cache.MAX_ENTRIES)


def _owned(client: Client, eid: int) -> tuple[int, int] | None:
    """(device id, utility id) when the EndDevice is the client's and links a device of the
    client's utility (as SepView.end_device finds it); else None (never kept)."""
    token = owners.token()
    if token is None:
        return None
    found = owners.kept((client.pk, eid), token)
    if found is not None:
        return found
    end_device = selectors.end_device_for_client(client=client, pk=eid)
    if end_device is None or end_device.device_id is None:
        return None
    device = end_device.device
    if device is None or device.utility_id != client.utility_id:
        return None
    owned = (device.pk, device.utility_id)
    owners.keep((client.pk, eid), token, owned)
    return owned


def store(client: Client, eid: int, body: bytes, now: datetime) -> bool:
    """Store a DERStatus PUT as DERStatusView.put would, or nothing and False: let Django
    answer. Runs on a worker thread (its own database connection)."""
    try:
        parsed = parse(body, DERStatus, profile=client_profile(client))
    except SepXmlError:
        return False
    ver = schema_version(parsed)
    if ver and ver != client.schema_ver:
        return False  # client_edition_note writes it: Django's path
    owned = _owned(client, eid)
    if owned is None:
        return False
    device_id, utility_id = owned
    try:
        status = device_status_of(parsed)
    except BadInput:
        return False
    return der_status_store_at_once(
        end_device_id=eid,
        device_id=device_id,
        utility_id=utility_id,
        content=reported_content(parsed),
        resource_href=der_part_href(eid, DER_STATUS),
        key=DER_STATUS,
        status=status,
        now=now,
    )


def store_readings(client: Client, mid: int, body: bytes, now: datetime) -> str | None:
    """Ingest a post of MirrorMeterReadings to a mirror as MirrorUsagePointView.post would
    (readings of quantities the mirror holds, no ReadingType declared), and the mirror's
    href; or nothing and None: let Django answer. Runs on a worker thread."""
    try:
        parsed = parse(
            body, (MirrorMeterReading, MirrorMeterReadingList), profile=client_profile(client)
        )
    except SepXmlError:
        return None
    ver = schema_version(parsed)
    if ver and ver != client.schema_ver:
        return None
    if isinstance(parsed, MirrorMeterReadingList):
        mmrs = parsed.mirror_meter_readings
    elif isinstance(parsed, MirrorMeterReading):
        mmrs = [parsed]
    else:
        return None
    if not mmrs or any(m.reading_type is not None for m in mmrs):
        return None  # quantities declared (or re-declared): Django's path stores them
    mirror = _mirror(client, mid)
    if mirror is None:
        return None
    href, device_id, held = mirror
    if any(m.mrid not in held or held[m.mrid].channel == OTHER for m in mmrs):
        return None
    try:
        readings = [r for m in mmrs for r in readings_of(m, device_id=device_id, q=held[m.mrid])]
    except BadInput:
        return None
    # A refused reading writes nothing, and Django answers why: the statement is built only
    # when telemetry_ingest would take every reading (its readings are all of one device,
    # so one it refuses, another utility's, refuses all: nothing written, and None).
    if not readings or (
        mirror_readings_store_at_once(
            device_id=device_id, utility_id=client.utility_id, readings=readings
        )
        is None
    ):
        return None
    return href


class Quantity(NamedTuple):
    """What readings_of takes from one of a mirror's MirrorMeterReadings."""

    channel: str
    unit: str
    power_of_ten: int


# (client pk, mirror pk) -> (href, device id, {mRID: Quantity}), while nothing GLOBAL or
# MIRRORS watches changed.
mirrors: Fact[tuple[str, int, dict[str, Quantity]]] = Fact(
    cache.GLOBAL, selectors.MIRRORS_KEY, size=cache.MAX_ENTRIES
)


def _mirror(client: Client, mid: int) -> tuple[str, int, dict[str, Quantity]] | None:
    """The client's mirror (its href and device id) and its quantities by mRID, as
    selectors.mirror_usage_point_with_quantities finds them, kept at the GLOBAL and MIRRORS
    tokens (every write to a mirror, a quantity or an EndDevice but a poll's or a client
    PUT's bumps them); None when it is missing, another client's, or links no device."""
    token = mirrors.token()
    if token is None:
        return None
    found = mirrors.kept((client.pk, mid), token)
    if found is not None:
        return found
    mup, rows = selectors.mirror_usage_point_with_quantities(client=client, pk=mid)
    if mup is None or mup.end_device.device_id is None:
        return None
    held = {
        mrid: Quantity(channel=q.channel, unit=q.unit, power_of_ten=q.power_of_ten)
        for mrid, q in rows.items()
    }
    mirror = (mup_href(mup), mup.end_device.device_id, held)
    mirrors.keep((client.pk, mid), token, mirror)
    return mirror


def _on_worker(work, client: Client, pk: int, body: bytes, now: datetime):
    try:
        return work(client, pk, body, now)
    except DatabaseError:
        # A connection the database dropped (a restart): nothing was committed (one
        # statement, or one transaction); start afresh next time and let Django answer
        # (503 while it is away).
        logger.warning("2030.5 lean write failed; Django answers", exc_info=True)
        connection.close()
        return None


_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    """A few long-lived threads, each with its own connection (SEP2_LEAN_WRITE_THREADS)."""
    global _executor
    if _executor is None:
        threads = int(getattr(settings, "SEP2_LEAN_WRITE_THREADS", 8))
        _executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sep2-write")
    return _executor


async def _run(work, client: Client, pk: int, body: bytes, now: datetime):
    """work(client, pk, body, now) on a worker thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor(), _on_worker, work, client, pk, body, now)


async def _read_body(receive, limit: int) -> tuple[bytes | None, list[dict]]:
    """The whole body (None: more than `limit` bytes), and the messages read."""
    messages: list[dict] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None, messages
        size += len(message.get("body", b""))
        if size > limit:
            return None, messages
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in messages), messages


def _replay(messages: list[dict], receive):
    """`receive` for Django: the messages read here first, then the rest."""
    pending = list(messages)

    async def replayed():
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _take(scope, receive, send, app, method: str, work, pk: int):
    """(client, result of work, now) when the lean path served the request's writes; else
    None, with the request handed to Django (the body read so far given back)."""
    known = fastpath.known_client(scope, methods=frozenset((method,)))
    if known is None:
        await app(scope, receive, send)
        return None
    client, headers, now = known
    media = (headers[fastpath.BODY_TYPE] or b"").decode("latin-1")
    media = media.split(";")[0].strip().lower()
    declared = (headers[fastpath.BODY_LENGTH] or b"").decode("latin-1")
    limit = max_body_bytes()
    if media != _SEP_TYPE or not declared.isdigit() or int(declared) > limit:
        await app(scope, receive, send)
        return None
    body, messages = await _read_body(receive, limit)
    if body is None or len(body) != int(declared):
        await app(scope, _replay(messages, receive), send)
        return None
    done = await _run(work, client, pk, body, now)
    if not done:
        await app(scope, _replay(messages, receive), send)
        return None
    seen.client_seen(client_id=client.pk, at=now)
    return client, done, now


async def put(scope, receive, send, match, app) -> None:
    """Answer a DERStatus PUT here when it is the common case; else hand it to Django."""
    if match.kwargs.get("did") != 0:
        return await app(scope, receive, send)
    eid = match.kwargs["eid"]
    taken = await _take(scope, receive, send, app, "PUT", store, eid)
    if taken is None:
        return
    _, _, now = taken
    seen.end_device_polled(end_device_id=eid, at=now)
    await send({"type": "http.response.start", "status": 204, "headers": NO_CONTENT_HEADERS})
    await send({"type": "http.response.body", "body": b""})


def is_mirror(match) -> bool:
    """Whether the resolved view is one MirrorUsagePoint (and the listener on PostgreSQL)."""
    return getattr(match.func, "view_class", None) is MirrorUsagePointView and _enabled()


async def post_readings(scope, receive, send, match, app) -> None:
    """Answer a post of MirrorMeterReadings here when it is the common case; else Django."""
    taken = await _take(scope, receive, send, app, "POST", store_readings, match.kwargs["mid"])
    if taken is None:
        return
    _, location, _ = taken
    # What Django answers (SepView.created through the ASGI handler).
    headers = [
        (b"content-type", fastpath.CONTENT_TYPE),
        (b"content-length", b"0"),
        (b"location", location.encode()),
    ]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
