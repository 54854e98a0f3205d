"""Every conformance procedure, proved both ways against the simulated 2030.5 fleet.

One real ASGI server; many small fleets at once, each with its own vendor application,
certificate, sandbox and run. The good fleet passes every procedure of its profile; each
faulty fleet fails exactly the procedures its fault breaks and passes the others it is run
against. The test plays the customer who opts a device out in the vendor's app.

Timing: the fleets run at time_scale 10 (a 60 s poll or telemetry period is 6 s) and the
runs at time_scale 0.25 (a 120 s delivery window is 30 s). Events keep their real length
(60 s, the domain's minimum), which sets the runtime.
"""

import time
from dataclasses import dataclass, field

import pytest
from django.utils import timezone

from devices.simulator.sep2_device import FleetFaults
from devices.simulator.sep2_fleet import Sep2Fleet, fleet_lfdi
from programs.models import Participant
from protocol.conformance.procedures import procedures_for
from protocol.conformance.runner import run_advance, run_create, run_report, run_start
from protocol.models import Client
from tests import factories
from tests.integration.fleet import FleetThread
from tests.integration.servers import sep2_server, subprocess_env
from vendors.certificates import certificate_issue
from vendors.models import ConformanceRun
from vendors.services import application_create

pytestmark = [
    pytest.mark.integration,
    pytest.mark.production_stack,
    pytest.mark.django_db(transaction=True),
]

PIN = 123455  # 12345 and its 2030.5 check digit
RUN_SCALE = 0.25
FLEET_SCALE = 10
BUDGET_S = 720


@dataclass
class Variant:
    name: str
    faults: FleetFaults
    expected_failures: set[str]
    procedures: list[str] | None = None  # None: every procedure of the profile
    profile: str = "csip"
    devices: int = 1
    oob: bool = False
    run: ConformanceRun | None = None
    fleet: Sep2Fleet | None = None
    opted_out: set[str] = field(default_factory=set)


VARIANTS = [
    Variant("good", FleetFaults(), set(), devices=2, oob=True),
    Variant(
        "good_aus",
        FleetFaults(),
        set(),
        ["registration", "default_control", "export_limit"],
        profile="csip_aus",
    ),
    Variant(
        "skip_pin_check",
        FleetFaults(skip_pin_check=True),
        {"registration_oob_pin_mismatch", "registration_oob"},
        ["registration", "registration_oob_pin_mismatch", "registration_oob"],
        oob=True,
    ),
    Variant("no_opt_out", FleetFaults(no_opt_out=True), {"opt_out"}, ["fsa_polling", "opt_out"]),
    Variant(
        "ignore_default_control",
        FleetFaults(ignore_default_control=True),
        {"default_control"},
        ["default_control", "discharge_setpoint"],
    ),
    Variant(
        "ignore_randomization",
        FleetFaults(ignore_randomization=True),
        {"randomized_start"},
        ["cancellation", "randomized_start"],
        devices=2,
    ),
    Variant(
        "first_control_wins",
        FleetFaults(first_control_wins=True),
        {"supersession", "overlapping_events"},
        ["cancellation", "supersession", "overlapping_events"],
    ),
    Variant(
        "give_up_after_errors",
        FleetFaults(give_up_after_errors=True),
        {"communication_loss"},
        ["fsa_polling", "communication_loss"],
    ),
    Variant(
        "no_responses",
        FleetFaults(no_responses=True),
        {"scheduled_event", "cancellation"},
        ["time_sync", "scheduled_event", "cancellation"],
    ),
    Variant("ignore_cancel", FleetFaults(ignore_cancel=True), {"cancellation"}, ["cancellation"]),
    Variant(
        "wrong_sign",
        FleetFaults(wrong_sign=True),
        {"discharge_setpoint", "charge_setpoint"},
        ["discharge_setpoint", "charge_setpoint"],
    ),
    Variant(
        "telemetry_15min",
        FleetFaults(telemetry_interval_s=900),
        {"telemetry_cadence"},
        ["time_sync", "telemetry_cadence"],
    ),
    Variant(
        "hardcoded_edev",
        FleetFaults(hardcoded_edev=True),
        {"discovery"},
        ["discovery", "registration"],
    ),
    Variant(
        "no_time_sync", FleetFaults(no_time_sync=True), {"time_sync"}, ["discovery", "time_sync"]
    ),
    Variant(
        "no_storage_ratings",
        FleetFaults(no_storage_ratings=True),
        {"storage_ratings"},
        ["storage_ratings", "status_availability"],
    ),
    Variant(
        "ignore_export_limit",
        FleetFaults(ignore_export_limit=True),
        {"export_limit"},
        ["storage_ratings", "export_limit"],
        profile="csip_aus",
    ),
]


