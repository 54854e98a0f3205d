"""The ceiling for `bench.sep2`: a framework-free ASGI app answering a fixed body.

``GET /<n>`` (any method) answers ``n`` bytes of ``application/sep+xml``: the bench asks
for the size each 2030.5 endpoint answered, so the ceiling moves the same bytes. Nothing
else happens per request (no routing, no identity, no database): what is left is the
ASGI server, the HTTP parser and the load generator on this machine.
"""

_BODIES: dict[int, bytes] = {}
_START = {
    "type": "http.response.start",
    "status": 200,
}


def _body(path: str) -> bytes:
    try:
        size = min(int(path.strip("/") or 0), 1 << 20)
    except ValueError:
        size = 0
    body = _BODIES.get(size)
    if body is None:
        body = _BODIES[size] = (b"<x>" + b"." * max(size - 7, 0) + b"</x>")[:size]
    return body


async def application(scope, receive, send):
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    body = _body(scope["path"])
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            **_START,
            "headers": [
                (b"content-type", b"application/sep+xml"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
