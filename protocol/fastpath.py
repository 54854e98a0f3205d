"""The 2030.5 listener's fast path: a GET whose answer is cached, served without Django.

It answers only what SepView.dispatch would answer from protocol.cache, by the same rules:
the forwarded certificate is believed only from a trusted proxy with the proxy secret,
the client must be cached (a GLOBAL token still current) and entitled now (`refusal`);
the answer must be cached for this client, path and query. The contact and the
EndDevice's poll are noted in memory as Django notes them (protocol.seen writes them in
sets). Anything else (a first contact, an error to explain, a conformance run recording,
a simulated outage) goes to Django.

GET /tm is never cached (the clock changes every second) but needs nothing from the
database once the client is known: it is rendered here from the cached client's utility
zone and program poll rate (both loaded with the identity, under the same GLOBAL token).
"""

from datetime import datetime
from urllib.parse import unquote

from django.utils import timezone

from protocol import cache, seen
from protocol.fsets.base import client_poll_rate, client_profile, issuer_common_name, refusal
from protocol.fsets.dcap import TimeView
from protocol.managers.time import time_body
from protocol.models import Client
from protocol.transport import is_trusted_proxy, proxy_secret_matches
from protocol.xml import SEP_CONTENT_TYPE

WANTED_HEADERS = {
    b"x-ssl-client-cert": "cert",
    b"x-reservoir-proxy-secret": "secret",
    b"x-ssl-client-verify": "verify",
    b"if-none-match": "condition",
}
CONTENT_TYPE = SEP_CONTENT_TYPE.encode()


def cacheable(match) -> bool:
    """Whether the resolved view answers its GETs from the cache."""
    view_class = getattr(match.func, "view_class", None)
    if view_class is None:
        return False
    initkwargs = getattr(match.func, "view_initkwargs", {})
    return bool(initkwargs.get("cacheable", getattr(view_class, "cacheable", False)))


def known_client(
    scope, methods: tuple[str, ...] = ("GET", "HEAD"), wanted: dict[bytes, str] = WANTED_HEADERS
) -> tuple[Client, dict[str, str], datetime] | None:
    """(the cached client, the headers read, now) when SepView would serve it without a
    write of its own (entitled, not recorded, not in a simulated outage); else None: ask
    Django. `wanted`: the headers to read (header name -> key)."""
    if scope["method"] not in methods:
        return None
    extensions = scope.get("extensions") or {}
    if (extensions.get("tls") or {}).get("client_cert_chain"):
        return None  # a certificate from the TLS extension: Django reads it
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = wanted.get(name.lower())
        if key is not None:
            found[key] = value.decode("latin-1")
    header = found.get("cert")
    peer = (scope.get("client") or ("",))[0]
    if not header or not is_trusted_proxy(peer) or not proxy_secret_matches(found.get("secret")):
        return None
    if found.get("verify", "SUCCESS") != "SUCCESS":
        return None
    der = cache.certificates.get(header)  # the header as sent, once seen
    if der is None:
        der = cache.certificates.get(unquote(header))
        if der:
            cache.certificates.put(header, der)
    identity = cache.identities.get(der) if der else None
    if identity is None:
        return None
    client = cache.clients.get(identity.lfdi, issuer_common_name(identity))
    now = timezone.now()
    if client is None or refusal(client, identity, now) is not None:
        return None
    if client.recording_run_id is not None:
        return None
    if client.outage_until is not None and now < client.outage_until:
        return None
    return client, found, now


def lookup(scope) -> tuple[cache.Entry, bool] | None:
    """(the cached answer, whether the client holds it already), or None: ask Django."""
    known = known_client(scope)
    if known is None:
        return None
    client, found, now = known
    query = scope.get("query_string", b"").decode()
    entry = cache.responses.get(cache.response_key(client.pk, scope["path"], query))
    if entry is None:
        return None
    seen.client_seen(client_id=client.pk, at=now)
    if entry.end_device_id is not None:
        seen.end_device_polled(end_device_id=entry.end_device_id, at=now)
    return entry, cache.if_none_match(found.get("condition"), entry.etag)


def is_time(match) -> bool:
    """Whether the resolved view is /tm (rendered per request, never cached)."""
    return getattr(match.func, "view_class", None) is TimeView


def time_lookup(scope) -> bytes | None:
    """/tm's body for a known client, as TimeView renders it (the clock, the utility's
    zone and the program's poll rate: no database), or None: ask Django."""
    known = known_client(scope)
    if known is None:
        return None
    client, _, now = known
    seen.client_seen(client_id=client.pk, at=now)
    return time_body(
        zone_name=client.utility.timezone,
        now=now,
        poll_rate=client_poll_rate(client),
        profile=client_profile(client),
    )


async def send_body(scope, send, body: bytes) -> None:
    """A 200 2030.5 answer with no validators (TimeView's)."""
    headers = [(b"content-type", CONTENT_TYPE), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def send_entry(scope, send, entry: cache.Entry, not_modified: bool) -> None:
    headers = [(b"etag", entry.etag.encode()), (b"last-modified", entry.last_modified.encode())]
    if not_modified:
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [
        (b"content-type", CONTENT_TYPE),
        (b"content-length", str(len(entry.body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    body = b"" if scope["method"] == "HEAD" else entry.body
    await send({"type": "http.response.body", "body": body})
