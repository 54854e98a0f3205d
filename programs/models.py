"""BYOD programs, their rules as data, dispatch groups, and dispatch events with their audit."""

import itertools
import uuid
from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from devices.nmi import NMI_LENGTH, validate_nmi
from programs.choices import (
    CurveType,
    DispatchSelection,
    EventKind,
    EventPurpose,
    EventStatus,
    ProgramPart,
    ProgramStatus,
    RequirementProfile,
    SetpointRule,
    UnitRefType,
    response_label,
)
from programs.controls import CURVE_FIELDS
from tenancy.models import TenantModel, TenantQuerySet

weekday_list = RegexValidator(r"^[0-6](,[0-6])*$|^$", "Use weekday numbers 0 (Mon) to 6 (Sun).")
pct = [MinValueValidator(0), MaxValueValidator(100)]
# 2030.5 PerCent / SignedPerCent: hundredths of a percent.
hundredths_pct = [MinValueValidator(0), MaxValueValidator(10000)]
signed_hundredths_pct = [MinValueValidator(-10000), MaxValueValidator(10000)]
uint16 = [MaxValueValidator(65535)]


def _mrid() -> str:
    return uuid.uuid4().hex.upper()


class ProgramQuerySet(TenantQuerySet):
    """Programs, with vendor conformance sandboxes told apart from real programs."""

    def real(self):
        """Programs customers join and events reach: never a vendor's sandbox."""
        return self.filter(is_sandbox=False)

    def sandboxes(self):
        return self.filter(is_sandbox=True)


def _poll_rate(resource: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        f"{resource} poll rate (s)",
        null=True,
        blank=True,
        validators=[MinValueValidator(5)],
        help_text="Blank: the program's poll rate.",
    )


# What Program.poll_rate_for takes: the resources with a poll rate of their own.
POLLED_RESOURCES = ("dcap", "edev_list", "fsa_list", "derp_list", "der_list", "mup_list")


