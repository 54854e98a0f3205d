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

from django.urls import Resolver404, resolve

from protocol.transport import PROXY_HEADER_NAMES

SEP2_URLCONF = "protocol.urls"


def is_sep2_path(path: str) -> bool:
    try:
        resolve(path, urlconf=SEP2_URLCONF)
    except Resolver404:
        return False
    return True


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


class Sep2Http:
    """The 2030.5 listener's HTTP app: only the 2030.5 paths."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        if not is_sep2_path(scope.get("path", "")):
            return await _not_found(send)
        return await self.app(scope, receive, send)
