"""What each device is told: percent limits on the base 2030.5 names, the dispatch plan as
the single truth, and one mRID per distinct control (issue 23)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from programs.models import Dispatch
from programs.selectors import event_funnel
from programs.services import event_activate, event_complete, event_create
from protocol.checks import iana_pen_check, iana_pen_deploy_check
from protocol.models import ControlResponse
from protocol.services import response_record
from protocol.xml import parse, serialize
from protocol.xml.resources.common import time_type
from protocol.xml.resources.der import DERCapability, DERSettings, DERStatus, StateOfChargeStatus
from protocol.xml.resources.derp import DefaultDERControl, DERControl, DERControlList, DERProgram
from protocol.xml.resources.edev import FunctionSetAssignmentsList
from protocol.xml.resources.response import DERControlResponse
from protocol.xml.resources.units import WattHour, active_power, watts_of
from tests import factories
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group, random_lfdi

pytestmark = pytest.mark.django_db


def online_device(utility, **fields):
    lfdi, sfdi = random_lfdi()
    fields = {"soc_pct": 80, "last_heard_at": timezone.now(), **fields}
    return factories.device(utility, lfdi=lfdi, sfdi=sfdi, **fields)


def _event(program, group, manager, *, minutes=60, **fields):
    defaults = {"kind": "discharge", "duration_s": 1800, "target_w": 3000}
    return event_create(
        program=program,
        group=group,
        start=timezone.now() + timedelta(minutes=minutes),
        actor=manager,
        **{**defaults, **fields},
    )


def _controls(http, href):
    response = http.get(f"{href}?l=255")
    assert response.status_code == 200
    return parse(response.content, DERControlList).der_controls


def _report_ratings(
    http, end_device, *, set_max_w, charge_w, discharge_w, rtg_max_w=20000, rtg_max_wh=None
):
    """The device's DERCapability and DERSettings, through the views, as a client sends them."""
    der = f"/edev/{end_device.pk}/der/0"
    capability = DERCapability(
        modes_supported=1,
        rtg_max_w=active_power(rtg_max_w),
        rtg_max_wh=WattHour(multiplier=0, value=rtg_max_wh) if rtg_max_wh else None,
        rtg_max_charge_rate_w=active_power(charge_w),
        rtg_max_discharge_rate_w=active_power(discharge_w),
        type=83,
    )
    assert http.put_sep(f"{der}/dercap", serialize(capability)).status_code == 204
    if set_max_w is None:
        return
    settings = DERSettings(
        set_grad_w=100,
        set_max_w=active_power(set_max_w),
        set_max_charge_rate_w=active_power(charge_w),
        set_max_discharge_rate_w=active_power(discharge_w),
        updated_time=time_type(timezone.now()),
    )
    assert http.put_sep(f"{der}/derg", serialize(settings)).status_code == 204


def test_max_limit_percent_is_of_set_max_w_not_a_storage_rate(utility_a, manager_a):
    # Failed before issue 23: 2000 W was served as 1333 (13.33 % of the 15000 W discharge
    # rate) instead of 2000 (20 % of setMaxW 10000).
    program, group = program_with_group(
        utility_a, max_events_per_day=None, default_export_limit_w=2500
    )
    agg = actor(utility_a, program=program)
    end_device = enrolled_end_device(
        utility_a, client=agg.client, program=program, device=online_device(utility_a)
    )
    _report_ratings(agg.http, end_device, set_max_w=10000, charge_w=7000, discharge_w=15000)
    _event(program, group, manager_a, kind="export_limit", target_w=2000)
    base = f"/edev/{end_device.pk}/derp/{group.pk}"
    (control,) = _controls(agg.http, f"{base}/derc")
    assert control.der_control_base.op_mod_max_lim_w == 2000  # 20.00 % of 10000 W
    assert control.der_control_base.op_mod_target_w is None
    dderc = parse(agg.http.get(f"{base}/dderc").content, DefaultDERControl)
    assert dderc.der_control_base.op_mod_max_lim_w == 2500  # 25.00 % of 10000 W


def test_max_limit_percent_falls_back_to_rtg_max_w(utility_a, manager_a):
    program, group = program_with_group(utility_a, max_events_per_day=None)
    agg = actor(utility_a, program=program)
    end_device = enrolled_end_device(
        utility_a, client=agg.client, program=program, device=online_device(utility_a)
    )
    _report_ratings(
        agg.http, end_device, set_max_w=None, charge_w=7000, discharge_w=15000, rtg_max_w=8000
    )
    _event(program, group, manager_a, kind="export_limit", target_w=2000)
    (control,) = _controls(agg.http, f"/edev/{end_device.pk}/derp/{group.pk}/derc")
    assert control.der_control_base.op_mod_max_lim_w == 2500  # 25.00 % of rtgMaxW 8000 W


def _respond(http, end_device, mrid, status):
    body = DERControlResponse(
        created_date_time=time_type(timezone.now()),
        end_device_lfdi=end_device.lfdi,
        status=status,
        subject=mrid,
    )
    return http.post_sep("/rsp", serialize(body))