class Program(TenantModel):
    """A utility's BYOD battery program: its rules, profile and defaults."""

    utility = models.ForeignKey(
        "tenancy.Utility", on_delete=models.CASCADE, related_name="programs"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    status = models.CharField(
        max_length=16, choices=ProgramStatus.choices, default=ProgramStatus.DRAFT
    )
    description = models.TextField(blank=True)
    profile = models.CharField(
        max_length=16, choices=RequirementProfile.choices, default=RequirementProfile.CSIP
    )
    primacy = models.PositiveSmallIntegerField(
        default=10, help_text="2030.5 DERProgram primacy: lower wins between programs."
    )
    # CSIP-AUS: the program also publishes site envelopes (dynamic operating envelopes at
    # each connection point) as a site-level DERProgram of this primacy. Blank: it does not.
    site_envelope_primacy = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(255)],
        help_text="Primacy of the site-envelope DERProgram (CSIP-AUS); lower wins, so set it "
        "below the program's primacy for the network's envelope to prevail. Blank: the "
        "program publishes no site envelopes.",
    )
    is_sandbox = models.BooleanField(
        default=False, help_text="A vendor conformance sandbox, isolated from production."
    )

    # 2030.5 cadences this program asks of its clients.
    poll_rate_s = models.PositiveIntegerField(default=300, validators=[MinValueValidator(5)])
    # 2030.5 pollRate per resource a client polls (CSIP-AUS tests set them one by one);
    # blank: poll_rate_s.
    dcap_poll_rate_s = _poll_rate("DeviceCapability")
    edev_list_poll_rate_s = _poll_rate("EndDeviceList")
    fsa_list_poll_rate_s = _poll_rate("FunctionSetAssignmentsList")
    derp_list_poll_rate_s = _poll_rate("DERProgramList")
    der_list_poll_rate_s = _poll_rate("DERList")
    mup_list_poll_rate_s = _poll_rate("MirrorUsagePointList")
    post_rate_s = models.PositiveIntegerField(default=300, validators=[MinValueValidator(5)])
    telemetry_cadence_s = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(60)]
    )
    control_delivery_s = models.PositiveIntegerField(
        default=300, help_text="A control must reach the device within this many seconds."
    )
    min_stored_events = models.PositiveSmallIntegerField(
        default=24, validators=[MinValueValidator(24)]
    )

    # Event rules. Blank means "no limit".
    max_events_per_year = models.PositiveIntegerField(null=True, blank=True)
    max_events_per_day = models.PositiveSmallIntegerField(null=True, blank=True, default=1)
    min_duration_min = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1)])
    max_duration_min = models.PositiveIntegerField(default=240, validators=[MinValueValidator(1)])
    allowed_weekdays = models.CharField(
        max_length=13,
        default="0,1,2,3,4,5,6",
        validators=[weekday_list],
        help_text="Weekday numbers, 0 = Monday.",
    )
    window_start = models.TimeField(
        null=True, blank=True, help_text="Earliest event start, utility local time."
    )
    window_end = models.TimeField(
        null=True, blank=True, help_text="Latest event end, utility local time."
    )
    min_notice_min = models.PositiveIntegerField(default=0)
    min_rest_min = models.PositiveIntegerField(default=0)
    reserve_soc_pct = models.PositiveSmallIntegerField(default=20, validators=pct)

    # Customers' opt-outs (from their account page or an event email's link).
    opt_outs_per_year = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="How many events a customer may opt out of in a calendar year "
        "(utility time). Blank for no limit.",
    )
    opt_out_lock_min = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Opt-outs close this many minutes before an event starts. "
        "Blank: a customer may opt out until the event ends.",
    )

    # The standing control when no event is active is each group's DefaultControl.
    default_charge_from_solar = models.BooleanField(default=True)

    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar[models.Manager] = ProgramQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["utility", "slug"],
                name="program_slug_per_utility",
                violation_error_message="Another program already uses this slug.",
            ),
            models.CheckConstraint(
                condition=Q(min_duration_min__lte=F("max_duration_min")),
                name="program_duration_bounds",
            ),
            models.CheckConstraint(
                condition=Q(reserve_soc_pct__gte=0, reserve_soc_pct__lte=100),
                name="program_reserve_pct",
            ),
        ]

    def __str__(self):
        return self.name

    def poll_rate_for(self, resource: str) -> int:
        """The pollRate (s) served on `resource` (one of POLLED_RESOURCES)."""
        if resource not in POLLED_RESOURCES:
            raise ValueError(f"{resource} has no poll rate of its own")
        return getattr(self, f"{resource}_poll_rate_s") or self.poll_rate_s

    def clean(self):
        errors: dict[str, str] = {}
        if self.min_duration_min and self.max_duration_min:
            if self.min_duration_min > self.max_duration_min:
                errors["max_duration_min"] = "The maximum duration is shorter than the minimum."
        if (self.window_start is None) != (self.window_end is None):
            errors["window_end"] = "Give both ends of the allowed window, or neither."
        elif self.window_start and self.window_end and self.window_start >= self.window_end:
            errors["window_end"] = "The window must end after it starts."
        if self.pk and self.max_events_per_year is not None:
            seasonal = seasonal_caps_total(self.seasons.all())
            if seasonal > self.max_events_per_year:
                errors["max_events_per_year"] = (
                    f"The seasons' caps add up to {seasonal} events, more than this yearly "
                    "cap: raise it or lower a season's cap first."
                )
        if self.site_envelope_primacy is not None and self.profile != RequirementProfile.CSIP_AUS:
            errors["site_envelope_primacy"] = (
                "Site envelopes are a CSIP-AUS DERProgram: set the profile to CSIP-AUS, or "
                "leave this blank."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def weekdays(self) -> set[int]:
        return {int(d) for d in self.allowed_weekdays.split(",") if d != ""}


class ProgramChange(TenantModel):
    """Append-only history of a program's rules, incentive rates and payment rules: who
    changed what, when, from what to what (only the values that changed)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="changes")
    part = models.CharField(max_length=16, choices=ProgramPart.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=120)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["program", "-at"])]

    def __str__(self):
        return f"{self.program}: {self.get_part_display()} changed by {self.actor_label}"

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """[(what, from, to)] in words, for people."""
        return [
            (name.replace("_", " "), self.before.get(name), value)
            for name, value in self.after.items()
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Program changes are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Program changes are append-only.")


def seasonal_caps_total(seasons) -> int:
    """The sum of the seasons' event caps (seasons without a cap add nothing)."""
    return sum(s.max_events or 0 for s in seasons)


class Season(TenantModel):
    """A stretch of the year with its own event and hour budget (e.g. summer)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="seasons")
    name = models.CharField(max_length=60)
    start_date = models.DateField()
    end_date = models.DateField()
    max_events = models.PositiveIntegerField(null=True, blank=True)
    max_hours = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__lte=F("end_date")), name="season_dates_ordered"
            ),
        ]

    def __str__(self):
        return f"{self.name} {self.start_date:%Y}"

    def clean(self):
        if self.start_date and self.end_date and self.start_date > self.end_date:
            raise ValidationError({"end_date": "The season ends before it starts."})
        program = self.program if self.program_id else None
        if program is None or program.max_events_per_year is None or self.max_events is None:
            return
        others = program.seasons.exclude(pk=self.pk) if self.pk else program.seasons.all()
        total = seasonal_caps_total(others) + self.max_events
        if total > program.max_events_per_year:
            raise ValidationError(
                {
                    "max_events": f"The seasons' caps would add up to {total} events, more than "
                    f"the program's yearly cap of {program.max_events_per_year}."
                }
            )


class BlackoutDate(TenantModel):
    """A day with no events (holiday, severe weather)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="blackouts")
    date = models.DateField()
    reason = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["program", "date"], name="blackout_once_per_day")
        ]

    def __str__(self):
        return f"{self.date} ({self.reason})"


