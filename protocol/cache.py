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
  identity) is built from: an execute wrapper on each database connection sees the
  INSERT/UPDATE/DELETE, whatever wrote it (save, update(), bulk_create, raw SQL), and
  bumps at once and again when the transaction commits. UPDATEs that only set columns no
  resource shows (a device's live telemetry, last_seen_at, last_poll_at, reported) do not.
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
import mmap
import os
import re
import secrets
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

GLOBAL = "w"
MAX_ENTRIES = 50_000
MAX_IDENTITIES = 20_000
REDIS_TTL_S = 3600


def end_device_key(eid: int) -> str:
    return f"e:{eid}"


# --- generations -----------------------------------------------------------------------


class _FileGenerations:
    """Tokens in a memory-mapped file every process of this host shares (no Redis).

    Keys hash to one of SLOTS slots; two keys sharing a slot only invalidate each other
    more often than needed. Aligned 8-byte reads and writes need no lock.
    """

    SLOTS = 1 << 16

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = self.SLOTS * 8
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)

    @staticmethod
    @lru_cache(maxsize=65536)
    def _offset(key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        return (int.from_bytes(digest, "little") % _FileGenerations.SLOTS) * 8

    def get_many(self, keys: Sequence[str]) -> list[int]:
        out = []
        for key in keys:
            offset = self._offset(key)
            value = struct.unpack_from("<Q", self._map, offset)[0]
            if value == 0:  # never bumped: make it a token, so 0 is never cached against
                value = self._write(offset)
            out.append(value)
        return out

    def _write(self, offset: int) -> int:
        value = secrets.randbits(64) | 1
        struct.pack_into("<Q", self._map, offset, value)
        return value

    def bump(self, keys: Iterable[str]) -> None:
        for key in set(keys):
            self._write(self._offset(key))


class _RedisGenerations:
    """Tokens in Redis: every host and process of the install sees the same ones."""

    PREFIX = "sep2:gen:"

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0)

    def get_many(self, keys: Sequence[str]) -> list[int]:
        names = [self.PREFIX + k for k in keys]
        values = self._redis.mget(names)
        missing = [n for n, v in zip(names, values, strict=True) if v is None]
        if missing:
            # A missing token (never bumped, or Redis restarted) becomes a fresh one first,
            # so an entry cached against "missing" cannot match again after a restart.
            pipe = self._redis.pipeline(transaction=False)
            for name in missing:
                pipe.set(name, secrets.randbits(63) | 1, nx=True)
            pipe.execute()
            values = self._redis.mget(names)
        return [int(v) for v in values if v is not None]

    def bump(self, keys: Iterable[str]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key in set(keys):
            pipe.set(self.PREFIX + key, secrets.randbits(63) | 1)
        pipe.execute()


_generations: _FileGenerations | _RedisGenerations | None = None
_generations_lock = threading.Lock()


def generations_path() -> Path:
    """The install's token file for this database, in VAR_DIR (which every process of an
    install shares, like the embedded broker's directory; never a world-writable one:
    whoever can write the tokens can keep a revoked client's identity cached)."""
    db = settings.DATABASES["default"]
    name = "|".join(str(db.get(k) or "") for k in ("ENGINE", "HOST", "PORT", "NAME"))
    digest = hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
    return Path(settings.VAR_DIR) / f"sep2-generations-{digest}.bin"


def generations() -> _FileGenerations | _RedisGenerations:
    """Where the tokens live: SEP2_CACHE_GENERATIONS "file" (the default; every process
    of the install runs on this host, as `make run` and deploy/ have it) or "redis"
    (processes on several hosts; needs REDIS_URL)."""
    global _generations
    if _generations is None:
        with _generations_lock:
            if _generations is None:
                url = getattr(settings, "REDIS_URL", "")
                kind = getattr(settings, "SEP2_CACHE_GENERATIONS", "file")
                _generations = (
                    _RedisGenerations(url)
                    if kind == "redis" and url
                    else _FileGenerations(generations_path())
                )
    return _generations


def tokens(keys: Sequence[str]) -> tuple[int, ...] | None:
    """The keys' current tokens, or None when the store cannot be read (do not cache)."""
    try:
        return tuple(generations().get_many(keys))
    except Exception:  # Redis away: serve uncached, never stale
        logger.warning("2030.5 cache generations unavailable", exc_info=True)
        return None


def bump(*keys: str, using: str = "default") -> None:
    """Invalidate everything rendered against `keys`: now, and again after the commit
    (a reader between the two may have rendered the uncommitted past)."""
    _bump(keys)
    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _bump(keys), using=using)


def _bump(keys: Sequence[str]) -> None:
    try:
        generations().bump(keys)
    except Exception:
        # Nothing can be served against a store we cannot read either (tokens() -> None),
        # but entries kept in this process would survive: drop them.
        logger.exception("2030.5 cache generations could not be bumped; clearing")
        responses.clear()
        clients.clear()


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
_WRITE = re.compile(r'\s*(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
# A top-level assignment in an UPDATE's SET list: `SET "col" = ` or `, "col" = `.
_ASSIGNED = re.compile(r'(?:\bSET|,)\s*"?(\w+)"?\s*=(?!=)', re.IGNORECASE)


def write_invalidates(sql: str) -> bool:
    """Whether this statement writes something a cached answer shows."""
    if not sql or sql.lstrip()[:1] not in "UuIiDd":
        return False
    match = _WRITE.match(sql)
    if match is None:
        return False
    ignored = WATCHED_TABLES.get(match.group(2).lower())
    if ignored is None:
        return False
    if match.group(1).upper() != "UPDATE" or not ignored:
        return True
    upper = sql.upper()
    where = upper.find(" WHERE ")
    set_list = sql[match.end() : where if where != -1 else len(sql)]
    assigned = _ASSIGNED.findall(set_list)
    return not assigned or any(column not in ignored for column in assigned)


def _watch_writes(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if write_invalidates(sql):
        bump(GLOBAL, using=context["connection"].alias)
    return result


def install_write_watch(connection, **kwargs) -> None:
    """connection_created receiver: watch this connection's writes (once)."""
    if _watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch_writes)


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
        if entry is None:
            shared = self._shared()
            if shared is None:
                return None
            try:
                raw = shared.get(self.PREFIX + key)
            except Exception:
                return None
            if raw is None:
                return None
            entry = Entry.from_bytes(raw)
        current = tokens(entry.deps)
        if current is None or current != entry.tokens or not entry.fresh():
            self.local.pop(key)
            return None
        self.local.put(key, entry)
        return entry

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


responses = ResponseCache()


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


clients = ClientCache()
# PEM → DER, and DER → ClientIdentity: pure functions of the bytes.
certificates = Lru(MAX_IDENTITIES)
identities = Lru(MAX_IDENTITIES)


def storable(using: str = "default") -> bool:
    """Whether what this connection reads now may be cached: not inside a transaction of
    its own, which may still roll back what it wrote (a test case's wrapping transaction
    stands for the database as committed)."""
    blocks = transaction.get_connection(using).atomic_blocks
    return all(getattr(block, "_from_testcase", False) for block in blocks)


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
