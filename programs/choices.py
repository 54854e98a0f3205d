from django.db import models


class ProgramStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ENROLLING = "enrolling", "Enrolling"
    ACTIVE = "active", "Active"
    CLOSED = "closed", "Closed"


class RequirementProfile(models.TextChoices):
    """Which 2030.5 requirement profile a program's clients must meet."""

    CSIP = "csip", "CSIP (US)"
    CSIP_AUS = "csip_aus", "CSIP-AUS"


class EventKind(models.TextChoices):
    DISCHARGE = "discharge", "Discharge to a target"
    CHARGE = "charge", "Charge"
    EXPORT_LIMIT = "export_limit", "Export limit"


class EventPurpose(models.TextChoices):
    PEAK = "peak", "Peak"
    CAPACITY = "capacity", "Capacity"
    RELIABILITY = "reliability", "Reliability"
    SOLAR_SOAK = "solar_soak", "Solar soak"
    PRE_CHARGE = "pre_charge", "Pre-charge"
    FREQUENCY = "frequency", "Frequency response"


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Superseded"


# Events that count against caps and block overlaps.
LIVE_STATUSES = (EventStatus.SCHEDULED, EventStatus.ACTIVE)
COUNTED_STATUSES = (EventStatus.SCHEDULED, EventStatus.ACTIVE, EventStatus.COMPLETED)
FINAL_STATUSES = (EventStatus.COMPLETED, EventStatus.CANCELLED, EventStatus.SUPERSEDED)


class SetpointRule(models.TextChoices):
    """How a group target becomes per-device setpoints."""

    PRO_RATA = "pro_rata", "Share the group target by available capacity"
    PER_DEVICE = "per_device", "The same setpoint for every device"
    EVERYONE_FULL = "everyone_full", "Everyone at full available power"


class DispatchSelection(models.TextChoices):
    """Whom an event dispatches: everyone in the group, or only as many as the target needs."""

    ALL = "all", "Every device in the group"
    TARGET = "target", "Only as many devices as the target needs"
