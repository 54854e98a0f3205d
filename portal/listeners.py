"""The two HTTP listeners and what each may see.

- The portal listener (`portal.asgi:application`) serves people and the REST API. It never
  routes a 2030.5 path and strips the TLS proxy's headers (X-SSL-Client-Cert*,
  X-Reservoir-Proxy-Secret) from every request, so nothing reaching it can pose as a
  certificate holder. It runs with --proxy-headers for its own reverse proxy.
- The 2030.5 listener (`portal.asgi_sep2:application`) serves only the 2030.5 paths
  (protocol.urls). It runs without --proxy-headers, on a loopback port only nginx uses, so
  REMOTE_ADDR is the real hop; protocol.transport believes the forwarded certificate only
  from a trusted hop that also presents the per-install proxy secret.
"""

from functools import lru_cache

from django.core.handlers.asgi import ASGIHandler
from django.test.utils import override_settings
from django.urls import Resolver404, resolve

from protocol import fastpath, fastwrite
from protocol.transport import PROXY_HEADER_NAMES

SEP2_URLCONF = "protocol.urls"


@lru_cache(maxsize=65536)
def sep2_match(path: str):
    """The 2030.5 view for `path`, or None (resolved once per path and process)."""
    try:
        return resolve(path, urlconf=SEP2_URLCONF)
    except Resolver404:
        return None


# How the listener answers a 2030.5 path: from the cache, /tm before Django, or Django.
CACHED, TIME, DJANGO = "cached", "time", "django"


@lru_cache(maxsize=65536)
def sep2_route(path: str) -> str | None:
    """How `path` is answered (CACHED, TIME or DJANGO), or None: not a 2030.5 path."""
    match = sep2_match(path)
    if match is None:
        return None
    if fastpath.cacheable(match):
        return CACHED
    return TIME if fastpath.is_time(match) else DJANGO


def is_sep2_path(path: str) -> bool:
    return sep2_match(path) is not None


async def _not_found(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"Not found on this listener.\n"})


class PortalHttp:
    """The portal's HTTP app: 2030.5 paths are not here; proxy certificate headers are dropped."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            if is_sep2_path(scope.get("path", "")):
                return await _not_found(send)
            headers = [(k, v) for k, v in scope["headers"] if k.lower() not in PROXY_HEADER_NAMES]
            scope = {**scope, "headers": headers}
        return await self.app(scope, receive, send)


# The 2030.5 listener's only middleware: 503 + Retry-After (a 2030.5 Error) while the
# database is away, as on the portal's listener.
SEP2_MIDDLEWARE = ["portal.availability.DatabaseAvailabilityMiddleware"]


class Sep2Handler(ASGIHandler):
    """Django for the 2030.5 listener: the 2030.5 URLs and none of the portal's middleware.

    Nothing a 2030.5 request needs lives in the portal's middleware (sessions, messages,
    CSRF, authentication, CSP, htmx, lockouts): every 2030.5 view authenticates the client
    certificate itself (protocol.fsets.base). Only the database-availability answer is kept.
    """

    def load_middleware(self, is_async=False):
        with override_settings(MIDDLEWARE=SEP2_MIDDLEWARE):
            super().load_middleware(is_async)

    async def get_response_async(self, request):
        request.urlconf = SEP2_URLCONF
        return await super().get_response_async(request)


class Sep2Http:
    """The 2030.5 listener's HTTP app: only the 2030.5 paths. A GET whose answer is cached
    is answered here (protocol.fastpath), and so are a common DERStatus PUT and post of
    MirrorMeterReadings on PostgreSQL (protocol.fastwrite); everything else goes to Django."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        path = scope.get("path", "")
        route = sep2_route(path)
        if route is None:
            return await _not_found(send)
        method = scope["method"]
        if method == "PUT":
            match = sep2_match(path)
            if fastwrite.is_der_status(match):
                return await fastwrite.put(scope, receive, send, match, self.app)
        elif method == "POST":
            match = sep2_match(path)
            if fastwrite.is_mirror(match):
                return await fastwrite.post_readings(scope, receive, send, match, self.app)
        elif route is CACHED:
            found = fastpath.lookup(scope)
            if found is not None:
                return await fastpath.send_entry(scope, send, *found)
        elif route is TIME:
            body = fastpath.time_lookup(scope)
            if body is not None:
                return await fastpath.send_body(scope, send, body)
        return await self.app(scope, receive, send)
