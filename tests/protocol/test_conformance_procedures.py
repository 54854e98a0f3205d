"""Each conformance procedure's pass criterion, passing and failing, on server evidence.

Fast: no client runs here. Evidence (exchange records, Responses, telemetry) is written
the way the server writes it, and the steps are called directly with a Context. The fleet
test (tests/integration/test_conformance_fleet.py) proves them against a real client.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from devices.models import Device, TelemetrySample
from programs.models import Event, OptOut, Program
from protocol.conformance.procedures import (
    control,
    discovery,
    framework,
    procedures_for,
    registration,
    security,
    subscription,
    telemetry,
)
from protocol.conformance.runner import run_advance, run_create, run_start
from protocol.conformance.sandbox import client_for
from protocol.models import Client, EndDevice, ExchangeRecord
from protocol.services import end_device_register, pin_is_valid, response_record
from tests import factories
from tests.protocol.client import SepClient
from tests.protocol.conformance_clients import Pem
from tests.protocol.sep_world import random_lfdi
from vendors.certificates import certificate_issue

pytestmark = pytest.mark.django_db

PIN = 123455  # 12345 and its check digit


class World:
    """A vendor's sandbox, certificate, started run and two in-band EndDevices."""

    def __init__(self, utility, procedures, *, parameters=None, profile="csip", devices=2):
        program = factories.program(utility, profile=profile)
        from vendors.services import application_create

        self.application = application_create(
            organization=factories.vendor_organization(), program=program
        )
        self.cert = certificate_issue(application=self.application).certificate
        self.client = client_for(self.cert)
        run = run_create(
            application=self.application,
            procedures=procedures,
            time_scale=0.01,
            parameters=parameters,
        )
        self.run = run_start(run=run)
        self.program = self.application.sandbox_program
        self.group = self.program.groups.first()
        self.end_devices = []
        for _ in range(devices):
            lfdi, sfdi = random_lfdi()
            self.end_devices.append(end_device_register(client=self.client, lfdi=lfdi, sfdi=sfdi))
        # Reported like a client's devices: ratings and a SoC, just now (so they are planned).
        Device.objects.filter(pk__in=[ed.device_id for ed in self.end_devices]).update(
            capacity_wh=13500,
            max_charge_w=5000,
            max_discharge_w=5000,
            soc_pct=80,
            last_heard_at=timezone.now(),
        )
        self.state, self.evidence = {}, {}

    def ctx(self, now=None) -> framework.Context:
        program = Program.objects.get(pk=self.program.pk)
        return framework.Context(
            self.run, self.client, program, self.group, now or timezone.now(), self.state, {}
        )

    def record(self, method, path, status=200, at=None):
        ExchangeRecord.objects.create(
            utility_id=self.client.utility_id,
            client=self.client,
            run_id=self.run.pk,
            method=method,
            path=path,
            status=status,
            at=at or timezone.now(),
        )

    def sample(self, value, at, channel="w", devices=None):
        for ed in devices or self.end_devices:
            TelemetrySample.objects.create(
                utility_id=ed.utility_id,
                device_id=ed.device_id,
                at=at,
                channel=channel,
                value=value,
            )

    def respond(self, status, key="event_id", devices=None):
        event = Event.objects.get(pk=self.state[key])
        for ed in devices or self.end_devices:
            response_record(end_device=ed, event=event, status=status)


@pytest.fixture
def world(utility_a):
    return lambda procedures, **kw: World(utility_a, procedures, **kw)


# --- registration_oob ------------------------------------------------------------------


def test_oob_is_skipped_without_parameters_and_the_run_still_passes(world):
    w = world(["registration_oob"])
    with pytest.raises(framework.StepSkipped):
        registration.step_oob_pin_read(w.ctx())
    assert run_advance(run_id=w.run.pk)
    w.run.refresh_from_db()
    assert w.run.results["registration_oob"]["status"] == "skipped"
    assert "parameters" in w.run.results["registration_oob"]["reason"]
    assert w.run.status == "passed"


