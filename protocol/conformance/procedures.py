"""Conformance procedures: data plus small step functions, judged on server-side evidence.

A procedure is a list of steps. A step is called repeatedly by the runner with a Context
until it returns True (done) or raises StepFailed (the procedure fails with that reason);
returning False means "not yet". Each step has a timeout in seconds of *scaled* time
(`run.time_scale` multiplies it), after which it fails with its `on_timeout` text.

Evidence is what the server recorded: ExchangeRecords (the client's requests during the
run), Responses, EndDevices, device state and telemetry. Nothing here trusts the client's
account of itself, so the same procedures judge any client (scripted or the fleet
simulator).
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.models import TelemetrySample
from programs.models import DispatchGroup, Event, Program
from programs.services import event_cancel, event_create
from protocol.models import Client, ControlResponse, EndDevice, ExchangeRecord

RECEIVED, STARTED, COMPLETED, OPTED_OUT, CANCELLED, SUPERSEDED = 1, 2, 3, 4, 6, 7
SETPOINT_W = 1000
SETPOINT_TOLERANCE = 0.10
EVENT_DURATION_S = 60  # the shortest event the domain allows


class StepFailed(Exception):
    """The procedure fails here, for this reason."""


@dataclass
class Context:
    """What a step sees: the run's sandbox, the client under test, and a scratch state."""

    run: object
    client: Client
    program: Program
    group: DispatchGroup
    now: datetime
    state: dict
    evidence: dict

    def scaled(self, seconds: float) -> timedelta:
        return timedelta(seconds=seconds * self.run.time_scale)

    def records(self):
        return ExchangeRecord.objects.filter(run_id=self.run.pk, client=self.client)

    def end_devices(self):
        return EndDevice.objects.for_utility(self.client.utility_id).filter(
            registered_by=self.client
        )

    def event(self) -> Event | None:
        pk = self.state.get("event_id")
        return Event.objects.for_utility(self.client.utility_id).filter(pk=pk).first()


@dataclass(frozen=True)
class Step:
    title: str
    fn: Callable[[Context], bool]
    timeout_s: float = 120
    on_timeout: str = "timed out"


@dataclass(frozen=True)
class Procedure:
    key: str
    title: str
    area: str
    steps: list[Step]
    pass_criterion: str
    profiles: tuple[str, ...] = ("csip", "csip_aus")


REGISTRY: dict[str, Procedure] = {}


def register(procedure: Procedure) -> Procedure:
    REGISTRY[procedure.key] = procedure
    return procedure


def procedures_for(profile: str) -> list[Procedure]:
    return [p for p in REGISTRY.values() if profile in p.profiles]


# --- step helpers ------------------------------------------------------------------------


def _is_edev_path(path: str) -> bool:
    return path.startswith("/edev")


def step_discovery(ctx: Context) -> bool:
    records = list(ctx.records().order_by("at", "pk").values("method", "path", "status"))
    first_edev = next((i for i, r in enumerate(records) if _is_edev_path(r["path"])), None)
    if first_edev is None:
        return False
    walked = any(
        r["method"] == "GET" and r["path"].startswith("/dcap") and r["status"] == 200
        for r in records[:first_edev]
    )
    ctx.evidence["first_edev_request"] = records[first_edev]
    if not walked:
        raise StepFailed("the client used /edev without first GETting /dcap (hard-coded URL)")
    return True


def step_time_sync(ctx: Context) -> bool:
    hit = ctx.records().filter(method="GET", path__startswith="/tm", status=200).first()
    if hit:
        ctx.evidence["time_request_at"] = hit.at.isoformat()
    return hit is not None


def step_registered(ctx: Context) -> bool:
    devices = list(ctx.end_devices().values("pk", "lfdi", "sfdi", "device_id"))
    ctx.evidence["end_devices"] = devices
    return bool(devices)


def step_polls_programs(ctx: Context) -> bool:
    polls = list(
        ctx.records()
        .filter(method="GET", path__regex=r"^/edev/[0-9]+/derp/[0-9]+/derc", status=200)
        .values_list("at", flat=True)
    )
    if len(polls) < 3:
        return False
    limit = ctx.program.poll_rate_s * ctx.run.time_scale * 1.5
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(polls)]
    ctx.evidence["poll_gaps_s"] = [round(g, 2) for g in gaps[:20]]
    if max(gaps) > limit:
        raise StepFailed(f"DERControlList polled {max(gaps):.0f} s apart; limit {limit:.0f} s")
    return True


