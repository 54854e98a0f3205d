"""The control vocabulary: which ControlBase modes each event kind sets, and which modes a
program's requirement profile allows.

An event carries one kind (its family, for people, rules and settlement) and the values of
that family's modes, plus `ramp_tms`, which any kind may carry. A multi-mode event carries
several families' modes at once (MULTI_MODE_FIELDS: a CSIP-AUS envelope of export, import,
generation and load limits with a disconnect, say). A group's DefaultControl may set any
mode its program's profile allows. Whatever carries them, two modes that set the same
quantity are refused together (EXCLUSIVE_MODES), and so is a setting that qualifies a mode
that is not given (COMPANIONS).
"""

from collections.abc import Mapping
from typing import Any

from programs.choices import CurveType, EventKind, RequirementProfile

# Every mode column of programs.models.ControlBase (curve modes are foreign keys to Curve).
CONTROL_FIELDS: tuple[str, ...] = (
    "op_mod_connect",
    "op_mod_energize",
    "op_mod_fixed_w",
    "op_mod_max_lim_w",
    "op_mod_target_w",
    "op_mod_fixed_pf_inject_w",
    "op_mod_fixed_pf_inject_excitation",
    "op_mod_fixed_pf_absorb_w",
    "op_mod_fixed_pf_absorb_excitation",
    "op_mod_fixed_var",
    "op_mod_fixed_var_ref_type",
    "op_mod_target_var",
    "op_mod_freq_droop",
    "op_mod_volt_var",
    "op_mod_volt_watt",
    "op_mod_freq_watt",
    "op_mod_watt_pf",
    "op_mod_watt_var",
    "ramp_tms",
    "op_mod_imp_lim_w",
    "op_mod_exp_lim_w",
    "op_mod_gen_lim_w",
    "op_mod_load_lim_w",
    "op_mod_storage_target_w",
)
CURVE_FIELDS: tuple[str, ...] = (
    "op_mod_volt_var",
    "op_mod_volt_watt",
    "op_mod_freq_watt",
    "op_mod_watt_pf",
    "op_mod_watt_var",
)
# The CSIP-AUS extensions (csipaus namespace): refused on a US CSIP program.
CSIP_AUS_ONLY: frozenset[str] = frozenset(
    {
        "op_mod_imp_lim_w",
        "op_mod_exp_lim_w",
        "op_mod_gen_lim_w",
        "op_mod_load_lim_w",
        "op_mod_storage_target_w",
    }
)

# CSIP-AUS modes a US CSIP program may still set, because they have a US CSIP form: an
# export limit (W) is served per device as opModMaxLimW (protocol.managers.derp).
US_SERVED: frozenset[str] = frozenset({"op_mod_exp_lim_w"})

# The modes an event of each kind sets. Discharge and charge are planned: their
# opModTargetW is each device's Dispatch setpoint, not a column. A US CSIP export limit has
# no site export mode: it is served as opModMaxLimW per device (protocol.managers.derp).
KIND_MODES: dict[str, tuple[str, ...]] = {
    EventKind.DISCHARGE: (),
    EventKind.CHARGE: (),
    EventKind.EXPORT_LIMIT: ("op_mod_exp_lim_w",),
    EventKind.IMPORT_LIMIT: ("op_mod_imp_lim_w",),
    EventKind.GENERATION_LIMIT: ("op_mod_gen_lim_w",),
    EventKind.LOAD_LIMIT: ("op_mod_load_lim_w",),
    EventKind.STORAGE_TARGET: ("op_mod_storage_target_w",),
    EventKind.CONNECT: ("op_mod_connect",),
    EventKind.ENERGIZE: ("op_mod_energize",),
    EventKind.FIXED_W: ("op_mod_fixed_w",),
    EventKind.MAX_W: ("op_mod_max_lim_w",),
    EventKind.TARGET_W: ("op_mod_target_w",),
    EventKind.FIXED_PF: (
        "op_mod_fixed_pf_inject_w",
        "op_mod_fixed_pf_inject_excitation",
        "op_mod_fixed_pf_absorb_w",
        "op_mod_fixed_pf_absorb_excitation",
    ),
    EventKind.FIXED_VAR: ("op_mod_fixed_var", "op_mod_fixed_var_ref_type"),
    EventKind.VOLT_VAR: ("op_mod_volt_var",),
    EventKind.VOLT_WATT: ("op_mod_volt_watt",),
    EventKind.FREQ_WATT: ("op_mod_freq_watt",),
    EventKind.WATT_PF: ("op_mod_watt_pf",),
    EventKind.FREQ_DROOP: ("op_mod_freq_droop",),
}
# A multi-mode event may set any mode an unplanned kind sets, several at once (in
# CONTROL_FIELDS order); which of them its program's profile allows is checked mode by mode.
MULTI_MODE_FIELDS: tuple[str, ...] = tuple(
    f for f in CONTROL_FIELDS if any(f in modes for modes in KIND_MODES.values())
)
KIND_MODES[EventKind.MULTI_MODE] = MULTI_MODE_FIELDS