def test_oob_parameters_need_a_pin_with_its_check_digit(world):
    w = world(["time_sync"])
    lfdi, _ = random_lfdi()
    with pytest.raises(ValidationError, match="check digit"):
        run_create(application=w.application, parameters={"oob_lfdi": lfdi, "oob_pin": 123456})


def test_oob_pin_must_be_read_before_the_end_device_is_used(world):
    lfdi, _ = random_lfdi()
    w = world(["registration_oob"], parameters={"oob_lfdi": lfdi, "oob_pin": PIN})
    end_device = EndDevice.objects.get(lfdi=lfdi)  # pre-registered by the setup hook
    assert end_device.pin == PIN and end_device.registered_by == w.client
    assert w.program.participants.filter(device=end_device.device).exists()
    assert not registration.step_oob_pin_read(w.ctx())  # nothing yet
    t = timezone.now()
    w.record("GET", f"/edev/{end_device.pk}/fsa", at=t)
    w.record("GET", f"/edev/{end_device.pk}/rg", at=t + timedelta(seconds=1))
    with pytest.raises(framework.StepFailed, match="before checking the PIN"):
        registration.step_oob_pin_read(w.ctx())


def test_oob_passes_when_the_pin_is_read_then_the_device_used(world):
    lfdi, _ = random_lfdi()
    w = world(["registration_oob"], parameters={"oob_lfdi": lfdi, "oob_pin": PIN})
    end_device = EndDevice.objects.get(lfdi=lfdi)
    t = timezone.now()
    w.record("GET", f"/edev/{end_device.pk}", at=t)
    w.record("GET", f"/edev/{end_device.pk}/rg", at=t + timedelta(seconds=1))
    assert registration.step_oob_pin_read(w.ctx())
    assert not registration.step_oob_proceeds(w.ctx())
    w.record("PUT", f"/edev/{end_device.pk}/di", status=204, at=t + timedelta(seconds=2))
    assert registration.step_oob_proceeds(w.ctx())


# --- registration_oob_pin_mismatch ------------------------------------------------------

MISMATCH = ["registration_oob_pin_mismatch", "registration_oob"]


def test_pin_mismatch_is_skipped_without_parameters(world):
    w = world(MISMATCH)
    assert run_advance(run_id=w.run.pk)
    w.run.refresh_from_db()
    assert w.run.results["registration_oob_pin_mismatch"]["status"] == "skipped"
    assert "parameters" in w.run.results["registration_oob_pin_mismatch"]["reason"]
    assert w.run.status == "passed"


def test_pin_mismatch_must_run_before_registration_oob(world):
    w = world(["time_sync"])
    lfdi, _ = random_lfdi()
    with pytest.raises(ValidationError, match="before registration_oob"):
        run_create(
            application=w.application,
            procedures=list(reversed(MISMATCH)),
            parameters={"oob_lfdi": lfdi, "oob_pin": PIN},
        )


def test_the_wrong_pin_is_valid_and_not_the_vendors():
    for pin in (PIN, 999_998, 19, 0):
        wrong = registration.wrong_pin(pin)
        assert wrong != pin and pin_is_valid(wrong)


