import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms

from programs.choices import (
    DispatchSelection,
    EventKind,
    EventPurpose,
    RequirementProfile,
    SetpointRule,
    UnitRefType,
)
from programs.controls import (
    CSIP_AUS_ONLY,
    CURVE_MODE_TYPES,
    DEFAULT_ONLY_FIELDS,
    KIND_MODES,
    PLANNED_KINDS,
    allowed_kinds,
    controls_refusals,
    event_words,
)
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
            "site_envelope_primacy",
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


# ---------------------------------------------------------------------------------------
# Control modes as people enter them: each ControlBase field's input, in human units (kW,
# %, power factor, seconds), and its conversion to the standard's units (W, hundredths of a
# percent, hundredths of a second). The event form and the group's default control share it,
# and so does the words an event's page says about its modes.


@dataclass(frozen=True)
class ModeInput:
    field: str  # the ControlBase (or DefaultControl) column
    name: str  # the form field
    label: str
    unit: str  # "kw", "kw_signed", "pct", "pct_signed", "pf", "s", "on_off", "excitation",
    #            "ref_type", "curve", "droop", "hz", "volt_pct", "grad"
    help: str = ""
    words: tuple[str, str] = ("", "")  # on_off: what True and False say


MODE_INPUTS: tuple[ModeInput, ...] = (
    ModeInput("op_mod_connect", "op_mod_connect", "Connection", "on_off",
              "Connect or disconnect the DER from the grid (opModConnect).",
              ("connect", "disconnect")),
    ModeInput("op_mod_energize", "op_mod_energize", "Energize", "on_off",
              "Energize or de-energize the DER (opModEnergize).", ("energize", "de-energize")),
    ModeInput("op_mod_fixed_w", "op_mod_fixed_w", "Fixed active power (% of max W)",
              "pct_signed", "-100 to 100; positive discharges (opModFixedW)."),
    ModeInput("op_mod_max_lim_w", "op_mod_max_lim_w", "Maximum active power (% of max W)",
              "pct", "0 to 100 (opModMaxLimW)."),
    ModeInput("op_mod_target_w", "op_mod_target_kw", "Target active power per device (kW)",
              "kw_signed", "Positive discharges, negative charges (opModTargetW)."),
    ModeInput("op_mod_fixed_pf_inject_w", "op_mod_fixed_pf_inject_w",
              "Power factor when injecting (0 to 1)", "pf", "Displacement, e.g. 0.95."),
    ModeInput("op_mod_fixed_pf_inject_excitation", "op_mod_fixed_pf_inject_excitation",
              "Excitation when injecting", "excitation"),
    ModeInput("op_mod_fixed_pf_absorb_w", "op_mod_fixed_pf_absorb_w",
              "Power factor when absorbing (0 to 1)", "pf", "Displacement, e.g. 0.95."),
    ModeInput("op_mod_fixed_pf_absorb_excitation", "op_mod_fixed_pf_absorb_excitation",
              "Excitation when absorbing", "excitation"),
    ModeInput("op_mod_fixed_var", "op_mod_fixed_var", "Fixed reactive power (%)", "pct_signed",
              "-100 to 100, a percent of the reference below (opModFixedVar)."),
    ModeInput("op_mod_fixed_var_ref_type", "op_mod_fixed_var_ref_type",
              "Reactive power is a percent of", "ref_type"),
    ModeInput("op_mod_freq_droop", "op_mod_freq_droop", "Frequency droop", "droop"),
    ModeInput("op_mod_volt_var", "op_mod_volt_var", "Volt-var curve", "curve"),
    ModeInput("op_mod_volt_watt", "op_mod_volt_watt", "Volt-watt curve", "curve"),
    ModeInput("op_mod_freq_watt", "op_mod_freq_watt", "Frequency-watt curve", "curve"),
    ModeInput("op_mod_watt_pf", "op_mod_watt_pf", "Watt-power factor curve", "curve"),
    ModeInput("op_mod_watt_var", "op_mod_watt_var", "Watt-var curve", "curve"),
    ModeInput("ramp_tms", "ramp_s", "Ramp time (seconds)", "s",
              "How long the DER takes to reach the new value; blank for its own default."),
    ModeInput("op_mod_imp_lim_w", "op_mod_imp_lim_kw", "Import limit at the site (kW)", "kw",
              "CSIP-AUS opModImpLimW."),
    ModeInput("op_mod_exp_lim_w", "op_mod_exp_lim_kw", "Export limit at the site (kW)", "kw",
              "Export to the grid held at or below this (CSIP-AUS opModExpLimW; a US CSIP "
              "program serves it per device as opModMaxLimW)."),
    ModeInput("op_mod_gen_lim_w", "op_mod_gen_lim_kw", "Generation limit (kW)", "kw",
              "CSIP-AUS opModGenLimW."),
    ModeInput("op_mod_load_lim_w", "op_mod_load_lim_kw", "Load limit (kW)", "kw",
              "CSIP-AUS opModLoadLimW."),
    ModeInput("op_mod_storage_target_w", "op_mod_storage_target_kw",
              "Storage target (kW)", "kw_signed",
              "Positive discharges, negative charges (CSIP-AUS opModStorageTargetW)."),
)  # fmt: skip
SETTING_INPUTS: tuple[ModeInput, ...] = (
    ModeInput("set_es_delay", "set_es_delay_s", "Enter-service delay (seconds)", "s"),
    ModeInput("set_es_random_delay", "set_es_random_delay_s",
              "Enter-service random delay (seconds)", "s"),
    ModeInput("set_es_ramp_tms", "set_es_ramp_s", "Enter-service ramp time (seconds)", "s"),
    ModeInput("set_es_high_freq", "set_es_high_freq_hz",
              "Enter service below frequency (Hz)", "hz"),
    ModeInput("set_es_low_freq", "set_es_low_freq_hz", "Enter service above frequency (Hz)", "hz"),
    ModeInput("set_es_high_volt", "set_es_high_volt_pct",
              "Enter service below voltage (% of nominal)", "volt_pct"),
    ModeInput("set_es_low_volt", "set_es_low_volt_pct",
              "Enter service above voltage (% of nominal)", "volt_pct"),
    ModeInput("set_grad_w", "set_grad_w_pct", "Ramp rate (% of max W per second)", "grad",
              "setGradW: the default ramp rate of power changes."),
    ModeInput("set_soft_grad_w", "set_soft_grad_w_pct",
              "Soft-start ramp rate (% of max W per second)", "grad",
              "setSoftGradW: the ramp rate when entering service."),
)  # fmt: skip
MODE_BY_FIELD = {m.field: m for m in (*MODE_INPUTS, *SETTING_INPUTS)}
# FreqDroopType members: (key, form suffix, label, unit, scale).
DROOP_PARTS = (
    ("dBOF", "db_of", "Over-frequency dead band (Hz)", Decimal("0.001"), 1000),
    ("dBUF", "db_uf", "Under-frequency dead band (Hz)", Decimal("0.001"), 1000),
    ("kOF", "k_of", "Over-frequency droop (per unit)", Decimal("0.001"), 1000),
    ("kUF", "k_uf", "Under-frequency droop (per unit)", Decimal("0.001"), 1000),
    ("openLoopTms", "open_loop_s", "Open-loop response time (seconds)", Decimal("0.01"), 100),
)
_SCALE = {"kw": 1000, "kw_signed": 1000, "pct": 100, "pct_signed": 100, "s": 100, "hz": 100,
          "volt_pct": 100, "grad": 100}  # fmt: skip