# Modes that set the same quantity: one control (event or default) sets at most one mode of
# each family, as (what the family sets, [(the mode in words, its fields)]). A DER holds one
# active power, and follows one reactive power mode at a time (IEEE 1547-2018 5.3: constant
# power factor, volt-var, watt-var, constant reactive power; 2030.5 adds watt-PF and a
# target var). Limits are not exclusive: a DER keeps all of them at once.
EXCLUSIVE_MODES: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "active power",
        (
            ("a fixed active power (opModFixedW)", ("op_mod_fixed_w",)),
            ("a target active power (opModTargetW)", ("op_mod_target_w",)),
            ("a storage target (opModStorageTargetW)", ("op_mod_storage_target_w",)),
        ),
    ),
    (
        "reactive power",
        (
            (
                "a fixed power factor (opModFixedPF…)",
                ("op_mod_fixed_pf_inject_w", "op_mod_fixed_pf_absorb_w"),
            ),
            ("a fixed reactive power (opModFixedVar)", ("op_mod_fixed_var",)),
            ("a target reactive power (opModTargetVar)", ("op_mod_target_var",)),
            ("a volt-var curve (opModVoltVar)", ("op_mod_volt_var",)),
            ("a watt-power factor curve (opModWattPF)", ("op_mod_watt_pf",)),
            ("a watt-var curve (opModWattVar)", ("op_mod_watt_var",)),
        ),
    ),
)
# Settings that qualify a mode and mean nothing without it: field → (the mode, in words).
COMPANIONS: dict[str, tuple[str, str]] = {
    "op_mod_fixed_pf_inject_excitation": (
        "op_mod_fixed_pf_inject_w",
        "the power factor when injecting",
    ),
    "op_mod_fixed_pf_absorb_excitation": (
        "op_mod_fixed_pf_absorb_w",
        "the power factor when absorbing",
    ),
    "op_mod_fixed_var_ref_type": ("op_mod_fixed_var", "the fixed reactive power"),
}
# Modes the data model keeps but no profile this server speaks can send: refused, so no event
# is stored that every device would be shown as an empty control.
UNSERVABLE: dict[str, str] = {
    "op_mod_storage_target_w": (
        "No device can be sent a storage target: opModStorageTargetW is not in CSIP-AUS 1.2, "
        "the schema this server serves. Use a target or fixed active power instead."
    ),
}

# Kinds whose setpoints come from the dispatch plan (a group target split per device).
PLANNED_KINDS: frozenset[str] = frozenset({EventKind.DISCHARGE, EventKind.CHARGE})


def allowed_kinds(profile: str) -> list[str]:
    """The event kinds a program of `profile` may schedule. Every profile may send a
    multi-mode event: each of its modes is then checked against the profile."""
    aus = profile == RequirementProfile.CSIP_AUS
    return [
        kind
        for kind, modes in KIND_MODES.items()
        if kind == EventKind.MULTI_MODE
        or (
            (aus or kind == EventKind.EXPORT_LIMIT or not (set(modes) & CSIP_AUS_ONLY))
            and not set(modes) & set(UNSERVABLE)
        )
    ]


# A DefaultDERControl's own settings besides its modes (enter service and gradients).
DEFAULT_ONLY_FIELDS: tuple[str, ...] = (
    "set_es_delay",
    "set_es_high_freq",
    "set_es_high_volt",
    "set_es_low_freq",
    "set_es_low_volt",
    "set_es_ramp_tms",
    "set_es_random_delay",
    "set_grad_w",
    "set_soft_grad_w",
)
# 2030.5 FreqDroopType's elements, as op_mod_freq_droop stores them.
FREQ_DROOP_KEYS: tuple[str, ...] = ("dBOF", "dBUF", "kOF", "kUF", "openLoopTms")
# Which DERCurve type each curve mode may link.
CURVE_MODE_TYPES: dict[str, int] = {
    "op_mod_volt_var": CurveType.VOLT_VAR,
    "op_mod_volt_watt": CurveType.VOLT_WATT,
    "op_mod_freq_watt": CurveType.FREQ_WATT,
    "op_mod_watt_pf": CurveType.WATT_PF,
    "op_mod_watt_var": CurveType.WATT_VAR,
}


def event_words(kind: str) -> str:
    """ "An export limit event", "A connect or disconnect event": an event of `kind`."""
    label = str(EventKind(kind).label).lower()
    return f"{'An' if label[0] in 'aeiou' else 'A'} {label} event"


