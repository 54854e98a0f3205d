"""The simulated fleet's IEEE 2030.5 client: HTTP/1.1 keep-alive over asyncio streams.

`HttpPool` keeps connections to one server for one client identity: aggregator mode
shares one pool (one client certificate) across all devices, device mode opens one pool
per device certificate. Over plain HTTP to a trusted-proxy ASGI server, the certificate
goes in the proxy header instead (`forwarded_cert_headers`). `Sep2Client` is one device's
conversation through a pool: 2030.5 XML in and out, and the server's Retry-After and the
run of server errors remembered.

This is a transport-side tool: it may use `protocol.xml`, and the domain never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from protocol.xml import SEP_CONTENT_TYPE, parse, serialize


@dataclass
class FleetStats:
    """What the fleet did, for tests and benchmarks."""

    devices: int = 0
    registered: int = 0
    requests: int = 0
    errors: int = 0
    polls: int = 0
    readings_posted: int = 0
    responses: dict[int, int] = field(default_factory=dict)
    controls_seen: set[str] = field(default_factory=set)
    first_seen: dict[str, float] = field(default_factory=dict)  # mRID → monotonic time
    all_seen: dict[str, float] = field(default_factory=dict)  # mRID → when every device had it
    latency_ms: list[float] = field(default_factory=list)
    status_codes: dict[int, int] = field(default_factory=dict)
    mrid_collisions: int = 0  # controls skipped because another device's had that mRID
    elapsed_s: float = 0.0

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0


class HttpError(Exception):
    pass


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(raw)
        await self.writer.drain()
        line = await self.reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        status = int(line.split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                body += await self.reader.readexactly(size)
                await self.reader.readline()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class HttpPool:
    """Keep-alive HTTP/1.1 connections to one server for one client identity."""

    def __init__(
        self,
        base_url: str,
        *,
        size: int,
        ssl_context: ssl.SSLContext | None,
        extra_headers: dict[str, str],
        stats: FleetStats,
        source_address: str | None = None,
    ):
        """`source_address`: the local address to connect from (a field client's)."""
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl_context if parts.scheme == "https" else None
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in extra_headers.items())
        self.idle: asyncio.LifoQueue[_Connection | None] = asyncio.LifoQueue()
        for _ in range(size):
            self.idle.put_nowait(None)
        self.stats = stats
        self.open: list[_Connection] = []
        self.local_addr = (source_address, 0) if source_address else None

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.ssl, limit=1 << 20, local_addr=self.local_addr
        )
        conn = _Connection(reader, writer)
        self.open.append(conn)
        return conn

    async def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        path = _path_of(path)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}"
        if body is not None:
            head += f"Content-Type: {SEP_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n"
        raw = (head + "\r\n").encode("latin-1") + (body or b"")
        conn = await self.idle.get()
        try:
            for attempt in range(2):
                if conn is None or conn.closed:
                    conn = await self._connect()
                started = time.monotonic()
                try:
                    status, headers, content = await conn.request(raw)
                except (ConnectionError, asyncio.IncompleteReadError, OSError):
                    conn.close()
                    conn = None
                    if attempt:
                        self.stats.errors += 1
                        raise
                    continue
                self.stats.requests += 1
                self.stats.latency_ms.append((time.monotonic() - started) * 1000)
                self.stats.status_codes[status] = self.stats.status_codes.get(status, 0) + 1
                return status, headers, content
            raise HttpError("unreachable")
        finally:
            self.idle.put_nowait(conn)

    def close(self) -> None:
        for conn in self.open:
            conn.close()


def _path_of(href: str) -> str:
    parts = urlsplit(href)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def tls_context(*, ca_path, cert, key) -> ssl.SSLContext:
    """A client TLS context trusting `ca_path`, presenting `cert` when there is one."""
    context = ssl.create_default_context(cafile=str(ca_path) if ca_path else None)
    context.check_hostname = False
    if cert:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


def forwarded_cert_headers(pem: bytes | None) -> dict[str, str]:
    """The trusted proxy's headers carrying client certificate `pem` (none without one),
    with this install's proxy secret: only a process that can read it stands in for nginx."""
    from protocol.transport import proxy_headers

    return proxy_headers(pem) if pem else {}


def lfdi_of_pem(pem: bytes) -> str:
    """The LFDI of a PEM certificate (the first 40 hex digits of its DER's SHA-256)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()[:40].upper()


class Sep2Client:
    """One device's 2030.5 requests through a (possibly shared) pool."""

    def __init__(self, pool: HttpPool, *, gate: asyncio.Semaphore | None, stats: FleetStats):
        self.pool, self.gate, self.stats = pool, gate, stats
        self.retry_at = 0.0  # monotonic time before which the server asked us not to call
        self.failures = 0  # errors in a row

    async def call(self, method, path, body=None):
        if self.gate is None:
            answer = await self.pool.request(method, path, body)
        else:
            async with self.gate:
                answer = await self.pool.request(method, path, body)
        status, headers, _ = answer
        self.failures = self.failures + 1 if status >= 500 else 0  # server errors in a row
        retry = headers.get("retry-after", "")
        if status == 503 and retry.isdigit():
            self.retry_at = time.monotonic() + int(retry)
        return answer

    async def get(self, path, cls=None):
        status, _, content = await self.call("GET", path)
        if status != 200:
            raise HttpError(f"GET {path}: {status} {content[:200]!r}")
        return parse(content, cls)

    async def send(self, method, path, obj, expect=(200, 201, 204)):
        status, headers, content = await self.call(method, path, serialize(obj))
        if status not in expect:
            self.stats.errors += 1
            raise HttpError(f"{method} {path}: {status} {content[:300]!r}")
        return status, headers

    async def put_linked(self, link, obj) -> None:
        """PUT `obj` to the resource `link` names, when the server offers the link."""
        if link:
            await self.send("PUT", link.href, obj)