def _decimal(step: str, lo=None, hi=None, **kw) -> forms.DecimalField:
    places = len(step.split(".")[1]) if "." in step else 0
    return forms.DecimalField(
        required=False,
        min_value=None if lo is None else Decimal(lo),
        max_value=None if hi is None else Decimal(hi),
        max_digits=12,
        decimal_places=places,
        widget=forms.NumberInput(attrs={"step": step}),
        **kw,
    )


class CurveChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.description or f"Curve {obj.mrid[:8]}"


def mode_form_fields(mode: ModeInput, *, curves=None) -> dict[str, forms.Field]:
    """The form field(s) entering `mode`, named as `mode.name` (a droop: one per member)."""
    unit = mode.unit
    field: forms.Field
    if unit == "droop":
        return {
            f"{mode.name}_{suffix}": _decimal(str(step), "0", label=label)
            for _key, suffix, label, step, _scale in DROOP_PARTS
        }
    if unit == "on_off":
        field = forms.TypedChoiceField(
            choices=[
                ("", "—"),
                ("1", mode.words[0].capitalize()),
                ("0", mode.words[1].capitalize()),
            ],
            coerce=lambda v: v == "1",
            empty_value=None,
            required=False,
        )
    elif unit == "excitation":
        field = forms.TypedChoiceField(
            choices=[("", "Not set"), ("1", "Over-excited"), ("0", "Under-excited")],
            coerce=lambda v: v == "1",
            empty_value=None,
            required=False,
        )
    elif unit == "ref_type":
        field = forms.TypedChoiceField(
            choices=[("", "—"), *UnitRefType.choices], coerce=int, empty_value=None, required=False
        )
    elif unit == "curve":
        field = CurveChoiceField(queryset=curves, required=False, empty_label="—")
    elif unit == "pf":
        field = _decimal("0.001", "0", "1")
    elif unit in ("kw",):
        field = _decimal("0.1", "0")
    elif unit == "kw_signed":
        field = _decimal("0.1")
    elif unit == "pct":
        field = _decimal("0.01", "0", "100")
    elif unit == "pct_signed":
        field = _decimal("0.01", "-100", "100")
    elif unit == "s":
        field = _decimal("0.01", "0", "655.35" if mode.field != "set_es_delay" else None)
    elif unit == "hz":
        field = _decimal("0.01", "0", "655.35")
    elif unit == "volt_pct":
        field = _decimal("0.01", "0", "327.67")
    elif unit == "grad":
        field = _decimal("0.01", "0", "655.35")
    else:  # pragma: no cover - a new unit needs its input
        raise ValueError(unit)
    field.label = mode.label
    field.help_text = mode.help
    return {mode.name: field}


