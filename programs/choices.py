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
    """What an event tells the DERs: one family of 2030.5 / CSIP-AUS control modes each
    (programs.controls.KIND_MODES names the ControlBase fields each family sets)."""

    DISCHARGE = "discharge", "Discharge to a target"
    CHARGE = "charge", "Charge"
    EXPORT_LIMIT = "export_limit", "Export limit"
    IMPORT_LIMIT = "import_limit", "Import limit"
    GENERATION_LIMIT = "generation_limit", "Generation limit"
    LOAD_LIMIT = "load_limit", "Load limit"
    STORAGE_TARGET = "storage_target", "Storage target"
    CONNECT = "connect", "Connect or disconnect"
    ENERGIZE = "energize", "Energize or de-energize"
    FIXED_W = "fixed_w", "Fixed active power"
    MAX_W = "max_w", "Maximum active power"
    TARGET_W = "target_w", "Target active power"
    FIXED_PF = "fixed_pf", "Fixed power factor"
    FIXED_VAR = "fixed_var", "Fixed reactive power"
    VOLT_VAR = "volt_var", "Volt-var curve"
    VOLT_WATT = "volt_watt", "Volt-watt curve"
    FREQ_WATT = "freq_watt", "Frequency-watt curve"
    WATT_PF = "watt_pf", "Watt-power factor curve"
    FREQ_DROOP = "freq_droop", "Frequency droop"
    # Several of the families above in one control (a CSIP-AUS envelope with a disconnect,
    # export and import limits together …): programs.controls.MULTI_MODE_FIELDS.
    MULTI_MODE = "multi_mode", "Multi-mode"


class CurveType(models.IntegerChoices):
    """2030.5 DERCurveType: what a DERCurve's x and y mean, and the mode that may link it."""

    FREQ_WATT = 0, "Frequency-watt"
    HFRT_MAY_TRIP = 1, "High-frequency ride-through, may trip"
    HFRT_MUST_TRIP = 2, "High-frequency ride-through, must trip"
    HVRT_MAY_TRIP = 3, "High-voltage ride-through, may trip"
    HVRT_MOMENTARY_CESSATION = 4, "High-voltage ride-through, momentary cessation"
    HVRT_MUST_TRIP = 5, "High-voltage ride-through, must trip"
    LFRT_MAY_TRIP = 6, "Low-frequency ride-through, may trip"
    LFRT_MUST_TRIP = 7, "Low-frequency ride-through, must trip"
    LVRT_MAY_TRIP = 8, "Low-voltage ride-through, may trip"
    LVRT_MOMENTARY_CESSATION = 9, "Low-voltage ride-through, momentary cessation"
    LVRT_MUST_TRIP = 10, "Low-voltage ride-through, must trip"
    VOLT_VAR = 11, "Volt-var"
    VOLT_WATT = 12, "Volt-watt"
    WATT_PF = 13, "Watt-power factor"
    WATT_VAR = 14, "Watt-var"


class UnitRefType(models.IntegerChoices):
    """2030.5 DERUnitRefType: what a curve's y percentages (or a fixed var) are a percent of."""

    NA = 0, "Not applicable"
    SET_MAX_W = 1, "% of setMaxW"
    SET_MAX_VAR = 2, "% of setMaxVar"
    STAT_VAR_AVAIL = 3, "% of statVarAvail"
    SET_EFFECTIVE_V = 4, "% of setEffectiveV"
    SET_MAX_CHARGE_RATE_W = 5, "% of setMaxChargeRateW"
    SET_MAX_DISCHARGE_RATE_W = 6, "% of setMaxDischargeRateW"
    STAT_W_AVAIL = 7, "% of statWAvail"


class ProgramPart(models.TextChoices):
    """Which of a program's rule sets a ProgramChange records."""

    RULES = "rules", "Program rules"
    INCENTIVES = "incentives", "Incentive rates"
    PAYMENT = "payment", "Payment and measurement rules"


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


