import calendar
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms

from programs.choices import DispatchSelection, EventKind, EventPurpose, SetpointRule
from programs.models import (
    BlackoutDate,
    Curve,
    DispatchGroup,
    Program,
    QualifiedEquipment,
    Season,
)


class ProgramForm(forms.ModelForm):
    class Meta:
        model = Program
        fields = [
            "name",
            "slug",
            "status",
            "description",
            "profile",
            "primacy",
            "poll_rate_s",
            "dcap_poll_rate_s",
            "edev_list_poll_rate_s",
            "fsa_list_poll_rate_s",
            "derp_list_poll_rate_s",
            "der_list_poll_rate_s",
            "mup_list_poll_rate_s",
            "post_rate_s",
            "telemetry_cadence_s",
            "control_delivery_s",
            "min_stored_events",
            "max_events_per_year",
            "max_events_per_day",
            "min_duration_min",
            "max_duration_min",
            "allowed_weekdays",
            "window_start",
            "window_end",
            "min_notice_min",
            "min_rest_min",
            "reserve_soc_pct",
            "opt_outs_per_year",
            "opt_out_lock_min",
            "default_charge_from_solar",
        ]
        widgets = {
            "window_start": forms.TimeInput(attrs={"type": "time"}),
            "window_end": forms.TimeInput(attrs={"type": "time"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "slug": "Web address name",
            "profile": "2030.5 requirement profile",
            "primacy": "Priority between programs",
            "poll_rate_s": "Client poll interval (seconds)",
            "post_rate_s": "Telemetry post interval (seconds)",
            "telemetry_cadence_s": "Telemetry cadence (seconds)",
            "control_delivery_s": "Control delivery deadline (seconds)",
            "min_stored_events": "Events a device must store",
            "max_events_per_year": "Events per year (at most)",
            "max_events_per_day": "Events per day (at most)",
            "min_duration_min": "Shortest event (minutes)",
            "max_duration_min": "Longest event (minutes)",
            "window_start": "Earliest start (local time)",
            "window_end": "Latest end (local time)",
            "min_notice_min": "Notice before an event (minutes)",
            "min_rest_min": "Rest between events (minutes)",
            "reserve_soc_pct": "Backup reserve kept (% of charge)",
            "default_charge_from_solar": "Recharge from solar after events",
        }
        help_texts = {
            "slug": "Lower case and dashes; part of the enrollment page's address.",
            "primacy": "Lower wins when two programs control the same device (2030.5 primacy).",
            "max_events_per_year": "Blank for no yearly cap. The seasons' caps must fit in it.",
            "max_events_per_day": "Blank for no daily cap.",
            "min_notice_min": "How long before its start an event must be scheduled.",
            "min_rest_min": "How long a group rests between two events.",
            "reserve_soc_pct": "Events never discharge a battery below this state of charge.",
        }

    # The form as a person thinks of a program; the template renders one fieldset each.
    # (Eligibility and incentive rates are the enrollment rules, edited with the program's
    # enrollment settings.)
    GROUPS = (
        ("About the program", ("name", "slug", "status", "description", "profile", "primacy")),
        (
            "Limits",
            ("max_events_per_year", "max_events_per_day", "min_duration_min",
             "max_duration_min", "min_rest_min", "reserve_soc_pct"),
        ),
        ("Windows", ("allowed_weekdays", "window_start", "window_end", "min_notice_min")),
        (
            "Devices and communication",
            ("poll_rate_s", "post_rate_s", "telemetry_cadence_s", "control_delivery_s",
             "min_stored_events", "default_charge_from_solar"),
        ),
    )  # fmt: skip

    allowed_weekdays = forms.TypedMultipleChoiceField(
        label="Days events may run",
        choices=[(str(i), day) for i, day in enumerate(calendar.day_name)],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        if self.instance.pk is not None or "allowed_weekdays" not in self.initial:
            self.initial["allowed_weekdays"] = sorted(str(d) for d in self.instance.weekdays) or [
                str(d) for d in range(5)
            ]

    def clean_allowed_weekdays(self) -> str:
        return ",".join(sorted(self.cleaned_data["allowed_weekdays"], key=int))

    def fieldsets(self):
        """[(title, [bound fields])] in ``GROUPS`` order; any field left out goes last."""
        placed = {name for _, names in self.GROUPS for name in names}
        sets = [(title, [self[name] for name in names]) for title, names in self.GROUPS]
        rest = [self[name] for name in self.fields if name not in placed]
        return sets + ([("Other", rest)] if rest else [])

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        clash = Program.objects.for_utility(self.utility).filter(slug=slug)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError("Another program already uses this slug.")
        return slug


class SeasonForm(forms.ModelForm):
    class Meta:
        model = Season
        fields = ["name", "start_date", "end_date", "max_events", "max_hours"]
        widgets = {
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "end_date": forms.DateInput(attrs={"type": "date"}),
        }


class BlackoutDateForm(forms.ModelForm):
    class Meta:
        model = BlackoutDate
        fields = ["date", "reason"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"})}


class QualifiedEquipmentForm(forms.ModelForm):
    class Meta:
        model = QualifiedEquipment
        fields = ["vendor_name", "model_name", "nameplate_w", "nameplate_wh", "note"]


class DispatchGroupForm(forms.ModelForm):
    class Meta:
        model = DispatchGroup
        fields = ["name", "states", "zip_prefixes", "feeders", "vendors"]


class AttachDeviceForm(forms.Form):
    identity = forms.CharField(
        label="LFDI or SFDI",
        max_length=40,
        help_text="Of a device registered over IEEE 2030.5 that takes part in the program.",
    )


class EventForm(forms.Form):
    """A new event, entered in the utility's local time and kW; stored in UTC and W."""

    group = forms.ModelChoiceField(queryset=DispatchGroup.objects.none())
    kind = forms.ChoiceField(choices=EventKind.choices, initial=EventKind.DISCHARGE)
    purpose = forms.ChoiceField(choices=EventPurpose.choices, initial=EventPurpose.PEAK)
    start_local = forms.DateTimeField(
        label="Start (local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    duration_min = forms.IntegerField(label="Duration (min)", min_value=1, max_value=1440)
    target_kw = forms.DecimalField(
        label="Target (kW)",
        required=False,
        min_value=Decimal("0.1"),
        max_digits=10,
        decimal_places=1,
    )
    selection = forms.ChoiceField(choices=DispatchSelection.choices, initial="all")
    setpoint_rule = forms.ChoiceField(choices=SetpointRule.choices, initial="pro_rata")
    per_device_kw = forms.DecimalField(
        label="Per-device setpoint (kW)",
        required=False,
        min_value=Decimal("0.1"),
        max_digits=7,
        decimal_places=1,
    )
    randomize_start_s = forms.IntegerField(min_value=0, max_value=3600, initial=0)
    randomize_duration_s = forms.IntegerField(min_value=0, max_value=3600, initial=0)
    is_test = forms.BooleanField(required=False, label="Test event (does not count against caps)")
    emergency_override = forms.BooleanField(
        required=False, label="Emergency override of program rules (operators; audited)"
    )
    override_reason = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.fields["group"].queryset = DispatchGroup.objects.select_related("program").for_utility(
            utility
        )
        self.fields["group"].label_from_instance = lambda g: f"{g.program.name} · {g.name}"

    def clean(self):
        data = super().clean()
        if data.get("kind") == EventKind.EXPORT_LIMIT and not data.get("target_kw"):
            self.add_error("target_kw", "An export limit needs a limit in kW.")
        if data.get("setpoint_rule") == SetpointRule.PER_DEVICE and not data.get("per_device_kw"):
            self.add_error("per_device_kw", "Give the per-device setpoint.")
        if data.get("emergency_override") and not data.get("override_reason"):
            self.add_error("override_reason", "Say why the rules are being overridden.")
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        local = data["start_local"].replace(tzinfo=None)
        start = local.replace(tzinfo=ZoneInfo(self.utility.timezone))
        return {
            "program": data["group"].program,
            "group": data["group"],
            "kind": data["kind"],
            "purpose": data["purpose"],
            "start": start.astimezone(ZoneInfo("UTC")),
            "duration_s": data["duration_min"] * 60,
            "target_w": _watts(data.get("target_kw")),
            "per_device_w": _watts(data.get("per_device_kw")),
            "selection": data["selection"],
            "setpoint_rule": data["setpoint_rule"],
            "randomize_start_s": data["randomize_start_s"] or 0,
            "randomize_duration_s": data["randomize_duration_s"] or 0,
            "is_test": data["is_test"],
            "emergency_override": data["emergency_override"],
            "override_reason": data.get("override_reason", ""),
        }


def _watts(kw: Decimal | None) -> int | None:
    return None if kw is None else int(kw * 1000)


def default_start(utility) -> datetime:
    """Tomorrow at 16:00 local time: a typical peak event start."""
    tz = ZoneInfo(utility.timezone)
    tomorrow = datetime.now(tz) + timedelta(days=1)
    return tomorrow.replace(hour=16, minute=0, second=0, microsecond=0)


class CurvePointsField(forms.Field):
    """A curve's points as text, one "x, y" pair a line (a third column, "absorb" or
    "inject", gives a watt-PF point's excitation); cleaned into [{"x", "y"}] integers. The
    model says whether the points make a curve (programs.models.curve_points_refusal)."""

    widget = forms.Textarea(attrs={"rows": 10, "cols": 24, "spellcheck": "false"})
    EXCITATION = {"absorb": True, "inject": False}

    def prepare_value(self, value):
        if not isinstance(value, list):
            return value
        lines = []
        for point in value:
            line = f"{point.get('x')}, {point.get('y')}"
            if "excitation" in point:
                line += ", absorb" if point["excitation"] else ", inject"
            lines.append(line)
        return "\n".join(lines)

    def to_python(self, value):
        if isinstance(value, list):
            return value
        points = []
        for number, line in enumerate((value or "").splitlines(), 1):
            cells = [c for c in line.replace(";", ",").replace("\t", ",").split(",") if c.strip()]
            if not cells:
                continue
            if len(cells) not in (2, 3):
                raise forms.ValidationError(f"Line {number}: write “x, y” (two numbers).")
            try:
                point = {"x": int(cells[0].strip()), "y": int(cells[1].strip())}
            except ValueError:
                raise forms.ValidationError(
                    f"Line {number}: x and y are whole numbers (scale them by the multipliers)."
                ) from None
            if len(cells) == 3:
                word = cells[2].strip().lower()
                if word not in self.EXCITATION:
                    raise forms.ValidationError(
                        f"Line {number}: the third column is “absorb” or “inject”."
                    )
                point["excitation"] = self.EXCITATION[word]
            points.append(point)
        return points


class CurveForm(forms.ModelForm):
    """A program's DERCurve; the curve's checks are the model's (Curve.clean)."""

    points = CurvePointsField(
        help_text="One point a line, “x, y”, x rising, at most 10. Values are sent as written "
        "and mean value times 10 to the multiplier: 92 with multiplier 0 is 92 %, 9200 with "
        "multiplier -2 is 92.00 %."
    )

    class Meta:
        model = Curve
        fields = [
            "description",
            "curve_type",
            "y_ref_type",
            "points",
            "x_multiplier",
            "y_multiplier",
            "open_loop_tms",
            "ramp_dec_tms",
            "ramp_inc_tms",
            "ramp_pt1_tms",
            "v_ref",
            "autonomous_v_ref_enable",
            "autonomous_v_ref_time_constant",
        ]
        labels = {
            "y_ref_type": "y is a percent of",
            "open_loop_tms": "Open-loop response time (1/100 s)",
            "ramp_dec_tms": "Ramp down time (1/100 s)",
            "ramp_inc_tms": "Ramp up time (1/100 s)",
            "ramp_pt1_tms": "Low-pass filter time (1/100 s)",
            "v_ref": "Voltage reference (1/100 %, volt-var)",
            "autonomous_v_ref_enable": "Adjust the voltage reference autonomously (volt-var)",
            "autonomous_v_ref_time_constant": "Its time constant (s)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of the DERCurve when not set: say so rather than "Unknown".
        self.fields["autonomous_v_ref_enable"].widget.choices = [
            ("unknown", "Not sent"),
            ("true", "Yes"),
            ("false", "No"),
        ]
