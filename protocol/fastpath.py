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

import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone

from protocol import cache, seen
from protocol.fsets.base import client_poll_rate, client_profile, issuer_common_name, refusal
from protocol.fsets.dcap import TimeView
from protocol.managers.time import time_body
from protocol.models import Client
from protocol.transport import is_trusted_proxy, proxy_secret_matches
from protocol.xml import SEP_CONTENT_TYPE
from tenancy.generations import Fact, Token

# The request headers known_client reads, by their place in the list it returns.
CERT, SECRET, VERIFY, IF_NONE_MATCH, BODY_TYPE, BODY_LENGTH = range(6)
_WANTED = {
    b"x-ssl-client-cert": CERT,
    b"x-reservoir-proxy-secret": SECRET,
    b"x-ssl-client-verify": VERIFY,
    b"if-none-match": IF_NONE_MATCH,
    b"content-type": BODY_TYPE,
    b"content-length": BODY_LENGTH,
}
READS = frozenset(("GET", "HEAD"))
CONTENT_TYPE = SEP_CONTENT_TYPE.encode()
# A pass is found by the header's last bytes (the end of the certificate's signature):
# hashing 64 bytes, not the 1.5 kB header, and one comparison of the whole header after.
_TAIL = 64


def cacheable(match) -> bool:
    """Whether the resolved view answers its GETs from the cache."""
    view_class = getattr(match.func, "view_class", None)
    if view_class is None:
        return False
    initkwargs = getattr(match.func, "view_initkwargs", {})
    return bool(initkwargs.get("cacheable", getattr(view_class, "cacheable", False)))


@dataclass(frozen=True, slots=True)
class _Pass:
    """A certificate header the full check accepted from this proxy hop: its client may act
    while the GLOBAL token it was kept at is unchanged (nothing the client, its utility or
    CA is built from changed) and the clock is within [opens, closes] (the certificate's
    validity, the client's recorded expiry, the end of a simulated outage)."""

    header: bytes
    secret: bytes
    client: Client
    opens: float
    closes: float


# (proxy hop, the header's tail) -> _Pass. Bounded: a pass is made only for a cached client.
_passes: Fact[_Pass] = Fact(cache.GLOBAL, size=cache.MAX_IDENTITIES)


@receiver(setting_changed)
def _forget_passes(*, setting, **kwargs) -> None:
    """The proxy rules (trusted hops, secret) are read when a pass is made: a change of
    them (tests override them) forgets every pass."""
    if setting.startswith("SEP2_"):
        _passes.clear()


def _headers(scope) -> list[bytes | None]:
    """The headers of _WANTED as sent, at their places (CERT, ...); None where absent."""
    found: list[bytes | None] = [None] * len(_WANTED)
    for name, value in scope["headers"]:
        index = _WANTED.get(name)
        if index is None and not name.islower():
            index = _WANTED.get(name.lower())
        if index is not None:
            found[index] = value
    return found


def known_client(
    scope, methods: frozenset[str] = READS
) -> tuple[Client, list[bytes | None], datetime] | None:
    """(the cached client, the headers read (see _headers), now) when SepView would serve
    it without a write of its own (entitled, not recorded, not in a simulated outage);
    else None: ask Django."""
    if scope["method"] not in methods:
        return None
    extensions = scope.get("extensions")
    if extensions and (extensions.get("tls") or {}).get("client_cert_chain"):
        return None  # a certificate from the TLS extension: Django reads it
    headers = _headers(scope)
    cert, secret, verify = headers[CERT], headers[SECRET], headers[VERIFY]
    if not cert or (verify is not None and verify != b"SUCCESS"):
        return None
    peer = (scope.get("client") or ("",))[0]
    token = _passes.token()
    if token is None:
        return None
    passed = _passes.kept((peer, cert[-_TAIL:]), token)
    now = time.time()
    if (
        passed is None
        or passed.header != cert
        or not secret
        or not hmac.compare_digest(secret, passed.secret)
    ):
        passed = _admit(peer, cert, secret, token)
        if passed is None:
            return None
    if not passed.opens <= now <= passed.closes:
        return None
    return passed.client, headers, datetime.fromtimestamp(now, UTC)


def _admit(peer: str, cert: bytes, secret: bytes | None, token: Token) -> _Pass | None:
    """The full check, as SepView makes it (trusted hop, proxy secret, cached client,
    `refusal` now): a pass for this header, or None."""
    presented = secret.decode("latin-1") if secret else None
    if not is_trusted_proxy(peer) or not proxy_secret_matches(presented):
        return None
    header = cert.decode("latin-1")
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
    certificate = identity.certificate
    closes = certificate.not_valid_after_utc.timestamp()
    if client.cert_not_after is not None:
        closes = min(closes, client.cert_not_after.timestamp())
    opens = certificate.not_valid_before_utc.timestamp()
    if client.outage_until is not None:
        opens = max(opens, client.outage_until.timestamp())
    passed = _Pass(cert, secret or b"", client, opens, closes)
    _passes.keep((peer, cert[-_TAIL:]), token, passed)
    return passed


def lookup(scope) -> tuple[cache.Entry, bool] | None:
    """(the cached answer, whether the client holds it already), or None: ask Django."""
    known = known_client(scope)
    if known is None:
        return None
    client, headers, now = known
    client_id = client.id
    query = scope.get("query_string", b"").decode()
    entry = cache.responses.get(cache.response_key(client_id, scope["path"], query))
    if entry is None:
        return None
    seen.client_seen(client_id=client_id, at=now)
    if entry.end_device_id is not None:
        seen.end_device_polled(end_device_id=entry.end_device_id, at=now)
    condition = headers[IF_NONE_MATCH]
    if condition is None:
        return entry, False
    return entry, cache.if_none_match(condition.decode("latin-1"), entry.etag)


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
    if not_modified:
        await send({"type": "http.response.start", "status": 304, "headers": entry.validators})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
    body = b"" if scope["method"] == "HEAD" else entry.body
    await send({"type": "http.response.body", "body": body})