class ResponseStatus(models.IntegerChoices):
    """What a 2030.5 client's Response to a DERControl says (DOMAIN.md, "Response status codes")."""

    RECEIVED = 1, "Event received"
    STARTED = 2, "Event started"
    COMPLETED = 3, "Event completed"
    OPTED_OUT = 4, "Opted out"
    OPTED_IN = 5, "Opted in"
    CANCELLED = 6, "Cancelled"
    SUPERSEDED = 7, "Superseded"
    PARTIAL_OPT_OUT = 8, "Partly completed (opted out)"
    PARTIAL_OPT_IN = 9, "Partly completed (opted in)"
    NO_PARTICIPATION = 10, "Completed without participation"
    ACKNOWLEDGED = 11, "Acknowledged"
    NOT_DISPLAYED = 12, "Cannot be displayed"
    ABORTED_SERVER = 13, "Aborted by another server"
    ABORTED_PROGRAM = 14, "Aborted by another program"
    NOT_APPLICABLE = 252, "Rejected: control not applicable"
    INVALID = 253, "Rejected: invalid event"
    LATE = 254, "Rejected: received late"


def response_label(code: int | None) -> str:
    """A Response status code in words; "silent" when the device has not answered."""
    if code is None:
        return "silent"
    try:
        return ResponseStatus(code).label
    except ValueError:
        return f"code {code}"


class Participation(models.TextChoices):
    """Where one dispatched device stands in an event: the one vocabulary the event page,
    the control room, the API and the CSV all use. It is read from the device's 2030.5
    Responses or its Modbus setpoint read-back (both land on its Dispatch), its opt-outs,
    and the clock: a device is *silent* only once the event has ended and the grace period
    for late answers has passed; before that it is *awaiting*."""

    AWAITING = "awaiting", "Awaiting response"
    RECEIVED = "received", "Received"
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    OPTED_OUT = "opted_out", "Opted out"
    REFUSED = "refused", "Refused or not applicable"
    SILENT = "silent", "Silent"


# Response codes by the participation they report (DOMAIN.md, "Response status codes").
_PARTICIPATION_BY_CODE: dict[int, Participation] = {
    ResponseStatus.RECEIVED: Participation.RECEIVED,
    ResponseStatus.ACKNOWLEDGED: Participation.RECEIVED,
    ResponseStatus.OPTED_IN: Participation.RECEIVED,
    # The client confirms it saw the cancellation or supersession.
    ResponseStatus.CANCELLED: Participation.RECEIVED,
    ResponseStatus.SUPERSEDED: Participation.RECEIVED,
    ResponseStatus.STARTED: Participation.STARTED,
    ResponseStatus.COMPLETED: Participation.COMPLETED,
    ResponseStatus.PARTIAL_OPT_OUT: Participation.COMPLETED,
    ResponseStatus.PARTIAL_OPT_IN: Participation.COMPLETED,
    ResponseStatus.OPTED_OUT: Participation.OPTED_OUT,
}
# Any other code (10, 12-14, 252-254): the device answered but did not take part.
# Cumulative funnel stages: a completed device also received and started.
PARTICIPATION_REACHED = {
    Participation.RECEIVED: (
        Participation.RECEIVED,
        Participation.STARTED,
        Participation.COMPLETED,
    ),
    Participation.STARTED: (Participation.STARTED, Participation.COMPLETED),
    Participation.COMPLETED: (Participation.COMPLETED,),
}


def participation(*, code: int | None, opted_out: bool, answer_overdue: bool) -> Participation:
    """One device's participation from its last Response code (or Modbus read-back mapped
    to one), whether it opted out in the portal, and whether its answer is overdue (the
    event ended more than the grace period ago)."""
    if opted_out or code == ResponseStatus.OPTED_OUT:
        return Participation.OPTED_OUT
    if code is None:
        return Participation.SILENT if answer_overdue else Participation.AWAITING
    return _PARTICIPATION_BY_CODE.get(code, Participation.REFUSED)


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
