"""One simulated IEEE 2030.5 battery client: what it knows of the server and its controls.

The device schedules the DERControls it has seen (interval, randomization, primacy,
supersession, cancellation, opt-out), picks the control in force at a server time, turns it
into the target its `BatteryModel` aims for, and queues the Responses each state change
owes. `FleetFaults` make it misbehave on purpose. The requests themselves go through its
`Sep2Client`; the fleet runner (`sep2_fleet`) drives when it polls, posts and steps.

This is a transport-side tool: it may use `protocol.xml`, and the domain never imports it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from devices.simulator.battery import BatteryModel
from devices.simulator.der_modes import Command, ControlModes, Grid, merge_by_primacy, resolve
from devices.simulator.sep2_client import Sep2Client
from protocol.xml.resources.der import DER
from protocol.xml.resources.derp import DefaultDERControl, DERControl, DERControlBase, DERCurve
from protocol.xml.resources.edev import EndDevice

# Response status codes (IEEE 2030.5 ResponseType)
RSP_RECEIVED, RSP_STARTED, RSP_COMPLETED, RSP_OPT_OUT = 1, 2, 3, 4
RSP_CANCELLED, RSP_SUPERSEDED = 6, 7
# EventStatus.currentStatus
ST_CANCELLED, ST_CANCELLED_RANDOM, ST_SUPERSEDED = 2, 3, 4


@dataclass(frozen=True)
class FleetFaults:
    """Ways a client can misbehave, for conformance procedures to catch."""

    no_responses: bool = False  # never POST Responses
    ignore_cancel: bool = False  # keep applying a cancelled control, no Response 6
    wrong_sign: bool = False  # apply setpoints with the opposite sign
    telemetry_interval_s: int | None = None  # override the profile's cadence (e.g. 900)
    hardcoded_edev: bool = False  # skip /dcap discovery, GET /edev directly
    no_time_sync: bool = False  # never GET /tm
    ignore_randomization: bool = False
    no_storage_ratings: bool = False  # omit rtgMaxChargeRateW/rtgMaxDischargeRateW/rtgMaxWh
    skip_pin_check: bool = False  # trust an out-of-band EndDevice without reading its PIN
    no_opt_out: bool = False  # the customer's opt-out never reaches the server (no Response 4)
    ignore_default_control: bool = False  # never apply the DefaultDERControl
    first_control_wins: bool = False  # ignore supersession: the older control keeps going
    give_up_after_errors: bool = False  # ignore Retry-After; stop after 3 errors in a row
    ignore_export_limit: bool = False  # never apply csipaus:opModExpLimW


@dataclass
class _Control:
    mrid: str
    program_primacy: int
    creation_time: int
    start: float
    end: float
    setpoint_w: float | None
    status: int
    reply_to: str | None
    responded: set[int] = field(default_factory=set)
    modes: ControlModes | None = None  # every mode of its DERControlBase
    opted_out: bool = False


class SimDevice:
    """One simulated battery client: its identity, its model and its view of the server.

    `opts_out`: the device answers every control with Response 4 and does not follow it.
    `customer_opt_outs`: (device index, mRID) pairs the customers opted out of, shared
    with the fleet. `idle_export_w`: with no control in force, discharge at this W instead
    of self-consumption."""

    def __init__(
        self,
        index: int,
        lfdi: str,
        sfdi: int,
        client: Sep2Client,
        battery: BatteryModel,
        rng,
        *,
        faults: FleetFaults,
        opts_out: bool,
        customer_opt_outs: set[tuple[int, str]],
        idle_export_w: float | None,
    ):
        self.index, self.lfdi, self.sfdi = index, lfdi, sfdi
        self.client, self.battery, self.rng = client, battery, rng
        self.faults, self.opts_out = faults, opts_out
        self.customer_opt_outs, self.idle_export_w = customer_opt_outs, idle_export_w
        self.edev: EndDevice | None = None
        self.der: DER | None = None
        self.mup_hrefs: dict[int, str] = {}
        self.controls: dict[str, _Control] = {}
        self.rand: dict[str, tuple[float, float]] = {}
        self.active: str | None = None  # the winning control's mRID
        self.active_modes: ControlModes | None = None  # every control in force, merged
        self.setpoint_w: float | None = None
        self.post_rate_s: int | None = None
        self.outbox: list[tuple[str, str, int]] = []
        self.error = ""
        self.default_modes: ControlModes | None = None  # the DefaultDERControl's
        self.grid = Grid()  # the simulated voltage and frequency at its terminals
        self._idle = Command(target_w=idle_export_w, connected=True)
        self.command = self._idle  # the last one obeyed
        self.ramp_w_per_s: float | None = None  # a rampTms or gradient in force
        self._ramp_key: object = None  # the control the rampTms rate was computed for
        self._soft_start = False  # reconnected and not yet at the target
        self.gave_up = False

    def learn(
        self, control: DERControl, primacy: int, curves: dict[str, DERCurve] | None = None
    ) -> None:
        """Schedule a DERControl seen in a program of `primacy` (or update a known one).
        `curves`: the DERCurves its curve modes link, by href."""
        modes = self.modes_of(control.der_control_base, curves)
        setpoint = modes.target_w
        if control.mrid not in self.rand:
            rs, rd = control.randomize_start or 0, control.randomize_duration or 0
            if self.faults.ignore_randomization:
                rs = rd = 0
            self.rand[control.mrid] = (
                self.rng.uniform(min(0, rs), max(0, rs)),
                self.rng.uniform(min(0, rd), max(0, rd)),
            )
        offset_start, offset_duration = self.rand[control.mrid]
        start = control.interval.start + offset_start
        end = start + control.interval.duration + offset_duration
        known = self.controls.get(control.mrid)
        if known is None:
            known = _Control(
                mrid=control.mrid,
                program_primacy=primacy,
                creation_time=control.creation_time,
                start=start,
                end=end,
                setpoint_w=setpoint,
                status=control.event_status.current_status,
                reply_to=control.reply_to,
                modes=modes,
            )
            self.controls[control.mrid] = known
            self.respond(known, RSP_RECEIVED)
            if self.opts_out:
                self.respond(known, RSP_OPT_OUT)
        else:
            known.status = control.event_status.current_status
            known.start, known.end, known.setpoint_w = start, end, setpoint
            known.program_primacy = primacy
            known.modes = modes

    def apply(self, t: float) -> None:
        """Pick the control in force at server time `t` and send the state Responses."""
        candidates = []
        for c in self.controls.values():
            if (self.index, c.mrid) in self.customer_opt_outs and not self.faults.no_opt_out:
                if not c.opted_out and c.status not in (ST_CANCELLED, ST_CANCELLED_RANDOM):
                    c.opted_out = True
                    self.respond(c, RSP_OPT_OUT)
            if c.opted_out:
                continue
            if c.status in (ST_CANCELLED, ST_CANCELLED_RANDOM):
                if RSP_STARTED in c.responded and self.faults.ignore_cancel and t < c.end:
                    candidates.append(c)
                    continue
                if RSP_CANCELLED not in c.responded and not self.faults.ignore_cancel:
                    self.respond(c, RSP_CANCELLED)
                continue
            if c.status == ST_SUPERSEDED and not self.faults.first_control_wins:
                if RSP_SUPERSEDED not in c.responded and RSP_COMPLETED not in c.responded:
                    self.respond(c, RSP_SUPERSEDED)
                continue
            if c.start <= t < c.end:
                candidates.append(c)
            elif t >= c.end and RSP_STARTED in c.responded:
                if not c.responded & {RSP_COMPLETED, RSP_SUPERSEDED, RSP_CANCELLED}:
                    self.respond(c, RSP_COMPLETED)
        winners = self._by_primacy(candidates)
        for c in winners:
            if RSP_STARTED not in c.responded:
                if not self.opts_out:
                    self.respond(c, RSP_STARTED)
                else:
                    c.responded.add(RSP_STARTED)
        winner = winners[0] if winners else None
        self.active = winner.mrid if winner else None
        self.active_modes = self.in_force(winners)
        self.setpoint_w = self.active_modes.target_w if self.active_modes else None

    def _by_primacy(self, candidates: list[_Control]) -> list[_Control]:
        """The controls in force, lowest primacy first: within one program's primacy the
        newer supersedes the older; across primacies each control keeps the modes no lower
        primacy sets, and one left with none is superseded (Response 7)."""
        newest_first = -1 if not self.faults.first_control_wins else 1
        candidates.sort(key=lambda c: (c.program_primacy, newest_first * c.creation_time))
        kept: list[_Control] = []
        for c in candidates:
            if kept and kept[-1].program_primacy == c.program_primacy:
                self._supersede(c)
            else:
                kept.append(c)
        _, gave = merge_by_primacy([c.modes or ControlModes() for c in kept])
        for c, gives in zip(kept[1:], gave[1:], strict=True):
            if not gives:
                self._supersede(c)
        return [c for c, gives in zip(kept, gave, strict=True) if gives or c is kept[0]]

    def _supersede(self, control: _Control) -> None:
        if RSP_SUPERSEDED not in control.responded:
            self.respond(control, RSP_SUPERSEDED)
            control.status = ST_SUPERSEDED

    def in_force(self, winners: list[_Control]) -> ControlModes | None:
        """The modes of the controls in force, merged by primacy (None: none is)."""
        if not winners:
            return None
        if len(winners) == 1:
            return winners[0].modes
        return merge_by_primacy([c.modes or ControlModes() for c in winners])[0]

    def modes_of(
        self,
        base: DERControlBase,
        curves: dict[str, DERCurve] | None = None,
        default: DefaultDERControl | None = None,
    ) -> ControlModes:
        """The modes of `base` as this device will follow them (its faults applied)."""
        modes = ControlModes.of(base, curves, default)
        if self.opts_out:  # it answers Response 4 and does not follow the W modes
            modes = dataclasses.replace(
                modes, target_w=None, fixed_w_pct=None, storage_target_w=None
            )
        if self.faults.wrong_sign:
            modes = dataclasses.replace(
                modes,
                target_w=-modes.target_w if modes.target_w is not None else None,
                storage_target_w=(
                    -modes.storage_target_w if modes.storage_target_w is not None else None
                ),
                fixed_w_pct=-modes.fixed_w_pct if modes.fixed_w_pct is not None else None,
            )
        if self.faults.ignore_export_limit:
            modes = dataclasses.replace(modes, exp_lim_w=None)
        return modes

    def learn_default(
        self, default: DefaultDERControl, curves: dict[str, DERCurve] | None = None
    ) -> None:
        """Follow `default` whenever no event is in force."""
        if not self.faults.ignore_default_control:
            self.default_modes = self.modes_of(default.der_control_base, curves, default)

    def target_w(self, *, dt_s: float = 0.0) -> float | None:
        """What the battery aims for over the next `dt_s` (None: self-consumption): the
        modes of the control in force, else the DefaultDERControl's, against the household's
        load and PV at the step's midpoint (as the battery's own step takes them) and the
        simulated grid. Also sets `command` (telemetry reports it) and the ramp rate."""
        modes = self.active_modes if self.active is not None else self.default_modes
        if modes is None and self.command is self._idle:  # the common case, kept cheap
            self.ramp_w_per_s = None
            return self.idle_export_w
        b = self.battery
        t_mid = b.t_s + dt_s / 2
        previous = self.command
        self.command = (
            self._idle
            if modes is None
            else resolve(
                modes,
                set_max_w=b.params.max_discharge_w,
                net_load_w=b.load_w(t_mid) - b.solar_w(t_mid),
                grid=self.grid,
                idle_w=self.idle_export_w,
                battery_w=b.battery_w,
            )
        )
        command = self.command
        key = (self.active, self.active_modes)
        if command.connected and not previous.connected:
            self._soft_start = True  # setSoftGradW holds until the battery is at its target
        elif self._soft_start and abs((command.target_w or 0.0) - b.battery_w) < 1.0:
            self._soft_start = False
        if not command.connected:
            self.ramp_w_per_s = float("inf")  # a disconnect is at once
        elif command.ramp_tms and key != self._ramp_key:
            # rampTms: reach the new target in that many hundredths of a second
            goal = command.target_w if command.target_w is not None else 0.0
            self.ramp_w_per_s = max(1.0, abs(goal - b.battery_w) / (command.ramp_tms / 100))
        elif not command.ramp_tms:
            grad = command.grad_w_per_s
            soft = self.default_modes.soft_grad_w if self.default_modes else None
            if self._soft_start and soft:
                grad = b.params.max_discharge_w * soft / 10_000
            self.ramp_w_per_s = grad
        self._ramp_key = key
        return command.target_w

    def respond(self, control: _Control, status: int) -> None:
        """Queue a Response; the fleet posts the outbox from the device's own loop."""
        control.responded.add(status)
        if self.faults.no_responses or not control.reply_to:
            return
        self.outbox.append((control.reply_to, control.mrid, status))
