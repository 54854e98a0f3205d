"""The northbound API drives every control mode: events of any kind with their modes, and a
dispatch group's DefaultDERControl set, read and cleared — tenant-scoped, refusals naming
the field, and an OpenAPI schema that says so."""

import pytest
from django.utils import timezone

from programs.choices import EventKind
from programs.models import DefaultControl, Event
from tenancy.choices import Role
from tests import factories
from tests.conftest import api_client_for
from tests.programs.test_api import next_weekday_afternoon

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager):
    return api_client_for(manager)


@pytest.fixture
def open_program(program):
    program.window_start = program.window_end = None
    program.max_events_per_day = None
    program.save()
    return program


def _post(api, group, kind, **fields):
    body = {
        "group": group.pk,
        "kind": kind,
        "start": next_weekday_afternoon().isoformat(),
        "duration_s": 1800,
        **fields,
    }
    return api.post("/api/v1/events/", body, format="json")


def test_an_event_of_any_mode_is_created_and_read_back(api, open_program, group):
    response = _post(api, group, "connect", op_mod_connect=False, ramp_tms=250)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["op_mod_connect"], body["ramp_tms"]) == ("connect", False, 250)
    assert body["target_w"] is None and body["op_mod_energize"] is None
    event = Event.objects.get(pk=body["id"])
    assert (event.op_mod_connect, event.ramp_tms) == (False, 250)
    droop = {"dBOF": 3, "dBUF": 4, "kOF": 5, "kUF": 6, "openLoopTms": 100}
    response = _post(api, group, "freq_droop", op_mod_freq_droop=droop, start=None)
    # start is required: nothing is created.
    assert response.status_code == 400 and "start" in response.json()


def test_an_export_limit_takes_its_mode_or_target_w_as_before(api, open_program, group):
    response = _post(api, group, "export_limit", target_w=2500)
    assert response.status_code == 201, response.content
    assert (response.json()["op_mod_exp_lim_w"], response.json()["target_w"]) == (2500, None)
    event = Event.objects.get(pk=response.json()["id"])
    assert event.op_mod_exp_lim_w == 2500


def test_a_mode_outside_the_kind_or_profile_is_refused_naming_the_field(api, open_program, group):
    before = Event.objects.count()
    refused = _post(api, group, "import_limit", op_mod_imp_lim_w=3000)
    assert refused.status_code == 400
    assert "CSIP-AUS" in str(refused.json()["op_mod_imp_lim_w"])
    refused = _post(api, group, "connect", op_mod_connect=True, op_mod_energize=True)
    assert refused.status_code == 400 and "op_mod_energize" in refused.json()
    refused = _post(api, group, "max_w")
    assert refused.status_code == 400 and "op_mod_max_lim_w" in refused.json()
    refused = _post(api, group, "connect", op_mod_connect=True, target_w=5000)
    assert refused.status_code == 400 and "target_w" in refused.json()
    assert Event.objects.count() == before


def test_a_curve_mode_names_a_curve_of_the_program_by_id(api, open_program, group, utility_b):
    own = factories.curve(group.utility, program=open_program, curve_type=11)
    wrong_type = factories.curve(group.utility, program=open_program, curve_type=12)
    other_program = factories.curve(group.utility, curve_type=11)
    foreign = factories.curve(utility_b, curve_type=11)
    for curve, says in (
        (wrong_type, "Volt-var"),
        (other_program, "another program"),
        (foreign, "does not exist"),
    ):
        refused = _post(api, group, "volt_var", op_mod_volt_var=curve.pk)
        assert refused.status_code == 400, curve
        assert says in str(refused.json()["op_mod_volt_var"])
    assert not Event.objects.exists()
    created = _post(api, group, "volt_var", op_mod_volt_var=own.pk)
    assert created.status_code == 201, created.content
    assert created.json()["op_mod_volt_var"] == own.pk