def _mismatch_world(world):
    lfdi, _ = random_lfdi()
    w = world(MISMATCH, parameters={"oob_lfdi": lfdi, "oob_pin": PIN})
    end_device = EndDevice.objects.get(lfdi=lfdi)
    # Pre-registered with a wrong PIN; registration_oob's setup did not overwrite it.
    assert end_device.pin == registration.wrong_pin(PIN)
    return w, end_device


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/edev/{pk}/di", ""),
        ("GET", "/edev/{pk}/fsa", ""),
        ("GET", "/edev/{pk}/der", ""),
        ("PUT", "/edev/{pk}", ""),
        ("PUT", "/edev/{pk}?s=0", ""),
        ("POST", "/mup", "<MirrorUsagePoint><deviceLFDI>{lfdi}</deviceLFDI>"),
    ],
)
def test_using_the_end_device_despite_a_wrong_pin_fails(world, method, path, body):
    w, end_device = _mismatch_world(world)
    t = timezone.now()
    w.record("GET", f"/edev/{end_device.pk}/rg", at=t)
    assert registration.step_oob_pin_read(w.ctx())
    assert not registration.step_oob_refused(w.ctx(t + timedelta(seconds=0.1)))
    w.record(method, path.format(pk=end_device.pk), at=t + timedelta(seconds=0.2))
    ExchangeRecord.objects.filter(at=t + timedelta(seconds=0.2)).update(
        body_excerpt=body.format(lfdi=end_device.lfdi.lower())
    )
    with pytest.raises(framework.StepFailed, match="despite a wrong PIN"):
        registration.step_oob_refused(w.ctx(t + timedelta(seconds=0.3)))


def test_using_it_without_reading_the_pin_fails_at_once(world):
    w, end_device = _mismatch_world(world)
    w.record("PUT", f"/edev/{end_device.pk}/di", status=204)
    with pytest.raises(framework.StepFailed, match="before checking the PIN"):
        registration.step_oob_pin_read(w.ctx())


def test_refusing_a_wrong_pin_passes_then_registration_oob_needs_a_new_read(world):
    w, end_device = _mismatch_world(world)
    window = w.ctx().scaled(registration.PIN_MISMATCH_WINDOW_S)
    t = timezone.now()
    w.record("GET", f"/edev/{end_device.pk}", at=t)
    w.record("GET", f"/edev/{end_device.pk}/rg", at=t + timedelta(seconds=0.01))
    w.record("GET", "/mup", at=t + timedelta(seconds=0.02))  # another device's business
    w.record("GET", f"/edev/{end_device.pk}/rg", at=t + window / 2)  # re-reading is fine
    assert registration.step_oob_pin_read(w.ctx())
    ctx = w.ctx(t + window / 2)
    assert not registration.step_oob_refused(ctx)
    assert ctx.evidence["pin_rereads"] == 1
    assert registration.step_oob_refused(w.ctx(t + window + timedelta(seconds=0.02)))
    # registration_oob: the vendor's PIN goes back, and the old read no longer counts.
    w.state = {}
    restored_at = t + window + timedelta(seconds=0.05)
    assert registration.step_oob_pin_restore(w.ctx(restored_at))
    assert EndDevice.objects.get(pk=end_device.pk).pin == PIN
    assert not registration.step_oob_pin_read(w.ctx())
    w.record("GET", f"/edev/{end_device.pk}/rg", at=restored_at + timedelta(seconds=0.01))
    w.record(
        "PUT", f"/edev/{end_device.pk}/di", status=204, at=restored_at + timedelta(seconds=0.02)
    )
    assert registration.step_oob_pin_read(w.ctx())
    assert registration.step_oob_proceeds(w.ctx())


# --- default_control ---------------------------------------------------------------------


def _default_read(w):
    assert control.set_default_limit(w.ctx())
    assert framework.group_default_export_limit_w(w.group) == control.DEFAULT_LIMIT_W
    assert not control.step_default_read(w.ctx())
    read_at = timezone.now() + timedelta(seconds=1)
    w.record("GET", f"/edev/{w.end_devices[0].pk}/derp/{w.group.pk}/dderc", at=read_at)
    assert control.step_default_read(w.ctx())
    return read_at


