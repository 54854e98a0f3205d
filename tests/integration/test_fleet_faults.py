"""The simulated fleet's faults really misbehave, so conformance procedures can rely on them."""

import itertools
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import Device, TelemetrySample
from devices.simulator.sep2_device import FleetFaults
from devices.simulator.sep2_fleet import Sep2Fleet, fleet_lfdi
from programs.models import Dispatch
from programs.services import event_create
from protocol import pki
from protocol.identity import client_identity_from_der
from protocol.managers.derp import der_control_mrid
from protocol.models import ControlResponse, EndDevice
from protocol.services import client_register
from tests import factories
from tests.integration.fleet import FleetThread, fleet_participants
from tests.integration.servers import sep2_server, subprocess_env, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.production_stack,
    pytest.mark.django_db(transaction=True),
]


def sample_times(lfdi: str) -> list[float]:
    device = Device.objects.filter(lfdi=lfdi).first()
    if device is None:
        return []
    rows = TelemetrySample.objects.filter(device=device, channel="w").order_by("at")
    return [s.at.timestamp() for s in rows]


def test_faulty_fleets_misbehave_as_specified(tmp_path):
    utility = factories.utility()
    manager = factories.member(utility)
    program = factories.program(
        utility, poll_rate_s=60, min_duration_min=1, max_events_per_day=None
    )
    group = factories.dispatch_group(utility, prog=program)
    built = pki.build_test_pki(tmp_path / "pki")
    identity = client_identity_from_der(built.aggregator.cert_der)
    agg = client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="agg", program=program
    )
    fleet_participants(program=program, client=agg, count=2, seed=1)
    pem = built.aggregator_cert.read_bytes()
    env = subprocess_env(tmp_path, SEP2_TRUSTED_PROXIES="127.0.0.1")
    log = tmp_path / "asgi.log"
    with sep2_server(env, log) as base:
        # Fleet A: wrong sign, no Responses; profile cadence 300 s at time_scale 60 → 5 s.
        wrong = Sep2Fleet(
            base_url=base,
            devices=2,
            forwarded_cert_pem=pem,
            seed=1,
            time_scale=60,
            faults=FleetFaults(wrong_sign=True, no_responses=True),
        )
        # Fleet B: a 900 s telemetry cadence at time_scale 300 → readings 3 s apart.
        slow = Sep2Fleet(
            base_url=base,
            devices=1,
            forwarded_cert_pem=pem,
            seed=2,
            time_scale=300,
            faults=FleetFaults(telemetry_interval_s=900),
        )
        with FleetThread(wrong), FleetThread(slow):
            wait_until(
                lambda: wrong.stats.registered == 2 and slow.stats.registered == 1,
                timeout_s=30,
                what="fleets registered",
                logs=[log],
            )
            event = event_create(
                program=program,
                group=group,
                kind="discharge",
                start=timezone.now() + timedelta(seconds=3),
                duration_s=60,
                per_device_w=2000,
                actor=manager,
                is_test=True,
            )
            setpoints = {
                d.device.lfdi: d.setpoint_w
                for d in Dispatch.objects.filter(event=event).select_related("device")
            }
            assert len(setpoints) == 2 and all(w > 0 for w in setpoints.values())
            wait_until(
                lambda: all(
                    d.setpoint_w == -setpoints[d.lfdi]
                    and abs(d.battery.battery_w + setpoints[d.lfdi]) < 100
                    for d in wrong.devices
                ),
                timeout_s=20,
                what="batteries charging against a discharge setpoint",
            )
            wait_until(
                lambda: (
                    len(sample_times(fleet_lfdi(seed=2, index=0))) >= 3
                    and len(sample_times(fleet_lfdi(seed=1, index=0))) >= 3
                ),
                timeout_s=20,
                what="three readings each",
                logs=[log],
            )
            time.sleep(1)  # let any Response in flight land
        assert {
            der_control_mrid(EndDevice.objects.get(lfdi=d.lfdi), event) for d in wrong.devices
        } <= set(wrong.stats.controls_seen)
        assert wrong.stats.responses == {}
        end_devices = EndDevice.objects.filter(
            lfdi__in=[fleet_lfdi(seed=1, index=i) for i in range(2)]
        )
        assert end_devices.count() == 2
        assert not ControlResponse.objects.filter(end_device__in=end_devices).exists()
        slow_times = sample_times(fleet_lfdi(seed=2, index=0))
        assert {round(b - a) for a, b in itertools.pairwise(slow_times)} == {3}
        wrong_times = sample_times(fleet_lfdi(seed=1, index=0))
        assert {round(b - a) for a, b in itertools.pairwise(wrong_times)} == {5}
        # Negative battery W was mirrored for the wrong-sign fleet.
        device = Device.objects.get(lfdi=fleet_lfdi(seed=1, index=0))
        assert TelemetrySample.objects.filter(device=device, channel="w", value__lt=0).exists()
