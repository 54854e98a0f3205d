"""The one module that pushes to Channels groups. Groups are ``utility.<id>.<topic>``.

Every ``group_send`` in Reservoir goes through here, so the naming scheme and the message
envelope live in one place. Consumers receive ``{"type": "push", "topic": ..., "data": ...}``.

With a shared channel layer (Redis) any process sends straight to the layer. The embedded
setup's in-memory layer lives inside the ASGI server, so a Celery worker cannot reach it:
there ``push`` relays the message through a folder next to the shared cache
(``REALTIME_RELAY_DIR``), and the ASGI server's publisher loop sends what it finds there
(``relay_drain``). A process opts into relaying with ``relay_from_this_process()``.
"""

import json
import logging
import os
import re
import time
import uuid
from pathlib import Path

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

_TOPIC = re.compile(r"^[a-z][a-z0-9_]*(\.[0-9]+)?$")
# Relayed messages older than this are dropped rather than sent late (a server restart).
RELAY_MAX_AGE_S = 60
logger = logging.getLogger(__name__)
_relaying = False
_written = 0


def group_name(*, utility_id: int, topic: str) -> str:
    if not _TOPIC.match(topic):
        raise ValueError(f"Invalid realtime topic {topic!r}")
    # Channels group names allow only ASCII letters, digits, hyphens, periods and underscores.
    return f"utility.{int(utility_id)}.{topic}"


def _message(topic: str, data: dict) -> dict:
    return {"type": "push", "topic": topic, "data": data}


async def apush(*, utility_id: int, topic: str, data: dict) -> None:
    layer = get_channel_layer()
    await layer.group_send(group_name(utility_id=utility_id, topic=topic), _message(topic, data))


def _relay_dir() -> Path | None:
    folder = getattr(settings, "REALTIME_RELAY_DIR", None)
    return Path(folder) if folder else None


def relay_from_this_process() -> None:
    """This process cannot reach the browsers' channel layer: relay its pushes (if needed)."""
    global _relaying
    _relaying = _relay_dir() is not None


def push(*, utility_id: int, topic: str, data: dict) -> None:
    """Send ``data`` to every browser subscribed to this utility's topic (sync callers)."""
    name = group_name(utility_id=utility_id, topic=topic)
    folder = _relay_dir()
    if _relaying and folder is not None:
        _relay_write(folder, {"group": name, "message": _message(topic, data), "at": time.time()})
        return
    async_to_sync(apush)(utility_id=utility_id, topic=topic, data=data)


def _relay_write(folder: Path, payload: dict) -> None:
    global _written
    folder.mkdir(parents=True, exist_ok=True)
    _written += 1
    if _written % 100 == 1:  # with no ASGI server draining, the folder must not grow forever
        _relay_prune(folder, now=payload["at"])
    # Written aside, then renamed: the reader only ever sees whole messages, in order.
    stem = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{stem}.tmp"
    tmp.write_text(json.dumps(payload))
    tmp.rename(folder / f"{stem}.json")


def _relay_prune(folder: Path, *, now: float) -> None:
    for path in folder.glob("*.json"):
        try:
            if now - path.stat().st_mtime > RELAY_MAX_AGE_S:
                path.unlink(missing_ok=True)
        except OSError:
            continue


async def relay_drain() -> int:
    """Send the messages other processes relayed; returns how many were sent."""
    folder = _relay_dir()
    if folder is None or not folder.is_dir():
        return 0
    layer = get_channel_layer()
    sent = 0
    for path in sorted(folder.glob("*.json")):
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError):
            logger.warning("dropping unreadable relayed message %s", path.name)
            payload = None
        path.unlink(missing_ok=True)
        if payload is None or time.time() - payload.get("at", 0) > RELAY_MAX_AGE_S:
            continue
        await layer.group_send(payload["group"], payload["message"])
        sent += 1
    return sent
