"""DER programs (one per dispatch group) and their DERControls (the group's events).

Decisions, so a reader need not reverse-engineer them:

* DERPrograms are served per EndDevice (/edev/{eid}/derp/{gid}/…), because each
  device's DERControl carries its own setpoint (its Dispatch row).
* An mRID names one resource with one content. Each EndDevice's copy of a DERControl
  carries its own setpoint, and each copy of a DERProgram or DefaultDERControl its own
  links or percent base, so every copy has its own mRID: derived from the event's (or
  group's) mRID and the EndDevice's LFDI (der_control_mrid), stable across polls, distinct
  per device, and ending in the install's IANA PEN like every mRID the server makes. A
  client that keys events by mRID (as 2030.5 intends) therefore keeps an aggregator's
  devices apart, and a Response's subject names one device's control
  (end_device_control_by_mrid).
* The dispatch plan is the single truth. A device sees an event as a DERControl only if
  the plan gave it a Dispatch row, and the control carries exactly that row's setpoint:
  opModTargetW in W (+ discharge, - charge). There is no fallback to the event's
  per-device or group target. An opted-out device's Dispatch is 0 W and the control stays;
  so does that of a device that dropped out of the plan at the start (it may already be
  acting on it). A device heard from before the start is added to the plan
  (programs.services.event_plans_extend).
* What an "export limit" event means depends on the profile:
  - CSIP-AUS: a site export limit, csipaus:opModExpLimW in W, measured at the connection
    point (the household's load and PV count).
  - US CSIP has no site export limit. There the event is a cap on the DER's own active
    power output, opModMaxLimW, in hundredths of a percent of the device's setMaxW
    (falling back to rtgMaxW, see percent_base_w). It does not limit what the site
    exports: PV behind the same meter may export more.
* The lists follow the clock (protocol.selectors.group_controls): a control whose interval
  ended leaves them at once; one whose interval began is active (status 1) even before the
  beat moves it. Cancelled and superseded controls stay until their interval ends (status
  2 / 4), the program.min_stored_events most recent of them, never in place of a scheduled
  or active one. Order: start ascending, creationTime descending, mRID descending.
"""

from datetime import datetime

from programs.choices import EventKind, EventStatus
from programs.models import DispatchGroup
from protocol import selectors
from protocol.managers.edev import derived_mrid, derp_list_href
from protocol.managers.response import RESPONSE_LIST_HREF
from protocol.models import EndDevice
from protocol.xml.resources.common import DateTimeInterval, Link, ListLink, time_type
from protocol.xml.resources.derp import (
    DefaultDERControl,
    DERControl,
    DERControlBase,
    DERControlList,
    DERProgram,
    DERProgramList,
)
from protocol.xml.resources.derp import EventStatus as SepEventStatus
from protocol.xml.resources.units import active_power

CURRENT_STATUS: dict[str, int] = {
    EventStatus.SCHEDULED: 0,
    EventStatus.ACTIVE: 1,
    EventStatus.COMPLETED: 1,
    EventStatus.CANCELLED: 2,
    EventStatus.SUPERSEDED: 4,
}
# Bits 0 (message received) and 1 (specific response: started, completed, opted out).
RESPONSE_REQUIRED = 0x03
ONE_HOUR = 3600  # OneHourRangeType caps randomization
# The two control lists of a DERProgram: every stored control, and the active ones.
DER_CONTROL_LIST, ACTIVE_DER_CONTROL_LIST = "derc", "actderc"


def derp_href(end_device: EndDevice | int, group: DispatchGroup | int) -> str:
    return f"{derp_list_href(end_device)}/{getattr(group, 'pk', group)}"


def control_list_href(
    end_device: EndDevice | int, group: DispatchGroup | int, suffix: str = DER_CONTROL_LIST
) -> str:
    """The DERControlList (`suffix` "derc") or ActiveDERControlList ("actderc") href."""
    return f"{derp_href(end_device, group)}/{suffix}"


def der_control_href(end_device: EndDevice, group: DispatchGroup, mrid: str) -> str:
    return f"{control_list_href(end_device, group)}/{mrid}"


def der_control_mrid(end_device: EndDevice, event) -> str:
    """The mRID of `event` as this EndDevice's DERControl."""
    return derived_mrid("derc", event.mrid, end_device.lfdi)


def der_program_mrid(end_device: EndDevice, group: DispatchGroup) -> str:
    return derived_mrid("derp", group.mrid, end_device.lfdi)


def default_der_control_mrid(end_device: EndDevice, group: DispatchGroup) -> str:
    return derived_mrid("dderc", group.mrid, end_device.lfdi)


def end_device_control_by_mrid(
    end_device: EndDevice, mrid: str, now: datetime
) -> tuple[DispatchGroup, selectors.ControlView] | None:
    """The control this EndDevice was shown under `mrid`, in any of its DERPrograms (ended
    ones included: a Response may follow the end of its interval)."""
    mrid = mrid.upper()
    for group in selectors.end_device_groups(end_device=end_device):
        for view in selectors.group_controls_answerable(
            end_device=end_device, group=group, now=now
        ):
            if der_control_mrid(end_device, view.event) == mrid:
                return group, view
    return None


