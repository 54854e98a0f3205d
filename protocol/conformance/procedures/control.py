"""Controls: DefaultDERControl, events and their Responses (received, started, completed,
cancelled, superseded, opted out), randomized start, and the CSIP-AUS export limit."""

from datetime import datetime, timedelta

from devices.models import TelemetrySample
from programs.models import Event, OptOut
from programs.services import default_control_set, event_cancel, event_create
from protocol.conformance.procedures.framework import (
    CANCELLED,
    COMPLETED,
    DELIVERY,
    EVENT_WAIT,
    OPTED_OUT,
    RECEIVED,
    STARTED,
    SUPERSEDED,
    Context,
    Procedure,
    Step,
    StepFailed,
    cleanup_event,
    group_default_export_limit_w,
)
from protocol.managers.derp import der_control_mrid
from protocol.models import ControlResponse

SETPOINT_W = 1000
SETPOINT_TOLERANCE = 0.10
SETPOINT_READINGS = 3  # readings per device in an event that all miss the setpoint fail it
EVENT_DURATION_S = 60  # the shortest event the domain allows
DEFAULT_LIMIT_W = 500  # the DefaultDERControl limit the default_control procedure sets
EXPORT_LIMIT_W = 500  # the CSIP-AUS site export limit (opModExpLimW) of export_limit
RANDOMIZE_START_S = 60  # the event's randomizeStart window (real seconds, like the event)
RANDOMIZE_SPREAD = 0.10  # with 2+ devices, one must start after this share of the window


def step_default_control(ctx: Context) -> bool:
    return (
        ctx.records()
        .filter(method="GET", path__regex=r"^/edev/[0-9]+/derp/[0-9]+/dderc", status=200)
        .exists()
    )


def _make_event(
    ctx: Context,
    *,
    kind: str = "discharge",
    lead_s: float = 5,
    key: str = "event_id",
    start=None,
    **fields,
) -> Event:
    """Schedule a test event once (idempotent under `key`) and remember it for clean-up."""
    if ctx.state.get(key):
        return ctx.event(key)
    start = start or ctx.now + ctx.scaled(lead_s) + timedelta(seconds=2)
    fields.setdefault("duration_s", EVENT_DURATION_S)
    if kind == "export_limit":
        fields.setdefault("controls", {"op_mod_exp_lim_w": EXPORT_LIMIT_W})
    else:
        fields.setdefault("per_device_w", SETPOINT_W)
        fields.setdefault("setpoint_rule", "per_device")
    event = event_create(
        program=ctx.program,
        group=ctx.group,
        kind=kind,
        start=start,
        actor=None,
        is_test=True,
        now=ctx.now,
        **fields,
    )
    ctx.state[key] = event.pk
    ctx.state.setdefault("events", []).append(event.pk)
    ctx.evidence[key.removesuffix("_id")] = {
        "mrid": event.mrid,
        "start": start.isoformat(),
        "kind": kind,
        "duration_s": event.duration_s,
    }
    return event


def make_event(kind="discharge", lead_s=5.0, key="event_id", **fields):
    def step(ctx: Context) -> bool:
        _make_event(ctx, kind=kind, lead_s=lead_s, key=key, **fields)
        return True

    return step


def _responses(ctx: Context, status: int, key: str = "event_id"):
    return ControlResponse.objects.filter(
        # Before the event exists, None matches no Response (Django reads it as IS NULL).
        event_id=ctx.state.get(key),  # type: ignore[misc]
        end_device__registered_by=ctx.client,
        status=status,
    )


def wait_response(status: int, key: str = "event_id"):
    def step(ctx: Context) -> bool:
        count = _responses(ctx, status, key).values("end_device").distinct().count()
        ctx.evidence[f"{key.removesuffix('_id')}_responses_{status}"] = count
        return count >= max(1, ctx.end_devices().count())

    return step


def wait_event_time(which: str, key: str = "event_id"):
    def step(ctx: Context) -> bool:
        event = ctx.event(key)
        at = event.start if which == "start" else event.start + timedelta(seconds=event.duration_s)
        return ctx.now >= at

    return step


def cancel_event(ctx: Context) -> bool:
    event = ctx.event()
    if event.status in ("scheduled", "active", "draft"):
        event_cancel(event=event, actor=None, reason="conformance procedure")
    return True


def _event_samples(ctx: Context, event: Event, *, channel: str = "w", since=None):
    device_ids = list(ctx.end_devices().values_list("device_id", flat=True))
    return list(
        TelemetrySample.objects.filter(
            device_id__in=device_ids,
            channel=channel,
            at__gte=(since or event.start).replace(microsecond=0),
            at__lt=event.start + timedelta(seconds=event.duration_s),
        ).values_list("value", flat=True)
    )


