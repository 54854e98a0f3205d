"""Rendered 2030.5 bodies and client identities, cached by version.

A cacheable GET's bytes are kept per (client, path, query): the client's pk is in every
key, so one client's answer is never another's. Each entry remembers the *generations*
it was rendered at; it is served only while they are all unchanged.

Generations are random 64-bit tokens, shared by every process of an install: in a small
memory-mapped file in VAR_DIR that every process maps (read in microseconds, no round
trip), or in Redis with ``SEP2_CACHE_GENERATIONS=redis`` when processes run on several hosts.
Rendered bytes are kept in the process and, with ``REDIS_URL``, in Redis for the other
workers.
A bump writes a fresh token, so an entry rendered before a change can never match after
it, and two concurrent bumps cannot cancel out.

- ``GLOBAL`` is bumped by every write to a table a cacheable resource (or a client's
  identity) is built from: tenancy.generations' execute wrapper on each database
  connection sees the INSERT/UPDATE/DELETE, whatever wrote it (save, update(),
  bulk_create, raw SQL), and bumps at once and again when the transaction commits.
  UPDATEs that only set columns no resource shows (a device's live telemetry,
  last_seen_at, last_poll_at, reported) do not.
- ``end_device_key(eid)`` is bumped when a client PUTs one of an EndDevice's resources
  (its ``reported`` column), so a DERStatus PUT invalidates that device's copies only.

Identity: the certificate header → ClientIdentity parse is pure and kept as is; the
(LFDI, issuer) → Client row is kept at a GLOBAL generation, so a revocation (an UPDATE of
protocol_client) refuses the certificate from the next request on, in every process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from django.conf import settings

from protocol.xml import SEP_CONTENT_TYPE

# The token store (protocol's callers and tests name it here too).
from tenancy.generations import _FileGenerations as _FileGenerations
from tenancy.generations import bump as bump
from tenancy.generations import generations as generations
from tenancy.generations import generations_path as generations_path
from tenancy.generations import keeps, own_transaction, watch_table
from tenancy.generations import tokens as tokens

logger = logging.getLogger(__name__)

GLOBAL = "w"
MAX_ENTRIES = 50_000
MAX_IDENTITIES = 20_000
REDIS_TTL_S = 3600


def end_device_key(eid: int) -> str:
    return f"e:{eid}"


# --- generations (tenancy.generations: the store every process shares) -------------------

# --- which writes invalidate -----------------------------------------------------------

# Tables cacheable resources and client identities are built from, and the columns of
# each that no cached answer shows (an UPDATE setting only those invalidates nothing).
WATCHED_TABLES: dict[str, frozenset[str]] = {
    "tenancy_utility": frozenset(),
    "programs_program": frozenset(),
    "programs_dispatchgroup": frozenset(),
    # A group's DefaultDERControl, and the DERCurves control modes link.
    "programs_defaultcontrol": frozenset(),
    "programs_curve": frozenset(),
    "programs_participant": frozenset(),
    "programs_event": frozenset(),
    "programs_dispatch": frozenset(),
    "programs_optout": frozenset(),
    # A program's site envelopes: its sites' site DERProgram lists.
    "programs_siteenvelope": frozenset(),
    "vendors_certificateauthority": frozenset(),
    "protocol_client": frozenset({"last_seen_at", "schema_ver"}),
    # `reported` is what a client PUT: end_device_report_store bumps that device only.
    "protocol_enddevice": frozenset({"last_poll_at", "reported"}),
    "protocol_mirrorusagepoint": frozenset(),
    # A device's live telemetry, status and availability: no 2030.5 GET shows them.
    "devices_device": frozenset(
        "soc_pct power_w reactive_var voltage_v frequency_hz telemetry_at last_heard_at "
        "operating_mode storage_connect_status alarms status_at gen_connect_status der_status "
        "der_settings doe_modes_supported doe_modes_enabled stat_w_avail_w "
        "stat_var_avail_var availability_duration_s max_charge_duration_s "
        "reserve_charge_pct reserve_pct_avail availability_at".split()
    ),
}


def watch_writes() -> None:
    """Every write to a watched table bumps GLOBAL (tenancy.generations' execute wrapper,
    the one every kept fact uses; ProtocolConfig.ready calls this)."""
    for table, ignoring in WATCHED_TABLES.items():
        watch_table(table, GLOBAL, ignoring=ignoring)


# --- the caches ------------------------------------------------------------------------


class Lru:
    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def pop(self, key) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class Entry:
    """A rendered 200 answer and what it was rendered against."""

    body: bytes
    etag: str
    last_modified: str
    deps: tuple[str, ...]
    tokens: tuple[int, ...]
    end_device_id: int | None = None
    # When the answer changes by the clock alone (a DERControl's interval starts or ends),
    # as a Unix time: served only before it. None: only a write changes it.
    valid_until: float | None = None
    # The validators as ASGI headers, and a 200's full headers: built once, sent per hit.
    validators: list[tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)
    headers: list[tuple[bytes, bytes]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validators = [
            (b"etag", self.etag.encode()),
            (b"last-modified", self.last_modified.encode()),
        ]
        object.__setattr__(self, "validators", validators)
        object.__setattr__(
            self,
            "headers",
            [
                *validators,
                (b"content-type", SEP_CONTENT_TYPE.encode()),
                (b"content-length", str(len(self.body)).encode()),
            ],
        )

    def fresh(self) -> bool:
        return self.valid_until is None or time.time() < self.valid_until

    def to_bytes(self) -> bytes:
        head = [
            self.etag,
            self.last_modified,
            self.deps,
            self.tokens,
            self.end_device_id,
            self.valid_until,
        ]
        return json.dumps(head).encode() + b"\n" + self.body

    @classmethod
    def from_bytes(cls, raw: bytes) -> Entry:
        head, body = raw.split(b"\n", 1)
        etag, last_modified, deps, toks, eid, valid_until = json.loads(head)
        return cls(body, etag, last_modified, tuple(deps), tuple(toks), eid, valid_until)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


class ResponseCache:
    """Rendered bytes in this process, and in Redis (shared by workers) when configured."""

    PREFIX = "sep2:r:"

    def __init__(self, size: int = MAX_ENTRIES):
        self.local = Lru(size)
        self._redis = None
        self._redis_checked = False

    def _shared(self):
        if not self._redis_checked:
            url = getattr(settings, "REDIS_URL", "")
            if url:
                import redis

                self._redis = redis.Redis.from_url(url, socket_timeout=1.0)
            self._redis_checked = True
        return self._redis

    def get(self, key: str) -> Entry | None:
        entry = self.local.get(key)
        from_shared = entry is None
        if from_shared:
            entry = self._shared_get(key)
            if entry is None:
                return None
        current = tokens(entry.deps)
        if current is None or current != entry.tokens or not entry.fresh():
            self.local.pop(key)
            return None
        if from_shared:
            self.local.put(key, entry)
        return entry

    def _shared_get(self, key: str) -> Entry | None:
        shared = self._shared()
        if shared is None:
            return None
        try:
            raw = shared.get(self.PREFIX + key)
        except Exception:
            return None
        return None if raw is None else Entry.from_bytes(raw)

    def put(self, key: str, entry: Entry) -> None:
        self.local.put(key, entry)
        shared = self._shared()
        if shared is not None:
            try:
                shared.set(self.PREFIX + key, entry.to_bytes(), ex=REDIS_TTL_S)
            except Exception:
                logger.warning("2030.5 response not shared in Redis", exc_info=True)

    def clear(self) -> None:
        self.local.clear()


responses = keeps(ResponseCache())


class ClientCache:
    """(LFDI, issuer) → Client row (with its utility and program), at a GLOBAL token."""

    def __init__(self, size: int = MAX_IDENTITIES):
        self.local = Lru(size)

    def get(self, lfdi: str, issuer: str):
        found = self.local.get((lfdi, issuer))
        if found is None:
            return None
        client, token = found
        current = tokens((GLOBAL,))
        if current is None or current[0] != token:
            self.local.pop((lfdi, issuer))
            return None
        return client

    def put(self, lfdi: str, issuer: str, client, token: int) -> None:
        self.local.put((lfdi, issuer), (client, token))

    def clear(self) -> None:
        self.local.clear()


clients = keeps(ClientCache())
# PEM → DER, and DER → ClientIdentity: pure functions of the bytes.
certificates = Lru(MAX_IDENTITIES)
identities = Lru(MAX_IDENTITIES)


def storable(using: str = "default") -> bool:
    """Whether what this connection reads now may be cached: not inside a transaction of
    its own, which may still roll back what it wrote (a test case's wrapping transaction
    stands for the database as committed)."""
    return not own_transaction(using)


def response_key(client_id: int, path: str, query: str) -> str:
    return f"{client_id}|{path}?{query}"


def if_none_match(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as for GET)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def clear() -> None:
    """Forget everything this process keeps (tests; the tokens stay where they are)."""
    responses.clear()
    clients.clear()
    certificates.clear()
    identities.clear()
