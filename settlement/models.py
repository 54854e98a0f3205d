"""Performance reconciliation and payments: rules as data, per-event results, settlements.

Money is ``Decimal`` end to end (``DecimalField`` with two places for dollars, four for
rates). Power is W and energy Wh, as everywhere else in the domain.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from settlement.choices import (
    FINAL_BATCH_STATUSES,
    BaselineMethod,
    BatchStatus,
    CreditPeriod,
    LineKind,
    Rounding,
    Treatment,
)
from tenancy.models import TenantModel, TenantQuerySet

__all__ = [
    "Adjustment",
    "CustomerPayment",
    "EventResult",
    "Payee",
    "PaymentBatch",
    "PaymentLine",
    "ReconciliationRun",
    "SeasonSettlement",
    "SettlementRules",
]

money = {"max_digits": 14, "decimal_places": 2}
rate = {"max_digits": 12, "decimal_places": 4, "default": Decimal("0")}
treatment = {"max_length": 8, "choices": Treatment.choices}


class ImmutableError(ValidationError):
    """A change to a payment row whose batch is approved or locked."""


class SettlementRules(TenantModel):
    """How one program's events are measured and paid (one row per program)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.OneToOneField(
        "programs.Program", on_delete=models.CASCADE, related_name="settlement_rules"
    )
    baseline_method = models.CharField(
        max_length=20, choices=BaselineMethod.choices, default=BaselineMethod.BATTERY_TELEMETRY
    )
    meter_before_minutes = models.PositiveIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(24 * 60)]
    )
    ten_in_ten_adjust = models.BooleanField(
        default=True, help_text="Scale the 10-in-10 baseline by the 3 hours before, within ±20%."
    )
    performance_factor_cap = models.DecimalField(
        max_digits=5, decimal_places=3, default=Decimal("1.000"), validators=[MinValueValidator(0)]
    )
    min_performance_factor = models.DecimalField(
        max_digits=5,
        decimal_places=3,
        default=Decimal("0"),
        help_text="Below this season-average factor, performance pay is withheld.",
    )
    # Data quality: below this share of minutes with telemetry, a result is flagged.
    min_coverage_pct = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    offline_after_s = models.PositiveIntegerField(
        default=600, help_text="Silent this long before the event's end: offline."
    )
    on_missing_intervals = models.CharField(**treatment, default=Treatment.PRORATE)
    on_stale = models.CharField(**treatment, default=Treatment.EXCLUDE)
    on_opt_out = models.CharField(**treatment, default=Treatment.ZERO)
    on_offline = models.CharField(**treatment, default=Treatment.ZERO)

    kw_season_rate = models.DecimalField(**rate, help_text="$ per kW-season of average delivery.")
    kwh_rate = models.DecimalField(**rate, help_text="$ per kWh delivered in events.")
    participation_rate = models.DecimalField(**rate, help_text="$ per committed kW per period.")
    participation_period = models.CharField(
        max_length=8, choices=CreditPeriod.choices, default=CreditPeriod.MONTH
    )
    upfront_rate = models.DecimalField(**rate, help_text="$ per committed kW, paid once.")
    commitment_months = models.PositiveSmallIntegerField(
        default=0, help_text="Leaving earlier claws the upfront incentive back pro rata."
    )
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.HALF_UP)

    class Meta:
        verbose_name_plural = "settlement rules"
        constraints = [
            models.CheckConstraint(
                condition=Q(baseline_method__in=BaselineMethod.values),
                name="settlement_rules_baseline_valid",
            ),
            models.CheckConstraint(
                condition=Q(performance_factor_cap__gte=0), name="settlement_rules_cap_positive"
            ),
        ]

    def __str__(self):
        return f"Settlement rules of {self.program}"