@pytest.mark.parametrize(
    ("profile", "channel", "ok", "bad"),
    [("csip", "w", 480, 2500), ("csip_aus", "site_w", -450, -2000)],
)
def test_default_control_must_be_applied_not_just_read(world, profile, channel, ok, bad):
    w = world(["default_control"], profile=profile)
    before = framework.group_default_export_limit_w(w.group)
    read_at = _default_read(w)
    w.sample(ok, read_at + timedelta(seconds=1), channel)
    assert not control.step_default_applied(w.ctx())  # one reading per device is not enough
    w.sample(ok, read_at + timedelta(seconds=2), channel)
    assert control.step_default_applied(w.ctx())
    w.sample(bad, read_at + timedelta(seconds=3), channel)
    with pytest.raises(framework.StepFailed, match="DefaultDERControl limit"):
        control.step_default_applied(w.ctx())
    framework.cleanup_event(w.ctx())
    assert framework.group_default_export_limit_w(w.group) == before


# --- events: supersession, overlap, randomized start, opt-out, export limit --------------


def test_supersession_needs_response_7_for_the_first(world):
    w = world(["supersession"])
    control.make_event(lead_s=120)(w.ctx())
    control.make_second_event("discharge", same_window=True)(w.ctx())
    first, second = Event.objects.get(pk=w.state["event_id"]), w.ctx().event("second_id")
    assert (first.start, first.status) == (second.start, "superseded")
    step = control.wait_response(framework.SUPERSEDED)
    assert not step(w.ctx())
    w.respond(framework.SUPERSEDED, devices=w.end_devices[:1])
    assert not step(w.ctx())  # every EndDevice must answer
    w.respond(framework.SUPERSEDED, devices=w.end_devices[1:])
    assert step(w.ctx())
    framework.cleanup_event(w.ctx())
    assert Event.objects.get(pk=w.state["second_id"]).status == "cancelled"


def test_overlapping_events_the_newer_one_must_be_applied(world):
    w = world(["overlapping_events"])
    control.make_event("discharge", lead_s=1)(w.ctx())
    control.make_second_event("charge", same_window=False)(w.ctx())
    first, second = w.ctx().event(), w.ctx().event("second_id")
    assert first.status == "superseded" and first.start < second.start < first.end
    step = control.setpoint_visible(-1, "second_id")
    later = second.start + timedelta(seconds=5)
    w.sample(+control.SETPOINT_W, second.start + timedelta(seconds=2))  # the first still applied
    assert not step(w.ctx(later))  # one reading may predate the control
    w.sample(0, second.start + timedelta(seconds=3))  # both applied: they cancel out
    assert not step(w.ctx(later))
    w.sample(+control.SETPOINT_W, second.start + timedelta(seconds=4))
    with pytest.raises(framework.StepFailed, match="setpoint is -1000"):
        step(w.ctx(later))


def test_overlapping_events_pass_when_the_newer_one_shows(world):
    w = world(["overlapping_events"])
    control.make_event("discharge", lead_s=1)(w.ctx())
    control.make_second_event("charge", same_window=False)(w.ctx())
    second = w.ctx().event("second_id")
    w.sample(+control.SETPOINT_W, second.start + timedelta(seconds=1))
    w.sample(-control.SETPOINT_W, second.start + timedelta(seconds=2))
    assert control.setpoint_visible(-1, "second_id")(w.ctx(second.start + timedelta(seconds=5)))


def _randomized(w, offsets):
    control.make_event(lead_s=5, randomize_start_s=control.RANDOMIZE_START_S)(w.ctx())
    event = w.ctx().event()
    for ed, offset in zip(w.end_devices, offsets, strict=True):
        w.respond(framework.STARTED, devices=[ed])
        ed.responses.filter(status=framework.STARTED).update(
            received_at=event.start + timedelta(seconds=offset)
        )
    return event


@pytest.mark.parametrize(
    ("offsets", "reason"),
    [
        ((1, 2), "not honoured"),  # every device at the start: randomization ignored
        ((-10, 30), "before the event's start"),
        ((10, control.RANDOMIZE_START_S + 40), "after start"),
    ],
)
def test_randomized_start_outside_or_without_randomization_fails(world, offsets, reason):
    w = world(["randomized_start"])
    event = _randomized(w, offsets)
    with pytest.raises(framework.StepFailed, match=reason):
        control.step_randomized_start(w.ctx(event.start + timedelta(seconds=120)))