def mode_value(mode: ModeInput, data: Mapping[str, Any]) -> Any:
    """The standard's value of `mode` from cleaned form `data` (None when not given)."""
    if mode.unit == "droop":
        parts = {key: data.get(f"{mode.name}_{suffix}") for key, suffix, _l, _s, _sc in DROOP_PARTS}
        if all(v is None for v in parts.values()):
            return None
        return {key: round((v or 0) * scale) for (key, _s, _l, _st, scale), v in
                zip(DROOP_PARTS, parts.values(), strict=True)}  # fmt: skip
    value = data.get(mode.name)
    if value is None or value == "":
        return None
    if mode.unit in _SCALE:
        return int((value * _SCALE[mode.unit]).to_integral_value())
    return value


def mode_words(mode: ModeInput, value: Any) -> str:
    """`value` (the standard's units) as people read it: "3.5 kW", "80 %", "disconnect"."""
    if value is None:
        return ""
    unit = mode.unit
    if unit == "on_off":
        return mode.words[0] if value else mode.words[1]
    if unit == "excitation":
        return "over-excited" if value else "under-excited"
    if unit == "ref_type":
        return UnitRefType(value).label
    if unit == "curve":
        return (
            f"{value.description or 'curve ' + value.mrid[:8]} ({value.get_curve_type_display()})"
        )
    if unit == "pf":
        return f"power factor {Decimal(value).normalize():f}"
    if unit == "droop":
        return ", ".join(
            f"{label.split(' (')[0].lower()} {Decimal(value.get(key, 0)) / scale:f}"
            for key, _s, label, _st, scale in DROOP_PARTS
            if key in value
        )
    number = Decimal(value) / _SCALE[unit]
    text = f"{number.normalize():f}"
    suffix = {"kw": " kW", "kw_signed": " kW", "pct": " % of max W", "s": " s", "hz": " Hz",
              "volt_pct": " % of nominal voltage", "grad": " % of max W per second",
              "pct_signed": " %"}[unit]  # fmt: skip
    if unit == "pct_signed" and mode.field == "op_mod_fixed_w":
        suffix = " % of max W"
    return text + suffix


def controls_in_words(obj) -> list[tuple[str, str]]:
    """[(label, value in words)] of every mode and setting `obj` (an Event or a
    DefaultControl) sets, in MODE_INPUTS order."""
    rows = []
    for mode in (*MODE_INPUTS, *SETTING_INPUTS):
        value = getattr(obj, mode.field, None)
        if value is not None:
            rows.append((mode.label.split(" (")[0], mode_words(mode, value)))
    return rows


