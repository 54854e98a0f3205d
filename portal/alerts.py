"""Alerts: rules evaluated on beat, raised once per subject, pushed live and emailed."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from devices.models import Device
from devices.selectors import device_stale_after
from portal.live import event_snapshot
from portal.models import Alert, AlertKind, AlertRule, AlertStatus, Heartbeat
from portal.realtime import push
from programs.choices import EventStatus
from programs.models import Event
from protocol.models import Client


@dataclass(frozen=True)
class Finding:
    """A condition a rule found right now."""

    subject_key: str
    message: str
    subject_url: str = ""


def _device_url(device_id: int) -> str:
    try:
        return reverse("devices:device-detail", args=[device_id])
    except NoReverseMatch:  # until the device pages exist
        return ""


def _silence(silent_for: timedelta) -> str:
    seconds = silent_for.total_seconds()
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _stale_devices(rule: AlertRule, now: datetime) -> list[Finding]:
    # Never sooner than the fleet itself calls a device stale (DEVICE_STALE_AFTER_S).
    cutoff = now - max(timedelta(minutes=rule.threshold_min), device_stale_after())
    devices = Device.objects.for_utility(rule.utility).filter(last_heard_at__lt=cutoff)
    if rule.program_id:
        devices = devices.filter(
            participations__program_id=rule.program_id, participations__left_at__isnull=True
        )
    return [
        Finding(
            f"device:{d.pk}",
            f"{d.vendor_name} {d.serial} has not reported for {_silence(now - d.last_heard_at)}.",
            _device_url(d.pk),
        )
        for d in devices.only("pk", "vendor_name", "serial", "last_heard_at")[:5000]
    ]


def _shortfalls(rule: AlertRule, now: datetime) -> list[Finding]:
    events = Event.objects.for_utility(rule.utility).filter(status=EventStatus.ACTIVE)
    if rule.program_id:
        events = events.filter(program_id=rule.program_id)
    findings = []
    for event in events:
        snapshot = event_snapshot(event=event, now=now)
        requested = abs(snapshot["requested_w"])
        share = 100 * abs(snapshot["delivered_w"]) / requested if requested else 100
        key = f"alert:below-since:{rule.pk}:{event.pk}"
        if share >= rule.threshold_pct:
            cache.delete(key)
            continue
        cache.add(key, now.timestamp(), timeout=86_400)
        below_for_min = (now.timestamp() - cache.get(key, now.timestamp())) / 60
        if below_for_min >= rule.threshold_min:
            findings.append(
                Finding(
                    f"event:{event.pk}",
                    f"Event {event.mrid[:8]} is delivering {share:.0f} % of its request "
                    f"(below {rule.threshold_pct} % for {below_for_min:.0f} min).",
                    reverse("programs:event-detail", args=[event.pk]),
                )
            )
    return findings


def _late_heartbeats(rule: AlertRule, now: datetime) -> list[Finding]:
    late = []
    beats = {hb.source: hb for hb in Heartbeat.objects.all()}
    for source, label in Heartbeat.Source.choices:
        hb = beats.get(source)
        if hb is None or now - hb.at > timedelta(minutes=rule.threshold_min):
            since = "never seen" if hb is None else f"last seen {hb.at:%H:%M:%S} UTC"
            late.append(
                Finding(
                    f"heartbeat:{source}",
                    f"{label} heartbeat is late ({since}).",
                    reverse("portal:status"),
                )
            )
    return late


def _silent_clients(rule: AlertRule, now: datetime) -> list[Finding]:
    """2030.5 clients (a vendor's aggregator or device) that stopped polling."""
    cutoff = now - timedelta(minutes=rule.threshold_min)
    clients = Client.objects.for_utility(rule.utility).filter(
        revoked=False, last_seen_at__lt=cutoff
    )
    if rule.program_id:
        clients = clients.filter(program_id=rule.program_id)
    return [
        Finding(
            f"client:{c.pk}",
            f"2030.5 client {c.name} ({c.get_kind_display().lower()}) has not polled for "
            f"{(now - c.last_seen_at).total_seconds() / 60:.0f} min.",
            _clients_url(),
        )
        for c in clients.only("pk", "name", "kind", "last_seen_at")[:1000]
    ]


def _clients_url() -> str:
    return reverse("protocol:client-list")


CHECKS = {
    AlertKind.DEVICE_STALE: _stale_devices,
    AlertKind.DELIVERY_SHORTFALL: _shortfalls,
    AlertKind.CLIENT_SILENT: _silent_clients,
    AlertKind.HEARTBEAT_LATE: _late_heartbeats,
}


def alerts_evaluate(*, now: datetime | None = None) -> dict[str, int]:
    """Open alerts for new findings and resolve those whose condition has cleared."""
    now = now or timezone.now()
    opened = resolved = 0
    for rule in AlertRule.objects.filter(enabled=True).select_related("utility"):
        check = CHECKS.get(rule.kind)
        if check is None:
            continue
        findings = {f.subject_key: f for f in check(rule, now)}
        current = {
            a.subject_key: a
            for a in Alert.objects.filter(rule=rule).exclude(status=AlertStatus.RESOLVED)
        }
        for key, finding in findings.items():
            if key not in current and _open(rule, finding, now):
                opened += 1
        cleared = [a.pk for key, a in current.items() if key not in findings]
        if cleared:
            resolved += Alert.objects.filter(pk__in=cleared).update(
                status=AlertStatus.RESOLVED, resolved_at=now
            )
            push(utility_id=rule.utility_id, topic="alerts", data={"resolved": cleared})
    return {"opened": opened, "resolved": resolved}


def _open(rule: AlertRule, finding: Finding, now: datetime) -> bool:
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                utility_id=rule.utility_id,
                rule=rule,
                kind=rule.kind,
                subject_key=finding.subject_key,
                subject_url=finding.subject_url,
                message=finding.message,
                opened_at=now,
            )
    except IntegrityError:  # another evaluator opened it first
        return False
    data = {"alert": alert_as_dict(alert)}
    transaction.on_commit(lambda: push(utility_id=rule.utility_id, topic="alerts", data=data))
    if rule.email:
        # Queued by name: portal.tasks calls this module, so this module does not import it.
        email = current_app.signature("portal.alert_email", args=(alert.pk,))
        transaction.on_commit(email.delay)
    return True