def test_randomized_start_inside_the_window_passes(world):
    w = world(["randomized_start"])
    event = _randomized(w, (3, 41))
    assert control.step_randomized_start(w.ctx(event.start + timedelta(seconds=50)))


def test_opt_out_needs_response_4_recorded_as_an_opt_out(world):
    w = world(["opt_out"])
    control.make_event(lead_s=60)(w.ctx())
    assert control.step_opt_out_asked(w.ctx())
    assert not control.step_opted_out(w.ctx())
    w.respond(framework.RECEIVED)
    assert not control.step_opted_out(w.ctx())
    w.respond(framework.OPTED_OUT, devices=w.end_devices[:1])
    assert control.step_opted_out(w.ctx())
    assert OptOut.objects.filter(device_id=w.end_devices[0].device_id).exists()


def test_export_limit_breach_in_site_telemetry_fails(world):
    w = world(["export_limit"], profile="csip_aus")
    control.make_event("export_limit", lead_s=1)(w.ctx())
    event = w.ctx().event()
    w.sample(-400, event.start + timedelta(seconds=1), "site_w")
    assert not control.step_export_limited(w.ctx())
    w.sample(-500, event.start + timedelta(seconds=2), "site_w")
    assert control.step_export_limited(w.ctx())
    w.sample(-2000, event.start + timedelta(seconds=3), "site_w")
    with pytest.raises(framework.StepFailed, match="exported 2000 W"):
        control.step_export_limited(w.ctx())


def test_export_limit_is_a_csip_aus_procedure_only():
    assert "export_limit" in {x.key for x in procedures_for("csip_aus")}
    assert "export_limit" not in {x.key for x in procedures_for("csip")}


# --- communication_loss ------------------------------------------------------------------


def test_outage_answers_503_with_retry_after_then_the_client_must_resume(world):
    w = world(["communication_loss"])
    http = SepClient(Pem(w.cert.pem.encode()))
    assert subscription.start_outage(w.ctx())
    refused = http.get("/dcap")
    assert refused.status_code == 503 and int(refused["Retry-After"]) >= 1
    until = Client.objects.get(pk=w.client.pk).outage_until
    # At a fixed time just before the end: the outage lasts under a second, which a slow
    # machine could spend on the GET above.
    assert not subscription.step_outage_over(w.ctx(until - timedelta(milliseconds=100)))
    after = w.ctx(until + timedelta(seconds=1))
    assert subscription.step_outage_over(after)
    assert after.evidence["requests_answered_503"] == 1
    assert not subscription.step_recovered(after)  # a client that gave up fails here, on timeout
    w.record("GET", f"/edev/{w.end_devices[0].pk}/derp/{w.group.pk}/derc", at=until)
    assert not subscription.step_recovered(after)  # polling without telemetry is not enough
    w.record("POST", "/mup/1", status=201, at=until + timedelta(seconds=1))
    assert subscription.step_recovered(after)
    framework.cleanup_event(after)
    assert http.get("/dcap").status_code == 200


def test_a_silent_client_fails_each_new_procedure_on_timeout(world):
    lfdi, _ = random_lfdi()
    keys = [
        "registration_oob_pin_mismatch",
        "registration_oob",
        "default_control",
        "supersession",
        "randomized_start",
        "opt_out",
        "communication_loss",
    ]
    w = world(keys, parameters={"oob_lfdi": lfdi, "oob_pin": PIN})
    now = timezone.now()
    for _ in range(200):
        now += timedelta(seconds=30)
        if run_advance(run_id=w.run.pk, now=now):
            break
    w.run.refresh_from_db()
    assert {k: v["status"] for k, v in w.run.results.items()} == dict.fromkeys(keys, "failed")
    assert w.run.status == "failed"
    # Nothing is left behind: no live event, the default limit restored, no outage.
    assert not Event.objects.filter(program=w.program, status__in=("scheduled", "active"))
    assert framework.group_default_export_limit_w(w.group) == 5000
    assert Client.objects.get(pk=w.client.pk).outage_until is None