def default_der_control_href(end_device: EndDevice, group: DispatchGroup) -> str:
    return f"{derp_href(end_device, group)}/dderc"


def percent_base_w(device) -> int | None:
    """The W that opModMaxLimW is a percent of: setMaxW, else rtgMaxW (IEEE 2030.5
    DERControlBase). Neither is a storage charge or discharge rate. A device that reported
    neither falls back to its nameplate output; with none of these no percent is sent."""
    if device is None:
        return None
    return device.set_max_w or device.rtg_max_w or (device.max_discharge_w or None)


def watts_as_percent(watts: int, base_w: int) -> int:
    """`watts` as hundredths of a percent of `base_w`, clamped to PerCent's 0..10000."""
    return max(0, min(10000, round(abs(watts) * 10000 / base_w)))


def control_base(*, kind: str, watts: int | None, device, profile: str) -> DERControlBase:
    base = DERControlBase()
    if watts is None:
        return base
    if kind == EventKind.EXPORT_LIMIT:
        if profile == "csipaus":
            base.op_mod_exp_lim_w = active_power(abs(watts))
        else:
            base_w = percent_base_w(device)
            if base_w:
                base.op_mod_max_lim_w = watts_as_percent(watts, base_w)
        return base
    base.op_mod_target_w = active_power(watts)
    return base


def device_setpoint_w(view: selectors.ControlView) -> int:
    """Exactly the device's planned setpoint (0 W once it opted out). There is no fallback:
    a device the plan leaves out has no Dispatch row and is shown no control at all."""
    return 0 if view.opted_out else view.dispatch.setpoint_w


def der_control(
    view: selectors.ControlView, *, href: str, mrid: str, device, profile: str
) -> DERControl:
    event = view.event
    return DERControl(
        href=href,
        reply_to=RESPONSE_LIST_HREF,
        response_required=RESPONSE_REQUIRED,
        mrid=mrid,
        description=str(event.get_kind_display())[:32],
        creation_time=time_type(event.created_at),
        event_status=SepEventStatus(
            current_status=CURRENT_STATUS[view.status or event.status],
            date_time=time_type(event.status_changed_at),
            potentially_superseded=event.status == EventStatus.SUPERSEDED,
        ),
        interval=DateTimeInterval(duration=event.duration_s, start=time_type(event.start)),
        randomize_duration=min(event.randomize_duration_s, ONE_HOUR) or None,
        randomize_start=min(event.randomize_start_s, ONE_HOUR) or None,
        der_control_base=control_base(
            kind=event.kind, watts=device_setpoint_w(view), device=device, profile=profile
        ),
    )


def end_device_der_control(
    end_device: EndDevice, group: DispatchGroup, view: selectors.ControlView, *, profile: str
) -> DERControl:
    """One event as this EndDevice's DERControl, at its href under the device's DERProgram."""
    mrid = der_control_mrid(end_device, view.event)
    return der_control(
        view,
        href=der_control_href(end_device, group, mrid),
        mrid=mrid,
        device=end_device.device,
        profile=profile,
    )


def derp_resource(end_device: EndDevice, group: DispatchGroup) -> DERProgram:
    return DERProgram(
        href=derp_href(end_device, group),
        subscribable=0,
        mrid=der_program_mrid(end_device, group),
        description=group.name[:32],
        active_der_control_list_link=ListLink(
            href=control_list_href(end_device, group, ACTIVE_DER_CONTROL_LIST)
        ),
        default_der_control_link=Link(href=default_der_control_href(end_device, group)),
        der_control_list_link=ListLink(href=control_list_href(end_device, group)),
        primacy=min(group.program.primacy, 255),
    )


def derp_list(
    end_device: EndDevice, paged, *, poll_rate: int, href: str | None = None
) -> DERProgramList:
    """All the EndDevice's DERPrograms, or (`href`: its FSA's list) one program's."""
    return DERProgramList(
        href=href or derp_list_href(end_device),
        subscribable=1,
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        der_programs=[derp_resource(end_device, g) for g in paged.items],
    )


def der_control_list(
    end_device: EndDevice, group: DispatchGroup, views, *, total: int, suffix: str, profile: str
) -> DERControlList:
    """The DERControlList (or ActiveDERControlList) with `views` as its items, of `total`."""
    return DERControlList(
        href=control_list_href(end_device, group, suffix),
        subscribable=1,
        all=total,
        results=len(views),
        der_controls=[end_device_der_control(end_device, group, v, profile=profile) for v in views],
    )


def default_der_control(
    end_device: EndDevice, group: DispatchGroup, *, profile: str
) -> DefaultDERControl:
    return DefaultDERControl(
        href=default_der_control_href(end_device, group),
        subscribable=1,
        mrid=default_der_control_mrid(end_device, group),
        description="Default control",
        der_control_base=control_base(
            kind=EventKind.EXPORT_LIMIT,
            watts=group.program.default_export_limit_w,
            device=end_device.device,
            profile=profile,
        ),
    )
