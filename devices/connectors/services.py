"""The Modbus connector's jobs: poll due sites into telemetry, and carry event setpoints.

This is a transport, like ``protocol``: it may import programs and pymodbus; the devices
domain (models, services, selectors) never imports it. Database work happens before and
after one ``asyncio.run`` per job, never inside the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from devices.choices import Channel, CommandKind, SiteStatus
from devices.connectors.sunspec.client import (
    BackoffState,
    SetpointResult,
    SunSpecSite,
    heartbeat,
    poll_sites,
    release_setpoint,
    set_concurrency_limit,
    write_setpoint,
)
from devices.connectors.sunspec.discovery import ModelEntry, ModelMap
from devices.models import ConnectorCommand, ConnectorSite
from devices.services import (
    ERROR_MAX,
    PollRecord,
    Reading,
    connector_command_log,
    connector_sites_claim,
    connector_sites_record_polls,
    telemetry_ingest,
)
from programs.choices import FINAL_STATUSES, EventStatus, ResponseStatus
from programs.models import Dispatch, Event, OptOut
from programs.services import dispatch_readback_record

logger = logging.getLogger(__name__)

SOURCE = "sunspec"
BASE_BACKOFF_S = 5.0
MAX_BACKOFF_S = 300.0


def reversion_s() -> int:
    """How long a device holds a setpoint without hearing from us (SunSpec WSetRvrtTms)."""
    return int(getattr(settings, "CONNECTOR_REVERSION_S", 300))


def _limit_concurrency() -> None:
    set_concurrency_limit(int(getattr(settings, "CONNECTOR_CONCURRENCY", 64)))


# --- Model maps as JSON --------------------------------------------------------------------


def model_map_to_json(model_map: ModelMap) -> dict:
    return {
        "base_address": model_map.base_address,
        "models": [[m.model_id, m.start_address, m.length] for m in model_map.models],
    }


def model_map_from_json(data: dict) -> ModelMap | None:
    try:
        return ModelMap(
            base_address=int(data["base_address"]),
            models=tuple(ModelEntry(int(i), int(a), int(n)) for i, a, n in data["models"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def site_client(row: ConnectorSite) -> SunSpecSite:
    """A pymodbus-backed client for a site row, starting from its stored map and failures."""
    site = SunSpecSite(str(row.pk), row.host, port=row.port, device_id=row.unit_id)
    _take_row_state(site, row)
    return site


def _take_row_state(site: SunSpecSite, row: ConnectorSite) -> None:
    """The row is the truth a round starts from: its model map and its failures."""
    site.model_map = model_map_from_json(row.model_map) if row.model_map else None
    site.backoff = BackoffState(failures=row.failures)


IDLE_CONNECTION_S = 900.0  # a kept connection unused this long is closed


class _PollConnections:
    """The poll job's event loop and its sites' open connections, kept from round to round.

    Beat runs `connectors_poll` every few seconds in the same worker process. With a new
    event loop per round, every poll paid a TCP connect, a pymodbus client and a close
    (with the simulator, as much CPU as the two reads). The process's poll thread keeps one
    `asyncio.Runner`, so the loop and the connections stay open between rounds. The
    database row stays the truth: each round takes the site's failures and model map from
    it, as a new client would. A process made by fork starts afresh (the loop is not the
    child's).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.runner = asyncio.Runner()
        self.sites: dict[int, SunSpecSite] = {}
        self.last_used: dict[int, float] = {}

    def client(self, row: ConnectorSite) -> SunSpecSite:
        """The site's client from the last round when its address is unchanged, else new."""
        kept = self.sites.get(row.pk)
        if kept is None or (kept.host, kept.port, kept.device_id) != (
            row.host,
            row.port,
            row.unit_id,
        ):
            if kept is not None:
                kept.forget_connection()
            kept = self.sites[row.pk] = site_client(row)
        else:
            _take_row_state(kept, row)
            kept.carried_over()
        self.last_used[row.pk] = time.monotonic()
        return kept

    def close_idle(self) -> None:
        cutoff = time.monotonic() - IDLE_CONNECTION_S
        for pk in [pk for pk, used in self.last_used.items() if used < cutoff]:
            self.sites.pop(pk).forget_connection()
            del self.last_used[pk]


_per_thread = threading.local()  # a loop belongs to one thread: the poll thread's


def _kept_connections() -> _PollConnections:
    kept = getattr(_per_thread, "poll", None)
    if kept is None or kept.pid != os.getpid():
        kept = _per_thread.poll = _PollConnections()
    return kept


_pollers: dict[int, ThreadPoolExecutor] = {}  # by process id: a forked child makes its own
_pollers_lock = threading.Lock()


def _poll_thread() -> ThreadPoolExecutor:
    """The process's one polling thread, which keeps the loop and the connections.

    The round's caller stores each batch of readings (its own database connection, its
    transaction) while this thread polls the next batch: storing is mostly waiting on the
    database, polling mostly CPU, so the two overlap instead of adding up.
    """
    with _pollers_lock:
        poller = _pollers.get(os.getpid())
        if poller is None:
            poller = _pollers[os.getpid()] = ThreadPoolExecutor(1, "connector-poll")
        return poller


# --- Polling -------------------------------------------------------------------------------

STORE_BATCH = 250  # sites per store: a batch is stored while the next is polled


@dataclass
class PollSummary:
    """What one polling round did."""

    polled: int = 0
    online: int = 0
    offline: int = 0
    readings_accepted: int = 0
    rejected: int = 0
    ingests: int = 0  # telemetry_ingest calls: one per utility with data per batch


@dataclass
class _Batch:
    """Polled sites' outcomes, ready to store: made in the poll thread, stored by the caller."""

    records: list[PollRecord] = field(default_factory=list)
    readings: dict[int, list[Reading]] = field(default_factory=lambda: defaultdict(list))
    utilities: dict = field(default_factory=dict)


def _batch(rows: list[ConnectorSite], clients: list[SunSpecSite], outcomes, now) -> _Batch:
    batch = _Batch()
    for row, client, outcome in zip(rows, clients, outcomes, strict=True):
        model_map = model_map_to_json(client.model_map) if client.model_map else None
        batch.records.append(
            PollRecord(
                row,
                outcome.online,
                outcome.error,
                outcome.failures,
                outcome.next_attempt_at,
                model_map,
            )
        )
        if outcome.online and row.device_id is not None:
            batch.utilities[row.utility_id] = row.utility
            batch.readings[row.utility_id].extend(
                Reading(device_id=row.device_id, at=now, channel=Channel(name), value=value)
                for name, value in outcome.channels.items()
                if value is not None
            )
    return batch


def _poll_round(rows: list[ConnectorSite], now: datetime, batches: queue.SimpleQueue) -> None:
    """In the poll thread: poll every site, handing each batch over as soon as it is done.
    Ends with None, whatever happens, so the caller never waits for a batch that won't come.
    """
    try:
        kept = _kept_connections()
        kept.close_idle()
        clients = [kept.client(row) for row in rows]
        kept.runner.run(_poll_in_batches(rows, clients, now, batches))
    finally:
        batches.put(None)


async def _poll_in_batches(rows, clients, now, batches: queue.SimpleQueue) -> None:
    _limit_concurrency()
    # Let the loop see connections the devices closed since the last round.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # Every site is polled at once (the concurrency limit queues them in order); each
    # batch is handed over when its last site has answered.
    starts = range(0, len(rows), STORE_BATCH)
    polls = [
        asyncio.ensure_future(
            poll_sites(
                clients[i : i + STORE_BATCH],
                now=now,
                base_backoff_s=BASE_BACKOFF_S,
                max_backoff_s=MAX_BACKOFF_S,
            )
        )
        for i in starts
    ]
    try:
        for i, poll in zip(starts, polls, strict=True):
            outcomes = await poll
            part = slice(i, i + STORE_BATCH)
            batches.put(_batch(rows[part], clients[part], outcomes, now))
    finally:
        for poll in polls:
            poll.cancel()


def _store(batch: _Batch, now: datetime, summary: PollSummary) -> None:
    connector_sites_record_polls(records=batch.records, at=now)
    summary.online += sum(record.ok for record in batch.records)
    summary.offline += sum(not record.ok for record in batch.records)
    for utility_id, readings in batch.readings.items():
        result = telemetry_ingest(
            utility=batch.utilities[utility_id], readings=readings, source=SOURCE
        )
        summary.ingests += 1
        summary.readings_accepted += result.accepted
        summary.rejected += len(result.rejected)


def connectors_poll(*, now: datetime | None = None, limit: int = 5000) -> PollSummary:
    """Poll every due site once, ingest the readings in one batch per utility, record status.

    Sites that do not answer are marked offline (then backoff) and retried after 5 s,
    10 s, 20 s ... up to 5 min; the rest of the round goes on without them. The poll
    thread polls while this thread stores what has been polled, batch by batch, in order;
    every batch is stored once. If a store fails, the sites not yet stored keep their
    lease and are polled again when it ends.
    """
    now = now or timezone.now()
    rows = connector_sites_claim(now=now, limit=limit)
    summary = PollSummary(polled=len(rows))
    if not rows:
        return summary
    batches: queue.SimpleQueue = queue.SimpleQueue()
    polling = _poll_thread().submit(_poll_round, rows, now, batches)
    try:
        while (batch := batches.get()) is not None:
            _store(batch, now, summary)
    finally:
        wait([polling])  # a round never outlives its call
    polling.result()
    return summary


def connector_site_test(*, site: ConnectorSite, now: datetime | None = None) -> ConnectorCommand:
    """Connect, run SunSpec discovery and store the model map; log it as a test command."""
    now = now or timezone.now()
    client = SunSpecSite(str(site.pk), site.host, port=site.port, device_id=site.unit_id)

    async def run():
        try:
            return await client.discover()
        finally:
            await client.close()

    try:
        model_map = asyncio.run(run())
    except Exception as exc:  # any failure is the answer to "does it connect?"
        error = f"{type(exc).__name__}: {exc}"
        return connector_command_log(
            site=site, kind=CommandKind.TEST, at=now, ok=False, error=error
        )
    data = model_map_to_json(model_map)
    site.model_map = data
    site.save(update_fields=["model_map"])
    return connector_command_log(
        site=site,
        kind=CommandKind.TEST,
        at=now,
        ok=True,
        readback={**data, "model_ids": [m.model_id for m in model_map.models]},
    )


# --- Control -------------------------------------------------------------------------------


@dataclass
class _Order:
    row: ConnectorSite
    watts: int | None  # None: release
    reversion_s: int = 0
    event: Event | None = None
    result: SetpointResult | None = None
    error: str = ""
    client: SunSpecSite | None = field(default=None, repr=False)


async def _send(orders: list[_Order]) -> None:
    _limit_concurrency()

    async def one(order: _Order) -> None:
        order.client = site_client(order.row)
        try:
            if order.watts is None:
                order.result = await release_setpoint(order.client)
            else:
                order.result = await write_setpoint(order.client, order.watts, order.reversion_s)
        except Exception as exc:  # one site's failure never stops the others
            order.error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
        finally:
            await order.client.close()

    await asyncio.gather(*(one(order) for order in orders))


def _readback_record(orders: list[_Order], now: datetime) -> None:
    """What the sites read back, on their dispatches: a setpoint taken during the event is
    "started", a release taken after it completed is "completed" (the event page's funnel)."""
    taken: dict[tuple[int, int], list[int]] = defaultdict(list)
    events: dict[int, Event] = {}
    for order in orders:
        if order.event is None or order.result is None or order.row.device_id is None:
            continue
        if order.watts is not None and order.event.status == EventStatus.ACTIVE:
            code = ResponseStatus.STARTED
        elif order.watts is None and order.event.status == EventStatus.COMPLETED:
            code = ResponseStatus.COMPLETED
        else:
            continue
        events[order.event.pk] = order.event
        taken[(order.event.pk, code)].append(order.row.device_id)
    for (event_id, code), device_ids in taken.items():
        dispatch_readback_record(event=events[event_id], device_ids=device_ids, code=code, now=now)


def _log(orders: list[_Order], now: datetime) -> list[ConnectorCommand]:
    _readback_record(orders, now)
    commands = []
    for order in orders:
        kind = CommandKind.RELEASE if order.watts is None else CommandKind.SETPOINT
        readback = {}
        if order.result is not None:
            readback = {"route": order.result.route, **order.result.readback}
        commands.append(
            connector_command_log(
                site=order.row,
                kind=kind,
                at=now,
                ok=order.result is not None,
                requested_w=order.watts,
                readback=readback,
                error=order.error,
                event_id=order.event.pk if order.event else None,
                event_mrid=order.event.mrid if order.event else "",
            )
        )
    return commands


def _setpoint_orders(event: Event, now: datetime) -> list[_Order]:
    remaining = int((event.end - now).total_seconds())
    if remaining <= 0:
        return []
    opted_out = OptOut.objects.filter(event=event).values("device_id")
    dispatches = (
        Dispatch.objects.for_utility(event.utility)
        .filter(event=event, device__connector_site__enabled=True)
        .exclude(device_id__in=opted_out)
        .select_related("device__connector_site")
    )
    # The device reverts by itself at the event's end even if the release never arrives.
    hold_s = max(1, min(reversion_s(), remaining))
    return [
        _Order(row=d.device.connector_site, watts=d.setpoint_w, reversion_s=hold_s, event=event)
        for d in dispatches
    ]


def _release_orders(event: Event) -> list[_Order]:
    # A device that another active event now drives keeps that event's setpoint.
    busy = Dispatch.objects.filter(
        utility_id=event.utility_id, event__status=EventStatus.ACTIVE
    ).values("device_id")
    dispatches = (
        Dispatch.objects.for_utility(event.utility)
        .filter(event=event, device__connector_site__enabled=True)
        .exclude(device_id__in=busy)
        .select_related("device__connector_site")
    )
    return [_Order(row=d.device.connector_site, watts=None, event=event) for d in dispatches]


def connector_event_apply(*, event_id: int, now: datetime | None = None) -> list[ConnectorCommand]:
    """Bring the event's Modbus devices in line with the event's current status.

    Active: write each device's dispatch setpoint with a reversion timer and read it back.
    Completed, cancelled or superseded: release the devices. Otherwise nothing. Reads the
    status from the database, so a repeated or late call does the right thing.
    """
    now = now or timezone.now()
    event = Event.objects.select_related("utility").filter(pk=event_id).first()
    if event is None:
        return []
    if event.status == EventStatus.ACTIVE:
        orders = _setpoint_orders(event, now)
    elif event.status in FINAL_STATUSES:
        orders = _release_orders(event)
    else:
        return []
    if not orders:
        return []
    asyncio.run(_send(orders))
    return _log(orders, now)


@dataclass
class ReassertSummary:
    setpoints: int = 0
    failed: int = 0
    heartbeats: int = 0
    heartbeat_failures: int = 0


def connector_setpoints_reassert(*, now: datetime | None = None) -> ReassertSummary:
    """Rewrite every active event's setpoints (restarting their reversion timers) and beat
    the 715 controller heartbeat of every online site. Run at under half the reversion time.
    """
    now = now or timezone.now()
    orders: list[_Order] = []
    for event in Event.objects.filter(status=EventStatus.ACTIVE).select_related("utility"):
        orders.extend(_setpoint_orders(event, now))
    beat_rows = list(ConnectorSite.objects.filter(enabled=True, status=SiteStatus.ONLINE))
    beats: dict[int, str] = {}

    async def run():
        await _send(orders)

        async def beat(row: ConnectorSite) -> None:
            client = site_client(row)
            try:
                await heartbeat(client)
            except Exception as exc:
                beats[row.pk] = f"{type(exc).__name__}: {exc}"
            finally:
                await client.close()

        await asyncio.gather(*(beat(row) for row in beat_rows))

    asyncio.run(run())
    _log(orders, now)
    summary = ReassertSummary(
        setpoints=sum(o.result is not None for o in orders),
        failed=sum(o.result is None for o in orders),
        heartbeats=len(beat_rows) - len(beats),
        heartbeat_failures=len(beats),
    )
    # Successful heartbeats are routine; only failures are worth a row each.
    for row in beat_rows:
        if row.pk in beats:
            connector_command_log(
                site=row, kind=CommandKind.HEARTBEAT, at=now, ok=False, error=beats[row.pk]
            )
    return summary