def test_a_groups_default_control_is_set_read_replaced_and_cleared(api, open_program, group):
    url = f"/api/v1/dispatch-groups/{group.pk}/default-control/"
    assert api.get(url).status_code == 404
    response = api.put(
        url,
        {"op_mod_exp_lim_w": 4000, "op_mod_connect": True, "set_grad_w": 27, "set_es_delay": 300},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = api.get(url).json()
    assert (body["op_mod_exp_lim_w"], body["set_grad_w"], body["set_es_delay"]) == (4000, 27, 300)
    assert body["group"] == group.pk and body["changed_at"]
    # A PUT replaces the whole default: what it leaves out is cleared.
    assert api.put(url, {"op_mod_max_lim_w": 5000}, format="json").status_code == 200
    default = DefaultControl.objects.get(group=group)
    assert (default.op_mod_max_lim_w, default.op_mod_exp_lim_w, default.set_grad_w) == (
        5000,
        None,
        None,
    )
    # Refusals name the field and change nothing.
    refused = api.put(url, {"op_mod_imp_lim_w": 100, "set_grad_w": 1}, format="json")
    assert refused.status_code == 400 and "op_mod_imp_lim_w" in refused.json()
    refused = api.put(url, {"set_grad_w": 70000}, format="json")
    assert refused.status_code == 400 and "set_grad_w" in refused.json()
    default.refresh_from_db()
    assert (default.op_mod_max_lim_w, default.set_grad_w) == (5000, None)
    assert api.delete(url).status_code == 204
    assert not DefaultControl.objects.filter(group=group).exists()
    assert api.delete(url).status_code == 404


def test_default_control_is_tenant_scoped_and_analysts_only_read(utility, group, utility_b):
    factories.default_control(group.utility, group=group, op_mod_connect=True)
    url = f"/api/v1/dispatch-groups/{group.pk}/default-control/"
    outsider = api_client_for(factories.member(utility_b, Role.PROGRAM_MANAGER))
    assert outsider.get(url).status_code == 404
    assert outsider.put(url, {"op_mod_connect": False}, format="json").status_code == 404
    assert outsider.delete(url).status_code == 404
    analyst = api_client_for(factories.member(utility, Role.ANALYST))
    assert analyst.get(url).json()["op_mod_connect"] is True
    assert analyst.put(url, {"op_mod_connect": False}, format="json").status_code == 403
    assert analyst.delete(url).status_code == 403
    assert DefaultControl.objects.get(group=group).op_mod_connect is True


def test_the_schema_lists_every_kind_and_the_default_control_path(api):
    schema = api.get("/api/v1/schema/?format=json").json()
    kinds = schema["components"]["schemas"]["EventKindEnum"]["enum"]
    assert set(kinds) == set(EventKind.values)
    path = schema["paths"]["/api/v1/dispatch-groups/{id}/default-control/"]
    assert {"get", "put", "delete"} <= set(path)
    event = schema["components"]["schemas"]["Event"]["properties"]
    assert {"op_mod_connect", "op_mod_exp_lim_w", "op_mod_volt_var", "op_mod_freq_droop"} <= set(
        event
    )
    assert timezone.now()  # the schema is generated live, not from a file


def test_rules_say_in_words_which_apply_to_a_kind(api, program):
    from programs.rules import rules_for_kind

    connect = {r.rule: r for r in rules_for_kind(program, "connect")}
    discharge = {r.rule: r for r in rules_for_kind(program, "discharge")}
    assert set(connect) == set(discharge)
    # Timing and caps hold for every kind.
    for rule in ("duration", "notice", "window", "caps", "rest", "opt_outs"):
        assert connect[rule].applies and discharge[rule].applies
    assert "14:00 to 19:00" in connect["window"].why
    # The reserve and energy pay mean nothing to a connect event, and it says why.
    assert not connect["reserve_soc"].applies and "own reserve" in connect["reserve_soc"].why
    assert not connect["energy_pay"].applies and "not paid" in connect["energy_pay"].why
    assert discharge["reserve_soc"].applies and "20 %" in discharge["reserve_soc"].why
    response = api.get(f"/api/v1/programs/{program.pk}/kind-rules/?kind=connect")
    assert response.status_code == 200
    assert {r["rule"]: r["applies"] for r in response.json()}["reserve_soc"] is False
    assert api.get(f"/api/v1/programs/{program.pk}/kind-rules/?kind=nope").status_code == 400
    # A CSIP-AUS kind on a US program: refused, named.
    refused = api.get(f"/api/v1/programs/{program.pk}/kind-rules/?kind=import_limit")
    assert refused.status_code == 400 and "kind" in refused.json()
