"""An independent CSIP client's aggregator of 20 batteries, on the real server (issue 23).

`make run`'s own nginx (portal.devstack) terminates mutual TLS in front of the 2030.5
listener; the fleet connects from 127.0.0.2 with the demo aggregator certificate and
behaves like the independent client of issue 23 (`client_style="independent"`): no
DeviceInformation, the full set of system readings (W, var, V, Hz, Wh both ways, power
factor 65, VA 61, A 5) and events keyed by mRID across the aggregator. Each battery has
its own rating, so a pro-rata event plans a different setpoint for each.

The test asserts that the 20 DERControl copies carry 20 distinct mRIDs (a client keying
events by mRID would otherwise follow one device's copy and drop the rest), that each
device's own planned setpoint reached that device and its battery ran at it, and that
every reading it mirrored was stored. It prints the closing note's table.
"""

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from devices.models import Device, OtherReading, TelemetrySample
from devices.simulator.sep2_fleet import (
    SYSTEM_READINGS,
    Sep2Fleet,
    dispatch_table,
    fleet_lfdi,
)
from programs.models import Dispatch
from programs.services import event_create, group_member_add
from protocol.identity import client_identity_from_der
from protocol.managers.derp import der_control_mrid
from protocol.models import EndDevice
from protocol.services import client_register
from tests import factories
from tests.integration.fleet import FleetThread
from tests.integration.servers import sep2_server, subprocess_env, wait_until
from tests.integration.test_sep2_field import FIELD_ADDRESS, devstack_nginx, field  # noqa: F401

pytestmark = [
    pytest.mark.integration,
    pytest.mark.production_stack,
    pytest.mark.django_db(transaction=True),
]

DEVICES = 20
TARGET_W = 20_000


def rating_w(index: int) -> float:
    """Battery `index`'s discharge rating: 2000 W, 2100 W, … (each differs)."""
    return 2000.0 + 100.0 * index


def test_independent_aggregator_of_20_gets_each_its_own_control(field):  # noqa: F811
    tmp, demo, utility = field["tmp"], field["demo"], field["utility"]
    manager = factories.member(utility)
    program = factories.program(
        utility, poll_rate_s=60, min_duration_min=1, max_events_per_day=None
    )
    group = factories.dispatch_group(utility, prog=program)
    identity = client_identity_from_der(demo.aggregator.cert_der)
    client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="independent", program=program
    )
    logs = [tmp / "sep2.log"]
    with (
        sep2_server(subprocess_env(tmp), logs[0]) as base,
        devstack_nginx(tmp, urlparse(base).port) as port,
    ):
        # time_scale 60: polls every 1 s (pollRate 60), readings every 5 s (300 s cadence).
        fleet = Sep2Fleet(
            base_url=f"https://127.0.0.1:{port}",
            devices=DEVICES,
            cert_path=demo.aggregator_cert,
            key_path=demo.aggregator_key,
            ca_path=demo.ca_bundle,
            source_address=FIELD_ADDRESS,
            client_style="independent",
            battery_params=lambda i: {"max_discharge_w": rating_w(i), "ramp_w_per_s": 5000.0},
            time_scale=60,
        )
        with FleetThread(fleet):
            wait_until(
                lambda: fleet.stats.registered == DEVICES and fleet.stats.polls >= DEVICES,
                timeout_s=60,
                what="fleet registered",
                logs=logs,
            )
            # It sent no DeviceInformation: each device is known by its LFDI only; a
            # program manager puts it in the group by that.
            end_devices = {
                i: EndDevice.objects.get(lfdi=fleet_lfdi(seed=0, index=i)) for i in range(DEVICES)
            }
            for end_device in end_devices.values():
                group_member_add(group=group, device=end_device.device)
            # Its capability PUT gave each device its own rating.
            wait_until(
                lambda: all(
                    TelemetrySample.objects.filter(device=e.device, channel="w").exists()
                    for e in end_devices.values()
                ),
                timeout_s=30,
                what="first readings stored",
                logs=logs,
            )
            start = timezone.now() + timedelta(seconds=8)
            event = event_create(
                program=program,
                group=group,
                kind="discharge",
                start=start,
                duration_s=600,
                target_w=TARGET_W,
                setpoint_rule="pro_rata",
                actor=manager,
                is_test=True,
            )
            planned = {
                row.device_id: row.setpoint_w for row in Dispatch.objects.filter(event=event)
            }
            assert len(planned) == DEVICES, planned
            assert len(set(planned.values())) == DEVICES, "the setpoints should differ"
            mrids = {i: der_control_mrid(end_devices[i], event) for i in range(DEVICES)}
            assert len(set(mrids.values())) == DEVICES

            def own_control_arrived() -> bool:
                return all(mrids[d.index] in d.controls for d in fleet.devices)

            wait_until(own_control_arrived, timeout_s=30, what="every DERControl", logs=logs)
            for dev in fleet.devices:
                setpoint = planned[end_devices[dev.index].device_id]
                assert dev.controls[mrids[dev.index]].setpoint_w == setpoint
            assert fleet.stats.mrid_collisions == 0

            def batteries_at_setpoints() -> bool:
                return all(
                    dev.active == mrids[dev.index]
                    and abs(dev.battery.battery_w - planned[end_devices[dev.index].device_id]) < 5
                    for dev in fleet.devices
                )

            wait_until(batteries_at_setpoints, timeout_s=40, what="batteries at their setpoints")
            # Telemetry shows it on the server, within a reading's rounding.
            wait_until(
                lambda: all(
                    abs((Device.objects.get(pk=e.device_id).power_w or 0) - w) <= 1
                    for e in end_devices.values()
                    for w in [planned[e.device_id]]
                ),
                timeout_s=30,
                what="telemetry at the setpoints",
                logs=logs,
            )
            table = dispatch_table(fleet)
        print("\n" + table)

    # All its readings were stored: the modelled series and the rest as other readings.
    channels = {"w", "var", "v", "hz", "wh_import", "wh_export", "site_w"}
    others = {"Power factor", "Apparent power", "Current"}
    assert len(SYSTEM_READINGS) == 9
    for end_device in end_devices.values():
        stored = set(
            TelemetrySample.objects.filter(device=end_device.device).values_list(
                "channel", flat=True
            )
        )
        assert channels <= stored, (end_device.lfdi, stored)
        quantities = set(
            OtherReading.objects.filter(device=end_device.device).values_list("quantity", flat=True)
        )
        assert {q.split(" (")[0] for q in quantities} >= others, quantities
    assert fleet.stats.status_codes.get(400, 0) == 0, fleet.stats.status_codes
    for index, end_device in end_devices.items():
        assert mrids[index] in table and str(planned[end_device.device_id]) in table
