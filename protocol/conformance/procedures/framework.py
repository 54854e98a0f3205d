"""The step framework every conformance procedure is written in.

A procedure is a list of steps. A step is called repeatedly by the runner with a Context
until it returns True (done) or raises StepFailed (the procedure fails with that reason);
returning False means "not yet". Each step has a timeout in seconds of *scaled* time
(`run.time_scale` multiplies it), after which it fails with its `on_timeout` text.

Evidence is what the server recorded: ExchangeRecords (the client's requests during the
run), Responses, EndDevices, device state and telemetry. Nothing here trusts the client's
account of itself, so the same procedures judge any client (scripted or the fleet
simulator).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from programs.models import DefaultControl, DispatchGroup, Event, Program
from programs.services import default_control_set, event_cancel
from protocol.models import Client, EndDevice, ExchangeRecord

# The Response statuses (2030.5 ResponseStatus) the procedures wait for.
RECEIVED, STARTED, COMPLETED, OPTED_OUT, CANCELLED, SUPERSEDED = 1, 2, 3, 4, 6, 7
DELIVERY = 120  # scaled seconds allowed for a control to reach the client and be answered
# Waiting for an event's own start or end is bounded by the event, not by the scale.
EVENT_WAIT = 10**6


class StepFailed(Exception):
    """The procedure fails here, for this reason."""


class StepSkipped(Exception):
    """The procedure cannot run for this client (e.g. the vendor gave no parameters)."""


class Run(Protocol):
    """What steps read of the conformance run record (a ``ConformanceRun``)."""

    @property
    def pk(self) -> Any: ...
    @property
    def time_scale(self) -> float: ...
    @property
    def procedures(self) -> Any: ...  # the procedure keys, in run order (a JSON list)
    @property
    def parameters(self) -> Any: ...  # what the vendor supplied (a JSON object)


@dataclass
class Context:
    """What a step sees: the run's sandbox, the client under test, and a scratch state."""

    run: Run
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

    def event(self, key: str = "event_id") -> Event:
        """The event a step scheduled under ``key`` (steps run in order, so it exists)."""
        pk = self.state.get(key)
        return Event.objects.for_utility(self.client.utility_id).get(pk=pk)

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


def group_default_export_limit_w(group: DispatchGroup) -> int | None:
    """The export limit (W) of the group's DefaultDERControl, if it has one."""
    return (
        DefaultControl.objects.for_utility(group.utility_id)
        .filter(group=group)
        .values_list("op_mod_exp_lim_w", flat=True)
        .first()
    )


def cleanup_event(ctx: Context) -> bool:
    """Leave nothing behind: cancel the procedure's live events, undo sandbox changes."""
    pks = set(ctx.state.get("events", [])) | {ctx.state.get("event_id")} - {None}
    events = Event.objects.for_utility(ctx.client.utility_id).filter(
        pk__in=pks, status__in=("scheduled", "active")
    )
    for event in events:
        event_cancel(event=event, actor=None, reason="conformance cleanup")
    if "default_export_limit_w" in ctx.state:
        default_control_set(
            group=ctx.group,
            actor=None,
            values={"op_mod_exp_lim_w": ctx.state.pop("default_export_limit_w")},
            replace=False,
        )
    if ctx.state.pop("outage", False):
        Client.objects.filter(pk=ctx.client.pk).update(outage_until=None)
    return True