def controls_summary(obj) -> str:
    """One line of `obj`'s modes for lists and labels: "Connection disconnect, Ramp time 5 s"."""
    return ", ".join(f"{label} {words}" for label, words in controls_in_words(obj))


# Kinds that ask a battery for stored energy (or to store it): the program's backup reserve
# bounds them. The others set a connection state, a limit, a power factor or a curve.
ENERGY_KINDS = frozenset(
    {EventKind.DISCHARGE, EventKind.CHARGE, EventKind.FIXED_W, EventKind.TARGET_W,
     EventKind.STORAGE_TARGET}
)  # fmt: skip


def kind_rule_notes(program, kind: str) -> list[str]:
    """How the program's rules bear on an event of `kind`, in words: which apply, and which
    have no meaning for its modes."""
    label = EventKind(kind).label.lower()
    notes = [
        "Windows, notice, duration, rest and the event caps apply to every kind of event, "
        f"this {label} event included."
    ]
    words = event_words(kind)
    if kind in ENERGY_KINDS:
        notes.append(f"Devices keep the program's {program.reserve_soc_pct} % backup reserve.")
    elif kind == EventKind.MULTI_MODE:
        notes.append(
            f"Devices keep the program's {program.reserve_soc_pct} % backup reserve when the "
            "event sets a fixed or target active power; its limits, connection and reactive "
            "power modes ask no battery for stored energy, so there the reserve has no meaning."
        )
    else:
        notes.append(
            f"The {program.reserve_soc_pct} % backup reserve has no meaning here: "
            f"{words[0].lower()}{words[1:]} asks no battery for stored energy."
        )
    if kind not in PLANNED_KINDS:
        notes.append(
            "There is no group target: every device gets the same mode values, "
            "so the capacity forecast is for information only."
        )
    notes.append("Customers may opt out of it, as of any event.")
    return notes


