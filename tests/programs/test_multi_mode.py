"""One event, several modes (CSIP-AUS test procedures S-ALL-17, 18, 57): a multi-mode event
carries several control families at once through the domain, /api/v1 and the event form;
modes that cannot go together (two active powers, two reactive power modes, a setting
without its mode, a fixed power above the maximum) are refused naming the field, with
nothing written, whether on an event or a group's default."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from programs.choices import EventKind, RequirementProfile
from programs.controls import MULTI_MODE_FIELDS, allowed_kinds, controls_refusals
from programs.models import DefaultControl, Event, Participant
from programs.rules import rules_for_kind
from programs.selectors import event_plan
from programs.services import default_control_set, event_create
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from tests.programs.event_form import event_form_post

pytestmark = pytest.mark.django_db

# S-ALL-17 with a setMaxW of 10 kW: every CSIP-AUS limit, de-energized and disconnected.
S_ALL_17 = {
    "op_mod_exp_lim_w": 5000,
    "op_mod_gen_lim_w": 0,
    "op_mod_imp_lim_w": 5000,
    "op_mod_load_lim_w": 0,
    "op_mod_energize": False,
    "op_mod_connect": False,
}


def _program(utility, profile=RequirementProfile.CSIP_AUS):
    return factories.program(
        utility,
        profile=profile,
        allowed_weekdays="0,1,2,3,4,5,6",
        window_start=None,
        window_end=None,
        min_notice_min=0,
        max_events_per_day=None,
    )


def _refusals(program, values, kind=EventKind.MULTI_MODE):
    return controls_refusals(program=program, values=values, kind=kind)


def test_every_profile_may_send_a_multi_mode_event_of_any_unplanned_mode():
    for profile in RequirementProfile.values:
        assert EventKind.MULTI_MODE in allowed_kinds(profile)
    assert {"op_mod_connect", "op_mod_exp_lim_w", "op_mod_volt_var"} <= set(MULTI_MODE_FIELDS)
    assert "ramp_tms" not in MULTI_MODE_FIELDS  # any kind may carry it, not a mode


def test_several_modes_at_once_are_accepted_and_each_is_still_checked():
    utility = factories.utility()
    aus, us = _program(utility), _program(utility, RequirementProfile.CSIP)
    assert _refusals(aus, {**S_ALL_17, "ramp_tms": 3000}) == {}
    # On a US CSIP program the CSIP-AUS modes are refused, one by one, the export limit kept
    # (it is served there as opModMaxLimW).
    refused = _refusals(us, S_ALL_17)
    assert set(refused) == {"op_mod_gen_lim_w", "op_mod_imp_lim_w", "op_mod_load_lim_w"}
    assert "CSIP-AUS" in refused["op_mod_imp_lim_w"]
    assert (
        "storage target"
        in _refusals(aus, {"op_mod_storage_target_w": 100})["op_mod_storage_target_w"]
    )
    assert "at least one mode" in _refusals(aus, {"ramp_tms": 100})["kind"]
    assert "at least one mode" in _refusals(aus, {})["kind"]


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"op_mod_fixed_w": 5000, "op_mod_target_w": 1000}, "op_mod_target_w", "active power"),
        (
            {"op_mod_fixed_pf_inject_w": 0.95, "op_mod_fixed_var": 100},
            "op_mod_fixed_var",
            "reactive power",
        ),
        ({"op_mod_fixed_var_ref_type": 2, "op_mod_connect": True}, "op_mod_fixed_var_ref_type",
         "the fixed reactive power"),
        ({"op_mod_fixed_w": 6000, "op_mod_max_lim_w": 5000}, "op_mod_fixed_w", "above the maximum"),
    ],
)  # fmt: skip
def test_modes_that_cannot_go_together_are_refused_on_the_later_field(values, field, words):
    utility = factories.utility()
    program = _program(utility)
    refused = _refusals(program, values)
    assert set(refused) == {field} and words in refused[field], refused
    # The same holds for a group's default.
    assert set(controls_refusals(program=program, values=values)) == {field}


def test_two_curves_of_one_reactive_family_are_refused_but_a_watt_curve_goes_with_them():
    utility = factories.utility()
    program = _program(utility)
    volt_var = factories.curve(utility, program=program, curve_type=11)
    watt_pf = factories.curve(utility, program=program, curve_type=13)
    volt_watt = factories.curve(utility, program=program, curve_type=12)
    assert not _refusals(program, {"op_mod_volt_var": volt_var, "op_mod_volt_watt": volt_watt})
    refused = _refusals(program, {"op_mod_volt_var": volt_var, "op_mod_watt_pf": watt_pf})
    assert set(refused) == {"op_mod_watt_pf"} and "volt-var" in refused["op_mod_watt_pf"]


def test_a_single_kind_with_another_kinds_mode_points_to_multi_mode():
    program = _program(factories.utility())
    refused = _refusals(
        program, {"op_mod_exp_lim_w": 1000, "op_mod_gen_lim_w": 0}, EventKind.EXPORT_LIMIT
    )
    assert refused == {
        "op_mod_gen_lim_w": "An export limit event does not set this mode. To send several "
        "modes in one control, make it a multi-mode event (kind multi_mode)."
    }


def test_a_multi_mode_event_is_created_planned_for_every_member_and_a_refused_one_writes_nothing():
    utility = factories.utility()
    program = _program(utility)
    group = factories.dispatch_group(utility, prog=program)
    now = timezone.now()
    device = factories.device(utility, last_heard_at=None)
    Participant.objects.create(utility=utility, program=program, device=device, joined_at=now)
    pm = factories.member(utility, Role.PROGRAM_MANAGER)
    start = now + timedelta(hours=1)
    event = event_create(
        program=program,
        group=group,
        kind=EventKind.MULTI_MODE,
        start=start,
        duration_s=1800,
        actor=pm,
        controls={**S_ALL_17, "ramp_tms": 3000},
    )
    event.refresh_from_db()
    assert {f: getattr(event, f) for f in S_ALL_17} == S_ALL_17 and event.ramp_tms == 3000
    assert event.transitions.first().after["modes"] == {**S_ALL_17, "ramp_tms": 3000}
    # Not planned: each member is told (heard from or not), its Dispatch recording the
    # export limit.
    assert event_plan(event=event, now=now) == {device.pk: (5000, 0)}
    before = Event.objects.count()
    with pytest.raises(ValidationError) as refused:
        event_create(
            program=program,
            group=group,
            kind=EventKind.MULTI_MODE,
            start=start + timedelta(days=1),
            duration_s=1800,
            actor=pm,
            controls={"op_mod_fixed_w": 100, "op_mod_target_w": 100},
        )
    assert "op_mod_target_w" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        event_create(
            program=program,
            group=group,
            kind=EventKind.MULTI_MODE,
            start=start + timedelta(days=1),
            duration_s=1800,
            actor=pm,
            controls={"op_mod_connect": False},
            target_w=5000,
        )
    assert "no group target" in str(refused.value.message_dict["target_w"])
    assert Event.objects.count() == before


def test_a_default_with_modes_that_cannot_go_together_is_refused_and_the_old_one_kept():
    utility = factories.utility()
    group = factories.dispatch_group(utility, prog=_program(utility))
    pm = factories.member(utility, Role.PROGRAM_MANAGER)
    default_control_set(group=group, actor=pm, values={"op_mod_exp_lim_w": 1500})
    with pytest.raises(ValidationError) as refused:
        default_control_set(
            group=group, actor=pm, values={"op_mod_fixed_w": 100, "op_mod_target_w": 100}
        )
    assert "op_mod_target_w" in refused.value.message_dict
    kept = DefaultControl.objects.get(group=group)
    assert (kept.op_mod_exp_lim_w, kept.op_mod_fixed_w) == (1500, None)


def test_the_rules_say_what_applies_to_a_multi_mode_event():
    program = _program(factories.utility())
    rules = {r.rule: r for r in rules_for_kind(program, EventKind.MULTI_MODE)}
    assert rules["notice"].applies and rules["caps"].applies and rules["opt_outs"].applies
    assert not rules["reserve_soc"].applies and not rules["target"].applies
    assert rules["target"].why.startswith("A multi-mode event has no group target")


# --- /api/v1 --------------------------------------------------------------------------------


def _api_post(api, group, **fields):
    body = {
        "group": group.pk,
        "kind": "multi_mode",
        "start": (timezone.now() + timedelta(hours=2)).isoformat(),
        "duration_s": 1800,
        **fields,
    }
    return api.post("/api/v1/events/", body, format="json")


def test_the_api_creates_a_multi_mode_event_and_reads_every_mode_back():
    utility = factories.utility()
    group = factories.dispatch_group(utility, prog=_program(utility))
    api = api_client_for(factories.member(utility, Role.PROGRAM_MANAGER))
    response = _api_post(api, group, **S_ALL_17, ramp_tms=3000)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "multi_mode" and body["ramp_tms"] == 3000
    assert {f: body[f] for f in S_ALL_17} == S_ALL_17
    assert body["op_mod_max_lim_w"] is None and body["target_w"] is None
    assert api.get(f"/api/v1/events/{body['id']}/").json()["op_mod_connect"] is False


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"op_mod_fixed_w": 5000, "op_mod_target_w": 1000}, "op_mod_target_w", "active power"),
        ({"op_mod_fixed_pf_absorb_w": "0.9", "op_mod_fixed_var": -100}, "op_mod_fixed_var",
         "reactive power"),
        ({"ramp_tms": 100}, "kind", "at least one mode"),
        ({"op_mod_connect": False, "target_w": 1000}, "target_w", "no group target"),
    ],
)  # fmt: skip
def test_the_api_refuses_an_invalid_combination_saying_why_and_writes_nothing(fields, field, words):
    utility = factories.utility()
    group = factories.dispatch_group(utility, prog=_program(utility))
    api = api_client_for(factories.member(utility, Role.PROGRAM_MANAGER))
    refused = _api_post(api, group, **fields)
    assert refused.status_code == 400
    assert words in str(refused.json()[field]), refused.json()
    assert not Event.objects.exists()


def test_the_api_schema_lists_multi_mode():
    api = api_client_for(factories.member(factories.utility(), Role.PROGRAM_MANAGER))
    schema = api.get("/api/v1/schema/?format=json").json()
    kinds = schema["components"]["schemas"]["EventKindEnum"]["enum"]
    assert "multi_mode" in kinds


# --- the event form -------------------------------------------------------------------------


@pytest.fixture
def web(client):
    utility = factories.utility("Cascadia", slug="cascadia", timezone="America/Los_Angeles")
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    client.utility = utility
    return client


def _form_post(web, group, **fields):
    return event_form_post(web, group, "multi_mode", **fields)


def test_the_form_creates_a_multi_mode_event_from_several_kinds_inputs(web):
    group = factories.dispatch_group(web.utility, prog=_program(web.utility))
    response = _form_post(
        web,
        group,
        op_mod_exp_lim_kw="5",
        op_mod_imp_lim_kw="5",
        op_mod_gen_lim_kw="0",
        op_mod_load_lim_kw="0",
        op_mod_energize="0",
        op_mod_connect="0",
        ramp_s="30",
        target_kw="7",  # left under discharge before the kind changed: not read
    )
    assert response.status_code == 302, response.context["form"].errors
    event = Event.objects.get()
    assert event.kind == "multi_mode" and event.ramp_tms == 3000 and event.target_w is None
    assert {f: getattr(event, f) for f in S_ALL_17} == S_ALL_17
    page = web.get(response["Location"]).content.decode()
    assert "Multi-mode" in page and "Export limit at the site" in page


def test_the_form_shows_every_unplanned_fieldset_for_multi_mode_and_refuses_a_clash(web):
    group = factories.dispatch_group(web.utility, prog=_program(web.utility))
    page = web.get(reverse("programs:event-create") + f"?group={group.pk}").content.decode()
    assert 'value="multi_mode"' in page
    assert "Multi-mode: several modes in one control" in page
    assert 'data-kinds="connect multi_mode"' in page
    assert 'data-kinds="import_limit multi_mode"' in page
    assert 'data-kinds="charge discharge"' in page  # a planned target is not a mode
    response = _form_post(web, group, op_mod_fixed_w="50", op_mod_target_kw="1")
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "active power" in str(errors["op_mod_target_kw"]), errors
    response = _form_post(web, group)
    assert "at least one mode" in str(response.context["form"].errors["kind"])
    assert not Event.objects.exists()
