"""Every control mode as it reaches a device: a DERControl carries exactly its event's modes,
and the DefaultDERControl the group's DefaultControl, valid against the 2030.5 (and
CSIP-AUS 1.2) schema — SepClient validates every answer."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from programs.models import OptOut
from programs.services import default_control_clear, default_control_set, event_create
from protocol.managers.derp import der_curve_href, der_curve_list_href
from protocol.xml import parse
from protocol.xml.resources.derp import (
    DefaultDERControl,
    DERControlBase,
    DERControlList,
    DERProgram,
)
from protocol.xml.resources.units import watts_of
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.sep_world import actor, enrolled_end_device, program_with_group, random_lfdi

pytestmark = pytest.mark.django_db


def _world(utility, profile: str):
    program, group = program_with_group(utility, profile=profile, max_events_per_day=None)
    agg = actor(utility, program=program)
    agg.http = SepClient(agg.cert, profile="csipaus" if profile == "csip_aus" else "csip")
    lfdi, sfdi = random_lfdi()
    device = factories.device(
        utility, lfdi=lfdi, sfdi=sfdi, soc_pct=80, last_heard_at=timezone.now(), set_max_w=10000
    )
    end_device = enrolled_end_device(utility, client=agg.client, program=program, device=device)
    return program, group, agg, end_device, f"/edev/{end_device.pk}/derp/{group.pk}"


def _set(base: DERControlBase) -> dict:
    """The modes a DERControlBase sets (element → value)."""
    return {k: v for k, v in vars(base).items() if v is not None}


def _only_control(agg, base: str) -> DERControlBase:
    response = agg.http.get(f"{base}/derc?l=10")
    assert response.status_code == 200
    (control,) = parse(response.content, DERControlList, profile=agg.http.profile).der_controls
    return control.der_control_base


def _create(program, group, manager, kind, controls, minutes=60):
    return event_create(
        program=program,
        group=group,
        kind=kind,
        start=timezone.now() + timedelta(minutes=minutes),
        duration_s=1800,
        actor=manager,
        controls=controls,
    )


# kind, the modes given, what the DERControlBase then sets (field → check on its value)
US_CASES = [
    ("connect", {"op_mod_connect": False}, {"op_mod_connect": lambda v: v is False}),
    ("energize", {"op_mod_energize": True}, {"op_mod_energize": lambda v: v is True}),
    ("fixed_w", {"op_mod_fixed_w": -2500}, {"op_mod_fixed_w": lambda v: v == -2500}),
    ("max_w", {"op_mod_max_lim_w": 5000}, {"op_mod_max_lim_w": lambda v: v == 5000}),
    (
        "target_w",
        {"op_mod_target_w": 1200, "ramp_tms": 300},
        {"op_mod_target_w": lambda v: watts_of(v) == 1200, "ramp_tms": lambda v: v == 300},
    ),
    (
        "fixed_pf",
        {"op_mod_fixed_pf_inject_w": Decimal("0.95"), "op_mod_fixed_pf_inject_excitation": True},
        {
            "op_mod_fixed_pf_inject_w": lambda v: (
                (v.displacement, v.multiplier, v.excitation) == (950, -3, True)
            )
        },
    ),
    (
        "fixed_var",
        {"op_mod_fixed_var": -1500},
        {"op_mod_fixed_var": lambda v: (v.value, v.ref_type) == (-1500, 2)},
    ),
    (
        "freq_droop",
        {"op_mod_freq_droop": {"dBOF": 3, "dBUF": 3, "kOF": 5, "kUF": 5, "openLoopTms": 100}},
        {"op_mod_freq_droop": lambda v: (v.db_of, v.k_uf, v.open_loop_tms) == (3, 5, 100)},
    ),
    # A US CSIP export limit is the DER's own output cap: 20 % of setMaxW 10 kW.
    ("export_limit", {"op_mod_exp_lim_w": 2000}, {"op_mod_max_lim_w": lambda v: v == 2000}),
    # Several modes in one DERControl; the export limit's 20 % and opModMaxLimW's 50 % make
    # one opModMaxLimW, the smaller.
    (
        "multi_mode",
        {
            "op_mod_connect": True,
            "op_mod_exp_lim_w": 2000,
            "op_mod_max_lim_w": 5000,
            "op_mod_fixed_pf_absorb_w": Decimal("0.9"),
            "ramp_tms": 1500,
        },
        {
            "op_mod_connect": lambda v: v is True,
            "op_mod_max_lim_w": lambda v: v == 2000,
            "op_mod_fixed_pf_absorb_w": lambda v: (v.displacement, v.excitation) == (900, False),
            "ramp_tms": lambda v: v == 1500,
        },
    ),
]
AUS_CASES = [
    (kind, {field: 2000}, {field: lambda v: watts_of(v) == 2000})
    for kind, field in (
        ("export_limit", "op_mod_exp_lim_w"),
        ("import_limit", "op_mod_imp_lim_w"),
        ("generation_limit", "op_mod_gen_lim_w"),
        ("load_limit", "op_mod_load_lim_w"),
    )
] + [
    # S-ALL-17 (setMaxW 10 kW) and S-ALL-18: every mode of the event in one DERControl, no
    # other, and no rampTms unless the event has one.
    (
        "multi_mode",
        {
            "op_mod_exp_lim_w": 5000,
            "op_mod_gen_lim_w": 0,
            "op_mod_imp_lim_w": 5000,
            "op_mod_load_lim_w": 0,
            "op_mod_energize": False,
            "op_mod_connect": False,
        },
        {
            "op_mod_exp_lim_w": lambda v: watts_of(v) == 5000,
            "op_mod_gen_lim_w": lambda v: watts_of(v) == 0,
            "op_mod_imp_lim_w": lambda v: watts_of(v) == 5000,
            "op_mod_load_lim_w": lambda v: watts_of(v) == 0,
            "op_mod_energize": lambda v: v is False,
            "op_mod_connect": lambda v: v is False,
        },
    ),
    (
        "multi_mode",
        {"op_mod_exp_lim_w": 0, "op_mod_imp_lim_w": 0, "ramp_tms": 3000},
        {
            "op_mod_exp_lim_w": lambda v: watts_of(v) == 0,
            "op_mod_imp_lim_w": lambda v: watts_of(v) == 0,
            "ramp_tms": lambda v: v == 3000,
        },
    ),
]


@pytest.mark.parametrize(
    ("profile", "kind", "controls", "expected"),
    [("csip", *case) for case in US_CASES] + [("csip_aus", *case) for case in AUS_CASES],
    ids=[f"csip-{c[0]}-{i}" for i, c in enumerate(US_CASES)]
    + [f"aus-{c[0]}-{i}" for i, c in enumerate(AUS_CASES)],
)
def test_a_control_carries_exactly_its_events_modes(
    utility_a, manager_a, profile, kind, controls, expected
):
    program, group, agg, _, base = _world(utility_a, profile)
    _create(program, group, manager_a, kind, controls)
    served = _set(_only_control(agg, base))
    assert set(served) == set(expected), served
    for field, check in expected.items():
        assert check(served[field]), (field, served[field])


def test_a_curve_mode_links_the_curve_under_the_devices_program(utility_a, manager_a):
    program, group, agg, end_device, base = _world(utility_a, "csip")
    curve = factories.curve(utility_a, program=program, curve_type=11)
    _create(program, group, manager_a, "volt_var", {"op_mod_volt_var": curve})
    served = _set(_only_control(agg, base))
    assert set(served) == {"op_mod_volt_var"}
    assert served["op_mod_volt_var"].href == der_curve_href(end_device, group, curve)
    derp = parse(agg.http.get(base).content, DERProgram)
    assert derp.der_curve_list_link.href == der_curve_list_href(end_device, group)


def test_planned_events_keep_the_devices_setpoint(utility_a, manager_a):
    program, group, agg, _, base = _world(utility_a, "csip")
    event_create(
        program=program,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(hours=1),
        duration_s=1800,
        actor=manager_a,
        target_w=3000,
        controls={"ramp_tms": 200},
    )
    served = _set(_only_control(agg, base))
    assert set(served) == {"op_mod_target_w", "ramp_tms"}
    assert watts_of(served["op_mod_target_w"]) > 0 and served["ramp_tms"] == 200


def test_an_opted_out_device_is_told_no_mode_of_an_unplanned_event(utility_a, manager_a):
    program, group, agg, end_device, base = _world(utility_a, "csip")
    event = _create(program, group, manager_a, "connect", {"op_mod_connect": False})
    OptOut.objects.create(
        utility=utility_a,
        event=event,
        device=end_device.device,
        source="operator",
        at=timezone.now(),
    )
    assert _set(_only_control(agg, base)) == {}


def test_csip_aus_modes_are_not_served_to_a_us_program(utility_a, manager_a):
    """Under US CSIP no csipaus element appears, even from a default set before the profile
    changed."""
    program, group, agg, _, base = _world(utility_a, "csip_aus")
    default_control_set(
        group=group, actor=manager_a, values={"op_mod_imp_lim_w": 3000, "op_mod_connect": True}
    )
    program.profile = "csip"
    program.save()
    agg.http = SepClient(agg.cert, profile="csip")
    response = agg.http.get(f"{base}/dderc")
    assert b"csipaus" not in response.content
    assert _set(parse(response.content, DefaultDERControl).der_control_base) == {
        "op_mod_connect": True
    }


def test_the_default_carries_every_mode_and_setting_of_the_groups_default(utility_a, manager_a):
    program, group, agg, end_device, base = _world(utility_a, "csip_aus")
    curve = factories.curve(utility_a, program=program, curve_type=12)  # volt-watt
    default_control_set(
        group=group,
        actor=manager_a,
        values={
            "op_mod_connect": True,
            "op_mod_exp_lim_w": 5000,
            "op_mod_imp_lim_w": 7000,
            "op_mod_max_lim_w": 8000,
            "op_mod_volt_watt": curve,
            "set_es_delay": 30000,
            "set_es_high_freq": 5010,
            "set_es_high_volt": 11000,
            "set_es_low_freq": 4990,
            "set_es_low_volt": 9000,
            "set_es_random_delay": 6000,
            "set_grad_w": 27,
            "set_soft_grad_w": 40,
        },
    )
    response = agg.http.get(f"{base}/dderc")
    assert response.status_code == 200
    dderc = parse(response.content, DefaultDERControl, profile="csipaus")
    served = _set(dderc.der_control_base)
    assert set(served) == {
        "op_mod_connect",
        "op_mod_exp_lim_w",
        "op_mod_imp_lim_w",
        "op_mod_max_lim_w",
        "op_mod_volt_watt",
    }
    assert watts_of(served["op_mod_exp_lim_w"]) == 5000
    assert watts_of(served["op_mod_imp_lim_w"]) == 7000
    assert served["op_mod_volt_watt"].href == der_curve_href(end_device, group, curve)
    assert (dderc.set_es_delay, dderc.set_es_high_freq, dderc.set_es_low_volt) == (
        30000,
        5010,
        9000,
    )
    assert (dderc.set_grad_w, dderc.set_soft_grad_w, dderc.set_es_random_delay) == (27, 40, 6000)

    default_control_clear(group=group, actor=manager_a)
    cleared = parse(agg.http.get(f"{base}/dderc").content, DefaultDERControl, profile="csipaus")
    # Still served (the DERProgram links it), with no mode: the DER keeps its own settings.
    assert _set(cleared.der_control_base) == {} and cleared.set_grad_w is None


def test_modes_and_defaults_cost_no_extra_query(utility_a, manager_a):
    """The default comes joined with the group, curve links from their FK ids: a device's
    dderc and derc cost the same queries with every mode set as with none."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program, group, agg, _, base = _world(utility_a, "csip_aus")

    def queries(path: str) -> int:
        factories.utility()  # a write: the next GET is not answered from the cache
        with CaptureQueriesContext(connection) as captured:
            assert agg.http.get(path).status_code == 200
        return len(captured)

    _create(program, group, manager_a, "connect", {"op_mod_connect": True}, minutes=300)
    agg.http.get(f"/edev/{base.split('/')[2]}")  # first contact: the touches
    empty_default, plain_list = queries(f"{base}/dderc"), queries(f"{base}/derc?l=10")
    curve = factories.curve(utility_a, program=program, curve_type=11)
    default_control_set(
        group=group,
        actor=manager_a,
        values={"op_mod_volt_var": curve, "op_mod_exp_lim_w": 100, "set_grad_w": 5},
    )
    _create(program, group, manager_a, "volt_var", {"op_mod_volt_var": curve})
    _create(program, group, manager_a, "export_limit", {"op_mod_exp_lim_w": 900}, minutes=180)
    assert queries(f"{base}/dderc") == empty_default
    # Two more controls, one with a curve link: no more queries.
    assert queries(f"{base}/derc?l=10") == plain_list
