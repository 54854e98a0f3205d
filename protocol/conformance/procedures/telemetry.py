"""Telemetry: ratings, settings, status and availability reported, readings at the
profile's cadence, and event setpoints visible in them."""

import itertools

from devices.models import TelemetrySample
from protocol.conformance.procedures.control import (
    SETPOINT_W,
    make_event,
    setpoint_visible,
    wait_event_time,
)
from protocol.conformance.procedures.framework import (
    DELIVERY,
    EVENT_WAIT,
    Context,
    Procedure,
    Step,
    StepFailed,
    cleanup_event,
)

RATINGS_AND_SETTINGS = (
    "rtg_max_charge_rate_w",  # DERCapability
    "rtg_max_discharge_rate_w",
    "rtg_max_wh",
    "set_max_charge_rate_w",  # DERSettings
    "set_max_discharge_rate_w",
)


def step_ratings(ctx: Context) -> bool:
    missing = []
    for ed in ctx.end_devices().select_related("device"):
        d = ed.device
        for name in RATINGS_AND_SETTINGS:
            if d is None or getattr(d, name) is None:
                missing.append(f"{ed.sfdi}:{name}")
    ctx.evidence["missing"] = missing
    return bool(ctx.end_devices().exists()) and not missing


def step_status(ctx: Context) -> bool:
    ok = True
    for ed in ctx.end_devices().select_related("device"):
        d = ed.device
        ok = ok and d is not None and d.soc_pct is not None and d.stat_w_avail_w is not None
    return ok and ctx.end_devices().exists()


def step_telemetry(ctx: Context) -> bool:
    cadence = ctx.program.telemetry_cadence_s
    device_ids = list(ctx.end_devices().values_list("device_id", flat=True))
    stamps = sorted(
        TelemetrySample.objects.filter(device_id__in=device_ids, channel="w").values_list(
            "at", flat=True
        )
    )
    aligned = sorted({s for s in stamps if int(s.timestamp()) % cadence == 0})
    ctx.evidence["aligned_samples"] = len(aligned)
    if len(aligned) < 3:
        return False
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(aligned)]
    if max(gaps) > cadence:
        raise StepFailed(f"telemetry {max(gaps):.0f} s apart; the profile asks every {cadence} s")
    return True


PROCEDURES = (
    Procedure(
        "storage_ratings",
        "Storage ratings and settings complete",
        "DER",
        [Step("ratings reported", step_ratings, on_timeout="ratings incomplete")],
        "Every EndDevice reports rtgMaxChargeRateW, rtgMaxDischargeRateW and rtgMaxWh "
        "(DERCapability) and setMaxChargeRateW and setMaxDischargeRateW (DERSettings).",
    ),
    Procedure(
        "status_availability",
        "Status and availability reported",
        "DER",
        [Step("DERStatus and DERAvailability", step_status, on_timeout="not reported")],
        "Every EndDevice reports DERStatus with stateOfCharge and DERAvailability.",
    ),
    Procedure(
        "discharge_setpoint",
        "Discharge setpoint visible in telemetry",
        "Telemetry",
        [
            Step("schedule a discharge", make_event("discharge", lead_s=1), timeout_s=10),
            Step("event starts", wait_event_time("start"), EVENT_WAIT),
            Step("telemetry shows it", setpoint_visible(+1), DELIVERY, "no telemetry in event"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        f"During a {SETPOINT_W} W discharge, telemetry shows +{SETPOINT_W} W ± 10 % "
        "within the response window.",
    ),
    Procedure(
        "charge_setpoint",
        "Charge setpoint visible in telemetry",
        "Telemetry",
        [
            Step("schedule a charge", make_event("charge", lead_s=1), timeout_s=10),
            Step("event starts", wait_event_time("start"), EVENT_WAIT),
            Step("telemetry shows it", setpoint_visible(-1), DELIVERY, "no telemetry in event"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        f"During a {SETPOINT_W} W charge, telemetry shows -{SETPOINT_W} W ± 10 % "
        "within the response window.",
    ),
    Procedure(
        "telemetry_cadence",
        "Telemetry at profile cadence",
        "Telemetry",
        [Step("aligned readings", step_telemetry, on_timeout="fewer than 3 aligned readings")],
        "At least 3 power readings on the program's telemetry boundaries, none further "
        "apart than the cadence.",
    ),
)