class QualifiedEquipment(TenantModel):
    """A battery model a program accepts, with its nameplate."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="equipment")
    vendor_name = models.CharField(max_length=120)
    model_name = models.CharField(max_length=120)
    nameplate_w = models.PositiveIntegerField(help_text="Continuous discharge rating, W.")
    nameplate_wh = models.PositiveIntegerField(help_text="Usable energy, Wh.")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["vendor_name", "model_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "vendor_name", "model_name"], name="equipment_once_per_program"
            )
        ]

    def __str__(self):
        return f"{self.vendor_name} {self.model_name}"


class DispatchGroup(TenantModel):
    """Devices of a program selected by place, feeder or vendor; one 2030.5 DERProgram each."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(max_length=120)
    mrid = models.CharField(max_length=32, default=_mrid, unique=True, editable=False)
    states = models.CharField(max_length=200, blank=True, help_text="Comma-separated, e.g. OR,WA")
    zip_prefixes = models.CharField(max_length=500, blank=True, help_text="Comma-separated")
    feeders = models.CharField(max_length=500, blank=True, help_text="Feeder or substation tags")
    vendors = models.CharField(max_length=500, blank=True, help_text="Vendor names")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "name"],
                name="group_name_per_program",
                violation_error_message="This program already has a group with this name.",
            )
        ]

    def __str__(self):
        return f"{self.program} · {self.name}"

    @staticmethod
    def _items(value: str) -> list[str]:
        return [item.strip() for item in value.split(",") if item.strip()]

    @property
    def criteria(self) -> dict[str, list[str]]:
        return {
            "states": [s.upper() for s in self._items(self.states)],
            "zip_prefixes": self._items(self.zip_prefixes),
            "feeders": self._items(self.feeders),
            "vendors": self._items(self.vendors),
        }