class Payee(TenantModel):
    """Who is paid for a device: the customer account number the payment file carries."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    device = models.OneToOneField("devices.Device", on_delete=models.CASCADE, related_name="payee")
    customer = models.ForeignKey(
        "enrollment.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_number = models.CharField(max_length=40)

    class Meta:
        ordering = ["account_number"]

    def __str__(self):
        return f"{self.account_number} for device {self.device_id}"


class ReconciliationRun(TenantModel):
    """One computation of an event's results. Re-running with unchanged inputs reuses it."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(
        "programs.Event", on_delete=models.CASCADE, related_name="reconciliation_runs"
    )
    version = models.PositiveIntegerField()
    is_current = models.BooleanField(default=True)
    baseline_method = models.CharField(max_length=20, choices=BaselineMethod.choices)
    inputs = models.JSONField(default=dict, help_text="Rules, telemetry cut-off and counts.")
    inputs_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["event", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["event", "version"], name="run_version_unique"),
            models.UniqueConstraint(
                fields=["event"], condition=Q(is_current=True), name="run_one_current"
            ),
        ]

    def __str__(self):
        return f"Event {self.event_id} reconciliation v{self.version}"


class EventResult(TenantModel):
    """One device's measured performance in one event, as one run computed it."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    # No index of its own: the unique (run, device) below starts with the run and serves its
    # lookups; a second index on it cost every 100,000-result run its upkeep (issue 18).
    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.CASCADE, related_name="results", db_index=False
    )
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="+")
    window_s = models.PositiveIntegerField()
    committed_w = models.IntegerField(null=True, blank=True)
    measured_w = models.FloatField(null=True, blank=True, help_text="Average over the window.")
    baseline_w = models.FloatField(null=True, blank=True)
    delivered_w = models.FloatField(help_text="After the baseline and any treatment.")
    energy_wh = models.FloatField()
    performance_factor = models.DecimalField(max_digits=6, decimal_places=4)
    coverage = models.FloatField(help_text="Share of the window's minutes with telemetry.")
    flags = models.JSONField(default=list, blank=True)
    treatment = models.CharField(**treatment, default=Treatment.NONE)
    counted = models.BooleanField(default=True, help_text="False when excluded.")

    class Meta:
        ordering = ["run", "performance_factor", "device"]
        constraints = [
            models.UniqueConstraint(fields=["run", "device"], name="event_result_once_per_run")
        ]

    def __str__(self):
        return f"{self.device_id}: {self.delivered_w:.0f} W (PF {self.performance_factor})"


class SeasonSettlement(TenantModel):
    """What each participant of a program earned in one season, computed at one time."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="settlements"
    )
    season = models.ForeignKey("programs.Season", on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField(default=1)
    computed_at = models.DateTimeField()
    rules = models.JSONField(default=dict)
    event_count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(**money, default=Decimal("0.00"))

    class Meta:
        ordering = ["-computed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["season", "version"], name="season_settlement_version_unique"
            )
        ]

    def __str__(self):
        return f"{self.program} · {self.season} v{self.version}"