def test_a_device_the_plan_leaves_out_is_told_nothing(utility_a, manager_a):
    # Failed before issue 23: the empty battery had no Dispatch row, yet its DERControl
    # carried the event's per-device 3000 W before, during and after the event, and its
    # Responses were stored but counted nowhere.
    program, group = program_with_group(utility_a, max_events_per_day=None)
    agg = actor(utility_a, program=program)
    full = enrolled_end_device(
        utility_a, client=agg.client, program=program, device=online_device(utility_a)
    )
    empty = enrolled_end_device(
        utility_a, client=agg.client, program=program, device=online_device(utility_a, soc_pct=0)
    )
    event = _event(
        program, group, manager_a, setpoint_rule="per_device", per_device_w=3000, target_w=None
    )
    assert set(Dispatch.objects.filter(event=event).values_list("device_id", flat=True)) == {
        full.device_id
    }
    planned = Dispatch.objects.get(event=event, device=full.device)
    full_base = f"/edev/{full.pk}/derp/{group.pk}"
    empty_base = f"/edev/{empty.pk}/derp/{group.pk}"

    for moment in ("before", "during"):
        if moment == "during":
            event_activate(event_id=event.pk, now=event.start)
        assert _controls(agg.http, f"{empty_base}/derc") == [], moment
        (control,) = _controls(agg.http, f"{full_base}/derc")
        planned.refresh_from_db()
        assert watts_of(control.der_control_base.op_mod_target_w) == planned.setpoint_w, moment
    event_complete(event_id=event.pk, now=event.end)
    event.refresh_from_db()
    assert event.status == "completed"
    # Once over, the control leaves both lists (issue 22: the list follows the clock).
    assert _controls(agg.http, f"{empty_base}/derc") == []
    assert _controls(agg.http, f"{full_base}/derc") == []

    # The empty battery cannot answer for a control it was never given: refused, not stored;
    # the planned one still answers for its control after the end ("completed").
    refused = _respond(agg.http, empty, control.mrid, 1)
    assert refused.status_code == 404
    assert b"no DERControl of this EndDevice" in refused.content
    for code in (1, 2, 3):
        assert _respond(agg.http, full, control.mrid, code).status_code == 201
    stored = ControlResponse.objects.filter(event=event)
    assert set(stored.values_list("end_device_id", flat=True)) == {full.pk}
    # Every stored Response is counted in the funnel.
    funnel = event_funnel(event=event)
    assert funnel["dispatched"] == 1
    assert (funnel["received"], funnel["started"], funnel["completed"]) == (1, 1, 1)


def test_response_for_a_device_without_a_plan_is_refused_by_the_domain(utility_a, manager_a):
    program, group = program_with_group(utility_a, max_events_per_day=None)
    agg = actor(utility_a, program=program)
    device = online_device(utility_a, soc_pct=0)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program, device=device)
    event = _event(program, group, manager_a)
    with pytest.raises(ValidationError, match="not in this event's dispatch plan"):
        response_record(end_device=end_device, event=event, status=1)
    assert not ControlResponse.objects.exists()


def test_a_device_heard_from_before_the_start_joins_the_plan(
    utility_a, manager_a, django_capture_on_commit_callbacks
):
    # A device that registered but had not reported when the event was scheduled gets its
    # Dispatch row, and so its control, as soon as it reports before the start.
    program, group = program_with_group(utility_a, max_events_per_day=None)
    agg = actor(utility_a, program=program)
    lfdi, sfdi = random_lfdi()
    # Arrived over 2030.5 without DeviceInformation: no nameplate, only what it reports.
    silent = factories.device(
        utility_a, lfdi=lfdi, sfdi=sfdi, max_charge_w=0, max_discharge_w=0, capacity_wh=0
    )
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program, device=silent)
    event = _event(
        program, group, manager_a, setpoint_rule="per_device", per_device_w=2000, target_w=None
    )
    base = f"/edev/{end_device.pk}/derp/{group.pk}"
    assert not Dispatch.objects.filter(event=event).exists()
    assert _controls(agg.http, f"{base}/derc") == []

    _report_ratings(
        agg.http, end_device, set_max_w=5000, charge_w=5000, discharge_w=5000, rtg_max_wh=13500
    )
    assert _controls(agg.http, f"{base}/derc") == []  # ratings, but no SoC yet
    status = DERStatus(
        reading_time=time_type(timezone.now()),
        state_of_charge_status=StateOfChargeStatus(date_time=time_type(timezone.now()), value=8000),
    )
    with django_capture_on_commit_callbacks(execute=True):
        put = agg.http.put_sep(f"/edev/{end_device.pk}/der/0/ders", serialize(status))
    assert put.status_code == 204
    dispatch = Dispatch.objects.get(event=event, device=silent)
    assert dispatch.setpoint_w == 2000
    (control,) = _controls(agg.http, f"{base}/derc")
    assert watts_of(control.der_control_base.op_mod_target_w) == 2000