class Curve(TenantModel):
    """A 2030.5 DERCurve of a program: listed under each of its DERPrograms (DERCurveList)
    and linked by href from a control's curve mode (opModVoltVar, opModVoltWatt …).

    `points` holds 1 to 10 {"x": int, "y": int} pairs, each value scaled by 10**multiplier
    of its axis; y is a percent of `y_ref_type` for the percent-based curve types.
    """

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="curves")
    mrid = models.CharField(max_length=32, default=_mrid, unique=True, editable=False)
    description = models.CharField(max_length=32, blank=True)
    curve_type = models.PositiveSmallIntegerField(choices=CurveType.choices)
    points = models.JSONField(default=list)
    x_multiplier = models.SmallIntegerField(
        default=0, validators=[MinValueValidator(-9), MaxValueValidator(9)]
    )
    y_multiplier = models.SmallIntegerField(
        default=0, validators=[MinValueValidator(-9), MaxValueValidator(9)]
    )
    y_ref_type = models.PositiveSmallIntegerField(
        choices=UnitRefType.choices, default=UnitRefType.NA
    )
    # Optional response times, hundredths of a second (2030.5 DERCurve).
    open_loop_tms = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    ramp_dec_tms = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    ramp_inc_tms = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    ramp_pt1_tms = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    # Volt-var only: an autonomously adjusted voltage reference.
    autonomous_v_ref_enable = models.BooleanField(null=True, blank=True)
    autonomous_v_ref_time_constant = models.PositiveIntegerField(null=True, blank=True)
    v_ref = models.PositiveIntegerField(null=True, blank=True, validators=hundredths_pct)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["program", "curve_type", "created_at"]

    def __str__(self):
        return f"{self.get_curve_type_display()} · {self.description or self.mrid[:8]}"

    def linked_by(self) -> list[str]:
        """What links this curve from a curve mode, in words: its events (newest first) and
        the dispatch groups whose default control names it. Empty for an unsaved curve."""
        if self.pk is None:
            return []
        links = Q()
        for field in CURVE_FIELDS:
            links |= Q(**{f"{field}_id": self.pk})
        events = [f"event {e}" for e in Event.objects.filter(links).order_by("-start")[:5]]
        defaults = [
            f"the default control of {d.group.name}"
            for d in DefaultControl.objects.filter(links).select_related("group")[:5]
        ]
        return events + defaults

    def clean(self):
        errors: dict[str, str] = {}
        points_error = curve_points_refusal(self.points)
        if points_error:
            errors["points"] = points_error
        if self.curve_type is not None and self.y_ref_type is not None:
            allowed = CURVE_Y_REF_TYPES.get(self.curve_type)
            if allowed and self.y_ref_type not in allowed:
                names = " or ".join(str(UnitRefType(r).label) for r in allowed)
                errors["y_ref_type"] = (
                    f"A {CurveType(self.curve_type).label.lower()} curve's y is {names}."
                )
        if self.curve_type != CurveType.VOLT_VAR:
            for name in ("autonomous_v_ref_enable", "autonomous_v_ref_time_constant", "v_ref"):
                if getattr(self, name) is not None:
                    errors[name] = "Only a volt-var curve has a voltage reference."
        if self.pk is not None:
            saved = Curve.objects.filter(pk=self.pk).values("curve_type", "program_id").first()
            moved = saved is not None and (
                saved["curve_type"] != self.curve_type or saved["program_id"] != self.program_id
            )
            linked = self.linked_by() if moved else []
            if linked:
                field = "curve_type" if saved["curve_type"] != self.curve_type else "program"
                errors[field] = (
                    f"This curve is linked by {', '.join(linked)}: its type and program stay "
                    "as they are while anything links it."
                )
        if errors:
            raise ValidationError(errors)


# The wire types of CurveData's values (xvalue, yvalue: Int32) and its length (1..10).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_CURVE_POINTS = 10
# What a curve's y may be a percent of, by its type (IEEE 2030.5 DERCurve / IEEE 1547):
# vars of the var curves, W of the watt curves, a power factor (no reference) for watt-PF,
# % of the effective voltage for the voltage ride-through curves and Hz (none) for the
# frequency ones.
CURVE_Y_REF_TYPES: dict[int, tuple[int, ...]] = {
    CurveType.VOLT_VAR: (
        UnitRefType.SET_MAX_VAR,
        UnitRefType.STAT_VAR_AVAIL,
        UnitRefType.SET_MAX_W,
    ),
    CurveType.WATT_VAR: (
        UnitRefType.SET_MAX_VAR,
        UnitRefType.STAT_VAR_AVAIL,
        UnitRefType.SET_MAX_W,
    ),
    CurveType.VOLT_WATT: (
        UnitRefType.SET_MAX_W,
        UnitRefType.STAT_W_AVAIL,
        UnitRefType.SET_MAX_CHARGE_RATE_W,
        UnitRefType.SET_MAX_DISCHARGE_RATE_W,
    ),
    CurveType.FREQ_WATT: (
        UnitRefType.SET_MAX_W,
        UnitRefType.STAT_W_AVAIL,
        UnitRefType.SET_MAX_CHARGE_RATE_W,
        UnitRefType.SET_MAX_DISCHARGE_RATE_W,
    ),
    CurveType.WATT_PF: (UnitRefType.NA,),
    **{
        t: (UnitRefType.SET_EFFECTIVE_V,)
        for t in (
            CurveType.HVRT_MAY_TRIP,
            CurveType.HVRT_MOMENTARY_CESSATION,
            CurveType.HVRT_MUST_TRIP,
            CurveType.LVRT_MAY_TRIP,
            CurveType.LVRT_MOMENTARY_CESSATION,
            CurveType.LVRT_MUST_TRIP,
        )
    },
    **{
        t: (UnitRefType.NA,)
        for t in (
            CurveType.HFRT_MAY_TRIP,
            CurveType.HFRT_MUST_TRIP,
            CurveType.LFRT_MAY_TRIP,
            CurveType.LFRT_MUST_TRIP,
        )
    },
}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def curve_points_refusal(points) -> str | None:
    """Why `points` cannot be a DERCurve's CurveData, in words; None when they can: a list
    of 1 to 10 {"x", "y"} integers (and an optional boolean "excitation"), each fitting
    Int32, with x strictly increasing."""
    if not isinstance(points, list) or not points:
        return "Give at least one point."
    if len(points) > MAX_CURVE_POINTS:
        return f"A curve has at most {MAX_CURVE_POINTS} points; this one has {len(points)}."
    for number, point in enumerate(points, 1):
        if not isinstance(point, dict) or not {"x", "y"} <= set(point):
            return f"Point {number} needs an x and a y."
        if set(point) - {"x", "y", "excitation"}:
            extra = ", ".join(sorted(set(point) - {"x", "y", "excitation"}))
            return f"Point {number} has unknown keys: {extra}."
        for axis in ("x", "y"):
            if not _is_int(point[axis]):
                return (
                    f"Point {number}'s {axis} must be a whole number (scale it by the multiplier)."
                )
            if not INT32_MIN <= point[axis] <= INT32_MAX:
                return f"Point {number}'s {axis} does not fit a 32-bit integer."
        if "excitation" in point and not isinstance(point["excitation"], bool):
            return f"Point {number}'s excitation must be true or false."
    xs = [p["x"] for p in points]
    for number, (before, after) in enumerate(itertools.pairwise(xs), 2):
        if after <= before:
            return (
                f"x must increase from point to point: point {number} ({after}) is not "
                f"above {before}."
            )
    return None