def setpoint_visible(sign: int, key: str = "event_id", settle_s: float = 0):
    def step(ctx: Context) -> bool:
        event = ctx.event(key)
        since = event.start + timedelta(seconds=settle_s)
        values = _event_samples(ctx, event, since=since)
        ctx.evidence[f"{key.removesuffix('_id')}_values_w"] = values[:20]
        if not values or ctx.now < since:
            return False
        target = sign * SETPOINT_W
        if any(abs(v - target) <= abs(target) * SETPOINT_TOLERANCE for v in values):
            return True
        # A reading taken before the control reached the client may miss; three may not.
        if len(values) >= SETPOINT_READINGS * max(1, ctx.end_devices().count()):
            raise StepFailed(f"telemetry shows {values[-1]:g} W; the setpoint is {target} W")
        return False

    return step


def _limit_channel(ctx: Context) -> str:
    # CSIP-AUS limits site export (opModExpLimW); plain CSIP the DER's output (opModMaxLimW).
    return "site_w" if ctx.program.profile == "csip_aus" else "w"


def _over_limit(channel: str, value: float, limit_w: float) -> bool:
    slack = limit_w * SETPOINT_TOLERANCE
    return value < -(limit_w + slack) if channel == "site_w" else value > limit_w + slack


def set_default_limit(ctx: Context) -> bool:
    if "default_export_limit_w" not in ctx.state:
        ctx.state["default_export_limit_w"] = group_default_export_limit_w(ctx.group)
        default_control_set(
            group=ctx.group,
            actor=None,
            values={"op_mod_exp_lim_w": DEFAULT_LIMIT_W},
            replace=False,
        )
        ctx.state["limit_set_at"] = ctx.now.isoformat()
    return True


def step_default_read(ctx: Context) -> bool:
    read = (
        ctx.records()
        .filter(
            method="GET",
            path__regex=r"^/edev/[0-9]+/derp/[0-9]+/dderc",
            status=200,
            at__gte=ctx.state["limit_set_at"],
        )
        .order_by("at")
        .first()
    )
    if read is not None:
        ctx.state["dderc_read_at"] = read.at.isoformat()
        ctx.evidence["default_read_at"] = read.at.isoformat()
    return read is not None


def step_default_applied(ctx: Context) -> bool:
    channel = _limit_channel(ctx)
    device_ids = list(ctx.end_devices().values_list("device_id", flat=True))
    # A sample's time is the start of its interval, so these were measured after the read.
    values = list(
        TelemetrySample.objects.filter(
            device_id__in=device_ids, channel=channel, at__gte=ctx.state["dderc_read_at"]
        )
        .order_by("at")
        .values_list("value", flat=True)
    )
    ctx.evidence[f"{channel}_after_read"] = values[:20]
    over = [v for v in values if _over_limit(channel, v, DEFAULT_LIMIT_W)]
    if over:
        raise StepFailed(
            f"{channel} {over[0]:g} W breaks the DefaultDERControl limit of {DEFAULT_LIMIT_W} W"
        )
    return len(values) >= 2 * max(1, len(device_ids))


def step_export_limited(ctx: Context) -> bool:
    event = ctx.event()
    values = _event_samples(ctx, event, channel="site_w")
    ctx.evidence["site_w"] = values[:20]
    over = [v for v in values if _over_limit("site_w", v, EXPORT_LIMIT_W)]
    if over:
        raise StepFailed(f"the site exported {-over[0]:g} W; the limit is {EXPORT_LIMIT_W} W")
    return len(values) >= 2 * max(1, ctx.end_devices().count())


def make_second_event(kind: str, *, same_window: bool, lead_s: float = 20):
    """A newer event of the same group; the domain supersedes the first where they overlap."""

    def step(ctx: Context) -> bool:
        first = ctx.event()
        start = first.start if same_window else None
        _make_event(ctx, kind=kind, lead_s=lead_s, key="second_id", start=start)
        return True

    return step


def step_randomized_start(ctx: Context) -> bool:
    event = ctx.event()
    window = event.randomize_start_s
    slack = max(timedelta(seconds=5), ctx.scaled(DELIVERY / 4))
    started: dict[int, datetime] = {}
    for pk, at in (
        _responses(ctx, STARTED).order_by("received_at").values_list("end_device_id", "received_at")
    ):
        started.setdefault(pk, at)  # each device's first Response 2
    offsets = {pk: (at - event.start).total_seconds() for pk, at in started.items()}
    ctx.evidence["start_offsets_s"] = {str(k): round(v, 1) for k, v in offsets.items()}
    early = [v for v in offsets.values() if v < -1]
    if early:
        raise StepFailed(f"a device started {-early[0]:.0f} s before the event's start")
    devices = max(1, ctx.end_devices().count())
    if len(offsets) < devices:
        if ctx.now > event.start + timedelta(seconds=window) + slack:
            raise StepFailed(f"no Response 2 within the {window} s randomization window")
        return False
    late = [v for v in offsets.values() if v > window + slack.total_seconds()]
    if late:
        raise StepFailed(f"a device started {late[0]:.0f} s after start; window {window} s")
    if devices >= 2 and max(offsets.values()) < window * RANDOMIZE_SPREAD:
        raise StepFailed(
            f"every device started within {window * RANDOMIZE_SPREAD:.0f} s of the start: "
            "randomizeStart was not honoured"
        )
    return True