def test_vendor_gives_out_of_band_parameters_over_the_api(utility_a):
    from tests.conftest import api_client_for
    from vendors.services import application_create

    org = factories.vendor_organization("Oob")
    user = factories.vendor_member(org)
    application = application_create(organization=org, program=factories.program(utility_a))
    certificate_issue(application=application)
    api = api_client_for(user)
    lfdi, _ = random_lfdi()
    body = {"application": application.pk, "procedures": ["registration_oob"], "time_scale": 0.01}
    refused = api.post(
        "/api/v1/vendor/runs/",
        {**body, "parameters": {"oob_lfdi": lfdi, "oob_pin": 123456}},
        format="json",
    )
    assert refused.status_code == 400 and "check digit" in refused.content.decode()
    created = api.post(
        "/api/v1/vendor/runs/",
        {**body, "parameters": {"oob_lfdi": lfdi, "oob_pin": PIN}},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["parameters"]["oob_pin"] == PIN
    assert EndDevice.objects.get(lfdi=lfdi.upper()).pin == PIN


# --- the older procedures ----------------------------------------------------------------


def test_a_silent_client_fails_each_older_procedure_but_misuse(world):
    keys = [
        "discovery",
        "time_sync",
        "registration",
        "fsa_polling",
        "storage_ratings",
        "status_availability",
        "telemetry_cadence",
        "scheduled_event",
        "cancellation",
        "discharge_setpoint",
        "charge_setpoint",
        "certificate_misuse",
    ]
    w = world(keys, devices=0)
    now = timezone.now()
    for _ in range(400):
        now += timedelta(seconds=30)
        if run_advance(run_id=w.run.pk, now=now):
            break
    w.run.refresh_from_db()
    outcome = {k: v["status"] for k, v in w.run.results.items()}
    assert outcome == {**dict.fromkeys(keys, "failed"), "certificate_misuse": "passed"}


def test_discovery_fails_when_edev_is_used_before_dcap(world):
    w = world(["discovery"])
    t = timezone.now()
    w.record("GET", "/edev", at=t)
    w.record("GET", "/dcap", at=t + timedelta(seconds=1))
    with pytest.raises(framework.StepFailed, match="hard-coded"):
        discovery.step_discovery(w.ctx())


def test_discovery_and_time_pass_when_walked_from_dcap(world):
    w = world(["discovery"])
    t = timezone.now()
    w.record("GET", "/dcap", at=t)
    assert not discovery.step_time_sync(w.ctx())
    w.record("GET", "/tm", at=t + timedelta(seconds=1))
    w.record("GET", "/edev", at=t + timedelta(seconds=2))
    assert discovery.step_discovery(w.ctx()) and discovery.step_time_sync(w.ctx())


def test_polling_too_slowly_fails(world):
    w = world(["fsa_polling"])
    derc = f"/edev/{w.end_devices[0].pk}/derp/{w.group.pk}/derc"
    t = timezone.now()
    limit_s = w.program.poll_rate_s * w.run.time_scale * 1.5
    for gap in (0, 1, 2):
        w.record("GET", derc, at=t + timedelta(seconds=gap))
    assert subscription.step_polls_programs(w.ctx())
    w.record("GET", derc, at=t + timedelta(seconds=3 + limit_s))
    with pytest.raises(framework.StepFailed, match="polled"):
        subscription.step_polls_programs(w.ctx())


def test_ratings_and_status_must_be_reported_by_every_end_device(world):
    w = world(["storage_ratings"])
    assert not telemetry.step_ratings(w.ctx()) and not telemetry.step_status(w.ctx())
    for ed in w.end_devices:
        type(ed.device).objects.filter(pk=ed.device_id).update(
            rtg_max_charge_rate_w=5000, rtg_max_discharge_rate_w=5000, rtg_max_wh=13500
        )
    ctx = w.ctx()
    assert not telemetry.step_ratings(ctx)  # DERSettings not reported yet
    assert any(m.endswith("set_max_charge_rate_w") for m in ctx.evidence["missing"])
    for ed in w.end_devices:
        type(ed.device).objects.filter(pk=ed.device_id).update(
            set_max_charge_rate_w=5000, set_max_discharge_rate_w=5000
        )
    assert telemetry.step_ratings(w.ctx())
    type(w.end_devices[0].device).objects.filter(pk=w.end_devices[0].device_id).update(
        soc_pct=50, stat_w_avail_w=5000
    )
    assert not telemetry.step_status(w.ctx())  # the second device has not reported
    type(w.end_devices[1].device).objects.filter(pk=w.end_devices[1].device_id).update(
        soc_pct=50, stat_w_avail_w=5000
    )
    assert telemetry.step_status(w.ctx())


def test_telemetry_off_the_cadence_fails(world):
    w = world(["telemetry_cadence"])
    cadence = w.program.telemetry_cadence_s
    base = int(timezone.now().timestamp()) // cadence * cadence - 10 * cadence
    at = [base, base + cadence, base + 2 * cadence]
    for stamp in at:
        w.sample(0, datetime.fromtimestamp(stamp, tz=UTC))
    assert telemetry.step_telemetry(w.ctx())
    w.sample(0, datetime.fromtimestamp(base + 4 * cadence, tz=UTC))
    with pytest.raises(framework.StepFailed, match="apart"):
        telemetry.step_telemetry(w.ctx())


def test_responses_must_come_from_every_end_device(world):
    w = world(["scheduled_event"])
    control.make_event(lead_s=120)(w.ctx())
    for status in (framework.RECEIVED, framework.STARTED, framework.COMPLETED, framework.CANCELLED):
        step = control.wait_response(status)
        assert not step(w.ctx())
        w.respond(status, devices=w.end_devices[:1])
        assert not step(w.ctx())
        w.respond(status, devices=w.end_devices[1:])
        assert step(w.ctx())


@pytest.mark.parametrize("sign", [+1, -1])
def test_a_setpoint_with_the_wrong_sign_fails(world, sign):
    w = world(["discharge_setpoint"])
    control.make_event("discharge" if sign > 0 else "charge", lead_s=1)(w.ctx())
    event = w.ctx().event()
    step = control.setpoint_visible(sign)
    later = w.ctx(event.start + timedelta(seconds=5))
    w.sample(-sign * control.SETPOINT_W, event.start + timedelta(seconds=1))
    assert not step(later)
    w.sample(sign * control.SETPOINT_W * 1.05, event.start + timedelta(seconds=2))
    assert step(later)
    w.sample(-sign * control.SETPOINT_W, event.start + timedelta(seconds=3))
    assert step(later)  # one reading in tolerance is enough
    TelemetrySample.objects.filter(value=sign * control.SETPOINT_W * 1.05).update(value=0)
    with pytest.raises(framework.StepFailed, match="setpoint"):
        step(later)  # three readings, none in tolerance


def test_another_devices_resource_answered_with_success_fails(world):
    w = world(["certificate_misuse"])
    w.record("GET", f"/edev/{w.end_devices[0].pk}/der", status=200)
    w.record("GET", "/edev/999999/der", status=404)
    assert security.step_no_foreign_access(w.ctx())
    w.record("GET", "/edev/999999/der", status=200)
    with pytest.raises(framework.StepFailed, match="another device"):
        security.step_no_foreign_access(w.ctx())