def _curve_link(mode: str) -> models.ForeignKey:
    return models.ForeignKey(
        Curve,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=f"{mode}: the DERCurve the device follows.",
    )


class ControlBase(models.Model):
    """The modes of a 2030.5 DERControlBase (with CSIP-AUS's), each optional, in the
    standard's units: what an event or a group's default tells a DER to do.

    An event's opModTargetW comes from its dispatch plan (one setpoint per device), so the
    column here is only the per-device value of a control that is not planned.
    """

    op_mod_connect = models.BooleanField(null=True, blank=True)
    op_mod_energize = models.BooleanField(null=True, blank=True)
    # Hundredths of a percent of setMaxW.
    op_mod_fixed_w = models.SmallIntegerField(
        null=True, blank=True, validators=signed_hundredths_pct
    )
    op_mod_max_lim_w = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=hundredths_pct
    )
    op_mod_target_w = models.IntegerField(null=True, blank=True, help_text="W, + discharge.")
    # Fixed power factor (displacement, 0 to 1) and whether the DER is over-excited.
    op_mod_fixed_pf_inject_w = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    op_mod_fixed_pf_inject_excitation = models.BooleanField(null=True, blank=True)
    op_mod_fixed_pf_absorb_w = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    op_mod_fixed_pf_absorb_excitation = models.BooleanField(null=True, blank=True)
    # Hundredths of a percent of op_mod_fixed_var_ref_type.
    op_mod_fixed_var = models.SmallIntegerField(
        null=True, blank=True, validators=signed_hundredths_pct
    )
    op_mod_fixed_var_ref_type = models.PositiveSmallIntegerField(
        choices=UnitRefType.choices, null=True, blank=True
    )
    op_mod_target_var = models.IntegerField(null=True, blank=True, help_text="var")
    # FreqDroopType: {"dBOF", "dBUF", "kOF", "kUF", "openLoopTms"}.
    op_mod_freq_droop = models.JSONField(null=True, blank=True)
    op_mod_volt_var = _curve_link("opModVoltVar")
    op_mod_volt_watt = _curve_link("opModVoltWatt")
    op_mod_freq_watt = _curve_link("opModFreqWatt")
    op_mod_watt_pf = _curve_link("opModWattPF")
    op_mod_watt_var = _curve_link("opModWattVar")
    ramp_tms = models.PositiveIntegerField(
        null=True, blank=True, validators=uint16, help_text="Hundredths of a second."
    )
    # CSIP-AUS dynamic operating envelope, in W at the connection point.
    op_mod_imp_lim_w = models.PositiveIntegerField(null=True, blank=True)
    op_mod_exp_lim_w = models.PositiveIntegerField(null=True, blank=True)
    op_mod_gen_lim_w = models.PositiveIntegerField(null=True, blank=True)
    op_mod_load_lim_w = models.PositiveIntegerField(null=True, blank=True)
    op_mod_storage_target_w = models.IntegerField(
        null=True, blank=True, help_text="W, + discharge."
    )

    class Meta:
        abstract = True


