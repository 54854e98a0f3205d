"""The cactus-client admin plugin's actions (conformance/reservoir_cactus_admin), run against
the real /api/v1 through the test client: each admin instruction does what the procedure
asks through the API, touches only the run's own programs and clients, and an instruction
the API cannot carry out fails loudly and writes nothing."""

import json
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.utils import timezone

from programs.models import DefaultControl, DispatchGroup, Event, Participant, Program
from protocol.identity import sfdi_from_lfdi
from protocol.models import EndDevice, MirrorUsagePoint
from tests import factories
from tests.conftest import api_client_for

sys.path.insert(0, str(Path(settings.BASE_DIR) / "conformance" / "reservoir_cactus_admin"))

from reservoir_cactus_admin.actions import Actions, AdminUnsupported, Run
from reservoir_cactus_admin.api import Api, ApiError

pytestmark = pytest.mark.django_db
PIN = 111115


class ApiOverTestClient(Api):
    """The plugin's API client, over Django's test client instead of the network."""

    def call(self, method, path, body=None):
        http = object.__getattribute__(self, "_http")
        url = "/api/v1/" + path.lstrip("/")
        response = getattr(http, method.lower())(url, body, format="json")
        if response.status_code >= 400:
            raise ApiError(method, path, response.status_code, response.content.decode())
        return response.json() if response.content else None


def api_for(user) -> ApiOverTestClient:
    api = ApiOverTestClient("http://testserver/api/v1", "token")
    object.__setattr__(api, "_http", api_client_for(user))
    return api


def lfdi(n: int) -> str:
    return f"{n:040X}"