def test_a_device_that_drops_out_of_the_plan_at_the_start_is_told_zero(utility_a, manager_a):
    program, group = program_with_group(utility_a, max_events_per_day=None)
    agg = actor(utility_a, program=program)
    device = online_device(utility_a)
    end_device = enrolled_end_device(utility_a, client=agg.client, program=program, device=device)
    event = _event(
        program, group, manager_a, setpoint_rule="per_device", per_device_w=2000, target_w=None
    )
    base = f"/edev/{end_device.pk}/derp/{group.pk}"
    (control,) = _controls(agg.http, f"{base}/derc")
    assert watts_of(control.der_control_base.op_mod_target_w) == 2000
    # Empty by the start: it already holds the control, so it is told 0 W, not left at 2000.
    type(device).objects.filter(pk=device.pk).update(soc_pct=0)
    event_activate(event_id=event.pk, now=event.start)
    (control,) = _controls(agg.http, f"{base}/derc")
    assert watts_of(control.der_control_base.op_mod_target_w) == 0
    dispatch = Dispatch.objects.get(event=event, device=device)
    assert (dispatch.setpoint_w, dispatch.committed_w) == (0, 0)


def test_an_aggregator_s_20_devices_each_get_their_own_mrid_and_setpoint(
    utility_a, manager_a, settings
):
    # Failed before issue 23: all 20 copies of the control (and of the DERProgram) shared the
    # event's (the group's) mRID, so a client keying events by mRID collapsed them into one.
    settings.SEP2_IANA_PEN = "12345"
    pen_hex = "00003039"
    program, group = program_with_group(utility_a, max_events_per_day=None)
    agg = actor(utility_a, program=program)
    # Different discharge ratings, so a 5000 W per-device setpoint is capped differently.
    end_devices = [
        enrolled_end_device(
            utility_a,
            client=agg.client,
            program=program,
            device=online_device(utility_a, max_discharge_w=1000 + 100 * i),
        )
        for i in range(20)
    ]
    event = _event(
        program, group, manager_a, setpoint_rule="per_device", per_device_w=5000, target_w=None
    )
    planned = dict(Dispatch.objects.filter(event=event).values_list("device_id", "setpoint_w"))
    assert len(set(planned.values())) == 20  # the setpoints really differ per device

    def poll() -> dict[int, tuple[str, float, str, str]]:
        seen = {}
        for end_device in end_devices:
            base = f"/edev/{end_device.pk}/derp/{group.pk}"
            (control,) = _controls(agg.http, f"{base}/derc")
            derp = parse(agg.http.get(base).content, DERProgram)
            dderc = parse(agg.http.get(f"{base}/dderc").content, DefaultDERControl)
            assert parse(agg.http.get(control.href).content, DERControl).mrid == control.mrid
            seen[end_device.pk] = (
                control.mrid,
                watts_of(control.der_control_base.op_mod_target_w),
                derp.mrid,
                dderc.mrid,
            )
        return seen

    first = poll()
    control_mrids = [mrid for mrid, _, _, _ in first.values()]
    assert len(set(control_mrids)) == 20
    assert len({derp for _, _, derp, _ in first.values()}) == 20
    assert len({dderc for _, _, _, dderc in first.values()}) == 20
    for end_device in end_devices:
        assert first[end_device.pk][1] == planned[end_device.device_id]
    # Every server-made mRID ends in the install's IANA PEN.
    fsas = agg.http.get(f"/edev/{end_devices[0].pk}/fsa").content
    fsa = parse(fsas, FunctionSetAssignmentsList).function_set_assignments[0]
    served = [*control_mrids, *(v[2] for v in first.values()), *(v[3] for v in first.values())]
    assert all(m.endswith(pen_hex) and len(m) == 32 for m in [*served, fsa.mrid])
    # Stable across polls.
    assert poll() == first

    # A Response names one device's control: it lands on that device's Dispatch only.
    chosen = end_devices[7]
    assert _respond(agg.http, chosen, first[chosen.pk][0], 1).status_code == 201
    answered = Dispatch.objects.filter(event=event, last_response=1)
    assert list(answered.values_list("device_id", flat=True)) == [chosen.device_id]
    # Another device's mRID is not this device's control.
    other = first[end_devices[8].pk][0]
    assert _respond(agg.http, chosen, other, 2).status_code == 404


def test_the_iana_pen_setting_is_checked(settings):
    for bad in ("", "0", "-5", "4294967296", "PEN"):
        settings.SEP2_IANA_PEN = bad
        assert [e.id for e in iana_pen_check(None)] == ["protocol.E001"], bad
    settings.SEP2_IANA_PEN = "4294967295"
    assert iana_pen_check(None) == []
    settings.SEP2_IANA_PEN = "32473"
    assert iana_pen_check(None) == []
    assert [w.id for w in iana_pen_deploy_check(None)] == ["protocol.W001"]
