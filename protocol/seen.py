"""When each 2030.5 client was last seen and each EndDevice last polled, written in sets.

A poll used to write its own UPDATE whenever the last note was a minute old: at 1,000
requests a second that is a steady stream of single-row writes, each one a request that
waited on PostgreSQL (the p99 spikes of issue 18), and it kept the fast path from answering
any request that was "due". Now a request only notes the time in this process (a dict
entry, no database), and a flusher writes every note once per ``SEP2_SEEN_FLUSH_S`` in one
``UPDATE … FROM (VALUES …)`` per table (per FLUSH_BATCH rows), never moving a value back.

The bound the portal's "last seen" and "last poll" keep: while a 2030.5 listener runs, a
contact is in the database at most ``SEP2_SEEN_FLUSH_S`` seconds (default 10) after it
happened, plus the time of that UPDATE. A clean exit writes what is left (atexit); a
killed process loses at most its last interval's notes (the next poll notes them again).

The flusher runs only where ``flush_in_background()`` was called: the 2030.5 listener
(portal.asgi_sep2). Elsewhere (tests, a shell) notes wait for ``flush()``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from protocol.models import Client, EndDevice

logger = logging.getLogger(__name__)

# Rows per UPDATE: two parameters each, well under every backend's parameter limit.
FLUSH_BATCH = 1000


class ContactLedger:
    """The contacts noted in this process since the last flush: (table column) → id → time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, datetime] = {}
        self._end_devices: dict[int, datetime] = {}

    def client_seen(self, client_id: int, at: datetime) -> None:
        with self._lock:
            held = self._clients.get(client_id)
            if held is None or at > held:
                self._clients[client_id] = at

    def end_device_polled(self, end_device_id: int, at: datetime) -> None:
        with self._lock:
            held = self._end_devices.get(end_device_id)
            if held is None or at > held:
                self._end_devices[end_device_id] = at

    def pending(self) -> int:
        return len(self._clients) + len(self._end_devices)

    def take(self) -> tuple[dict[int, datetime], dict[int, datetime]]:
        """Everything noted so far; the ledger starts again empty."""
        with self._lock:
            taken = self._clients, self._end_devices
            self._clients, self._end_devices = {}, {}
        return taken

    def give_back(self, clients: dict[int, datetime], end_devices: dict[int, datetime]) -> None:
        """Notes a failed flush took: kept for the next one (newer notes win)."""
        for client_id, at in clients.items():
            self.client_seen(client_id, at)
        for end_device_id, at in end_devices.items():
            self.end_device_polled(end_device_id, at)

    def clear(self) -> None:
        self.take()

    def reset_after_fork(self) -> None:
        # The parent writes what it noted; the child starts empty, with a lock of its own
        # (another thread may have held the parent's at the fork).
        self._lock = threading.Lock()
        self._clients, self._end_devices = {}, {}


ledger = ContactLedger()


def client_seen(*, client_id: int, at: datetime) -> None:
    """Note a client's request (written by the next flush)."""
    ledger.client_seen(client_id, at)
    _flusher.ensure_running()


def end_device_polled(*, end_device_id: int, at: datetime) -> None:
    """Note a poll of one of an EndDevice's resources (written by the next flush)."""
    ledger.end_device_polled(end_device_id, at)
    _flusher.ensure_running()


def _update_sql(table: str, column: str, rows: int) -> str:
    """One UPDATE setting `column` from a VALUES list of (id, time), only forwards.

    VALUES names its columns column1, column2 on PostgreSQL and SQLite alike; PostgreSQL
    is told the types (a bound parameter in VALUES is otherwise text).
    """
    row = "(%s::bigint, %s::timestamptz)" if connection.vendor == "postgresql" else "(%s, %s)"
    return (
        f'UPDATE "{table}" SET "{column}" = v.column2 '  # noqa: S608 -- our own names
        f"FROM (VALUES {', '.join([row] * rows)}) AS v "
        f'WHERE "{table}"."id" = v.column1 '
        f'AND ("{table}"."{column}" IS NULL OR "{table}"."{column}" < v.column2)'
    )


def _write(model, column: str, noted: dict[int, datetime]) -> int:
    """Write `noted` into `model.column` (one statement per FLUSH_BATCH); rows changed."""
    adapt = connection.ops.adapt_datetimefield_value
    items = sorted(noted.items())  # one lock order for every process's flush
    changed = 0
    with connection.cursor() as cursor:
        for start in range(0, len(items), FLUSH_BATCH):
            batch = items[start : start + FLUSH_BATCH]
            params: list = []
            for pk, at in batch:
                params += [pk, adapt(at)]
            cursor.execute(_update_sql(model._meta.db_table, column, len(batch)), params)
            changed += max(cursor.rowcount, 0)
    return changed


def flush() -> int:
    """Write every contact noted so far (what the flusher does each interval); rows changed.

    A failure (the database away, a deadlock with another process's flush) keeps the notes
    for the next flush.
    """
    clients, end_devices = ledger.take()
    if not clients and not end_devices:
        return 0
    try:
        with transaction.atomic():
            return _write(Client, "last_seen_at", clients) + _write(
                EndDevice, "last_poll_at", end_devices
            )
    except DatabaseError:
        logger.warning("2030.5 last-seen flush failed; kept for the next one", exc_info=True)
        ledger.give_back(clients, end_devices)
        return 0


def flush_interval_s() -> float:
    return float(getattr(settings, "SEP2_SEEN_FLUSH_S", 10))


class _Flusher:
    """The thread that flushes every interval, in processes that asked for one."""

    def __init__(self) -> None:
        self.enabled = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._stop.clear()
                thread = threading.Thread(target=self._run, name="sep2-seen-flush", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        while not self._stop.wait(flush_interval_s()):
            self._tick()
        self._tick()

    def _tick(self) -> None:
        try:
            flush()
        except Exception:
            logger.exception("2030.5 last-seen flush")
        finally:
            connection.close()  # this thread's connection goes back (to the pool)

    def stop(self, timeout_s: float = 10) -> None:
        """Stop the thread after a last flush (the process is exiting, or a test ends)."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout_s)
        self._thread = None

    def forget_after_fork(self) -> None:
        # A forked child has no thread: it starts its own on its first note.
        self._thread = None
        self._lock = threading.Lock()
        ledger.reset_after_fork()


_flusher = _Flusher()
os.register_at_fork(after_in_child=_flusher.forget_after_fork)


def flush_in_background(enabled: bool = True) -> None:
    """Have this process flush every SEP2_SEEN_FLUSH_S from its first note on, and once
    more at exit (the 2030.5 listener calls this at import)."""
    _flusher.enabled = enabled
    if not enabled:
        _flusher.stop()


@atexit.register
def _flush_at_exit() -> None:
    if _flusher.enabled:
        _flusher.stop()
