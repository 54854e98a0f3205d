"""Reads for the portal shell: system health for operators, the program manager's KPIs."""

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from devices.models import Device
from devices.selectors import fleet_health_counts
from enrollment.choices import EnrollmentState
from enrollment.models import Enrollment
from portal.celery import app as celery_app
from portal.models import Alert, AlertStatus, Heartbeat
from programs.choices import EventStatus
from programs.models import Event, Participant, Program
from programs.selectors import event_funnel, season_usage


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


@dataclass(frozen=True)
class Kpi:
    """One figure on the program manager's home, with the page behind it."""

    label: str
    value: str
    detail: str
    url: str


def pm_home_kpis(*, utility, now: datetime | None = None) -> list[Kpi]:
    """The utility's headline figures; sandbox (vendor conformance) programs never count."""
    now = now or timezone.now()
    live_programs = Program.objects.for_utility(utility).filter(is_sandbox=False)
    enrolled = Device.objects.for_utility(utility).filter(
        pk__in=Participant.objects.for_utility(utility)
        .filter(left_at__isnull=True, program__in=live_programs)
        .values("device_id")
    )
    sizes = enrolled.aggregate(w=Sum("max_discharge_w"), wh=Sum("capacity_wh"), n=Count("pk"))
    health = fleet_health_counts(utility=utility, now=now, devices=enrolled)
    kpis = [
        Kpi(
            "Enrolled capacity",
            f"{(sizes['w'] or 0) / 1000:,.1f} kW · {(sizes['wh'] or 0) / 1000:,.1f} kWh",
            f"{sizes['n']} enrolled devices",
            reverse("devices:device-list"),
        ),
        Kpi(
            "Devices online",
            f"{health['online']} of {sizes['n']}",
            f"{health['stale']} stale · {health['offline']} offline · {health['faulted']} faulted",
            reverse("portal:control-room"),
        ),
    ]
    today = timezone.localdate(now)
    for program in live_programs.order_by("name"):
        for usage in season_usage(program=program, on=today):
            season = usage.season
            if not (season.start_date <= today <= season.end_date):
                continue
            cap = season.max_events
            kpis.append(
                Kpi(
                    f"Events this season · {program.name}",
                    f"{usage.events_used} of {cap}" if cap is not None else str(usage.events_used),
                    f"{season.name}; {usage.hours_used:.1f} h"
                    + (f" of {season.max_hours:.1f} h" if season.max_hours is not None else "")
                    + (
                        f"; {program.max_events_per_year} a year"
                        if program.max_events_per_year
                        else ""
                    ),
                    reverse("programs:program-detail", args=[program.pk]),
                )
            )
    last = (
        Event.objects.for_utility(utility)
        .filter(program__in=live_programs, status=EventStatus.COMPLETED, is_test=False)
        .order_by("-start")
        .first()
    )
    if last is not None:
        funnel = event_funnel(event=last, now=now)
        share = funnel["completed"] / funnel["dispatched"] if funnel["dispatched"] else 0
        kpis.append(
            Kpi(
                "Last event performance",
                f"{share:.0%} completed",
                f"{funnel['completed']} of {funnel['dispatched']} devices · "
                f"{timezone.localtime(last.start):%b %-d %H:%M %Z}",
                reverse("programs:event-detail", args=[last.pk]),
            )
        )
    pending = (
        Enrollment.objects.for_utility(utility)
        .filter(
            Q(state=EnrollmentState.SUBMITTED) | Q(state=EnrollmentState.ELIGIBLE),
            program__in=live_programs,
        )
        .count()
    )
    kpis.append(
        Kpi("Pending enrollments", str(pending), "awaiting a decision", reverse("enrollment:queue"))
    )
    open_alerts = Alert.objects.for_utility(utility).exclude(status=AlertStatus.RESOLVED).count()
    kpis.append(
        Kpi("Open alerts", str(open_alerts), "not yet resolved", reverse("portal:alert-list"))
    )
    return kpis