class DefaultControl(TenantModel, ControlBase):
    """A dispatch group's 2030.5 DefaultDERControl: what its DERs do when no event is active."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    group = models.OneToOneField(
        DispatchGroup, on_delete=models.CASCADE, related_name="default_control"
    )
    # Enter service (hundredths of s / Hz / % of nominal voltage) and gradients (hundredths
    # of a percent of setMaxW per second).
    set_es_delay = models.PositiveIntegerField(null=True, blank=True)
    set_es_high_freq = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    set_es_high_volt = models.SmallIntegerField(null=True, blank=True)
    set_es_low_freq = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    set_es_low_volt = models.SmallIntegerField(null=True, blank=True)
    set_es_ramp_tms = models.PositiveIntegerField(null=True, blank=True)
    set_es_random_delay = models.PositiveIntegerField(null=True, blank=True)
    set_grad_w = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    set_soft_grad_w = models.PositiveIntegerField(null=True, blank=True, validators=uint16)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Default control of {self.group}"


class Event(TenantModel, ControlBase):
    """A dispatch event for one group; served to 2030.5 clients as a DERControl."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="events")
    group = models.ForeignKey(DispatchGroup, on_delete=models.PROTECT, related_name="events")
    mrid = models.CharField(max_length=32, default=_mrid, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    purpose = models.CharField(max_length=16, choices=EventPurpose.choices, default="peak")
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.DRAFT)
    start = models.DateTimeField()
    duration_s = models.PositiveIntegerField(validators=[MinValueValidator(60)])
    target_w = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Discharge and charge: the group target magnitude in W (sign comes from "
        "kind). Other kinds carry their values in their modes.",
    )
    setpoint_rule = models.CharField(
        max_length=16, choices=SetpointRule.choices, default=SetpointRule.PRO_RATA
    )
    per_device_w = models.PositiveIntegerField(null=True, blank=True)
    selection = models.CharField(
        max_length=8, choices=DispatchSelection.choices, default=DispatchSelection.ALL
    )
    randomize_start_s = models.PositiveIntegerField(default=0)
    randomize_duration_s = models.PositiveIntegerField(default=0)
    primacy = models.PositiveSmallIntegerField(null=True, blank=True)
    is_test = models.BooleanField(default=False)
    emergency_override = models.BooleanField(default=False)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="supersedes"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start"]
        indexes = [models.Index(fields=["group", "status", "start"])]
        constraints = [
            models.CheckConstraint(condition=Q(duration_s__gte=60), name="event_min_duration"),
            models.CheckConstraint(
                condition=~Q(kind="export_limit") | Q(op_mod_exp_lim_w__isnull=False),
                name="event_export_limit_has_limit",
                violation_error_message="An export limit needs a limit in W.",
            ),
        ]

    def __str__(self):
        status = self.get_status_display()
        # In the active zone (the utility's, on its pages and in its messages), labelled.
        start = timezone.localtime(self.start) if self.start else None
        when = f"{start:%Y-%m-%d %H:%M %Z}" if start else "unscheduled"
        return f"{self.get_kind_display()} {when} ({status})"

    @property
    def end(self):
        return self.start + timedelta(seconds=self.duration_s)

    @property
    def signed_target_w(self) -> int | None:
        """Sign convention: + discharge or inject, - charge or absorb."""
        if self.target_w is None:
            return None
        return -self.target_w if self.kind == EventKind.CHARGE else self.target_w


class EventTransition(TenantModel):
    """Append-only audit of an event: who or what moved it, when, from what to what."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=120, help_text="e.g. 'beat', 'api', a user")
    from_status = models.CharField(max_length=16, choices=EventStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=EventStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        before = self.from_status or "new"
        return f"{self.event_id}: {before} → {self.to_status} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Event transitions are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Event transitions are append-only.")


class Participant(TenantModel):
    """A device that a program may dispatch (written by enrollment when it goes active)."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="participants")
    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="participations"
    )
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-joined_at"]
        constraints = [
            # One open participation per device and program; history rows keep left_at.
            models.UniqueConstraint(
                fields=["program", "device"],
                condition=Q(left_at__isnull=True),
                name="participant_open_once",
            )
        ]

    def __str__(self):
        return f"{self.device} in {self.program}"