def step_fsa_walked(ctx: Context) -> bool:
    return ctx.records().filter(method="GET", path__regex=r"^/edev/[0-9]+/fsa", status=200).exists()


def step_default_control(ctx: Context) -> bool:
    return (
        ctx.records()
        .filter(method="GET", path__regex=r"^/edev/[0-9]+/derp/[0-9]+/dderc", status=200)
        .exists()
    )


def step_ratings(ctx: Context) -> bool:
    missing = []
    for ed in ctx.end_devices().select_related("device"):
        d = ed.device
        for name in ("rtg_max_charge_rate_w", "rtg_max_discharge_rate_w", "rtg_max_wh"):
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


def _make_event(ctx: Context, *, kind: str = "discharge", lead_s: float = 5) -> bool:
    if ctx.state.get("event_id"):
        return True
    start = ctx.now + ctx.scaled(lead_s) + timedelta(seconds=2)
    event = event_create(
        program=ctx.program,
        group=ctx.group,
        kind=kind,
        start=start,
        duration_s=EVENT_DURATION_S,
        actor=None,
        per_device_w=SETPOINT_W,
        setpoint_rule="per_device",
        is_test=True,
        now=ctx.now,
    )
    ctx.state["event_id"] = event.pk
    ctx.evidence["event"] = {"mrid": event.mrid, "start": start.isoformat(), "kind": kind}
    return True


def make_event(kind="discharge", lead_s=5.0):
    return lambda ctx: _make_event(ctx, kind=kind, lead_s=lead_s)


def _responses(ctx: Context, status: int):
    return ControlResponse.objects.filter(
        event_id=ctx.state.get("event_id"), end_device__registered_by=ctx.client, status=status
    )


def wait_response(status: int):
    def step(ctx: Context) -> bool:
        count = _responses(ctx, status).count()
        ctx.evidence[f"responses_{status}"] = count
        return count >= max(1, ctx.end_devices().count())

    return step


def wait_event_time(which: str):
    def step(ctx: Context) -> bool:
        event = ctx.event()
        at = event.start if which == "start" else event.start + timedelta(seconds=event.duration_s)
        return ctx.now >= at

    return step


def cancel_event(ctx: Context) -> bool:
    event = ctx.event()
    if event.status in ("scheduled", "active", "draft"):
        event_cancel(event=event, actor=None, reason="conformance procedure")
    return True


def cleanup_event(ctx: Context) -> bool:
    event = ctx.event()
    if event is not None and event.status in ("scheduled", "active"):
        event_cancel(event=event, actor=None, reason="conformance cleanup")
    return True


def setpoint_visible(sign: int):
    def step(ctx: Context) -> bool:
        event = ctx.event()
        device_ids = list(ctx.end_devices().values_list("device_id", flat=True))
        values = list(
            TelemetrySample.objects.filter(
                device_id__in=device_ids,
                channel="w",
                at__gte=event.start.replace(microsecond=0),
                at__lt=event.start + timedelta(seconds=event.duration_s),
            ).values_list("value", flat=True)
        )
        ctx.evidence["values_w"] = values[:20]
        if not values or ctx.now < event.start:
            return False
        target = sign * SETPOINT_W
        if all(abs(v - target) > abs(target) * SETPOINT_TOLERANCE for v in values):
            raise StepFailed(f"telemetry shows {values[-1]:g} W; the setpoint is {target} W")
        return True

    return step


def step_no_foreign_access(ctx: Context) -> bool:
    own = {f"/edev/{pk}" for pk in ctx.end_devices().values_list("pk", flat=True)}
    leaked = [
        r
        for r in ctx.records().filter(path__startswith="/edev/").values("path", "status")
        if r["path"].split("?")[0].split("/derp")[0].split("/der/")[0] not in own
        and "/".join(r["path"].split("/")[:3]) not in own
        and r["status"] < 400
    ]
    ctx.evidence["foreign_requests_answered"] = leaked[:10]
    if leaked:
        raise StepFailed(f"{len(leaked)} requests for another device's resources succeeded")
    return True


