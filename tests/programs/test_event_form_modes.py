"""The new-event form creates an event of every kind its program's profile allows, in human
units (kW, %, seconds) stored in the standard's; shows only what applies; refuses the rest
on the field that is wrong, creating nothing."""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from programs import controls
from programs.choices import CurveType, EventKind, RequirementProfile
from programs.controls import allowed_kinds
from programs.models import Event
from tenancy.choices import Role
from tests import factories
from tests.programs.event_form import event_form_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def utility(db):
    return factories.utility("Cascadia", slug="cascadia", timezone="America/Los_Angeles")


@pytest.fixture
def web(client, utility):
    client.force_login(factories.member(utility, Role.PROGRAM_MANAGER))
    return client


def _group(utility, profile):
    program = factories.program(
        utility,
        profile=profile,
        allowed_weekdays="0,1,2,3,4,5,6",
        window_start=None,
        window_end=None,
        min_notice_min=0,
        max_events_per_day=None,
    )
    return factories.dispatch_group(utility, prog=program)


def _curves(utility, program) -> dict[int, int]:
    return {
        t: factories.curve(utility, program=program, curve_type=t, description=f"c{t}").pk
        for t in (CurveType.VOLT_VAR, CurveType.VOLT_WATT, CurveType.FREQ_WATT, CurveType.WATT_PF)
    }


def _post(web, group, kind, **fields):
    return event_form_post(web, group, kind, **fields)


# kind → (form input, the event's stored values in the standard's units)
CASES = {
    EventKind.DISCHARGE: ({"target_kw": "5"}, {"target_w": 5000}),
    EventKind.CHARGE: ({"target_kw": "2.5"}, {"target_w": 2500}),
    EventKind.EXPORT_LIMIT: ({"op_mod_exp_lim_kw": "3"}, {"op_mod_exp_lim_w": 3000}),
    EventKind.IMPORT_LIMIT: ({"op_mod_imp_lim_kw": "2.5"}, {"op_mod_imp_lim_w": 2500}),
    EventKind.GENERATION_LIMIT: ({"op_mod_gen_lim_kw": "4"}, {"op_mod_gen_lim_w": 4000}),
    EventKind.LOAD_LIMIT: ({"op_mod_load_lim_kw": "1.2"}, {"op_mod_load_lim_w": 1200}),
    EventKind.STORAGE_TARGET: (
        {"op_mod_storage_target_kw": "-1.5"},
        {"op_mod_storage_target_w": -1500},
    ),
    EventKind.CONNECT: (
        {"op_mod_connect": "0", "ramp_s": "5"},
        {"op_mod_connect": False, "ramp_tms": 500},
    ),
    EventKind.ENERGIZE: ({"op_mod_energize": "1"}, {"op_mod_energize": True}),
    EventKind.FIXED_W: ({"op_mod_fixed_w": "-50"}, {"op_mod_fixed_w": -5000}),
    EventKind.MAX_W: ({"op_mod_max_lim_w": "80.5"}, {"op_mod_max_lim_w": 8050}),
    EventKind.TARGET_W: ({"op_mod_target_kw": "2"}, {"op_mod_target_w": 2000}),
    EventKind.FIXED_PF: (
        {"op_mod_fixed_pf_inject_w": "0.95", "op_mod_fixed_pf_inject_excitation": "1"},
        {
            "op_mod_fixed_pf_inject_w": Decimal("0.95"),
            "op_mod_fixed_pf_inject_excitation": True,
            "op_mod_fixed_pf_absorb_w": None,
        },
    ),
    EventKind.FIXED_VAR: (
        {"op_mod_fixed_var": "25.5", "op_mod_fixed_var_ref_type": "2"},
        {"op_mod_fixed_var": 2550, "op_mod_fixed_var_ref_type": 2},
    ),
    EventKind.VOLT_VAR: ({"op_mod_volt_var": CurveType.VOLT_VAR}, {}),
    EventKind.VOLT_WATT: ({"op_mod_volt_watt": CurveType.VOLT_WATT}, {}),
    EventKind.FREQ_WATT: ({"op_mod_freq_watt": CurveType.FREQ_WATT}, {}),
    EventKind.WATT_PF: ({"op_mod_watt_pf": CurveType.WATT_PF}, {}),
    EventKind.FREQ_DROOP: (
        {
            "op_mod_freq_droop_db_of": "0.036",
            "op_mod_freq_droop_db_uf": "0.036",
            "op_mod_freq_droop_k_of": "0.05",
            "op_mod_freq_droop_k_uf": "0.05",
            "op_mod_freq_droop_open_loop_s": "5",
        },
        {
            "op_mod_freq_droop": {
                "dBOF": 36, "dBUF": 36, "kOF": 50, "kUF": 50, "openLoopTms": 500,
            }
        },
    ),
    # Modes of several kinds at once; the export limit is US_SERVED, so both profiles.
    EventKind.MULTI_MODE: (
        {"op_mod_connect": "1", "op_mod_max_lim_w": "60", "op_mod_exp_lim_kw": "2.5",
         "ramp_s": "10"},
        {"op_mod_connect": True, "op_mod_max_lim_w": 6000, "op_mod_exp_lim_w": 2500,
         "ramp_tms": 1000},
    ),
}  # fmt: skip
CURVE_KINDS = {
    EventKind.VOLT_VAR: "op_mod_volt_var",
    EventKind.VOLT_WATT: "op_mod_volt_watt",
    EventKind.FREQ_WATT: "op_mod_freq_watt",
    EventKind.WATT_PF: "op_mod_watt_pf",
}
# A US CSIP export limit is served per device as opModMaxLimW (programs.controls.US_SERVED).
PARAMS = [
    pytest.param(profile, kind, id=f"{profile}-{kind}")
    for profile in (RequirementProfile.CSIP, RequirementProfile.CSIP_AUS)
    for kind in allowed_kinds(profile)
]


