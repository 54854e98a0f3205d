"""Reads for the portal shell: system health for operators."""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.celery import app as celery_app
from portal.models import Heartbeat


@dataclass(frozen=True)
class Check:
    """One component's health as the status page shows it."""

    name: str
    ok: bool
    detail: str
    at: datetime | None = None

    @property
    def age_s(self) -> float | None:
        return None if self.at is None else (timezone.now() - self.at).total_seconds()


def _timed(fn) -> tuple[bool, str]:
    started = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:  # a health check reports failures, it never raises
        return False, f"{type(exc).__name__}: {exc}"
    return True, f"{detail} in {(time.perf_counter() - started) * 1000:.1f} ms"


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.as_uri()  # hides any password


def _channel_layer() -> str:
    layer = get_channel_layer()
    channel = f"health.{uuid.uuid4().hex}"

    async def roundtrip():
        await layer.send(channel, {"type": "health.ping"})
        return await layer.receive(channel)

    message = async_to_sync(roundtrip)()
    if message.get("type") != "health.ping":
        raise RuntimeError("channel layer returned a different message")
    return type(layer).__name__


def system_health() -> list[Check]:
    checks = []
    for name, probe in (
        ("Database", _database),
        ("Celery broker", _broker),
        ("Channel layer", _channel_layer),
    ):
        ok, detail = _timed(probe)
        checks.append(Check(name=name, ok=ok, detail=detail))
    beats = {hb.source: hb for hb in Heartbeat.objects.all()}
    stale_after = settings.HEARTBEAT_STALE_AFTER_S
    for source, label in Heartbeat.Source.choices:
        hb = beats.get(source)
        if hb is None:
            checks.append(Check(name=label, ok=False, detail="never seen"))
            continue
        age = (timezone.now() - hb.at).total_seconds()
        checks.append(
            Check(
                name=label,
                ok=age <= stale_after,
                detail=f"last heartbeat {age:.0f} s ago on {hb.hostname or 'unknown host'}",
                at=hb.at,
            )
        )
    return checks
