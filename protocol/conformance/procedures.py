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

from django.core.exceptions import ValidationError

from devices.models import Device, TelemetrySample
from devices.services import device_register
from programs.models import DispatchGroup, Event, OptOut, Program
from programs.services import event_cancel, event_create, participant_add
from protocol.identity import sfdi_check_digit, sfdi_from_lfdi
from protocol.models import Client, ControlResponse, EndDevice, ExchangeRecord
from protocol.services import end_device_preregister, pin_is_valid

RECEIVED, STARTED, COMPLETED, OPTED_OUT, CANCELLED, SUPERSEDED = 1, 2, 3, 4, 6, 7
SETPOINT_W = 1000
SETPOINT_TOLERANCE = 0.10
SETPOINT_READINGS = 3  # readings per device in an event that all miss the setpoint fail it
EVENT_DURATION_S = 60  # the shortest event the domain allows
DEFAULT_LIMIT_W = 500  # the DefaultDERControl limit the default_control procedure sets
EXPORT_LIMIT_W = 500  # the CSIP-AUS site export limit (opModExpLimW) of export_limit
RANDOMIZE_START_S = 60  # the event's randomizeStart window (real seconds, like the event)
RANDOMIZE_SPREAD = 0.10  # with 2+ devices, one must start after this share of the window
OUTAGE_S = 60  # scaled seconds the server answers 503 in communication_loss
PIN_MISMATCH_WINDOW_S = 60  # scaled seconds after reading a wrong PIN without using the device
PIN_MISMATCH = "registration_oob_pin_mismatch"


class StepFailed(Exception):
    """The procedure fails here, for this reason."""


class StepSkipped(Exception):
    """The procedure cannot run for this client (e.g. the vendor gave no parameters)."""


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

    def event(self, key: str = "event_id") -> Event | None:
        pk = self.state.get(key)
        return Event.objects.for_utility(self.client.utility_id).filter(pk=pk).first()

    @property
    def parameters(self) -> dict:
        return getattr(self.run, "parameters", None) or {}


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
    # Called once when the run starts (before the client acts), e.g. to pre-register.
    setup: Callable[[Context], None] | None = None


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
        fields.setdefault("target_w", EXPORT_LIMIT_W)
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
        event_id=ctx.state.get(key), end_device__registered_by=ctx.client, status=status
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


def cleanup_event(ctx: Context) -> bool:
    """Leave nothing behind: cancel the procedure's live events, undo sandbox changes."""
    pks = set(ctx.state.get("events", [])) | {ctx.state.get("event_id")} - {None}
    events = Event.objects.for_utility(ctx.client.utility_id).filter(
        pk__in=pks, status__in=("scheduled", "active")
    )
    for event in events:
        event_cancel(event=event, actor=None, reason="conformance cleanup")
    if "default_export_limit_w" in ctx.state:
        Program.objects.filter(pk=ctx.program.pk).update(
            default_export_limit_w=ctx.state.pop("default_export_limit_w")
        )
    if ctx.state.pop("outage", False):
        Client.objects.filter(pk=ctx.client.pk).update(outage_until=None)
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


# --- out-of-band registration --------------------------------------------------------------


def oob_parameters(parameters: dict) -> tuple[str, int] | None:
    """The out-of-band LFDI and PIN a run was given, validated, or None when absent."""
    lfdi, pin = parameters.get("oob_lfdi"), parameters.get("oob_pin")
    if not lfdi and pin in (None, ""):
        return None
    try:
        lfdi = str(lfdi).strip().upper()
        sfdi_from_lfdi(lfdi)
        pin = int(pin)
    except (TypeError, ValueError) as exc:
        raise ValidationError("oob_lfdi must be 40 hex digits and oob_pin a number.") from exc
    if not pin_is_valid(pin):
        raise ValidationError("oob_pin's last digit is not its 2030.5 check digit.")
    return lfdi, pin