@pytest.fixture
def sandbox(utility_a, manager_a, tmp_path):
    api = api_for(manager_a)
    fields = {
        "status": "active",
        "profile": "csip_aus",
        "is_sandbox": True,
        "max_events_per_day": None,
        "min_duration_min": 1,
        "window_start": None,
        "window_end": None,
    }
    program = api.post("programs/", {**fields, "name": "Run", "slug": "run"})
    group = api.post("dispatch-groups/", {"program": program["id"], "name": "G"})
    client = factories.sep_client(utility_a, program_id=program["id"])
    state = {
        "api": {"base_url": "http://testserver/api/v1", "token": "t"},
        "program": program["id"],
        "group": group["id"],
        "program_name": "Run",
        "program_slug": "run",
        "program_fields": fields,
        "clients": {"agg": {"client": client.pk, "kind": "aggregator", "lfdi": lfdi(1)}},
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    return SimpleNamespace(
        actions=lambda: Actions(Run(path, api=api)),
        state=lambda: json.loads(path.read_text()),
        client=client,
        program=Program.objects.get(pk=program["id"]),
        group_id=group["id"],
        config=SimpleNamespace(id="agg", lfdi=lfdi(1), sfdi=sfdi_from_lfdi(lfdi(1)), pin=PIN),
    )


def test_ensure_end_device_registers_it_for_the_runs_client_and_group(sandbox):
    sandbox.actions().ensure_end_device(sandbox.config, {"registered": True})
    end_device = EndDevice.objects.get(lfdi=lfdi(1))
    assert end_device.registered_by == sandbox.client and end_device.pin == PIN
    assert Participant.objects.filter(program=sandbox.program, device=end_device.device).exists()
    sandbox.actions().ensure_end_device(sandbox.config, {"registered": True})  # idempotent
    assert EndDevice.objects.count() == 1
    sandbox.actions().ensure_end_device(sandbox.config, {"registered": False})
    assert not EndDevice.objects.exists()


def test_ensure_end_device_never_takes_another_clients_device(sandbox, utility_a):
    neighbour = factories.sep_client(utility_a)
    theirs = factories.end_device(utility_a, lfdi=lfdi(1), registered_by=neighbour, pin=222220)
    with pytest.raises(AdminUnsupported):
        sandbox.actions().ensure_end_device(sandbox.config, {"registered": True})
    theirs.refresh_from_db()
    assert theirs.registered_by == neighbour and theirs.pin == 222220


def test_ensure_mup_list_empty_clears_only_the_runs_client(sandbox, utility_a):
    sandbox.actions().ensure_end_device(sandbox.config, {"registered": True})
    mine = EndDevice.objects.get(lfdi=lfdi(1))
    MirrorUsagePoint.objects.create(utility=utility_a, end_device=mine, mrid="A" * 32)
    other = factories.end_device(utility_a, registered_by=factories.sep_client(utility_a))
    kept = MirrorUsagePoint.objects.create(utility=utility_a, end_device=other, mrid="B" * 32)
    sandbox.actions().ensure_mup_list_empty(sandbox.config, {})
    assert list(MirrorUsagePoint.objects.all()) == [kept]


def test_set_client_access_revokes_and_restores(sandbox):
    sandbox.actions().set_client_access(sandbox.config, {"granted": False})
    sandbox.client.refresh_from_db()
    assert sandbox.client.revoked
    sandbox.actions().set_client_access(sandbox.config, {"granted": True})
    sandbox.client.refresh_from_db()
    assert not sandbox.client.revoked


def test_create_der_control_export_limit(sandbox):
    done = sandbox.actions().create_der_control(
        sandbox.config, {"status": "scheduled", "opModExpLimW": 1500.4, "duration_seconds": 120}
    )
    event = Event.objects.get()
    assert event.kind == "export_limit" and event.op_mod_exp_lim_w == 1500
    assert event.target_w is None and event.duration_s == 120
    assert event.group_id == sandbox.group_id and event.start > timezone.now()
    assert str(event.pk) in done
    # A second scheduled control follows the first, never overlapping it.
    sandbox.actions().create_der_control(
        sandbox.config, {"status": "scheduled", "opModExpLimW": 1000}
    )
    first, second = Event.objects.order_by("start")
    assert second.start >= first.start + timedelta(seconds=first.duration_s)


def test_an_active_control_starts_now_when_the_api_refuses_the_past(sandbox):
    sandbox.actions().create_der_control(sandbox.config, {"status": "active", "opModExpLimW": 0})
    event = Event.objects.get()
    assert abs((event.start - timezone.now()).total_seconds()) < 30


def test_a_new_active_control_replaces_the_live_one_the_api_says_it_overlaps(sandbox):
    # S-ALL-15/16: energize, then de-energize now, then energize again. The API keeps one
    # plan per group and refuses to overlap a running event: "cancel it first".
    actions = sandbox.actions()
    actions.create_der_control(sandbox.config, {"status": "active", "opModEnergize": True})
    Event.objects.update(status="active")  # the beat has started it (a scheduled one is superseded)
    actions.create_der_control(sandbox.config, {"status": "active", "opModEnergize": False})
    first, second = Event.objects.order_by("created_at", "pk")
    assert first.status == "cancelled" and second.status != "cancelled"
    assert second.group_id == sandbox.group_id


@pytest.mark.parametrize(
    "params",
    [
        {"status": "active", "opModHVRTMustTrip": 100},
        {"status": "active"},
        {"status": "active", "rampTms": 3000},  # a ramp time and no mode
    ],
)
def test_a_control_the_api_cannot_create_fails_loudly_and_writes_nothing(sandbox, params):
    with pytest.raises(AdminUnsupported):
        sandbox.actions().create_der_control(sandbox.config, params)
    assert not Event.objects.exists()


def test_several_modes_make_one_multi_mode_control_with_its_ramp_time(sandbox):
    # S-ALL-17 (with setMaxW 10 kW) and S-ALL-18, as cactus-client hands them to the plugin.
    actions = sandbox.actions()
    done = actions.create_der_control(
        sandbox.config,
        {
            "status": "active",
            "opModExpLimW": 5000.0,
            "opModGenLimW": 0,
            "opModImpLimW": 5000.0,
            "opModLoadLimW": 0,
            "opModEnergize": False,
            "opModConnect": False,
        },
    )
    event = Event.objects.get()
    assert event.kind == "multi_mode" and str(event.pk) in done
    assert (event.op_mod_exp_lim_w, event.op_mod_gen_lim_w) == (5000, 0)
    assert (event.op_mod_imp_lim_w, event.op_mod_load_lim_w) == (5000, 0)
    assert (event.op_mod_energize, event.op_mod_connect, event.ramp_tms) == (False, False, None)
    actions.create_der_control(
        sandbox.config,
        {"status": "active", "opModExpLimW": 0, "opModImpLimW": 0, "rampTms": 3000},
    )
    latest = Event.objects.latest("created_at", "pk")
    assert latest.kind == "multi_mode" and latest.ramp_tms == 3000
    assert (latest.op_mod_exp_lim_w, latest.op_mod_imp_lim_w) == (0, 0)
    assert latest.op_mod_connect is None
    # One mode with a ramp time keeps that mode's kind.
    actions.create_der_control(
        sandbox.config, {"status": "scheduled", "opModExpLimW": 10, "rampTms": 5}
    )
    one = Event.objects.latest("created_at", "pk")
    assert (one.kind, one.op_mod_exp_lim_w, one.ramp_tms) == ("export_limit", 10, 5)


def test_modes_that_cannot_go_together_are_refused_by_the_api_and_write_nothing(sandbox):
    with pytest.raises(ApiError) as refused:
        sandbox.actions().create_der_control(
            sandbox.config, {"status": "scheduled", "opModFixedW": 5000, "opModTargetW": 1000}
        )
    assert refused.value.status == 400 and "one active power mode" in refused.value.body
    assert not Event.objects.exists()


def test_default_control_and_rates(sandbox):
    actions = sandbox.actions()
    actions.create_default_der_control(sandbox.config, {"opModExpLimW": 2000})
    actions.create_default_der_control(sandbox.config, {"setGradW": 10, "opModConnect": "true"})
    # Each resource gets its own pollRate, as S-ALL-43 sets them one after another.
    for resource, rate in (("DeviceCapability", 300), ("EndDeviceList", 300)):
        actions.set_poll_rate(sandbox.config, {"resource": resource, "rate_seconds": rate})
    actions.set_poll_rate(sandbox.config, {"resource": "DERProgramList", "rate_seconds": 30})
    with pytest.raises(AdminUnsupported):
        actions.set_poll_rate(sandbox.config, {"resource": "Time", "rate_seconds": 5})
    poll_rate_before = sandbox.program.poll_rate_s
    sandbox.program.refresh_from_db()
    default = DefaultControl.objects.get(group_id=sandbox.group_id)
    # A later default instruction adds to the earlier one.
    assert (default.op_mod_exp_lim_w, default.set_grad_w, default.op_mod_connect) == (
        2000,
        10,
        True,
    )
    program = sandbox.program
    assert [program.poll_rate_for(r) for r in ("dcap", "edev_list", "derp_list")] == [300, 300, 30]
    assert program.poll_rate_s == poll_rate_before  # the others keep the program's rate
    assert program.poll_rate_for("der_list") == poll_rate_before
    with pytest.raises(AdminUnsupported):
        actions.create_default_der_control(sandbox.config, {"opModHVRTMustTrip": 10})
    actions.ensure_end_device(sandbox.config, {"registered": True})
    actions.set_post_rate(sandbox.config, {"resource": "MirrorUsagePoint", "rate_seconds": 45})
    assert EndDevice.objects.get().post_rate_s == 45


def test_clear_der_controls_cancels_the_latest_or_all(sandbox):
    actions = sandbox.actions()
    for _ in range(3):
        actions.create_der_control(sandbox.config, {"status": "scheduled", "opModExpLimW": 500})
    latest = Event.objects.order_by("-created_at", "-pk").first()
    sandbox.actions().clear_der_controls(sandbox.config, {})
    assert set(Event.objects.filter(status="cancelled")) == {latest}
    sandbox.actions().clear_der_controls(sandbox.config, {"all": True})
    assert not Event.objects.exclude(status="cancelled").exists()


def test_a_second_fsa_is_a_second_sandbox_program_the_device_joins(sandbox, utility_a):
    production = factories.program(utility_a)
    sandbox.actions().ensure_end_device(sandbox.config, {"registered": True})
    sandbox.actions().ensure_fsa(sandbox.config, {"annotation": "one", "primacy": 2})
    sandbox.actions().ensure_fsa(sandbox.config, {"annotation": "two", "primacy": 1})
    fsas = sandbox.state()["fsa_programs"]
    assert fsas["one"]["program"] == sandbox.program.pk
    second = Program.objects.get(pk=fsas["two"]["program"])
    assert second.is_sandbox and second.primacy == 1 and second.pk != production.pk
    device = EndDevice.objects.get().device
    assert set(Participant.objects.filter(device=device).values_list("program", flat=True)) == {
        sandbox.program.pk,
        second.pk,
    }
    sandbox.program.refresh_from_db()
    assert sandbox.program.primacy == 2


def test_teardown_cancels_what_is_live(sandbox):
    sandbox.actions().create_der_control(
        sandbox.config, {"status": "scheduled", "opModExpLimW": 500}
    )
    sandbox.actions().teardown()
    assert Event.objects.get().status == "cancelled"


def test_controls_and_defaults_with_a_primacy_go_to_that_fsas_program(sandbox):
    # Failed before: S-ALL-49's control "primacy 2" went to the run's primacy-1 program, and
    # its primacy-1 default went to every program.
    actions = sandbox.actions()
    actions.ensure_end_device(sandbox.config, {"registered": True})
    actions.ensure_fsa(sandbox.config, {"annotation": "fsa1", "primacy": 1})
    actions.ensure_fsa(sandbox.config, {"annotation": "fsa2", "primacy": 2})
    second = sandbox.state()["fsa_programs"]["fsa2"]
    sandbox.actions().create_der_control(
        sandbox.config, {"status": "scheduled", "primacy": 2, "opModExpLimW": 900}
    )
    assert Event.objects.get().group_id == second["group"]
    sandbox.actions().create_default_der_control(
        sandbox.config, {"primacy": 1, "opModExpLimW": 1500}
    )
    limits = dict(DefaultControl.objects.values_list("group_id", "op_mod_exp_lim_w"))
    assert (limits.get(sandbox.group_id), limits.get(second["group"])) == (1500, None)


def test_ensuring_the_first_fsa_and_its_program_saves_them(sandbox):
    # The run's program is the first FSA: ensuring it is an upsert its subscribers hear of.
    from django.db.models.signals import post_save

    saved = []

    def record(sender, instance, **kwargs):
        saved.append(instance.pk)

    post_save.connect(record, sender=Program, dispatch_uid="test.fsa_saved")
    post_save.connect(record, sender=DispatchGroup, dispatch_uid="test.group_saved")
    try:
        sandbox.actions().ensure_fsa(sandbox.config, {"annotation": "fsa1"})
        assert saved == [sandbox.program.pk]
        sandbox.actions().ensure_der_program(sandbox.config, {"fsa_annotation": "fsa1"})
        assert saved == [sandbox.program.pk, sandbox.group_id]
    finally:
        post_save.disconnect(dispatch_uid="test.fsa_saved", sender=Program)
        post_save.disconnect(dispatch_uid="test.group_saved", sender=DispatchGroup)