def controls_refusals(*, program, values: Mapping[str, Any], kind: str | None = None) -> dict:
    """Why `values` (ControlBase field → value; a curve mode's value is a Curve) cannot be
    what `program` tells its DERs, as {field: message}; empty when they can.

    With `kind` (an event), the values must be exactly that kind's modes, all of them given
    (a multi-mode event: any of MULTI_MODE_FIELDS, at least one), plus an optional ramp
    time. Without (a group's default), any mode the profile allows. Either way at most one
    mode of each EXCLUSIVE_MODES family, no COMPANIONS setting without its mode, and no fixed
    active power above the maximum.
    """
    refusals: dict[str, str] = {}
    allowed = set(CONTROL_FIELDS)
    if kind is not None:
        if kind not in KIND_MODES:
            return {"kind": f"Unknown event kind {kind!r}."}
        allowed = set(KIND_MODES[kind]) | {"ramp_tms"}
    aus = program.profile == RequirementProfile.CSIP_AUS
    for field, value in values.items():
        if field not in CONTROL_FIELDS:
            refusals[field] = "This is not a control mode."
        elif field not in allowed:
            what = event_words(kind) if kind else "A default"
            refusals[field] = f"{what} does not set this mode."
            if kind and field in MULTI_MODE_FIELDS:
                refusals[field] += (
                    " To send several modes in one control, make it a multi-mode event "
                    f"(kind {EventKind.MULTI_MODE.value})."
                )
        elif field in UNSERVABLE and value is not None:
            refusals[field] = UNSERVABLE[field]
        elif field in CSIP_AUS_ONLY and not aus and value is not None and field not in US_SERVED:
            refusals[field] = (
                "This is a CSIP-AUS mode; the program's profile is "
                f"{RequirementProfile(program.profile).label}."
            )
        elif field == "op_mod_freq_droop" and value is not None:
            if not isinstance(value, Mapping) or set(value) != set(FREQ_DROOP_KEYS):
                refusals[field] = f"Give exactly {', '.join(FREQ_DROOP_KEYS)}."
            elif not all(isinstance(v, int) and v >= 0 for v in value.values()):
                refusals[field] = "Each value is a whole number, zero or more."
        elif field in CURVE_MODE_TYPES and value is not None:
            if value.program_id != program.pk:
                refusals[field] = "That curve belongs to another program."
            elif value.curve_type != CURVE_MODE_TYPES[field]:
                refusals[field] = (
                    f"This mode needs a {CurveType(CURVE_MODE_TYPES[field]).label} curve, "
                    f"not a {value.get_curve_type_display()} one."
                )
    for field, message in combination_refusals(values).items():
        refusals.setdefault(field, message)
    if kind == EventKind.MULTI_MODE:
        if all(values.get(f) is None for f in MULTI_MODE_FIELDS if f not in COMPANIONS):
            refusals["kind"] = (
                "A multi-mode event needs at least one mode: give the value of each mode it sets."
            )
    elif kind is not None and kind not in PLANNED_KINDS:
        # Excitation flags go with their power factor; the var reference type has a default.
        optional = {"ramp_tms", *COMPANIONS}
        needed = [f for f in KIND_MODES[kind] if f not in optional]
        if kind == EventKind.FIXED_PF:
            if all(values.get(f) is None for f in needed):
                refusals["op_mod_fixed_pf_inject_w"] = (
                    "Give the power factor when injecting, when absorbing, or both."
                )
        else:
            for field in needed:
                if values.get(field) is None and field not in refusals:
                    refusals[field] = f"{event_words(kind)} needs this value."
    return refusals


def combination_refusals(values: Mapping[str, Any]) -> dict[str, str]:
    """Why modes that are each fine cannot go together in one control, as {field: message}:
    two modes of one EXCLUSIVE_MODES family (the later one named), a COMPANIONS setting
    without its mode, a fixed active power above the maximum active power."""
    given = {f for f, v in values.items() if v is not None}
    refusals: dict[str, str] = {}
    for quantity, members in EXCLUSIVE_MODES:
        present = [(words, fields) for words, fields in members if given & set(fields)]
        for words, fields in present[1:]:
            field = next(f for f in fields if f in given)
            refusals[field] = (
                f"A DER holds one {quantity} mode at a time, and this control already sets "
                f"{present[0][0]}: give {words} or that, not both."
            )
    for field, (mode, words) in COMPANIONS.items():
        if field in given and mode not in given:
            refusals[field] = f"This qualifies {words}, which is not given: give it too."
    fixed_w, max_w = values.get("op_mod_fixed_w"), values.get("op_mod_max_lim_w")
    if fixed_w is not None and max_w is not None and fixed_w > max_w:
        refusals["op_mod_fixed_w"] = (
            f"A fixed active power of {fixed_w / 100:g} % of max W is above the maximum "
            f"active power this control sets ({max_w / 100:g} %)."
        )
    return refusals
