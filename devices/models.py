"""The fleet: devices (DERs) with nameplate, ratings, settings and live state; telemetry."""

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from devices.choices import Channel, CommandKind, OperatingMode, RollupPeriod, SiteStatus
from devices.nmi import validate_nmi
from tenancy.models import TenantModel, state_code

__all__ = [
    "ConnectorCommand",
    "ConnectorSite",
    "Device",
    "OtherReading",
    "TelemetryRollup",
    "TelemetryRollupPending",
    "TelemetrySample",
]

lfdi_hex = RegexValidator(r"^[0-9A-F]{40}$", "Use 40 upper-case hex digits.")
percent = [MinValueValidator(0), MaxValueValidator(100)]


class Device(TenantModel):
    """A customer battery (DER) in a utility's fleet, with its latest known state."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="devices")
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
    # CSIP-AUS ConnectionPoint: the site's connection point (the NMI), as the client PUT it.
    connection_point_id = models.CharField(
        "connection point (NMI)", max_length=32, blank=True, validators=[validate_nmi]
    )

    # Nameplate.
    max_charge_w = models.PositiveIntegerField(default=0)
    max_discharge_w = models.PositiveIntegerField(default=0)
    capacity_wh = models.PositiveIntegerField(default=0)
    reserve_pct = models.FloatField(default=0, validators=percent)

    # DERCapability (ratings) and DERSettings as reported by the device. rtgMaxW/setMaxW are
    # the maximum active power output: the base of opModMaxLimW (a percent of setMaxW,
    # falling back to rtgMaxW), which differs from the storage charge and discharge rates.
    rtg_max_w = models.IntegerField(null=True, blank=True)
    set_max_w = models.IntegerField(null=True, blank=True)
    rtg_max_charge_rate_w = models.IntegerField(null=True, blank=True)
    rtg_max_discharge_rate_w = models.IntegerField(null=True, blank=True)
    rtg_max_wh = models.BigIntegerField(null=True, blank=True)
    set_max_charge_rate_w = models.IntegerField(null=True, blank=True)
    set_max_discharge_rate_w = models.IntegerField(null=True, blank=True)
    set_max_wh = models.BigIntegerField(null=True, blank=True)
    # CSIP-AUS DOE modes (bit 0 opModExpLimW, 1 opModImpLimW, 2 opModGenLimW, 3 opModLoadLimW).
    doe_modes_supported = models.PositiveSmallIntegerField(null=True, blank=True)
    doe_modes_enabled = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rest of the last DERSettings (setGradW, setES*, modesEnabled, ...), in SI units.
    der_settings = models.JSONField(default=dict, blank=True)

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
    gen_connect_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Bits: connected, available, operating, test, fault."
    )
    # The rest of the last DERStatus: inverter, storage mode, local control, manufacturer.
    der_status = models.JSONField(default=dict, blank=True)
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
        indexes = [
            models.Index(fields=["utility", "zip_code"], name="device_utility_zip"),
            # The device list's search box (serial prefix) and state filter choices.
            models.Index(fields=["utility", "serial"], name="device_utility_serial"),
            models.Index(fields=["utility", "state"], name="device_utility_state"),
        ]

    def __str__(self):
        return f"{self.vendor_name} {self.model_name} #{self.serial}"

    # What dispatch plans count on: the nameplate, else what the device reported over
    # 2030.5, its DERSettings (what it is set to) before its DERCapability (its ratings).
    # A device that arrived over 2030.5 without DeviceInformation has no nameplate.
    @property
    def rated_capacity_wh(self) -> int:
        return self.capacity_wh or self.set_max_wh or self.rtg_max_wh or 0

    @property
    def rated_discharge_w(self) -> int:
        return (
            self.max_discharge_w
            or self.set_max_discharge_rate_w
            or self.rtg_max_discharge_rate_w
            or 0
        )

    @property
    def rated_charge_w(self) -> int:
        return self.max_charge_w or self.set_max_charge_rate_w or self.rtg_max_charge_rate_w or 0


class TelemetrySample(TenantModel):
    """One reading of one channel of one device, in canonical units (W, var, V, Hz, Wh, %)."""

    # On PostgreSQL this table is range-partitioned by `at` (migration 0002), so every
    # unique key must include `at`.

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
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

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
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

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
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
    """An hour of a utility's telemetry with samples newer than its rollups.

    Each ingest transaction adds its own marks, never updating or skipping one already
    there: ``telemetry_rollup_pending`` deletes only the marks its snapshot sees, so a mark
    of samples still uncommitted survives for the next run. (A mark shared through a
    unique key would let the job consume it while such samples were in flight.)
    """

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    hour_start = models.DateTimeField()

    def __str__(self):
        return f"{self.utility_id} {self.hour_start:%Y-%m-%d %H:00}"


class ConnectorSite(TenantModel):
    """A battery the platform reaches directly over SunSpec Modbus TCP, and its poll state."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=502, validators=[MaxValueValidator(65535)])
    unit_id = models.PositiveSmallIntegerField(
        "Modbus unit id", default=1, validators=[MinValueValidator(1), MaxValueValidator(247)]
    )
    device = models.OneToOneField(
        Device,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="connector_site",
        help_text="The fleet device whose telemetry this site reports.",
    )
    poll_interval_s = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(5), MaxValueValidator(3600)]
    )
    enabled = models.BooleanField(default=True)
    # {"base_address": 40000, "models": [[model_id, start_address, length], ...]}
    model_map = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=SiteStatus.choices, default=SiteStatus.NEVER)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "host", "port", "unit_id"], name="connector_site_unique_address"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SiteStatus.values), name="connector_site_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["enabled", "next_attempt_at"], name="connector_site_due"),
        ]

    def __str__(self):
        return f"{self.name} ({self.host}:{self.port} unit {self.unit_id})"


class ConnectorCommand(TenantModel):
    """One command the connector sent to a site, with what the device read back."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey(ConnectorSite, on_delete=models.CASCADE, related_name="commands")
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The programs event, by id: devices sits below programs and holds no FK to it.
    event_id = models.BigIntegerField(null=True, blank=True)
    event_mrid = models.CharField(max_length=32, blank=True)
    kind = models.CharField(max_length=10, choices=CommandKind.choices)
    requested_w = models.IntegerField(null=True, blank=True)
    readback = models.JSONField(default=dict, blank=True)
    ok = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CommandKind.values), name="connector_command_kind_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["site", "at"], name="connector_command_site_at"),
            models.Index(fields=["event_id"], name="connector_command_event"),
        ]

    def __str__(self):
        outcome = "ok" if self.ok else "failed"
        return f"{self.get_kind_display()} to site {self.site_id} at {self.at:%H:%M:%S} ({outcome})"


class OtherReading(TenantModel):
    """A reading of a quantity the telemetry series do not model (power factor, VA, A…),
    kept as the device sent it, scaled to its unit."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="other_readings")
    quantity = models.CharField(max_length=80, help_text="What was measured, as reported.")
    unit = models.CharField(max_length=16, blank=True)
    at = models.DateTimeField()
    value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "quantity", "at"], name="other_reading_unique"
            ),
        ]
        indexes = [models.Index(fields=["device", "-at"], name="other_reading_device_at")]

    def __str__(self):
        return f"{self.device_id} {self.quantity}={self.value:g}{self.unit} at {self.at:%H:%M}"
