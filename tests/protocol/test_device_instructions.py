"""What each device is told: percent limits on the base 2030.5 names, the dispatch plan as
the single truth, and one mRID per distinct control (issue 23)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from programs.services import event_create
from protocol.xml import parse, serialize
from protocol.xml.resources.common import time_type
from protocol.xml.resources.der import DERCapability, DERSettings
from protocol.xml.resources.derp import DefaultDERControl, DERControlList
from protocol.xml.resources.units import active_power
from tests import factories
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group, random_lfdi

pytestmark = pytest.mark.django_db


def online_device(utility, **fields):
    lfdi, sfdi = random_lfdi()
    return factories.device(
        utility, lfdi=lfdi, sfdi=sfdi, soc_pct=80, last_heard_at=timezone.now(), **fields
    )


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


def _report_ratings(http, end_device, *, set_max_w, charge_w, discharge_w, rtg_max_w=20000):
    """The device's DERCapability and DERSettings, through the views, as a client sends them."""
    der = f"/edev/{end_device.pk}/der/0"
    capability = DERCapability(
        modes_supported=1,
        rtg_max_w=active_power(rtg_max_w),
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