def step_opt_out_asked(ctx: Context) -> bool:
    event = ctx.event()
    # Each device knows the event by its own DERControl's mRID (one mRID per content).
    mrids = {ed.lfdi: der_control_mrid(ed, event) for ed in ctx.end_devices().order_by("pk")}
    ctx.evidence["control_mrids"] = mrids
    ctx.evidence["instruction"] = (
        f"As the customer, opt one device out of event {event.mrid} in the vendor's app "
        f"(the device's DERControl mRID, by LFDI: {mrids})."
    )
    return True


def step_opted_out(ctx: Context) -> bool:
    event = ctx.event()
    responded = set(_responses(ctx, OPTED_OUT).values_list("end_device__device_id", flat=True))
    recorded = set(
        OptOut.objects.filter(event=event, device_id__in=responded).values_list(
            "device_id", flat=True
        )
    )
    ctx.evidence["opted_out_devices"] = sorted(recorded)
    return bool(responded) and responded <= recorded


PROCEDURES = (
    Procedure(
        "default_control",
        "DefaultDERControl applied",
        "Controls",
        [
            Step("set a default limit", set_default_limit, timeout_s=10),
            Step("GET dderc", step_default_read, 120, "DefaultDERControl never read"),
            Step("limit honoured", step_default_applied, 120, "too little telemetry"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        f"With the sandbox DefaultDERControl set to {DEFAULT_LIMIT_W} W (opModMaxLimW under "
        "CSIP, opModExpLimW under CSIP-AUS), the client reads it and then at least two "
        "readings per device show DER output (CSIP) or site export (CSIP-AUS) within the "
        "limit + 10 %; none over it.",
    ),
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
    ),
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
    ),
    Procedure(
        "supersession",
        "Supersession: Response 7",
        "Events",
        [
            Step("schedule an event", make_event(lead_s=120), timeout_s=10),
            Step("Response 1 (received)", wait_response(RECEIVED), DELIVERY, "no Response 1"),
            Step("a newer event, same window", make_second_event("discharge", same_window=True)),
            Step("Response 7 (superseded)", wait_response(SUPERSEDED), DELIVERY, "no Response 7"),
            Step("newer one received", wait_response(RECEIVED, "second_id"), DELIVERY, "no 1"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        "When a newer event (later creationTime) is scheduled over the same window, each "
        "EndDevice answers 7 for the first and 1 for the newer one within the window.",
    ),
    Procedure(
        "overlapping_events",
        "Overlapping events",
        "Events",
        [
            Step("schedule a discharge", make_event("discharge", lead_s=1), timeout_s=10),
            Step("it starts", wait_event_time("start"), EVENT_WAIT),
            Step("Response 2 (started)", wait_response(STARTED), DELIVERY, "no Response 2"),
            Step("an overlapping charge", make_second_event("charge", same_window=False)),
            Step("Response 7 for the first", wait_response(SUPERSEDED), DELIVERY, "no 7"),
            Step("the charge starts", wait_event_time("start", "second_id"), EVENT_WAIT),
            Step(
                "only the newer applies",
                setpoint_visible(-1, "second_id"),
                DELIVERY,
                "no telemetry in the newer event",
            ),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        "A newer charge event overlapping a running discharge on a different window: the "
        "first is answered 7 and, in the overlap, telemetry shows the newer event's "
        f"-{SETPOINT_W} W ± 10 % (not the first's, nor both).",
    ),
    Procedure(
        "randomized_start",
        "Randomized start honoured",
        "Events",
        [
            Step(
                "schedule a randomized event",
                make_event(lead_s=5, randomize_start_s=RANDOMIZE_START_S),
                timeout_s=10,
            ),
            Step("event starts", wait_event_time("start"), EVENT_WAIT),
            Step("starts inside the window", step_randomized_start, EVENT_WAIT),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        f"For an event with randomizeStart {RANDOMIZE_START_S} s, each EndDevice's Response 2 "
        "arrives in [start, start + window + max(5 s, delivery / 4)]; with 2+ devices, at "
        f"least one starts after {int(RANDOMIZE_SPREAD * 100)} % of the window.",
    ),
    Procedure(
        "opt_out",
        "Opt-out: Response 4",
        "Events",
        [
            Step("schedule an event", make_event(lead_s=60), timeout_s=10),
            Step("Response 1 (received)", wait_response(RECEIVED), DELIVERY, "no Response 1"),
            Step("the customer opts a device out", step_opt_out_asked, timeout_s=10),
            Step("Response 4 (opted out)", step_opted_out, DELIVERY, "no Response 4"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        "When the customer opts a device out of a scheduled event (in the vendor's app), "
        "the client answers 4 within the window and the server records the opt-out.",
    ),
    Procedure(
        "export_limit",
        "CSIP-AUS site export limit (opModExpLimW)",
        "CSIP-AUS",
        [
            Step("schedule an export limit", make_event("export_limit", lead_s=30), timeout_s=10),
            Step("event starts", wait_event_time("start"), EVENT_WAIT),
            Step("site export limited", step_export_limited, DELIVERY, "no site telemetry"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        f"During an opModExpLimW {EXPORT_LIMIT_W} W event, at least two site-meter readings "
        "per device, none exporting more than the limit + 10 %.",
        profiles=("csip_aus",),
    ),
)
