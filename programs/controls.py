"""The control vocabulary: which ControlBase modes each event kind sets, and which modes a
program's requirement profile allows.

An event carries one kind (its family, for people, rules and settlement) and the values of
that family's modes, plus `ramp_tms`, which any kind may carry. A group's DefaultControl may
set any mode its program's profile allows.
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
    """The event kinds a program of `profile` may schedule."""
    aus = profile == RequirementProfile.CSIP_AUS
    return [
        kind
        for kind, modes in KIND_MODES.items()
        if (aus or kind == EventKind.EXPORT_LIMIT or not (set(modes) & CSIP_AUS_ONLY))
        and not set(modes) & set(UNSERVABLE)
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


def controls_refusals(*, program, values: Mapping[str, Any], kind: str | None = None) -> dict:
    """Why `values` (ControlBase field → value; a curve mode's value is a Curve) cannot be
    what `program` tells its DERs, as {field: message}; empty when they can.

    With `kind` (an event), the values must be exactly that kind's modes, all of them given,
    plus an optional ramp time. Without (a group's default), any mode the profile allows.
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
            what = f"A {EventKind(kind).label.lower()} event" if kind else "A default"
            refusals[field] = f"{what} does not set this mode."
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
    if kind is not None and kind not in PLANNED_KINDS:
        # Excitation flags go with their power factor; the var reference type has a default.
        optional = {
            "ramp_tms",
            "op_mod_fixed_pf_inject_excitation",
            "op_mod_fixed_pf_absorb_excitation",
            "op_mod_fixed_var_ref_type",
        }
        needed = [f for f in KIND_MODES[kind] if f not in optional]
        if kind == EventKind.FIXED_PF:
            if all(values.get(f) is None for f in needed):
                refusals["op_mod_fixed_pf_inject_w"] = (
                    "Give the power factor when injecting, when absorbing, or both."
                )
        else:
            for field in needed:
                if values.get(field) is None and field not in refusals:
                    refusals[field] = f"A {EventKind(kind).label.lower()} event needs this value."
    return refusals
