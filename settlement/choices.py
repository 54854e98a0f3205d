"""Enumerations of settlement: baselines, data-quality flags and treatments, money rules."""

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP

from django.db import models


class BaselineMethod(models.TextChoices):
    """How what a device would have done without the event is estimated."""

    BATTERY_TELEMETRY = "battery_telemetry", "Battery telemetry (net discharge)"
    METER_BEFORE = "meter_before", "Site meter, minutes before the event"
    TEN_IN_TEN = "ten_in_ten", "Site meter, 10-in-10 weekdays"


class Flag(models.TextChoices):
    """A data-quality problem with one device's result for one event."""

    MISSING_INTERVALS = "missing_intervals", "Missing intervals"
    STALE = "stale", "No baseline data (stale)"
    OPT_OUT = "opt_out", "Opted out"
    OFFLINE = "offline", "Offline during the event"


class Treatment(models.TextChoices):
    """What a flag does to a result. When flags disagree the strictest wins (see ORDER)."""

    NONE = "none", "Counted as measured"
    PRORATE = "prorate", "Pro-rated by data coverage"
    ZERO = "zero", "Counted as zero"
    EXCLUDE = "exclude", "Excluded from settlement"


# Strictest last: exclude beats zero beats prorate.
TREATMENT_ORDER = [Treatment.NONE, Treatment.PRORATE, Treatment.ZERO, Treatment.EXCLUDE]


class CreditPeriod(models.TextChoices):
    """How often a participation credit ($/kW) accrues."""

    MONTH = "month", "Per month"
    YEAR = "year", "Per year"


class Rounding(models.TextChoices):
    """How each payment line is rounded to cents."""

    HALF_UP = "half_up", "Half up (0.005 → 0.01)"
    HALF_EVEN = "half_even", "Banker's (half to even)"


ROUNDING_MODES = {Rounding.HALF_UP: ROUND_HALF_UP, Rounding.HALF_EVEN: ROUND_HALF_EVEN}


class LineKind(models.TextChoices):
    """One part of a payment; its code goes into the payment file's reason codes."""

    KW_SEASON = "kw_season", "Performance $/kW-season"
    KWH = "kwh", "Energy $/kWh"
    PARTICIPATION = "participation", "Participation credit"
    UPFRONT = "upfront", "Upfront incentive"
    CLAWBACK = "clawback", "Early-withdrawal clawback"
    WITHHELD = "withheld", "Below minimum performance"


REASON_CODES = {
    LineKind.KW_SEASON: "PERF",
    LineKind.KWH: "KWH",
    LineKind.PARTICIPATION: "PART",
    LineKind.UPFRONT: "UPFR",
    LineKind.CLAWBACK: "CLAW",
    LineKind.WITHHELD: "MINP",
}
ADJUSTMENT_REASON = "ADJ"


class BatchStatus(models.TextChoices):
    """A payment batch's life: only drafts change; approved and locked batches are final."""

    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    LOCKED = "locked", "Locked (paid)"


FINAL_BATCH_STATUSES = (BatchStatus.APPROVED, BatchStatus.LOCKED)