def test_every_kind_has_a_case():
    assert set(CASES) == set(EventKind.values)


@pytest.mark.parametrize(("profile", "kind"), PARAMS)
def test_a_manager_creates_an_event_of_every_kind_the_profile_allows(web, utility, profile, kind):
    group = _group(utility, profile)
    curves = _curves(utility, group.program)
    fields, expected = CASES[kind]
    if kind in CURVE_KINDS:
        name = CURVE_KINDS[kind]
        curve_pk = curves[fields[name]]
        fields, expected = {name: curve_pk}, {f"{name}_id": curve_pk}
    response = _post(web, group, kind, **fields)
    assert response.status_code == 302, response.content.decode()[:4000]
    event = Event.objects.get()
    assert event.kind == kind
    for field, value in expected.items():
        assert getattr(event, field) == value, field
    # Only the kind's modes (and a ramp) are set: the other inputs were not read.
    stray = [
        f
        for f in controls.CONTROL_FIELDS
        if f not in controls.KIND_MODES[kind] and f != "ramp_tms"
        and getattr(event, f if f not in controls.CURVE_FIELDS else f"{f}_id") is not None
    ]  # fmt: skip
    assert not stray
    page = web.get(response["Location"]).content.decode()
    assert "Modes" in page


def test_the_form_offers_only_the_profiles_kinds(web, utility):
    us = _group(utility, RequirementProfile.CSIP)
    page = web.get(reverse("programs:event-create") + f"?group={us.pk}").content.decode()
    assert 'value="import_limit"' not in page and 'value="connect"' in page
    assert 'data-kinds="import_limit"' not in page
    # With a CSIP-AUS program too, each group option names its program's kinds for the script.
    aus = _group(utility, RequirementProfile.CSIP_AUS)
    form = web.get(reverse("programs:event-create")).context["form"]
    options = {o["value"].value: o for _g, opts, _i in form["group"].field.widget.optgroups(
        "group", []) for o in opts if o["value"]}  # fmt: skip
    assert "import_limit" not in options[us.pk]["attrs"]["data-kinds"].split()
    assert "import_limit" in options[aus.pk]["attrs"]["data-kinds"].split()
    page = web.get(reverse("programs:event-create") + f"?group={aus.pk}").content.decode()
    assert 'value="import_limit"' in page and 'data-kinds="import_limit multi_mode"' in page


