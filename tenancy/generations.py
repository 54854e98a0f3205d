"""Generation tokens every process of an install shares, and the writes that bump them.

A token is a random 64-bit number per key. Whatever is built from the database can be kept
in a process together with the tokens it was built at, and used while they are unchanged:
reading them costs no round trip (a memory-mapped file in VAR_DIR, the default), or one
Redis MGET (``SEP2_CACHE_GENERATIONS=redis``, processes on several hosts). A bump writes a
fresh token, so what was built before a change can never match after it, and two
concurrent bumps cannot cancel out.

`watch_table` ties a key to a table: an execute wrapper on every database connection bumps
it on each INSERT/UPDATE/DELETE of that table, whatever issued it (save, update(),
bulk_create, raw SQL), at once and again after the commit. `Fact` keeps a per-key answer
at its token. protocol.cache keeps rendered 2030.5 answers by the same tokens.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import re
import secrets
import struct
import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")


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
        logger.warning("cache generations unavailable", exc_info=True)
        return None


# What a process keeps against tokens, forgotten when a bump fails (see _bump).
_kept: list[Any] = []


def keeps(store: Any) -> Any:
    """Register a store (with a ``clear()``) of things kept against tokens in this process."""
    _kept.append(store)
    return store


def bump(*keys: str, using: str = "default") -> None:
    """Invalidate everything built against `keys`: now, and again after the commit (a
    reader between the two may have built from the uncommitted past)."""
    _bump(keys)
    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        bumped = tuple(keys)

        def after_commit() -> None:
            _bump(bumped)

        after_commit.bumps = bumped  # type: ignore[attr-defined]  # for bump_pending
        transaction.on_commit(after_commit, using=using)


def _bump(keys: Sequence[str]) -> None:
    try:
        generations().bump(keys)
    except Exception:
        # Nothing can be used against a store we cannot read either (tokens() -> None),
        # but what this process keeps would survive: drop it.
        logger.exception("cache generations could not be bumped; clearing")
        for store in _kept:
            store.clear()


def bump_pending(key: str, using: str = "default") -> bool:
    """Whether this connection's open transaction bumped `key` and has not committed: what
    it reads may roll back, so nothing read now may be kept against the token."""
    connection = transaction.get_connection(using)
    return any(key in getattr(func, "bumps", ()) for _, func, _ in connection.run_on_commit)


def own_transaction(using: str = "default") -> bool:
    """Whether this connection is inside a transaction of its own, which may still roll
    back (a test case's wrapping transaction stands for the database as committed)."""
    blocks = transaction.get_connection(using).atomic_blocks
    return not all(getattr(block, "_from_testcase", False) for block in blocks)


# --- the writes that bump --------------------------------------------------------------

# table -> the keys a write to it bumps (registered by the apps that keep facts).
_TABLE_KEYS: dict[str, list[tuple[str, frozenset[str]]]] = {}
_WRITE = re.compile(r'\s*(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
# A top-level assignment in an UPDATE's SET list: `SET "col" = ` or `, "col" = `.
_ASSIGNED = re.compile(r'(?:\bSET|,)\s*"?(\w+)"?\s*=(?!=)', re.IGNORECASE)


def watch_table(table: str, key: str, *, ignoring: frozenset[str] = frozenset()) -> None:
    """Every INSERT/UPDATE/DELETE of `table` bumps `key`, but an UPDATE setting only columns
    in `ignoring` (call it from AppConfig.ready)."""
    watches = _TABLE_KEYS.setdefault(table, [])
    if all(watched != key for watched, _ in watches):
        watches.append((key, ignoring))


def bumped_by(sql: str) -> list[str]:
    """The watched keys this statement bumps (none but for a plain INSERT/UPDATE/DELETE)."""
    if not sql or sql.lstrip()[:1] not in "UuIiDd":
        return []
    match = _WRITE.match(sql)
    if match is None:
        return []
    watches = _TABLE_KEYS.get(match.group(2).lower())
    if not watches:
        return []
    keys = [key for key, ignoring in watches if not ignoring]
    if len(keys) < len(watches):
        if match.group(1).upper() != "UPDATE":
            return [key for key, _ in watches]
        where = sql.upper().find(" WHERE ")
        assigned = _ASSIGNED.findall(sql[match.end() : where if where != -1 else len(sql)])
        keys += [
            key
            for key, ignoring in watches
            if ignoring and (not assigned or any(c not in ignoring for c in assigned))
        ]
    return keys


def _watch_writes(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    keys = bumped_by(sql)
    if keys:
        bump(*keys, using=context["connection"].alias)
    return result


def install_write_watch(connection, **kwargs) -> None:
    """connection_created receiver: watch this connection's writes (once)."""
    if _watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch_writes)


# --- facts kept at a token -------------------------------------------------------------


Token = tuple[int, ...]


class Fact(Generic[T]):
    """An answer per argument (a utility's id, say), kept in this process while the tokens
    of `keys` are unchanged: no query while nothing that changes the answer was written
    (the writes to the tables watched for those keys).

    Read the token (`token()`) before reading the database, and keep what was read at that
    token (`keep`): a write that lands meanwhile leaves the answer kept against a token
    that is already stale. Inside a transaction of its own that wrote a watched table,
    nothing is kept (it may roll back).
    """

    def __init__(self, *keys: str, size: int = 10_000):
        self.keys = keys
        self.size = size
        self._data: dict[Hashable, tuple[Token, T]] = {}
        self._lock = threading.Lock()
        keeps(self)

    def token(self) -> Token | None:
        return tokens(self.keys)

    def kept(self, arg: Hashable, token: Token | None) -> T | None:
        """The answer kept for `arg` at `token`, or None."""
        found = self._data.get(arg)
        if token is None or found is None or found[0] != token:
            return None
        return found[1]

    def keep(self, arg: Hashable, token: Token | None, value: T, using: str = "default") -> None:
        if token is None or (
            own_transaction(using) and any(bump_pending(key, using) for key in self.keys)
        ):
            return
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[arg] = (token, value)

    def get(self, arg: Hashable, compute: Callable[[], T], using: str = "default") -> T:
        """The answer for `arg`: kept, or computed (and kept)."""
        token = self.token()
        found = self.kept(arg, token)
        if found is not None:
            return found
        value = compute()
        self.keep(arg, token, value, using)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
