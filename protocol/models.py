"""IEEE 2030.5 server state: who the clients are, their EndDevices, mirrors and what they sent."""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from tenancy.models import TenantModel

__all__ = [
    "Client",
    "ControlResponse",
    "EndDevice",
    "ExchangeRecord",
    "LogEvent",
    "MirrorMeterReading",
    "MirrorUsagePoint",
    "NotificationDelivery",
    "Subscription",
]

lfdi_hex = RegexValidator(r"^[0-9A-F]{40}$", "Use 40 upper-case hex digits.")


class ClientKind(models.TextChoices):
    AGGREGATOR = "aggregator", "Aggregator"
    DEVICE = "device", "Device"


class Client(TenantModel):
    """A 2030.5 client certificate (by LFDI) and the utility it acts in: the tenant mapping."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    lfdi = models.CharField("LFDI", max_length=40, unique=True, validators=[lfdi_hex])
    sfdi = models.BigIntegerField("SFDI")
    kind = models.CharField(max_length=16, choices=ClientKind.choices)
    name = models.CharField(max_length=120)
    program = models.ForeignKey(
        "programs.Program",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Whose poll and post rates this client is told.",
    )
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The schemaVer its bodies last carried: set by 2030.5-2023 clients, absent in 2018.
    schema_ver = models.CharField("schema version", max_length=32, blank=True)
    cert_not_after = models.DateTimeField(null=True, blank=True)
    # While a conformance run watches this client, its requests are recorded (else nothing).
    recording_run_id = models.PositiveIntegerField(null=True, blank=True)
    # A simulated outage (conformance communication-loss procedure): 503 until then.
    outage_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.lfdi[:8]}…)"

    @property
    def edition(self) -> str:
        """Which edition of 2030.5 its bodies follow, as far as they show it."""
        if self.schema_ver:
            return f"2030.5-2023 (schemaVer {self.schema_ver})"
        return "2030.5-2018 (no schemaVer seen)"


class EndDevice(TenantModel):
    """A 2030.5 EndDevice: a DER as its client registered it (in-band) or the utility did."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    lfdi = models.CharField("LFDI", max_length=40, validators=[lfdi_hex])
    sfdi = models.BigIntegerField("SFDI")
    registered_by = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="end_devices"
    )
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pin = models.PositiveIntegerField(
        "Registration PIN", validators=[MinValueValidator(0), MaxValueValidator(999999)]
    )
    changed_time = models.DateTimeField()
    enabled = models.BooleanField(default=True)
    post_rate_s = models.PositiveIntegerField(null=True, blank=True)
    poll_rate_s = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(5)],
        help_text="This site's pollRate on its own resources (blank: the program's).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    # The last DeviceInformation / DER resources PUT, as sent, so GET returns them whole;
    # their domain values also go to devices.Device through the devices services.
    reported = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "lfdi"], name="end_device_unique_lfdi"),
            models.UniqueConstraint(fields=["utility", "sfdi"], name="end_device_unique_sfdi"),
        ]

    def __str__(self):
        return f"EndDevice {self.sfdi}"


class MirrorUsagePoint(TenantModel):
    """A client-side meter whose readings the server mirrors into device telemetry."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    end_device = models.ForeignKey(EndDevice, on_delete=models.CASCADE, related_name="mirrors")
    mrid = models.CharField("mRID", max_length=32)
    description = models.CharField(max_length=32, blank=True)
    role_flags = models.PositiveIntegerField(default=0)
    service_category_kind = models.PositiveSmallIntegerField(default=0)
    status = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["end_device", "mrid"], name="mup_unique_mrid"),
        ]

    def __str__(self):
        return f"MirrorUsagePoint {self.mrid}"


class MirrorMeterReading(TenantModel):
    """One quantity of a MirrorUsagePoint, with the ReadingType that scales its Readings."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    mirror_usage_point = models.ForeignKey(
        MirrorUsagePoint, on_delete=models.CASCADE, related_name="readings"
    )
    mrid = models.CharField("mRID", max_length=32)
    description = models.CharField(max_length=32, blank=True)
    channel = models.CharField(max_length=16, help_text="The devices telemetry channel.")
    unit = models.CharField(max_length=8, blank=True)
    power_of_ten = models.SmallIntegerField(default=0)
    uom = models.PositiveSmallIntegerField()
    flow_direction = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["mirror_usage_point", "mrid"], name="mmr_unique_mrid"),
        ]

    def __str__(self):
        return f"MirrorMeterReading {self.mrid} ({self.channel})"


class ControlResponse(TenantModel):
    """A Response a client posted about a DERControl (a dispatch event)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey("programs.Event", on_delete=models.CASCADE, related_name="+")
    end_device = models.ForeignKey(EndDevice, on_delete=models.CASCADE, related_name="responses")
    status = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(help_text="When the client says it responded.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"Response {self.status} to {self.event_id}"


class LogEvent(TenantModel):
    """A LogEvent a client posted."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    end_device = models.ForeignKey(EndDevice, on_delete=models.CASCADE, related_name="log_events")
    created_at = models.DateTimeField()
    details = models.CharField(max_length=32, blank=True)
    function_set = models.PositiveSmallIntegerField()
    log_event_code = models.PositiveSmallIntegerField()
    log_event_id = models.PositiveIntegerField()
    log_event_pen = models.PositiveBigIntegerField()
    profile_id = models.PositiveSmallIntegerField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self):
        return f"LogEvent {self.function_set}/{self.log_event_code}"


class Subscription(TenantModel):
    """A client's subscription to one resource; notifications go to its notificationURI."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    end_device = models.ForeignKey(
        EndDevice, on_delete=models.CASCADE, related_name="subscriptions"
    )
    subscribed_resource = models.CharField(max_length=2048)
    notification_uri = models.URLField(max_length=2048)
    encoding = models.PositiveSmallIntegerField(default=0)
    level = models.CharField(max_length=16, default="+S1")
    limit = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"Subscription to {self.subscribed_resource}"


class NotificationDelivery(models.Model):
    """One Notification owed to a subscriber (the outbox): written with the change that
    causes it, so a Celery task lost with its worker cannot lose it.

    Exactly one task owns a pending row at a time: `task_id`, until `due_at`. The owner
    (or, once `due_at` has passed, any task) claims it atomically before each POST; the
    sweep hands an overdue row to a new task. Delivered or given up, it is done.
    Reached through its Subscription (and that subscription's tenant); never listed alone.
    """

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    resource = models.CharField(max_length=2048)
    created_at = models.DateTimeField()
    task_id = models.CharField(max_length=64)
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    given_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=models.Q(delivered_at__isnull=True, given_up_at__isnull=True),
                name="protocol_delivery_pending",
            ),
        ]

    def __str__(self):
        return f"Notification of {self.resource} to subscription {self.subscription_id}"


class ExchangeRecord(TenantModel):
    """One request a client made while a conformance run recorded it: the run's evidence."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="exchanges")
    run_id = models.PositiveIntegerField(db_index=True)
    step = models.CharField(max_length=80, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    body_excerpt = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.method} {self.path} → {self.status}"
