"""The Modbus path end to end: simulator over TCP, connector sites, polling into telemetry,
event setpoints written, read back and felt by the simulated battery, a site dropping out.
"""

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from devices.choices import CommandKind, SiteStatus
from devices.connectors.receivers import queue_event_setpoints
from devices.connectors.services import (
    connector_event_apply,
    connector_setpoints_reassert,
    connector_site_test,
    connectors_poll,
)
from devices.connectors.tasks import connectors_poll_task
from devices.models import ConnectorCommand, ConnectorSite, Device, TelemetrySample
from devices.services import connector_site_create, device_register
from devices.simulator.modbus_sim import BatterySimulator
from programs.models import Dispatch, Event
from tests import factories
from tests.devices.connectors.test_sunspec_tcp import free_port_run

pytestmark = pytest.mark.integration

TIME_SCALE = 120.0  # one wall second is two simulated minutes


class SimulatorThread:
    """A BatterySimulator on its own event loop in a background thread."""

    def __init__(self, count: int):
        # One unit per port, so one battery can be taken off the network alone.
        self.sim = BatterySimulator(
            count, port=free_port_run(count), units_per_port=1, time_scale=TIME_SCALE
        )
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def __enter__(self):
        self.thread.start()
        self.call(self.sim.start())
        return self.sim

    def __exit__(self, *exc):
        self.call(self.sim.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def fleet(db, settings):
    settings.CONNECTOR_REVERSION_S = 3600
    utility = factories.utility("Cascadia Power", slug="cascadia-test")
    runner = SimulatorThread(3)
    with runner as sim:
        sites = []
        for battery, (host, port, unit) in zip(sim.batteries, sim.endpoints, strict=True):
            device = device_register(
                utility=utility,
                vendor_name="Simulated",
                model_name="SunSpec battery",
                serial=battery.serial,
                max_charge_w=5000,
                max_discharge_w=5000,
                capacity_wh=13500,
            )
            sites.append(
                connector_site_create(
                    utility=utility,
                    name=battery.serial,
                    host=host,
                    port=port,
                    unit_id=unit,
                    device=device,
                )
            )
        yield utility, runner, sites


def test_modbus_sites_poll_take_setpoints_and_survive_a_drop(fleet):
    utility, runner, sites = fleet
    sim = runner.sim

    # Test connection: discovery finds the modern model set and stores the map.
    command = connector_site_test(site=sites[0])
    assert command.ok, command.error
    assert {1, 701, 704, 713, 715, 802} <= set(command.readback["model_ids"])
    sites[0].refresh_from_db()
    assert sites[0].model_map["base_address"] == 40000

    # Polling, as beat runs it: every site due, one ingest for the utility.
    assert connectors_poll_task() == 3
    for site in sites:
        site.refresh_from_db()
        assert site.status == SiteStatus.ONLINE, site.last_error
        assert site.model_map["models"]
        assert site.next_attempt_at > site.last_polled_at
    devices = {d.pk: d for d in Device.objects.for_utility(utility)}
    assert all(d.soc_pct is not None and d.last_heard_at for d in devices.values())
    assert TelemetrySample.objects.filter(utility=utility, channel="soc_pct").count() == 3
    # Not due again within their interval: the next beat polls nothing.
    assert connectors_poll_task() == 0

    # An active event with per-device setpoints: discharge 4 kW on each.
    event = factories.event(
        utility, status="active", start=timezone.now() - timedelta(minutes=1), duration_s=3600
    )
    for site in sites:
        Dispatch.objects.create(utility=utility, event=event, device=site.device, setpoint_w=4000)
    soc_before = [b.model.soc_pct for b in sim.batteries]
    commands = connector_event_apply(event_id=event.pk)
    assert len(commands) == 3
    assert all(c.ok and c.kind == CommandKind.SETPOINT for c in commands), commands
    assert all(c.event_mrid == event.mrid and c.requested_w == 4000 for c in commands)
    assert all(c.readback["WSetEna"] == 1 and c.readback["WSet"] == 4000 for c in commands)
    assert [b.setpoint_w for b in sim.batteries] == [4000.0] * 3

    # The batteries discharge: at noon they would otherwise be charging from solar.
    time.sleep(1.5)
    later = timezone.now()
    connectors_poll(now=later + timedelta(seconds=11))
    soc_after = [b.model.soc_pct for b in sim.batteries]
    assert all(a < b for a, b in zip(soc_after, soc_before, strict=True)), (soc_before, soc_after)
    device = Device.objects.get(pk=sites[0].device_id)
    assert device.power_w > 3000  # exporting what was asked, seen through telemetry

    # One site drops mid-event: it goes offline, then backs off; the others keep going.
    runner.call(sim.stop_port(sites[2].port))
    summary = connectors_poll(now=later + timedelta(seconds=22))
    assert (summary.online, summary.offline) == (2, 1)
    statuses = {s.pk: s.status for s in ConnectorSite.objects.all()}
    assert statuses == {
        sites[0].pk: SiteStatus.ONLINE,
        sites[1].pk: SiteStatus.ONLINE,
        sites[2].pk: SiteStatus.OFFLINE,
    }
    dropped = ConnectorSite.objects.get(pk=sites[2].pk)
    assert dropped.failures == 1 and dropped.last_error
    assert dropped.next_attempt_at == later + timedelta(seconds=22 + 5)
    # Within its 5 s backoff it is left alone; after it, it is retried and backs off further.
    assert connectors_poll(now=later + timedelta(seconds=25)).polled == 0
    summary = connectors_poll(now=later + timedelta(seconds=33))
    assert summary.polled == 3
    dropped.refresh_from_db()
    assert dropped.status == SiteStatus.BACKOFF and dropped.failures == 2

    # Re-asserting rewrites the live setpoints; the dropped site fails alone.
    reassert = connector_setpoints_reassert()
    assert (reassert.setpoints, reassert.failed) == (2, 1)
    assert reassert.heartbeats == 2

    # The event completes: the live devices are released and stop following the setpoint.
    Event.objects.filter(pk=event.pk).update(status="completed")
    released = connector_event_apply(event_id=event.pk)
    assert [c.ok for c in released if c.site_id != sites[2].pk] == [True, True]
    assert all(c.kind == CommandKind.RELEASE for c in released)
    assert sim.batteries[0].setpoint_w is None and sim.batteries[1].setpoint_w is None
    assert ConnectorCommand.objects.filter(event_id=event.pk, ok=False).exists()


def test_event_changed_queues_the_setpoint_job_only_where_sites_exist(
    db, django_capture_on_commit_callbacks
):
    utility = factories.utility()
    event = factories.event(utility)
    with django_capture_on_commit_callbacks() as callbacks:
        queue_event_setpoints(
            sender=Event, event_id=event.pk, utility_id=utility.pk, status="active"
        )
    assert callbacks == []  # no Modbus sites at this utility: nothing to do

    factories.connector_site(utility)
    with django_capture_on_commit_callbacks() as callbacks:
        queue_event_setpoints(
            sender=Event, event_id=event.pk, utility_id=utility.pk, status="scheduled"
        )
    assert callbacks == []  # scheduling is not a control change

    with django_capture_on_commit_callbacks() as callbacks:
        queue_event_setpoints(
            sender=Event, event_id=event.pk, utility_id=utility.pk, status="cancelled"
        )
    assert len(callbacks) == 1  # the release job, queued for after the commit


def test_polling_keeps_connections_between_rounds_and_reconnects_dropped_ones(fleet, monkeypatch):
    """Each round used to connect to every site and close again; the connections now stay
    open, and one the device closed in between is reopened within the round."""
    from pymodbus.client import AsyncModbusTcpClient

    _, runner, sites = fleet
    connects: list[int] = []
    connect = AsyncModbusTcpClient.connect

    async def counted(client):
        connects.append(client.ctx.comm_params.port)
        return await connect(client)

    monkeypatch.setattr(AsyncModbusTcpClient, "connect", counted)
    start = timezone.now() - timedelta(hours=3)
    assert connectors_poll(now=start).online == 3
    assert connectors_poll(now=start + timedelta(hours=1)).online == 3
    assert sorted(connects) == sorted(site.port for site in sites)

    runner.call(runner.sim.stop_port(sites[1].port))  # the device drops every connection
    runner.call(runner.sim.start_port(sites[1].port))
    summary = connectors_poll(now=start + timedelta(hours=2))
    assert (summary.online, summary.offline) == (3, 0)
    assert connects.count(sites[1].port) == 2
    assert len(connects) == 4