def alert_as_dict(alert: Alert) -> dict:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "kind_label": alert.get_kind_display(),
        "message": alert.message,
        "status": alert.status,
        "status_label": alert.get_status_display(),
        "opened_at": alert.opened_at.timestamp(),
        "url": alert.subject_url,
    }


def alert_acknowledge(*, alert: Alert, user) -> Alert:
    if alert.status == AlertStatus.RESOLVED:
        raise ValidationError("This alert is already resolved.")
    if alert.status == AlertStatus.OPEN:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = user
        alert.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        push(utility_id=alert.utility_id, topic="alerts", data={"alert": alert_as_dict(alert)})
    return alert


def alert_resolve(*, alert: Alert, user) -> Alert:
    if alert.status != AlertStatus.RESOLVED:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = timezone.now()
        if alert.acknowledged_by is None:
            alert.acknowledged_by, alert.acknowledged_at = user, alert.resolved_at
        alert.save(update_fields=["status", "resolved_at", "acknowledged_by", "acknowledged_at"])
        push(utility_id=alert.utility_id, topic="alerts", data={"resolved": [alert.pk]})
    return alert


def alert_email_send(*, alert_id: int) -> int:
    """Email the utility's program managers about one alert; returns messages sent."""
    from django.core.mail import send_mail

    from tenancy.choices import Role
    from tenancy.models import Membership

    alert = Alert.objects.select_related("utility").filter(pk=alert_id).first()
    if alert is None:
        return 0
    recipients = list(
        Membership.objects.for_utility(alert.utility)
        .filter(role=Role.PROGRAM_MANAGER)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return 0
    return send_mail(
        subject=f"[{alert.utility.name}] {alert.get_kind_display()}",
        message=f"{alert.message}\n\nOpened {alert.opened_at:%Y-%m-%d %H:%M} UTC.",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