def wrong_pin(pin: int) -> int:
    """A valid PIN (its own check digit) that is not `pin`: the utility's typo."""
    base = (pin // 10 + 1) % 100_000
    return base * 10 + sfdi_check_digit(base)


def setup_oob(ctx: Context) -> None:
    """Pre-register the vendor's device with its PIN, as a utility does out of band.

    When the run also has the PIN-mismatch procedure (always before registration_oob,
    `run_create` checks), the device is pre-registered with a wrong PIN instead;
    registration_oob's first step puts the vendor's PIN back.
    """
    given = oob_parameters(ctx.parameters)
    if given is None:
        return
    lfdi, pin = given
    if PIN_MISMATCH in ctx.run.procedures:
        pin = wrong_pin(pin)
    utility = ctx.program.utility
    sfdi = sfdi_from_lfdi(lfdi)
    device = Device.objects.for_utility(utility).filter(lfdi=lfdi).first()
    if device is None:
        device = device_register(
            utility=utility,
            vendor_name="2030.5",
            model_name="unidentified",
            serial=lfdi,
            lfdi=lfdi,
            sfdi=sfdi,
        )
    participant_add(program=ctx.program, device=device, now=ctx.now)
    existing = EndDevice.objects.for_utility(utility).filter(lfdi=lfdi).first()
    if existing is not None:  # a re-run: the same device, this run's client and PIN
        EndDevice.objects.filter(pk=existing.pk).update(
            pin=pin, registered_by=ctx.client, device=device
        )
        return
    end_device_preregister(
        utility=utility, lfdi=lfdi, sfdi=sfdi, pin=pin, device=device, registered_by=ctx.client
    )


def _oob_end_device(ctx: Context) -> EndDevice:
    given = oob_parameters(ctx.parameters)
    if given is None:
        raise StepSkipped("no out-of-band LFDI and PIN were given with the run (parameters)")
    end_device = ctx.end_devices().filter(lfdi=given[0]).first()
    if end_device is None:
        raise StepFailed("the pre-registered EndDevice is missing")
    return end_device


def step_oob_pin_restore(ctx: Context) -> bool:
    """Put the vendor's PIN back if the PIN-mismatch procedure left a wrong one."""
    end_device = _oob_end_device(ctx)
    pin = oob_parameters(ctx.parameters)[1]
    if end_device.pin != pin:
        EndDevice.objects.filter(pk=end_device.pk).update(pin=pin)
        # Only what the client does from now on counts: it must read the PIN again.
        ctx.state["since"] = ctx.now.isoformat()
        ctx.evidence["pin_restored_at"] = ctx.now.isoformat()
    return True


def step_oob_pin_read(ctx: Context) -> bool:
    end_device = _oob_end_device(ctx)
    base = f"/edev/{end_device.pk}/"
    records = ctx.records().filter(path__startswith=base)
    if ctx.state.get("since"):
        records = records.filter(at__gte=ctx.state["since"])
    records = list(records.order_by("at", "pk").values("at", "method", "path", "status"))
    rg = next(
        (r for r in records if r["path"].startswith(f"{base}rg") and r["status"] == 200), None
    )
    used_before = [
        r["path"]
        for r in records
        if (rg is None or r["at"] < rg["at"]) and not r["path"].startswith(f"{base}rg")
    ]
    if used_before:  # fail at once: no later read can undo it
        raise StepFailed(f"the client used {used_before[0]} before checking the PIN")
    if rg is None:
        return False
    ctx.evidence["registration_read_at"] = rg["at"].isoformat()
    ctx.state["rg_at"] = rg["at"].isoformat()
    return True


def step_oob_refused(ctx: Context) -> bool:
    """After reading a wrong PIN, the client leaves the EndDevice alone for the window.

    Allowed: GET /edev/{id} and GET /edev/{id}/rg (re-reading the PIN, or not, is the
    client's choice). Refused: any other request under /edev/{id}/, any other method on
    /edev/{id}, and any POST /mup carrying the device's LFDI.
    """
    end_device = _oob_end_device(ctx)
    rg_at = datetime.fromisoformat(ctx.state["rg_at"])
    closes = rg_at + ctx.scaled(PIN_MISMATCH_WINDOW_S)
    edev, base = f"/edev/{end_device.pk}", f"/edev/{end_device.pk}/"
    records = ctx.records().filter(at__gte=rg_at, at__lt=closes)
    for r in records.order_by("at", "pk"):
        path = r.path.split("?", 1)[0]
        harmless = r.method == "GET" and (path == edev or path.startswith(f"{base}rg"))
        used = (path == edev or path.startswith(base)) and not harmless
        mirrored = (
            r.method == "POST"
            and r.path.startswith("/mup")
            and end_device.lfdi.lower() in r.body_excerpt.lower()
        )
        if used or mirrored:
            raise StepFailed(
                f"the client used the EndDevice despite a wrong PIN: {r.method} {r.path}"
            )
    rereads = records.filter(method="GET", path__startswith=f"{base}rg").count() - 1
    ctx.evidence["pin_rereads"] = max(0, rereads)
    return ctx.now >= closes


def step_oob_proceeds(ctx: Context) -> bool:
    end_device = _oob_end_device(ctx)
    after = (
        ctx.records()
        .filter(path__startswith=f"/edev/{end_device.pk}/", at__gte=ctx.state["rg_at"])
        .exclude(path__startswith=f"/edev/{end_device.pk}/rg")
        .filter(status__lt=400)
        .order_by("at")
        .first()
    )
    if after is not None:
        ctx.evidence["then"] = f"{after.method} {after.path}"
    return after is not None


# --- DefaultDERControl applied, CSIP-AUS export limit ------------------------------------


def _limit_channel(ctx: Context) -> str:
    # CSIP-AUS limits site export (opModExpLimW); plain CSIP the DER's output (opModMaxLimW).
    return "site_w" if ctx.program.profile == "csip_aus" else "w"


def _over_limit(channel: str, value: float, limit_w: float) -> bool:
    slack = limit_w * SETPOINT_TOLERANCE
    return value < -(limit_w + slack) if channel == "site_w" else value > limit_w + slack


def set_default_limit(ctx: Context) -> bool:
    if "default_export_limit_w" not in ctx.state:
        ctx.state["default_export_limit_w"] = ctx.program.default_export_limit_w
        Program.objects.filter(pk=ctx.program.pk).update(default_export_limit_w=DEFAULT_LIMIT_W)
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


# --- supersession, overlap, randomized start, opt-out --------------------------------------


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
    ctx.evidence["instruction"] = (
        f"As the customer, opt one device out of event {event.mrid} in the vendor's app."
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


# --- communication loss ---------------------------------------------------------------------


def start_outage(ctx: Context) -> bool:
    if not ctx.state.get("outage"):
        until = ctx.now + ctx.scaled(OUTAGE_S)
        Client.objects.filter(pk=ctx.client.pk).update(outage_until=until)
        ctx.state["outage"] = True
        ctx.state["outage_from"] = ctx.now.isoformat()
        ctx.state["outage_until"] = until.isoformat()
        ctx.evidence["outage"] = [ctx.now.isoformat(), until.isoformat()]
    return True


def step_outage_over(ctx: Context) -> bool:
    if ctx.now.isoformat() < ctx.state["outage_until"]:
        return False
    refused = ctx.records().filter(status=503, at__gte=ctx.state["outage_from"])
    ctx.evidence["requests_answered_503"] = refused.count()
    return True


def step_recovered(ctx: Context) -> bool:
    after = ctx.records().filter(at__gte=ctx.state["outage_until"])
    polled = after.filter(
        method="GET", path__regex=r"^/edev/[0-9]+/derp/[0-9]+/derc", status=200
    ).exists()
    posted = after.filter(method="POST", path__startswith="/mup/", status__lt=300).exists()
    ctx.evidence["resumed"] = {"polling": polled, "telemetry": posted}
    return polled and posted


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
        PIN_MISMATCH,
        "Registration (out-of-band, wrong PIN refused)",
        "Registration",
        [
            Step("reads the Registration PIN first", step_oob_pin_read, 120, "no GET …/rg"),
            Step(
                "leaves the EndDevice alone",
                step_oob_refused,
                2 * PIN_MISMATCH_WINDOW_S,
                "the window did not close",
            ),
        ],
        "With an LFDI and PIN given as run parameters, the EndDevice is pre-registered with "
        "a different valid PIN; the client GETs /edev/{id}/rg before any other use, then "
        f"for {PIN_MISMATCH_WINDOW_S} s (scaled) after that read sends nothing for it but "
        "GET /edev/{id} and GET /edev/{id}/rg (no other request under /edev/{id}/, no "
        "PUT/POST, no MirrorUsagePoint with its LFDI). Re-reading the PIN is allowed, not "
        "required. Runs before registration_oob, which puts the vendor's PIN back. Skipped "
        "when no parameters are given.",
        setup=setup_oob,
    )
)