def _start(variant: Variant, utility, seed: int, base_url: str) -> None:
    program = factories.program(
        utility,
        f"{variant.name} ",
        profile=variant.profile,
        poll_rate_s=60,
        post_rate_s=60,
        telemetry_cadence_s=60,
    )
    application = application_create(
        organization=factories.vendor_organization(f"{variant.name} "), program=program
    )
    pem = certificate_issue(application=application).certificate.pem.encode()
    parameters = {}
    if variant.oob:
        parameters = {"oob_lfdi": fleet_lfdi(seed=seed, index=0), "oob_pin": PIN}
    run = run_create(
        application=application,
        procedures=variant.procedures,
        time_scale=RUN_SCALE,
        parameters=parameters,
    )
    variant.run = run_start(run=run)  # pre-registers the out-of-band device
    variant.fleet = Sep2Fleet(
        base_url=base_url,
        devices=variant.devices,
        forwarded_cert_pem=pem,
        seed=seed,
        time_scale=FLEET_SCALE,
        faults=variant.faults,
        pins={0: PIN} if variant.oob else None,
        # Late evening, no sun: with nothing in force each battery exports 2500 W, so a
        # default limit or an export limit that is ignored shows in the telemetry.
        idle_export_w=2500,
        t0_s=23 * 3600,
        post_rate_s=60,
        profile="csipaus" if variant.profile == "csip_aus" else "csip",
    )


def _act_as_customer(variant: Variant, run: ConformanceRun) -> None:
    """Opt device 0 out when the opt_out procedure asks for it, as its customer would."""
    evidence = run.results.get("opt_out", {}).get("evidence", {})
    # Device 0 knows the event by its own DERControl's mRID.
    mrid = evidence.get("control_mrids", {}).get(variant.fleet.devices[0].lfdi)
    if evidence.get("instruction") and mrid and mrid not in variant.opted_out:
        variant.fleet.customer_opt_out(0, mrid)
        variant.opted_out.add(mrid)


def _fleet_state(fleet: Sep2Fleet) -> dict:
    return {
        "registered": fleet.stats.registered,
        "errors": fleet.stats.errors,
        "status_codes": fleet.stats.status_codes,
        "device_errors": [d.error for d in fleet.devices if d.error],
        "gave_up": [d.index for d in fleet.devices if d.gave_up],
    }


def _summary(run: ConformanceRun) -> dict:
    return {
        key: (
            result.get("status"),
            result.get("reason"),
            [(s["title"], s["status"], s["finished"][11:19]) for s in result.get("steps", [])],
            result.get("evidence"),
        )
        for key, result in run.results.items()
        if result.get("status") != "passed"
    }


def test_good_fleet_passes_and_each_fault_fails_exactly_its_procedures(tmp_path):
    utility = factories.utility()
    env = subprocess_env(tmp_path, SEP2_TRUSTED_PROXIES="127.0.0.1")
    log = tmp_path / "asgi.log"
    with sep2_server(env, log) as base_url:
        for seed, variant in enumerate(VARIANTS, start=31):
            _start(variant, utility, seed, base_url)
        threads = [FleetThread(v.fleet) for v in VARIANTS]
        for thread in threads:
            thread.__enter__()
        try:
            started = time.monotonic()
            pending = {v.run.pk: v for v in VARIANTS}
            while pending and time.monotonic() - started < BUDGET_S:
                for pk, variant in list(pending.items()):
                    if run_advance(run_id=pk):
                        del pending[pk]
                        continue
                    _act_as_customer(variant, ConformanceRun.objects.get(pk=pk))
                time.sleep(1.0)
            elapsed = time.monotonic() - started
        finally:
            for thread in threads:
                thread.__exit__(None, None, None)
    assert not pending, (
        f"runs unfinished after {BUDGET_S} s: {[v.name for v in pending.values()]}\n"
        + log.read_text()[-3000:]
    )
    print(f"all runs finished in {elapsed:.0f} s")  # shown with -s
    for variant in VARIANTS:  # the margins, for whoever tunes this test
        results = ConformanceRun.objects.get(pk=variant.run.pk).results
        randomized = results.get("randomized_start", {}).get("evidence", {})
        print(variant.name, randomized.get("start_offsets_s", ""))
    wrong = {}
    for variant in VARIANTS:
        run = ConformanceRun.objects.get(pk=variant.run.pk)
        outcome = {k: v["status"] for k, v in run.results.items()}
        failed = {k for k, status in outcome.items() if status == "failed"}
        # Every procedure run either passed or failed as expected: none skipped.
        if failed != variant.expected_failures or "skipped" in outcome.values():
            wrong[variant.name] = (_summary(run), _fleet_state(variant.fleet))
    for name, details in wrong.items():
        print(name, details)  # shown with -s
    assert not wrong, (list(wrong), log.read_text()[-2000:])
    good = ConformanceRun.objects.get(pk=VARIANTS[0].run.pk)
    assert set(good.procedures) == {p.key for p in procedures_for("csip")}
    assert good.status == "passed"
    assert all(
        ConformanceRun.objects.get(pk=v.run.pk).status
        == ("failed" if v.expected_failures else "passed")
        for v in VARIANTS
    )
    report = run_report(good)
    assert report["timeline"] and all(row["step"] for row in report["timeline"][:3])
    # The client's devices joined the sandbox, never the production program.
    sandbox = good.application.sandbox_program
    assert Participant.objects.filter(program=sandbox).count() == 2
    assert not Participant.objects.filter(program=good.application.program).exists()
    # Recording stops with the run; nothing is left live or down.
    assert not Client.objects.filter(recording_run_id__isnull=False).exists()
    assert not Client.objects.filter(outage_until__gt=timezone.now()).exists()
