"""The fleet: devices (DERs) with nameplate, ratings, settings and live state; telemetry."""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from devices.choices import Channel, OperatingMode, RollupPeriod
from portal.models import TenantModel
from portal.tenancy.models import state_code

__all__ = ["Device", "TelemetryRollup", "TelemetryRollupPending", "TelemetrySample"]

lfdi_hex = RegexValidator(r"^[0-9A-F]{40}$", "Use 40 upper-case hex digits.")
percent = [MinValueValidator(0), MaxValueValidator(100)]


class Device(TenantModel):
    """A customer battery (DER) in a utility's fleet, with its latest known state."""

    utility = models.ForeignKey("portal.Utility", on_delete=models.CASCADE, related_name="devices")
    vendor_name = models.CharField(max_length=120)
    model_name = models.CharField(max_length=120)
    serial = models.CharField(max_length=120)

    # Links to the transports and grouping.
    # NULL, not "", when unknown: many devices may lack one under the per-utility unique.
    lfdi = models.CharField(  # noqa: DJ001
        "LFDI", max_length=40, null=True, blank=True, validators=[lfdi_hex], default=None
    )
    sfdi = models.BigIntegerField("SFDI", null=True, blank=True)
    zip_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=2, blank=True, validators=[state_code])
    feeder = models.CharField(max_length=60, blank=True)

    # Nameplate.
    max_charge_w = models.PositiveIntegerField(default=0)
    max_discharge_w = models.PositiveIntegerField(default=0)
    capacity_wh = models.PositiveIntegerField(default=0)
    reserve_pct = models.FloatField(default=0, validators=percent)

    # DERCapability (ratings) and DERSettings as reported by the device.
    rtg_max_charge_rate_w = models.IntegerField(null=True, blank=True)
    rtg_max_discharge_rate_w = models.IntegerField(null=True, blank=True)
    rtg_max_wh = models.BigIntegerField(null=True, blank=True)
    set_max_charge_rate_w = models.IntegerField(null=True, blank=True)
    set_max_discharge_rate_w = models.IntegerField(null=True, blank=True)
    set_max_wh = models.BigIntegerField(null=True, blank=True)

    # Live state from telemetry: power is signed, + discharge/export, - charge.
    soc_pct = models.FloatField(null=True, blank=True, validators=percent)
    power_w = models.FloatField(null=True, blank=True)
    reactive_var = models.FloatField(null=True, blank=True)
    voltage_v = models.FloatField(null=True, blank=True)
    frequency_hz = models.FloatField(null=True, blank=True)
    # Per channel, the time of the reading the live field holds, so older ones never win.
    telemetry_at = models.JSONField(default=dict, blank=True)
    last_heard_at = models.DateTimeField(null=True, blank=True)

    # DERStatus.
    operating_mode = models.CharField(
        max_length=16, choices=OperatingMode.choices, default=OperatingMode.UNKNOWN
    )
    storage_connect_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Bits: connected, available, operating, test, fault."
    )
    alarms = models.JSONField(default=list, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)

    # DERAvailability.
    stat_w_avail_w = models.IntegerField(null=True, blank=True)
    stat_var_avail_var = models.IntegerField(null=True, blank=True)
    availability_duration_s = models.PositiveIntegerField(null=True, blank=True)
    max_charge_duration_s = models.PositiveIntegerField(null=True, blank=True)
    reserve_charge_pct = models.FloatField(null=True, blank=True, validators=percent)
    reserve_pct_avail = models.FloatField(null=True, blank=True, validators=percent)
    availability_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vendor_name", "serial"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "vendor_name", "serial"], name="device_unique_serial"
            ),
            models.UniqueConstraint(fields=["utility", "lfdi"], name="device_unique_lfdi"),
            models.CheckConstraint(
                condition=Q(soc_pct__isnull=True) | Q(soc_pct__gte=0, soc_pct__lte=100),
                name="device_soc_pct_range",
            ),
            models.CheckConstraint(
                condition=Q(reserve_pct__gte=0, reserve_pct__lte=100),
                name="device_reserve_pct_range",
            ),
            models.CheckConstraint(
                condition=Q(operating_mode__in=OperatingMode.values),
                name="device_operating_mode_valid",
            ),
        ]
        indexes = [models.Index(fields=["utility", "zip_code"], name="device_utility_zip")]

    def __str__(self):
        return f"{self.vendor_name} {self.model_name} #{self.serial}"


class TelemetrySample(TenantModel):
    """One reading of one channel of one device, in canonical units (W, var, V, Hz, Wh, %)."""

    # On PostgreSQL this table is range-partitioned by `at` (migration 0002), so every
    # unique key must include `at`.

    utility = models.ForeignKey("portal.Utility", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "channel", "at"], name="telemetry_sample_unique"
            ),
        ]
        indexes = [models.Index(fields=["utility", "at"], name="telemetry_sample_utility_at")]

    def __str__(self):
        return f"{self.device_id} {self.channel}={self.value:g} at {self.at:%Y-%m-%d %H:%M:%S}"


class TelemetryRollup(TenantModel):
    """Average, minimum, maximum and count of one channel of one device over one bucket."""

    utility = models.ForeignKey("portal.Utility", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="rollups")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    period = models.CharField(max_length=4, choices=RollupPeriod.choices)
    bucket_start = models.DateTimeField()
    avg = models.FloatField()
    min = models.FloatField()
    max = models.FloatField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "channel", "period", "bucket_start"],
                name="telemetry_rollup_unique",
            ),
            models.CheckConstraint(
                condition=Q(period__in=RollupPeriod.values), name="telemetry_rollup_period_valid"
            ),
        ]
        indexes = [
            models.Index(
                fields=["utility", "channel", "period", "bucket_start"],
                name="telemetry_rollup_fleet",
            )
        ]

    def __str__(self):
        return f"{self.device_id} {self.channel} {self.period} {self.bucket_start:%Y-%m-%d %H:%M}"


class FleetRollup(TenantModel):
    """A utility's whole-fleet sum of one channel over one bucket: fleet charts read this.

    Summing per-device rollups on every chart load would read devices x buckets rows;
    this keeps "fleet power over the last N hours" at N x 12 rows whatever the fleet size.
    """

    utility = models.ForeignKey("portal.Utility", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    period = models.CharField(max_length=4, choices=RollupPeriod.choices)
    bucket_start = models.DateTimeField()
    total = models.FloatField(help_text="Sum over devices of each device's bucket average.")
    devices = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "channel", "period", "bucket_start"],
                name="fleet_rollup_unique",
            ),
        ]

    def __str__(self):
        return f"{self.utility_id} {self.channel} {self.period} {self.bucket_start:%Y-%m-%d %H:%M}"


class TelemetryRollupPending(TenantModel):
    """An hour of a utility's telemetry with samples newer than its rollups."""

    utility = models.ForeignKey("portal.Utility", on_delete=models.CASCADE, related_name="+")
    hour_start = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "hour_start"], name="telemetry_rollup_pending_unique"
            )
        ]

    def __str__(self):
        return f"{self.utility_id} {self.hour_start:%Y-%m-%d %H:00}"