class PaymentBatch(TenantModel):
    """Payments released together for one period: draft → approved → locked, then final."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(
        "programs.Program", on_delete=models.CASCADE, related_name="payment_batches"
    )
    period = models.CharField(max_length=40, help_text="e.g. 'Summer 2026'")
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.DRAFT)
    created_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="payment_batch_status_valid"
            )
        ]

    def __str__(self):
        return f"{self.period} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_BATCH_STATUSES

    def save(self, *args, **kwargs):
        if self.pk is not None:
            stored = PaymentBatch.objects.filter(pk=self.pk).values_list("status", flat=True)
            stored = stored.first()
            # Once approved, the only change left is approved → locked.
            if stored == BatchStatus.LOCKED or (
                stored == BatchStatus.APPROVED and self.status != BatchStatus.LOCKED
            ):
                raise ImmutableError("An approved payment batch cannot change.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_final:
            raise ImmutableError("An approved payment batch cannot be deleted.")
        return super().delete(*args, **kwargs)


class FinalAwareQuerySet(TenantQuerySet):
    """Bulk updates and deletes refuse rows whose batch is approved, like ``save()`` does."""

    final_lookup = "batch__status__in"

    def _refuse_final(self):
        if self.filter(**{self.final_lookup: FINAL_BATCH_STATUSES}).exists():
            raise ImmutableError("Some of these payments are in an approved batch.")

    def update(self, **kwargs):
        self._refuse_final()
        return super().update(**kwargs)

    def delete(self):
        self._refuse_final()
        return super().delete()


class LineQuerySet(FinalAwareQuerySet):
    final_lookup = "payment__batch__status__in"


class _FinalWithBatch(TenantModel):
    """Rows that freeze once the batch they belong to is approved."""

    objects = FinalAwareQuerySet.as_manager()

    class Meta:
        abstract = True

    def _batch_id(self):
        raise NotImplementedError

    def _refuse_if_final(self):
        batch_id = self._batch_id()
        if batch_id is None:
            return
        status = PaymentBatch.objects.filter(pk=batch_id).values_list("status", flat=True).first()
        if status in FINAL_BATCH_STATUSES:
            raise ImmutableError("This payment is in an approved batch; add an adjustment.")

    def save(self, *args, **kwargs):
        self._refuse_if_final()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_final()
        return super().delete(*args, **kwargs)


class CustomerPayment(_FinalWithBatch):
    """What one participant (device and its payee) earned in a season settlement."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    # Money records: deleting a device or settlement must not take paid lines with it.
    settlement = models.ForeignKey(
        SeasonSettlement, on_delete=models.RESTRICT, related_name="payments"
    )
    batch = models.ForeignKey(
        PaymentBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    device = models.ForeignKey("devices.Device", on_delete=models.RESTRICT, related_name="+")
    customer = models.ForeignKey(
        "enrollment.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_number = models.CharField(max_length=40, blank=True)
    events_counted = models.PositiveIntegerField(default=0)
    avg_delivered_w = models.FloatField(default=0)
    energy_wh = models.FloatField(default=0)
    avg_performance_factor = models.DecimalField(
        max_digits=6, decimal_places=4, default=Decimal("0")
    )
    amount = models.DecimalField(**money)

    class Meta:
        ordering = ["settlement", "account_number", "device"]
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "device"], name="customer_payment_once_per_settlement"
            )
        ]

    def __str__(self):
        return f"{self.account_number or self.device_id}: ${self.amount}"

    def _batch_id(self):
        return self.batch_id


class PaymentLine(_FinalWithBatch):
    """One line of a payment's arithmetic, e.g. 'avg 3.42 kW x $40.00/kW-season = $136.80'."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    payment = models.ForeignKey(CustomerPayment, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=LineKind.choices)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit = models.CharField(max_length=20)
    rate = models.DecimalField(max_digits=12, decimal_places=4)
    amount = models.DecimalField(**money)
    explanation = models.CharField(max_length=200)

    objects = LineQuerySet.as_manager()

    class Meta:
        ordering = ["payment", "id"]

    def __str__(self):
        return self.explanation

    def _batch_id(self):
        return (
            CustomerPayment.objects.filter(pk=self.payment_id)
            .values_list("batch_id", flat=True)
            .first()
        )


class Adjustment(_FinalWithBatch):
    """A correction paid in a later batch: approved payments are never edited."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(PaymentBatch, on_delete=models.PROTECT, related_name="adjustments")
    device = models.ForeignKey("devices.Device", on_delete=models.RESTRICT, related_name="+")
    account_number = models.CharField(max_length=40, blank=True)
    corrects = models.ForeignKey(
        CustomerPayment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustments",
    )
    amount = models.DecimalField(**money)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["batch", "created_at"]

    def __str__(self):
        return f"Adjustment ${self.amount} for {self.account_number or self.device_id}"

    def _batch_id(self):
        return self.batch_id