register(
    Procedure(
        "registration_oob",
        "Registration (out-of-band, PIN)",
        "Core",
        [
            Step("the vendor's PIN is in place", step_oob_pin_restore, 120),
            Step("reads the Registration PIN first", step_oob_pin_read, 120, "no GET …/rg"),
            Step("then uses the EndDevice", step_oob_proceeds, 120, "never proceeded"),
        ],
        "With an LFDI and PIN given as run parameters, the EndDevice is pre-registered; "
        "the client GETs /edev/{id}/rg before any other use of that EndDevice, then uses "
        "it. After registration_oob_pin_mismatch the vendor's PIN is put back first and "
        "only requests from then on count. Skipped when no parameters are given.",
        setup=setup_oob,
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
    )
)

register(
    Procedure(
        "storage_ratings",
        "Storage ratings and settings complete",
        "DER",
        [Step("ratings reported", step_ratings, on_timeout="ratings incomplete")],
        "Every EndDevice reports rtgMaxChargeRateW, rtgMaxDischargeRateW and rtgMaxWh "
        "(DERCapability) and setMaxChargeRateW and setMaxDischargeRateW (DERSettings).",
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
    )
)

register(
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
    )
)

register(
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
    )
)

register(
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
        "communication_loss",
        "Communication loss: recovers",
        "Resilience",
        [
            Step("the server goes away (503)", start_outage, timeout_s=10),
            Step("outage over", step_outage_over, EVENT_WAIT),
            Step("polling and telemetry resume", step_recovered, DELIVERY, "did not resume"),
            Step("clean up", cleanup_event, timeout_s=10),
        ],
        f"The server answers 503 with Retry-After to this client for {OUTAGE_S} s (scaled); "
        "within the delivery window after it the client polls DERControlList and posts "
        "telemetry again.",
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