class DispatchGroupMember(TenantModel):
    """A device a manager attached to a dispatch group by hand: in the group whatever its
    criteria, for as long as the device takes part in the group's program."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(DispatchGroup, on_delete=models.CASCADE, related_name="members")
    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="group_memberships"
    )
    attached_at = models.DateTimeField()
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["group", "device"]
        constraints = [
            models.UniqueConstraint(fields=["group", "device"], name="group_member_once"),
        ]

    def __str__(self):
        return f"{self.device} in group {self.group}"


class OptOut(TenantModel):
    """A device sitting out one event, chosen by its customer or reported by its client."""

    class Source(models.TextChoices):
        PORTAL = "portal", "Customer portal"
        RESPONSE = "response", "2030.5 Response (opt-out)"
        OPERATOR = "operator", "Program staff"

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="opt_outs")
    device = models.ForeignKey("devices.Device", on_delete=models.CASCADE, related_name="opt_outs")
    source = models.CharField(max_length=16, choices=Source.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "device"], name="opt_out_once_per_event")
        ]

    def __str__(self):
        return f"{self.device} opted out of {self.event_id}"


class Dispatch(TenantModel):
    """One device's part in one event: its setpoint, what it had committed, how it answered."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="dispatches")
    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="dispatches"
    )
    setpoint_w = models.IntegerField(help_text="Signed: + discharge/export, - charge.")
    committed_w = models.IntegerField(
        null=True, blank=True, help_text="What the device could deliver when dispatched."
    )
    last_response = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event", "device"]
        constraints = [
            models.UniqueConstraint(fields=["event", "device"], name="dispatch_once_per_event")
        ]

    def __str__(self):
        return f"{self.device} → {self.setpoint_w} W in event {self.event_id}"

    @property
    def last_response_label(self) -> str:
        return response_label(self.last_response)


SITE_ENVELOPE_LIMITS = (
    "op_mod_imp_lim_w",
    "op_mod_exp_lim_w",
    "op_mod_gen_lim_w",
    "op_mod_load_lim_w",
)


class SiteEnvelope(TenantModel):
    """A dynamic operating envelope at one connection point (NMI) for one interval, published
    by a program (CSIP-AUS): served as a DERControl of the site's site-level DERProgram.

    `connection_point_id` is the 10-character NMI, without its checksum digit (a site may
    report it either way; programs.services.site_envelopes_publish drops the checksum).
    Posting again for the same NMI and start replaces the envelope."""

    utility = models.ForeignKey("tenancy.Utility", on_delete=models.CASCADE, related_name="+")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="site_envelopes")
    mrid = models.CharField(max_length=32, default=_mrid, unique=True, editable=False)
    connection_point_id = models.CharField(
        "connection point (NMI)", max_length=NMI_LENGTH, validators=[validate_nmi]
    )
    start = models.DateTimeField()
    duration_s = models.PositiveIntegerField(validators=[MinValueValidator(60)])
    # CSIP-AUS limits at the connection point, in W.
    op_mod_imp_lim_w = models.PositiveIntegerField(null=True, blank=True)
    op_mod_exp_lim_w = models.PositiveIntegerField(null=True, blank=True)
    op_mod_gen_lim_w = models.PositiveIntegerField(null=True, blank=True)
    op_mod_load_lim_w = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["program", "connection_point_id", "start"]
        indexes = [models.Index(fields=["program", "connection_point_id", "start"])]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "connection_point_id", "start"],
                name="site_envelope_once_per_start",
                violation_error_message="This NMI already has an envelope starting then.",
            ),
            models.CheckConstraint(
                condition=Q(duration_s__gte=60), name="site_envelope_min_duration"
            ),
            models.CheckConstraint(
                condition=Q(op_mod_imp_lim_w__isnull=False)
                | Q(op_mod_exp_lim_w__isnull=False)
                | Q(op_mod_gen_lim_w__isnull=False)
                | Q(op_mod_load_lim_w__isnull=False),
                name="site_envelope_has_limit",
                violation_error_message="An envelope needs at least one limit.",
            ),
        ]

    def __str__(self):
        return f"{self.connection_point_id} from {self.start:%Y-%m-%d %H:%M} ({self.duration_s} s)"

    @property
    def end(self):
        return self.start + timedelta(seconds=self.duration_s)