class GroupSelect(forms.Select):
    """The group select; each option names the kinds its program's profile allows
    (data-kinds), so the page's script offers only those."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        group = getattr(value, "instance", None)
        if group is not None:
            option["attrs"]["data-kinds"] = " ".join(allowed_kinds(group.program.profile))
        return option


class EventForm(forms.Form):
    """A new event, entered in the utility's local time and human units (kW, %, seconds);
    stored in UTC and the standard's units.

    The kind decides which modes the event sets (programs.controls.KIND_MODES); the form
    has every kind's fields, grouped by ``kind_fieldsets()``, and reads only the chosen
    kind's. With script the page shows only those (static/programs/event_form.js).
    """

    group = forms.ModelChoiceField(queryset=DispatchGroup.objects.none(), widget=GroupSelect)
    kind = forms.ChoiceField(choices=EventKind.choices, initial=EventKind.DISCHARGE)
    purpose = forms.ChoiceField(choices=EventPurpose.choices, initial=EventPurpose.PEAK)
    start_local = forms.DateTimeField(
        label="Start (local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    duration_min = forms.IntegerField(label="Duration (min)", min_value=1, max_value=1440)
    target_kw = forms.DecimalField(
        label="Group target (kW)",
        required=False,
        min_value=Decimal("0.1"),
        max_digits=10,
        decimal_places=1,
        help_text="What the whole group should deliver.",
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
    randomize_start_s = forms.IntegerField(
        label="Spread the start over (seconds)", min_value=0, max_value=3600, initial=0
    )
    randomize_duration_s = forms.IntegerField(
        label="Spread the end over (seconds)", min_value=0, max_value=3600, initial=0
    )
    is_test = forms.BooleanField(required=False, label="Test event (does not count against caps)")
    emergency_override = forms.BooleanField(
        required=False, label="Emergency override of program rules (operators; audited)"
    )
    override_reason = forms.CharField(required=False, max_length=200)

    PLANNED_FIELDS = ("target_kw", "selection", "setpoint_rule", "per_device_kw")
    COMMON = ("group", "kind", "purpose", "start_local", "duration_min")
    AFTER = ("randomize_start_s", "randomize_duration_s", "is_test", "emergency_override",
             "override_reason")  # fmt: skip

    def __init__(self, *args, utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        groups = DispatchGroup.objects.select_related("program").for_utility(utility)
        self.fields["group"].queryset = groups
        self.fields["group"].label_from_instance = lambda g: f"{g.program.name} · {g.name}"
        # The program, when the group is known (chosen, or the page was opened for one).
        self.program = None
        chosen = self.data.get("group") if self.is_bound else self.initial.get("group")
        if chosen:
            group = groups.filter(pk=chosen).first() if str(chosen).isdigit() else None
            self.program = group.program if group else None
        # Every kind some program of the utility may schedule (the page's script narrows
        # them to the chosen group's; clean() refuses one outside its program's profile).
        profiles = set(Program.objects.for_utility(utility).values_list("profile", flat=True))
        kinds = {k for p in profiles or {RequirementProfile.CSIP} for k in allowed_kinds(p)}
        self.kinds = kinds
        self.fields["kind"].choices = [(k, label) for k, label in EventKind.choices if k in kinds]
        curves = Curve.objects.for_utility(utility).select_related("program")
        if self.program:
            curves = curves.filter(program=self.program)
        for fields in KIND_MODES.values():
            for field in fields:
                mode = MODE_BY_FIELD[field]
                qs = (
                    curves.filter(curve_type=CURVE_MODE_TYPES[field])
                    if mode.unit == "curve"
                    else None
                )
                self.fields.update(mode_form_fields(mode, curves=qs))
        self.fields.update(mode_form_fields(MODE_BY_FIELD["ramp_tms"]))
        self.fields["op_mod_exp_lim_kw"].label = "Export limit (kW)"
        if self.is_bound:
            self._drop_other_kinds_inputs(self.data.get("kind"))

    def _drop_other_kinds_inputs(self, kind) -> None:
        """Forget what the page posted for other kinds' fields (hidden once the kind changed):
        they are not this event's, so neither their values nor their errors count."""
        mode_names = {n for m in MODE_INPUTS for n in self._names((m.field,)) if n in self.fields}
        keep = set(self._names((*KIND_MODES.get(kind, ()), "ramp_tms")))
        if kind in PLANNED_KINDS or kind == EventKind.EXPORT_LIMIT:
            keep |= {"target_kw", "per_device_kw"}
        drop = (mode_names | {"target_kw", "per_device_kw"}) - keep
        if drop & set(self.data):
            data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict or a dict
            for name in drop:
                data.pop(name, None)
            self.data = data

    def _names(self, fields: tuple[str, ...]) -> list[str]:
        names = []
        for field in fields:
            mode = MODE_BY_FIELD[field]
            if mode.unit == "droop":
                names += [f"{mode.name}_{suffix}" for _k, suffix, _l, _s, _sc in DROOP_PARTS]
            else:
                names.append(mode.name)
        return names

    def kind_fieldsets(self) -> list[dict]:
        """Each kind's fieldset: {"kinds": space-separated kinds, "title", "fields",
        "curves", "note"}. Kinds setting the same modes share one; a multi-mode event shows
        them all."""
        sets: list[dict] = [
            {
                "kinds": " ".join(sorted(PLANNED_KINDS)),
                "title": "Discharge or charge: the group target",
                "fields": [self[n] for n in self.PLANNED_FIELDS],
                "curves": None,
            }
        ]
        offered = self.kinds
        # A multi-mode event shows every unplanned kind's fieldset at once (each mode's
        # inputs once), under a note of its own.
        multi = EventKind.MULTI_MODE in offered
        if multi:
            sets.append(
                {
                    "kinds": EventKind.MULTI_MODE.value,
                    "title": "Multi-mode: several modes in one control",
                    "fields": [],
                    "curves": None,
                    "note": "Give a value to each mode the event sets, below; leave the "
                    "others blank. Limits hold together; a DER holds one active power and "
                    "one reactive power mode at a time.",
                }
            )
        for kind, modes in KIND_MODES.items():
            if kind in PLANNED_KINDS or kind == EventKind.MULTI_MODE or kind not in offered:
                continue
            entry = {
                "kinds": f"{kind} {EventKind.MULTI_MODE.value}" if multi else kind,
                "title": EventKind(kind).label,
                "fields": [self[n] for n in self._names(modes)],
                "curves": None,
            }
            curve_modes = [m for m in modes if m in CURVE_MODE_TYPES]
            if curve_modes:
                field = self.fields[MODE_BY_FIELD[curve_modes[0]].name]
                entry["curves"] = field.queryset.exists()  # type: ignore[attr-defined]
            sets.append(entry)
        return sets

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        group = data.get("group")
        if data.get("setpoint_rule") == SetpointRule.PER_DEVICE and not data.get("per_device_kw"):
            if kind in PLANNED_KINDS:
                self.add_error("per_device_kw", "Give the per-device setpoint.")
        if data.get("emergency_override") and not data.get("override_reason"):
            self.add_error("override_reason", "Say why the rules are being overridden.")
        if kind is None or group is None:
            return data
        program = group.program
        if kind not in allowed_kinds(program.profile):
            self.add_error(
                "kind",
                f"{EventKind(kind).label} is not among the modes of a "
                f"{RequirementProfile(program.profile).label} program.",
            )
            return data
        if kind == EventKind.EXPORT_LIMIT and data.get("op_mod_exp_lim_kw") is None:
            # The form before the control base entered the limit as the target.
            data["op_mod_exp_lim_kw"] = data.get("target_kw")
        self.controls = self._controls(kind, data)
        for field, message in controls_refusals(
            program=program, values=self.controls, kind=kind
        ).items():
            self.add_controls_error(field, message)
        return data

    def _controls(self, kind: str, data) -> dict[str, Any]:
        values = {}
        for field in (*KIND_MODES[kind], "ramp_tms"):
            value = mode_value(MODE_BY_FIELD[field], data)
            if value is not None:
                values[field] = value
        return values

    def add_controls_error(self, field: str, message) -> None:
        """A refusal keyed by a ControlBase field, shown on the input that entered it."""
        mode = MODE_BY_FIELD.get(field)
        if mode is None:
            name = {"target_w": "target_kw", "per_device_w": "per_device_kw"}.get(field, field)
            self.add_error(name if name in self.fields else None, message)
        elif mode.unit == "droop":
            self.add_error(f"{mode.name}_{DROOP_PARTS[0][1]}", message)
        else:
            self.add_error(mode.name, message)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        local = data["start_local"].replace(tzinfo=None)
        start = local.replace(tzinfo=ZoneInfo(self.utility.timezone))
        kind = data["kind"]
        planned = kind in PLANNED_KINDS
        controls = dict(getattr(self, "controls", {}))
        target_w = _watts(data.get("target_kw")) if planned else None
        return {
            "program": data["group"].program,
            "group": data["group"],
            "kind": kind,
            "purpose": data["purpose"],
            "start": start.astimezone(ZoneInfo("UTC")),
            "duration_s": data["duration_min"] * 60,
            "target_w": target_w,
            "per_device_w": _watts(data.get("per_device_kw")) if planned else None,
            "selection": data["selection"] if planned else DispatchSelection.ALL,
            "setpoint_rule": data["setpoint_rule"] if planned else None,
            "randomize_start_s": data["randomize_start_s"] or 0,
            "randomize_duration_s": data["randomize_duration_s"] or 0,
            "is_test": data["is_test"],
            "emergency_override": data["emergency_override"],
            "override_reason": data.get("override_reason", ""),
            "controls": controls,
        }


