"""Portal models: system health (heartbeats) and alerts. Tenancy lives in ``tenancy``."""

from django.conf import settings
from django.db import models

from tenancy.models import TenantModel, Utility

__all__ = [
    "Alert",
    "AlertKind",
    "AlertRule",
    "AlertStatus",
    "Heartbeat",
    "PasswordResetRequest",
]


class Heartbeat(models.Model):
    """When a background process (Celery beat or a worker) last showed it was alive."""

    class Source(models.TextChoices):
        BEAT = "beat", "Celery beat"
        WORKER = "worker", "Celery worker"

    source = models.CharField(max_length=16, choices=Source.choices, unique=True)
    at = models.DateTimeField()
    hostname = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"{self.get_source_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class AlertKind(models.TextChoices):
    DEVICE_STALE = "device_stale", "Device stale"
    DELIVERY_SHORTFALL = "delivery_shortfall", "Delivery short of request"
    CLIENT_SILENT = "client_silent", "2030.5 client stopped polling"
    HEARTBEAT_LATE = "heartbeat_late", "Celery beat or worker heartbeat late"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class AlertRule(TenantModel):
    """When to raise an alert, per utility or per program."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="alert_rules")
    program = models.ForeignKey(
        "programs.Program", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    threshold_min = models.PositiveIntegerField(
        default=15, help_text="Minutes: how long stale, silent, late or short before alerting."
    )
    threshold_pct = models.PositiveSmallIntegerField(
        default=80, help_text="For delivery shortfall: alert below this share of the request."
    )
    email = models.BooleanField(default=True, help_text="Email the utility's program managers.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=AlertKind.values), name="alert_rule_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(threshold_pct__lte=100), name="alert_rule_pct_valid"
            ),
        ]

    def __str__(self):
        scope = self.program or "all programs"
        return f"{self.get_kind_display()} after {self.threshold_min} min ({scope})"


class Alert(TenantModel):
    """Something that needs a person: raised by a rule, acknowledged, then resolved."""

    utility = models.ForeignKey(Utility, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    subject_key = models.CharField(max_length=80, help_text="e.g. device:42 or event:7")
    subject_url = models.CharField(max_length=200, blank=True)
    message = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["utility", "status", "-opened_at"])]
        constraints = [
            # One unresolved alert per rule and subject; a recurrence opens a new one.
            models.UniqueConstraint(
                fields=["rule", "subject_key"],
                condition=~models.Q(status="resolved"),
                name="alert_unresolved_once",
            )
        ]

    def __str__(self):
        return f"{self.get_status_display()}: {self.message}"


class PasswordResetRequest(models.Model):
    """One password-reset form post: counted to rate-limit resets per address and per email."""

    address = models.GenericIPAddressField(null=True, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["address", "at"]),
            models.Index(fields=["email", "at"]),
        ]

    def __str__(self):
        who = self.email or "?"
        return f"Password reset for {who} from {self.address or '?'} at {self.at:%Y-%m-%d %H:%M}"
