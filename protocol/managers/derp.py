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
* The dispatch plan is the single truth of who is told. A device sees an event as a
  DERControl only if the plan gave it a Dispatch row. A planned event (discharge, charge)
  carries exactly that row's setpoint: opModTargetW in W (+ discharge, - charge). Every
  other kind carries exactly the modes of its event's control base (modes_base): percents
  as PerCent, power factors as PowerFactorWithExcitation (thousandths), a fixed var with its
  refType, curve modes as links to the program's DERCurves under this DERProgram. There is
  no fallback to the event's per-device or group target. An opted-out device's Dispatch is
  0 W and the control stays (with no mode, for a kind that is not planned);
  so does that of a device that dropped out of the plan at the start (it may already be
  acting on it). A device heard from before the start is added to the plan
  (programs.services.event_plans_extend).
* DefaultDERControl is the group's DefaultControl (every mode, enter service, gradients);
  a group without one is served an empty one rather than a 404, since its DERProgram links
  it (see default_der_control).
* What an export limit (event or default) means depends on the profile:
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
* Site envelopes (CSIP-AUS dynamic operating envelopes, programs.SiteEnvelope). A program
  with a site_envelope_primacy has, in each FSA it gives an EndDevice whose ConnectionPoint
  is known, one more DERProgram: the site program (/edev/{e}/derp/site/{program}), of that
  primacy, whose DERControlList lists exactly the envelopes at that NMI (csipaus:opModImpLimW
  … in W). It sits in the program's own FSA, because the envelope is the program's (a DNSP
  program publishes it) and that FSA is what the EndDevice takes part in. It is listed
  whenever the program publishes envelopes and the site has an NMI, even while none is
  due: an empty DERControlList is a valid answer, and a program that came and went with
  each envelope would reshape the FSA (and its subscribers' lists) on every publication.
  Served only to CSIP-AUS clients (the modes are CSIP-AUS's). It has no DefaultDERControl
  (the device programs' defaults apply) and no DERCurves. The lists follow the same clock,
  order and paging as a group's; a cancelled envelope stays (status 2) until it ends. The
  server keeps no Responses to envelopes: their responseRequired is 0 and they have no
  replyTo.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from programs.choices import EventStatus, UnitRefType
from programs.controls import CURVE_FIELDS, DEFAULT_ONLY_FIELDS, PLANNED_KINDS
from programs.models import (
    SITE_ENVELOPE_LIMITS,
    DefaultControl,
    DispatchGroup,
    Program,
    SiteEnvelope,
)
from protocol import selectors
from protocol.managers.edev import (
    derived_mrid,
    derp_list_href,
    fsa_programs,
    site_program_served,
)
from protocol.managers.response import RESPONSE_LIST_HREF
from protocol.models import EndDevice
from protocol.xml.resources.common import DateTimeInterval, Link, ListLink, time_type
from protocol.xml.resources.derp import (
    CurveData,
    DefaultDERControl,
    DERControl,
    DERControlBase,
    DERControlList,
    DERCurve,
    DERCurveList,
    DERProgram,
    DERProgramList,
    FixedVar,
    FreqDroop,
    PowerFactorWithExcitation,
)
from protocol.xml.resources.derp import EventStatus as SepEventStatus
from protocol.xml.resources.units import ReactivePower, active_power

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


def der_curve_list_href(end_device: EndDevice | int, group: DispatchGroup | int) -> str:
    """The DERCurveList under this EndDevice's DERProgram: the program's curves."""
    return f"{derp_href(end_device, group)}/dc"


def der_curve_href(end_device: EndDevice | int, group: DispatchGroup | int, curve) -> str:
    """A curve mode's link (opModVoltVar …) and the DERCurve's own href."""
    return f"{der_curve_list_href(end_device, group)}/{getattr(curve, 'pk', curve)}"


def der_curve_mrid(end_device: EndDevice, curve) -> str:
    """The mRID of `curve` as this EndDevice's DERCurve (its own copy, like every resource
    under the device's DERProgram)."""
    return derived_mrid("dc", curve.mrid, end_device.lfdi)


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


def default_der_control_href(end_device: EndDevice | int, group: DispatchGroup | int) -> str:
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


def _power_factor(value, excitation: bool | None) -> PowerFactorWithExcitation:
    """A displacement power factor (0..1, three decimals) as thousandths (multiplier -3)."""
    return PowerFactorWithExcitation(
        displacement=round(Decimal(value) * 1000), excitation=bool(excitation), multiplier=-3
    )


def _reactive_power(var: int) -> ReactivePower:
    watts = active_power(var)
    return ReactivePower(multiplier=watts.multiplier, value=watts.value)


def _freq_droop(value: dict) -> FreqDroop:
    return FreqDroop(
        db_of=int(value["dBOF"]),
        db_uf=int(value["dBUF"]),
        k_of=int(value["kOF"]),
        k_uf=int(value["kUF"]),
        open_loop_tms=int(value["openLoopTms"]),
    )


def modes_base(
    control, *, end_device: EndDevice, group: DispatchGroup, profile: str
) -> DERControlBase:
    """The DERControlBase of a ControlBase row (an event or a group's DefaultControl):
    exactly the modes it sets, in 2030.5's types. Curve modes link the curve under this
    device's DERProgram (their FK ids only: no query). CSIP-AUS modes appear, in the
    csipaus namespace, only under that profile; under US CSIP an export limit (W) becomes
    opModMaxLimW of the device's percent base (the smaller one if both are set).
    opModStorageTargetW is not in the CSIP-AUS 1.2 schema the clients validate against, so
    it is stored but not served."""
    base = DERControlBase(
        op_mod_connect=control.op_mod_connect,
        op_mod_energize=control.op_mod_energize,
        op_mod_fixed_w=control.op_mod_fixed_w,
        op_mod_max_lim_w=control.op_mod_max_lim_w,
        ramp_tms=control.ramp_tms,
    )
    if control.op_mod_target_w is not None:
        base.op_mod_target_w = active_power(control.op_mod_target_w)
    if control.op_mod_target_var is not None:
        base.op_mod_target_var = _reactive_power(control.op_mod_target_var)
    if control.op_mod_fixed_pf_inject_w is not None:
        base.op_mod_fixed_pf_inject_w = _power_factor(
            control.op_mod_fixed_pf_inject_w, control.op_mod_fixed_pf_inject_excitation
        )
    if control.op_mod_fixed_pf_absorb_w is not None:
        base.op_mod_fixed_pf_absorb_w = _power_factor(
            control.op_mod_fixed_pf_absorb_w, control.op_mod_fixed_pf_absorb_excitation
        )
    if control.op_mod_fixed_var is not None:
        ref_type = control.op_mod_fixed_var_ref_type
        base.op_mod_fixed_var = FixedVar(
            ref_type=UnitRefType.SET_MAX_VAR if ref_type is None else ref_type,
            value=control.op_mod_fixed_var,
        )
    if control.op_mod_freq_droop:
        base.op_mod_freq_droop = _freq_droop(control.op_mod_freq_droop)
    for field in CURVE_FIELDS:
        curve_id = getattr(control, f"{field}_id")
        if curve_id is not None:
            setattr(base, field, Link(href=der_curve_href(end_device, group, curve_id)))
    if profile == "csipaus":
        for field in (
            "op_mod_imp_lim_w",
            "op_mod_exp_lim_w",
            "op_mod_gen_lim_w",
            "op_mod_load_lim_w",
        ):
            watts = getattr(control, field)
            if watts is not None:
                setattr(base, field, active_power(watts))
    elif control.op_mod_exp_lim_w is not None:
        base_w = percent_base_w(end_device.device)
        if base_w:
            percent = watts_as_percent(control.op_mod_exp_lim_w, base_w)
            base.op_mod_max_lim_w = min(percent, base.op_mod_max_lim_w or percent)
    return base


def event_base(
    view: selectors.ControlView, *, end_device: EndDevice, group: DispatchGroup, profile: str
) -> DERControlBase:
    """What one device's DERControl tells it. A planned event (discharge, charge) carries
    exactly the device's Dispatch setpoint as opModTargetW (0 W once it opted out), plus
    the event's ramp time; any other kind carries exactly its modes. A device that opted
    out of such an event is shown it with no mode at all (its default applies), since a
    mode has no neutral value."""
    event = view.event
    if event.kind in PLANNED_KINDS:
        return DERControlBase(
            op_mod_target_w=active_power(device_setpoint_w(view)), ramp_tms=event.ramp_tms
        )
    if view.opted_out:
        return DERControlBase()
    return modes_base(event, end_device=end_device, group=group, profile=profile)


def device_setpoint_w(view: selectors.ControlView) -> int:
    """Exactly the device's planned setpoint (0 W once it opted out). There is no fallback:
    a device the plan leaves out has no Dispatch row and is shown no control at all."""
    return 0 if view.opted_out else view.dispatch.setpoint_w


def der_control(
    view: selectors.ControlView, *, href: str, mrid: str, base: DERControlBase
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
        der_control_base=base,
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
        base=event_base(view, end_device=end_device, group=group, profile=profile),
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
        der_curve_list_link=ListLink(href=der_curve_list_href(end_device, group)),
        primacy=min(group.program.primacy, 255),
    )


def derp_list(
    end_device: EndDevice, paged, *, poll_rate: int, href: str | None = None
) -> DERProgramList:
    """All the EndDevice's DERPrograms, or (`href`: its FSA's list) one program's: dispatch
    groups and site programs (program_entries)."""
    return DERProgramList(
        href=href or derp_list_href(end_device),
        subscribable=1,
        all=paged.all,
        results=paged.results,
        poll_rate=poll_rate,
        der_programs=[program_resource(end_device, entry) for entry in paged.items],
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


def group_default(group: DispatchGroup) -> DefaultControl | None:
    """The group's DefaultControl (joined by protocol.selectors.end_device_groups)."""
    try:
        return group.default_control
    except DefaultControl.DoesNotExist:
        return None


def default_der_control(
    end_device: EndDevice, group: DispatchGroup, *, profile: str
) -> DefaultDERControl:
    """The group's DefaultControl: every mode it sets, its enter-service settings and
    gradients. A group with none is still served (the DERProgram links it, and 2030.5 has a
    linked resource exist): a DefaultDERControl with no mode, so the DER keeps its own
    settings."""
    default = group_default(group)
    resource = DefaultDERControl(
        href=default_der_control_href(end_device, group),
        subscribable=1,
        mrid=default_der_control_mrid(end_device, group),
        description="Default control",
        der_control_base=DERControlBase(),
    )
    if default is None:
        return resource
    resource.der_control_base = modes_base(
        default, end_device=end_device, group=group, profile=profile
    )
    for field in DEFAULT_ONLY_FIELDS:
        setattr(resource, field, getattr(default, field))
    return resource


def der_curve(end_device: EndDevice, group: DispatchGroup, curve) -> DERCurve:
    """A program's curve as this EndDevice's DERCurve: its points as sent, with their
    multipliers and y reference."""
    return DERCurve(
        href=der_curve_href(end_device, group, curve),
        mrid=der_curve_mrid(end_device, curve),
        description=curve.description or None,
        autonomous_v_ref_enable=curve.autonomous_v_ref_enable,
        autonomous_v_ref_time_constant=curve.autonomous_v_ref_time_constant,
        creation_time=time_type(curve.created_at),
        curve_data=[
            CurveData(excitation=p.get("excitation"), xvalue=p["x"], yvalue=p["y"])
            for p in curve.points
        ],
        curve_type=curve.curve_type,
        open_loop_tms=curve.open_loop_tms,
        ramp_dec_tms=curve.ramp_dec_tms,
        ramp_inc_tms=curve.ramp_inc_tms,
        ramp_pt1_tms=curve.ramp_pt1_tms,
        v_ref=curve.v_ref,
        x_multiplier=curve.x_multiplier,
        y_multiplier=curve.y_multiplier,
        y_ref_type=curve.y_ref_type,
    )


def der_curve_list(end_device: EndDevice, group: DispatchGroup, paged) -> DERCurveList:
    """The DERCurveList under this EndDevice's DERProgram: the program's curves."""
    return DERCurveList(
        href=der_curve_list_href(end_device, group),
        all=paged.all,
        results=paged.results,
        der_curves=[der_curve(end_device, group, c) for c in paged.items],
    )


# --- the site program (CSIP-AUS dynamic operating envelopes) --------------------------


@dataclass(frozen=True)
class SiteProgram:
    """A program's site-level DERProgram as one EndDevice sees it: the envelopes at its
    connection point (NMI)."""

    program: Program
    connection_point_id: str

    @property
    def pk(self) -> int:
        return self.program.pk

    @property
    def primacy(self) -> int:
        return self.program.site_envelope_primacy or 0


def site_programs(end_device: EndDevice, groups, *, profile: str) -> list[SiteProgram]:
    """The site programs of the programs `groups` belong to (no query): those served to
    this EndDevice (protocol.managers.edev.site_program_served)."""
    device = end_device.device
    if device is None:
        return []
    return [
        SiteProgram(program, device.connection_point_id)
        for program, _ in fsa_programs(groups)
        if site_program_served(end_device, program, profile=profile)
    ]


def end_device_site_program(
    end_device: EndDevice, groups, program_id: int, *, profile: str
) -> SiteProgram | None:
    return next(
        (s for s in site_programs(end_device, groups, profile=profile) if s.pk == program_id),
        None,
    )


def program_entries(
    end_device: EndDevice, groups, *, profile: str, program_id: int | None = None
) -> list:
    """The EndDevice's DERPrograms (or, with `program_id`, those of its FSA of that program):
    device programs (dispatch groups) and site programs together, in DERProgramList order,
    primacy ascending (a site program before a device program of equal primacy)."""
    if program_id is not None:
        groups = [g for g in groups if g.program_id == program_id]
    sites = site_programs(end_device, groups, profile=profile)
    entries = [(min(g.program.primacy, 255), 1, g.program.pk, g.pk, g) for g in groups]
    entries += [(min(s.primacy, 255), 0, s.pk, 0, s) for s in sites]
    return [entry[-1] for entry in sorted(entries, key=lambda e: e[:4])]


def site_derp_href(end_device: EndDevice | int, program: Program | int) -> str:
    return f"{derp_list_href(end_device)}/site/{getattr(program, 'pk', program)}"


def site_control_list_href(
    end_device: EndDevice | int, program: Program | int, suffix: str = DER_CONTROL_LIST
) -> str:
    return f"{site_derp_href(end_device, program)}/{suffix}"


def site_der_program_mrid(end_device: EndDevice, program: Program) -> str:
    return derived_mrid("site-derp", str(program.pk), end_device.lfdi)


def site_der_control_mrid(end_device: EndDevice, envelope: SiteEnvelope) -> str:
    return derived_mrid("site-derc", envelope.mrid, end_device.lfdi)


def site_derp_resource(end_device: EndDevice, site: SiteProgram) -> DERProgram:
    return DERProgram(
        href=site_derp_href(end_device, site.program),
        subscribable=0,
        mrid=site_der_program_mrid(end_device, site.program),
        description=f"Site envelope {site.connection_point_id[:10]}"[:32],
        active_der_control_list_link=ListLink(
            href=site_control_list_href(end_device, site.program, ACTIVE_DER_CONTROL_LIST)
        ),
        der_control_list_link=ListLink(href=site_control_list_href(end_device, site.program)),
        primacy=min(site.primacy, 255),
    )


def program_resource(end_device: EndDevice, entry) -> DERProgram:
    """A DERProgramList item: a device program (a dispatch group) or a site program."""
    if isinstance(entry, SiteProgram):
        return site_derp_resource(end_device, entry)
    return derp_resource(end_device, entry)


def site_envelope_status(envelope: SiteEnvelope, now: datetime) -> int:
    """EventStatus.currentStatus at `now`: cancelled 2, active 1 (from its start), else 0."""
    if envelope.cancelled_at is not None:
        return 2
    return 1 if envelope.start <= now else 0


def site_envelope_order(end_device: EndDevice, envelopes: list[SiteEnvelope]) -> list:
    """The device lists' order: start ascending, creationTime descending, mRID descending."""
    envelopes = sorted(envelopes, key=lambda e: site_der_control_mrid(end_device, e), reverse=True)
    envelopes.sort(key=lambda e: e.created, reverse=True)
    envelopes.sort(key=lambda e: e.start)
    return envelopes


def site_der_control(
    end_device: EndDevice, program: Program, envelope: SiteEnvelope, now: datetime
) -> DERControl:
    """One envelope as this EndDevice's DERControl: exactly its limits, in W."""
    mrid = site_der_control_mrid(end_device, envelope)
    base = DERControlBase()
    for field in SITE_ENVELOPE_LIMITS:
        watts = getattr(envelope, field)
        if watts is not None:
            setattr(base, field, active_power(watts))
    return DERControl(
        href=f"{site_control_list_href(end_device, program)}/{mrid}",
        response_required=0,
        mrid=mrid,
        description="Site envelope",
        creation_time=time_type(envelope.created),
        event_status=SepEventStatus(
            current_status=site_envelope_status(envelope, now),
            date_time=time_type(envelope.cancelled_at or envelope.created),
            potentially_superseded=False,
        ),
        interval=DateTimeInterval(duration=envelope.duration_s, start=time_type(envelope.start)),
        der_control_base=base,
    )


def site_der_control_list(
    end_device: EndDevice,
    program: Program,
    envelopes: list[SiteEnvelope],
    *,
    total: int,
    suffix: str,
    now: datetime,
) -> DERControlList:
    return DERControlList(
        href=site_control_list_href(end_device, program, suffix),
        subscribable=1,
        all=total,
        results=len(envelopes),
        der_controls=[site_der_control(end_device, program, e, now) for e in envelopes],
    )