DELIVERY = 120  # scaled seconds allowed for a control to reach the client and be answered
# Waiting for an event's own start or end is bounded by the event, not by the scale.
EVENT_WAIT = 10**6

register(
    Procedure(
        "discovery",
        "Discovery from /dcap",
        "Core",
        [
            Step(
                "walks from /dcap to /edev",
                step_discovery,
                on_timeout="the client never reached /edev",
            )
        ],
        "The client's first /edev request is preceded by a GET /dcap answered 200.",
    )
)
register(
    Procedure(
        "time_sync",
        "Time synchronisation",
        "Core",
        [Step("GET /tm", step_time_sync, on_timeout="the client never read /tm")],
        "The client GETs /tm during the run.",
    )
)
register(
    Procedure(
        "registration",
        "Registration (in-band)",
        "Core",
        [Step("an EndDevice is registered", step_registered, on_timeout="no EndDevice")],
        "At least one EndDevice is registered by the client's certificate (POST /edev).",
    )
)
register(
    Procedure(
        "fsa_polling",
        "FSA and DERProgram polling",
        "Core",
        [
            Step("walks FunctionSetAssignments", step_fsa_walked, on_timeout="no FSA GET"),
            # Three polls at the program's rate take 2 poll periods; allow 4.
            Step("polls DERControlList", step_polls_programs, 1200, "fewer than 3 polls"),
        ],
        "FSA is read; DERControlList is polled at least 3 times, never slower than the "
        "program's pollRate times 1.5.",
    )
)
register(
    Procedure(
        "default_control",
        "DefaultDERControl fetched",
        "Controls",
        [Step("GET dderc", step_default_control, on_timeout="DefaultDERControl never read")],
        "The client reads its DERProgram's DefaultDERControl.",
    )
)
register(
    Procedure(
        "storage_ratings",
        "Storage ratings and settings complete",
        "DER",
        [Step("ratings reported", step_ratings, on_timeout="ratings incomplete")],
        "Every EndDevice reports rtgMaxChargeRateW, rtgMaxDischargeRateW and rtgMaxWh.",
    )
)
register(
    Procedure(
        "status_availability",
        "Status and availability reported",
        "DER",
        [Step("DERStatus and DERAvailability", step_status, on_timeout="not reported")],
        "Every EndDevice reports DERStatus with stateOfCharge and DERAvailability.",
    )
)
register(
    Procedure(
        "telemetry_cadence",
        "Telemetry at profile cadence",
        "Telemetry",
        [Step("aligned readings", step_telemetry, on_timeout="fewer than 3 aligned readings")],
        "At least 3 power readings on the program's telemetry boundaries, none further "
        "apart than the cadence.",
    )
)
register(
    Procedure(
        "scheduled_event",
        "Scheduled event: Responses 1, 2, 3",
        "Events",
        [
            Step("schedule an event", make_event(), timeout_s=10),
            Step("Response 1 (received)", wait_response(RECEIVED), DELIVERY, "no Response 1"),
            Step("event starts", wait_event_time("start"), EVENT_WAIT),
            Step("Response 2 (started)", wait_response(STARTED), DELIVERY, "no Response 2"),
            Step("event ends", wait_event_time("end"), EVENT_WAIT),
            Step("Response 3 (completed)", wait_response(COMPLETED), DELIVERY, "no Response 3"),
        ],
        "Each EndDevice answers received, started and completed, each within the delivery "
        "window after the event is published, starts and ends.",
    )
)
register(
    Procedure(
        "cancellation",
        "Cancellation: Response 6",
        "Events",
        [
            Step("schedule an event", make_event(lead_s=120), timeout_s=10),
            Step("Response 1 (received)", wait_response(RECEIVED), DELIVERY, "no Response 1"),
            Step("cancel it", cancel_event, timeout_s=10),
            Step("Response 6 (cancelled)", wait_response(CANCELLED), DELIVERY, "no Response 6"),
        ],
        "After a scheduled event is cancelled, each EndDevice answers 6 within the window.",
    )
)
register(
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
    )
)
register(
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
    )
)
register(
    Procedure(
        "certificate_misuse",
        "Certificate misuse refused",
        "Security",
        [Step("no foreign resource answered", step_no_foreign_access, timeout_s=10)],
        "No request by this certificate for another device's resources was answered "
        "with success (the server answers 404).",
    )
)