def _watts(kw: Decimal | None) -> int | None:
    return None if kw is None else int(kw * 1000)


def default_start(utility) -> datetime:
    """Tomorrow at 16:00 local time: a typical peak event start."""
    tz = ZoneInfo(utility.timezone)
    tomorrow = datetime.now(tz) + timedelta(days=1)
    return tomorrow.replace(hour=16, minute=0, second=0, microsecond=0)


def mode_initial(mode: ModeInput, value: Any) -> dict[str, Any]:
    """The form input(s) showing `value` (the standard's units) in `mode`'s human units."""
    if value is None:
        return {}
    if mode.unit == "droop":
        return {
            f"{mode.name}_{suffix}": Decimal(value[key]) / scale
            for key, suffix, _l, _s, scale in DROOP_PARTS
            if key in value
        }
    if mode.unit in ("on_off", "excitation"):
        return {mode.name: "1" if value else "0"}
    if mode.unit == "curve":
        return {mode.name: value.pk}
    if mode.unit in _SCALE:
        return {mode.name: Decimal(value) / _SCALE[mode.unit]}
    return {mode.name: value}


class DefaultControlForm(forms.Form):
    """A dispatch group's DefaultDERControl in human units: every mode its program's profile
    allows, the enter-service settings and the ramp gradients. Blank means not set."""

    def __init__(self, *args, group: DispatchGroup, **kwargs):
        self.group = group
        program = group.program
        current = getattr(group, "default_control", None) if group.pk else None
        # A CSIP-AUS mode is offered only where the profile lets a default set it.
        self.modes = [
            m
            for m in MODE_INPUTS
            if m.field not in CSIP_AUS_ONLY
            or not controls_refusals(program=program, values={m.field: 1})
        ]
        initial = kwargs.pop("initial", {}) or {}
        if current is not None:
            for mode in (*self.modes, *SETTING_INPUTS):
                initial = {**mode_initial(mode, getattr(current, mode.field)), **initial}
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        curves = Curve.objects.for_utility(group.utility).filter(program=program)
        for mode in (*self.modes, *SETTING_INPUTS):
            qs = (
                curves.filter(curve_type=CURVE_MODE_TYPES[mode.field])
                if mode.unit == "curve"
                else None
            )
            self.fields.update(mode_form_fields(mode, curves=qs))

    def fieldsets(self) -> list[tuple[str, list]]:
        groups = (
            ("Connection", ("op_mod_connect", "op_mod_energize")),
            ("Active power", ("op_mod_fixed_w", "op_mod_max_lim_w", "op_mod_target_w",
                              "ramp_tms")),
            ("Site limits (CSIP-AUS)", ("op_mod_imp_lim_w", "op_mod_exp_lim_w",
                                        "op_mod_gen_lim_w", "op_mod_load_lim_w",
                                        "op_mod_storage_target_w")),
            ("Power factor and reactive power", ("op_mod_fixed_pf_inject_w",
                                                 "op_mod_fixed_pf_inject_excitation",
                                                 "op_mod_fixed_pf_absorb_w",
                                                 "op_mod_fixed_pf_absorb_excitation",
                                                 "op_mod_fixed_var", "op_mod_fixed_var_ref_type")),
            ("Curves and droop", ("op_mod_volt_var", "op_mod_volt_watt", "op_mod_freq_watt",
                                  "op_mod_watt_pf", "op_mod_watt_var", "op_mod_freq_droop")),
            ("Entering service", ("set_es_delay", "set_es_random_delay", "set_es_ramp_tms",
                                  "set_es_high_freq", "set_es_low_freq", "set_es_high_volt",
                                  "set_es_low_volt")),
            ("Ramp rates", ("set_grad_w", "set_soft_grad_w")),
        )  # fmt: skip
        offered = {m.field for m in (*self.modes, *SETTING_INPUTS)}
        sets = []
        for title, fields in groups:
            names = []
            for field in fields:
                if field not in offered:
                    continue
                mode = MODE_BY_FIELD[field]
                if mode.unit == "droop":
                    names += [f"{mode.name}_{suffix}" for _k, suffix, _l, _s, _sc in DROOP_PARTS]
                else:
                    names.append(mode.name)
            if names:
                sets.append((title, [self[n] for n in names]))
        return sets

    def clean(self):
        data = super().clean()
        if not self.errors:
            self.values = {}
            for mode in (*self.modes, *SETTING_INPUTS):
                value = mode_value(mode, data)
                if value is not None:
                    self.values[mode.field] = value
            if not self.values:
                raise forms.ValidationError(
                    "Set at least one mode or setting, or clear the default control."
                )
            modes = {f: v for f, v in self.values.items() if f not in DEFAULT_ONLY_FIELDS}
            for field, message in controls_refusals(
                program=self.group.program, values=modes
            ).items():
                self.add_error_on(field, message)
        return data

    def add_error_on(self, field: str, message) -> None:
        """A refusal keyed by a model field, shown on the input that entered it."""
        mode = MODE_BY_FIELD.get(field)
        if mode is None:
            self.add_error(None, message)
        elif mode.unit == "droop":
            self.add_error(f"{mode.name}_{DROOP_PARTS[0][1]}", message)
        else:
            self.add_error(mode.name, message)


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