def test_a_csip_aus_kind_is_refused_on_a_us_program(web, utility):
    _group(utility, RequirementProfile.CSIP_AUS)  # so the kind is offered for some program
    us = _group(utility, RequirementProfile.CSIP)
    response = _post(web, us, EventKind.IMPORT_LIMIT, op_mod_imp_lim_kw="2")
    assert response.status_code == 200
    assert "Import limit is not among the modes of a CSIP (US) program" in (
        response.content.decode()
    )
    assert response.context["form"].errors["kind"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("kind", "fields", "error_on"),
    [
        (EventKind.MAX_W, {"op_mod_max_lim_w": "120"}, "op_mod_max_lim_w"),
        (EventKind.MAX_W, {}, "op_mod_max_lim_w"),
        (EventKind.FIXED_PF, {"op_mod_fixed_pf_inject_w": "1.5"}, "op_mod_fixed_pf_inject_w"),
        (EventKind.FIXED_PF, {}, "op_mod_fixed_pf_inject_w"),
        (EventKind.CONNECT, {}, "op_mod_connect"),
        (EventKind.CONNECT, {"op_mod_connect": "0", "ramp_s": "-1"}, "ramp_s"),
        (EventKind.FREQ_DROOP, {}, "op_mod_freq_droop_db_of"),
        (EventKind.VOLT_VAR, {}, "op_mod_volt_var"),
        (EventKind.DISCHARGE, {"target_kw": "5", "setpoint_rule": "per_device"}, "per_device_kw"),
    ],
)
def test_a_wrong_value_shows_on_its_field_and_creates_nothing(web, utility, kind, fields, error_on):
    group = _group(utility, RequirementProfile.CSIP)
    response = _post(web, group, kind, **fields)
    assert response.status_code == 200
    assert error_on in response.context["form"].errors, response.context["form"].errors
    assert not Event.objects.exists()


def test_a_curve_of_another_program_or_type_is_refused_on_the_curve_field(web, utility):
    group = _group(utility, RequirementProfile.CSIP)
    other = _group(utility, RequirementProfile.CSIP)
    foreign = factories.curve(utility, program=other.program, curve_type=CurveType.VOLT_VAR)
    response = _post(web, group, EventKind.VOLT_VAR, op_mod_volt_var=foreign.pk)
    assert "op_mod_volt_var" in response.context["form"].errors
    assert not Event.objects.exists()


def test_without_curves_the_form_says_so_and_links_the_program(web, utility):
    group = _group(utility, RequirementProfile.CSIP)
    page = web.get(reverse("programs:event-create") + f"?group={group.pk}").content.decode()
    assert "has no curve of this type yet" in page
    assert reverse("programs:program-detail", args=[group.program.pk]) in page


def test_every_kind_fieldset_is_labelled_for_readers_without_script(web, utility):
    group = _group(utility, RequirementProfile.CSIP_AUS)
    page = web.get(reverse("programs:event-create") + f"?group={group.pk}").content.decode()
    for kind in allowed_kinds(RequirementProfile.CSIP_AUS):
        assert kind in page
    assert "<legend>Connect or disconnect</legend>" in page
    assert 'for="id_op_mod_connect"' in page and 'for="id_ramp_s"' in page
    assert "pages/event_form.js" in page


def test_the_live_check_says_which_rules_have_no_meaning_for_the_kind(web, utility):
    group = _group(utility, RequirementProfile.CSIP)
    start = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("America/Los_Angeles"))
    data = {
        "group": group.pk,
        "purpose": "peak",
        "start_local": start.strftime("%Y-%m-%dT%H:%M"),
        "duration_min": 30,
        "selection": "all",
        "setpoint_rule": "pro_rata",
        "randomize_start_s": 0,
        "randomize_duration_s": 0,
    }
    url = reverse("programs:event-create") + "?check=1"
    html = web.post(url, {**data, "kind": "connect"}, HTTP_HX_REQUEST="true").content.decode()
    assert "backup reserve has no meaning here" in html and "no group target" in html
    html = web.post(url, {**data, "kind": "discharge"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Devices keep the program" in html and "no group target" not in html
    assert not Event.objects.exists()


def test_values_left_in_another_kinds_hidden_fields_do_not_block_the_event(web, utility):
    group = _group(utility, RequirementProfile.CSIP)
    response = _post(
        web,
        group,
        EventKind.CONNECT,
        op_mod_connect="1",
        op_mod_max_lim_w="150",  # typed under Max W before the kind changed
        target_kw="-3",
    )
    assert response.status_code == 302, response.context["form"].errors
    event = Event.objects.get()
    assert event.op_mod_connect is True and event.op_mod_max_lim_w is None
    assert event.target_w is None
