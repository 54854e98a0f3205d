"""DER programs (one per dispatch group) and their DERControls (the group's events).

Decisions, so a reader need not reverse-engineer them:

* DERPrograms are served per EndDevice (/edev/{eid}/derp/{gid}/…), because each
  device's DERControl carries its own setpoint (its Dispatch row).
* A DERControl's mRID is the event's mRID for every device. Each device sees only its own
  copy (its own URL), so one mRID never means two things to one client, and a Response's
  subject leads straight to the event.
* The target is opModTargetW in W (+ discharge, - charge): the device's Dispatch setpoint
  once the event is active, before that the event's per-device setpoint or, failing that,
  its signed group target. An opted-out device's Dispatch is 0 W and the control stays.
* Export-limit events are csipaus:opModExpLimW under CSIP-AUS. Plain CSIP has no export
  limit, so they become opModMaxLimW (percent of the device's setMaxW), the nearest field.
* Cancelled and superseded controls stay in the list (status 2 / 4); completed ones keep
  status 1 with their past interval. At least program.min_stored_events are listed.
"""

from programs.choices import EventKind, EventStatus, SetpointRule
from protocol import selectors
from protocol.fsets.base import Refused, SepView
from protocol.fsets.edev import derived_mrid, edev_href
from protocol.http import not_found
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

CURRENT_STATUS = {
    EventStatus.SCHEDULED: 0,
    EventStatus.ACTIVE: 1,
    EventStatus.COMPLETED: 1,
    EventStatus.CANCELLED: 2,
    EventStatus.SUPERSEDED: 4,
}
# Bits 0 (message received) and 1 (specific response: started, completed, opted out).
RESPONSE_REQUIRED = 0x03
RESPONSE_LIST = "/rsp"
ONE_HOUR = 3600  # OneHourRangeType caps randomization


def derp_href(end_device, group) -> str:
    return f"{edev_href(end_device)}/derp/{group.pk}"


def _max_w(device) -> int | None:
    if device is None:
        return None
    return (
        device.set_max_discharge_rate_w
        or device.rtg_max_discharge_rate_w
        or (device.max_discharge_w or None)
    )


def control_base(*, kind: str, watts: int | None, device, profile: str) -> DERControlBase:
    base = DERControlBase()
    if watts is None:
        return base
    if kind == EventKind.EXPORT_LIMIT:
        if profile == "csipaus":
            base.op_mod_exp_lim_w = active_power(abs(watts))
        else:
            max_w = _max_w(device)
            if max_w:
                base.op_mod_max_lim_w = max(0, min(10000, round(abs(watts) * 10000 / max_w)))
        return base
    base.op_mod_target_w = active_power(watts)
    return base


def device_setpoint_w(view: selectors.ControlView) -> int | None:
    if view.dispatch is not None:
        return view.dispatch.setpoint_w
    if view.opted_out:
        return 0
    event = view.event
    if event.setpoint_rule == SetpointRule.PER_DEVICE and event.per_device_w is not None:
        return -event.per_device_w if event.kind == EventKind.CHARGE else event.per_device_w
    return event.signed_target_w


def der_control(view: selectors.ControlView, *, href: str, device, profile: str) -> DERControl:
    event = view.event
    return DERControl(
        href=href,
        reply_to=RESPONSE_LIST,
        response_required=RESPONSE_REQUIRED,
        mrid=event.mrid,
        description=str(event.get_kind_display())[:32],
        creation_time=time_type(event.created_at),
        event_status=SepEventStatus(
            current_status=CURRENT_STATUS[event.status],
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


def derp_resource(end_device, group, *, controls: int | None = None) -> DERProgram:
    href = derp_href(end_device, group)
    return DERProgram(
        href=href,
        subscribable=0,
        mrid=group.mrid,
        description=group.name[:32],
        active_der_control_list_link=ListLink(href=f"{href}/actderc"),
        default_der_control_link=Link(href=f"{href}/dderc"),
        der_control_list_link=ListLink(href=f"{href}/derc", all=controls),
        primacy=min(group.program.primacy, 255),
    )


class DERProgramListView(SepView):
    def get(self, request, eid):
        end_device = self.end_device(eid)
        groups = selectors.end_device_groups(end_device=end_device)
        paged = self.page(request, groups)
        return self.sep(
            DERProgramList(
                href=f"{edev_href(end_device)}/derp",
                subscribable=0,
                all=paged.all,
                results=paged.results,
                poll_rate=self.poll_rate,
                der_programs=[derp_resource(end_device, g) for g in paged.items],
            )
        )


class _ProgramView(SepView):
    def program(self, eid, gid):
        end_device = self.end_device(eid)
        group = selectors.end_device_group(end_device=end_device, group_id=gid)
        if group is None:
            raise Refused(not_found("no such DERProgram"))
        return end_device, group


class DERProgramView(_ProgramView):
    def get(self, request, eid, gid):
        end_device, group = self.program(eid, gid)
        return self.sep(derp_resource(end_device, group))


class DERControlListView(_ProgramView):
    active_only = False
    suffix = "derc"

    def get(self, request, eid, gid):
        end_device, group = self.program(eid, gid)
        views = selectors.group_controls(
            end_device=end_device, group=group, active_only=self.active_only
        )
        paged = self.page(request, views)
        base = derp_href(end_device, group)
        return self.sep(
            DERControlList(
                href=f"{base}/{self.suffix}",
                subscribable=1,
                all=paged.all,
                results=paged.results,
                der_controls=[
                    der_control(
                        v,
                        href=f"{base}/derc/{v.event.mrid}",
                        device=end_device.device,
                        profile=self.profile,
                    )
                    for v in paged.items
                ],
            )
        )


class ActiveDERControlListView(DERControlListView):
    active_only = True
    suffix = "actderc"


class DERControlView(_ProgramView):
    def get(self, request, eid, gid, mrid):
        end_device, group = self.program(eid, gid)
        views = selectors.group_controls(end_device=end_device, group=group)
        view = next((v for v in views if v.event.mrid == mrid.upper()), None)
        if view is None:
            return not_found("no such DERControl")
        href = f"{derp_href(end_device, group)}/derc/{view.event.mrid}"
        return self.sep(
            der_control(view, href=href, device=end_device.device, profile=self.profile)
        )


class DefaultDERControlView(_ProgramView):
    def get(self, request, eid, gid):
        end_device, group = self.program(eid, gid)
        program = group.program
        return self.sep(
            DefaultDERControl(
                href=f"{derp_href(end_device, group)}/dderc",
                subscribable=0,
                mrid=derived_mrid("dderc", group.mrid),
                description="Default control",
                der_control_base=control_base(
                    kind=EventKind.EXPORT_LIMIT,
                    watts=program.default_export_limit_w,
                    device=end_device.device,
                    profile=self.profile,
                ),
            )
        )


def control_list(end_device, group, *, suffix: str, profile: str, limit: int) -> DERControlList:
    """The DERControlList (or ActiveDERControlList) this EndDevice sees, first `limit` items."""
    views = selectors.group_controls(
        end_device=end_device, group=group, active_only=suffix == "actderc"
    )
    shown = views[:limit]
    base = derp_href(end_device, group)
    return DERControlList(
        href=f"{base}/{suffix}",
        subscribable=1,
        all=len(views),
        results=len(shown),
        der_controls=[
            der_control(
                v, href=f"{base}/derc/{v.event.mrid}", device=end_device.device, profile=profile
            )
            for v in shown
        ],
    )
