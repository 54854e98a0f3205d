"""The SunSpec client against the Modbus battery simulator over real TCP on loopback."""

import asyncio
import contextlib
import socket
from datetime import UTC, datetime, timedelta

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP

from devices.connectors.sunspec.client import (
    SetpointNotConfirmed,
    SunSpecSite,
    heartbeat,
    poll_sites,
    read_battery_state,
    write_setpoint,
)
from devices.connectors.sunspec.codec import decode
from devices.connectors.sunspec.discovery import (
    DeviceRejected,
    ModelEntry,
    SunSpecNotFound,
    discover,
    read_model,
)
from devices.connectors.sunspec.models import model_definition
from devices.simulator.modbus_sim import BatterySimulator

pytestmark = pytest.mark.integration

SERVERS = {"pymodbus": False, "lean": True}  # how the simulator is served: BatterySimulator(lean=)
_serve_lean = False


@pytest.fixture(autouse=True, params=list(SERVERS))
def served_by(request, monkeypatch):
    """Every test here runs against pymodbus's server and against the lean responder."""
    monkeypatch.setattr(f"{__name__}._serve_lean", SERVERS[request.param])
    return request.param


def free_port_run(count: int) -> int:
    """A base port with `count` consecutive free ports on loopback."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port run")


@contextlib.asynccontextmanager
async def simulator(
    count: int = 3, *, units_per_port: int = 247, site_timeout: float = 1.0, **kwargs
):
    sim = BatterySimulator(
        count,
        port=free_port_run(count // units_per_port + 1),
        units_per_port=units_per_port,
        lean=_serve_lean,
        **kwargs,
    )
    await sim.start()
    sites = [
        SunSpecSite(f"site-{i}", host, port=port, device_id=unit, timeout=site_timeout)
        for i, (host, port, unit) in enumerate(sim.endpoints)
    ]
    try:
        yield sim, sites
    finally:
        for site in sites:
            await site.close()
        await sim.stop()


async def test_discovery_follows_the_chain_from_the_device():
    async with simulator(2) as (sim, sites):
        model_map = await sites[1].discover()
        assert [m.model_id for m in model_map] == [1, 701, 702, 704, 713, 715, 802]
        assert model_map.base_address == 40000
        address = 40002
        for entry in model_map:
            assert entry.start_address == address
            assert entry.length == model_definition(entry.model_id).fixed_length - 2
            address += entry.block_length
        common = await sites[1].read_model(1)
        assert common["SN"] == sim.batteries[1].serial
        assert common["Mn"] == "Reservoir"
        ac = await sites[1].read_model(701)  # 155 registers: read in two requests
        assert ac["Hz"] == pytest.approx(60.0)


class FakeDevice:
    """A register space standing in for a device, recording every request."""

    def __init__(self, registers: dict[int, int]):
        self.registers = registers
        self.requests: list[tuple[int, int]] = []

    async def read(self, address: int, count: int) -> list[int]:
        self.requests.append((address, count))
        if count > 125:
            raise AssertionError("more than 125 registers in one request")
        if any(a not in self.registers for a in range(address, address + count)):
            raise DeviceRejected(f"illegal address {address}+{count}")
        return [self.registers[a] for a in range(address, address + count)]


def layout(base: int, blocks: list[list[int]], end: bool = True) -> dict[int, int]:
    regs = [0x5375, 0x6E53]
    for block in blocks:
        regs.extend(block)
    if end:
        regs.extend([0xFFFF, 0])
    return {base + i: v for i, v in enumerate(regs)}


async def test_discovery_falls_back_to_address_zero_and_splits_long_models():
    long_model = [701] + [300] + [0] * 300  # a model longer than one request allows
    device = FakeDevice(layout(0, [[1, 4, 0, 0, 0, 0], long_model, [802, 2, 9, 9]]))
    model_map = await discover(device.read)
    assert device.requests[0] == (40000, 2)
    assert model_map.base_address == 0
    assert list(model_map) == [
        ModelEntry(1, 2, 4),
        ModelEntry(701, 8, 300),
        ModelEntry(802, 310, 2),
    ]
    block = await read_model(device.read, model_map.find(701))
    assert len(block) == 302
    assert device.requests[-3:] == [(8, 125), (133, 125), (258, 52)]


async def test_discovery_at_50000_and_a_chain_without_an_end_marker():
    device = FakeDevice(layout(50000, [[713, 7, *range(7)]], end=False))
    model_map = await discover(device.read)
    assert model_map.base_address == 50000
    assert [m.model_id for m in model_map] == [713]


async def test_no_suns_marker_is_reported():
    device = FakeDevice({40000: 1, 40001: 2, 0: 0, 1: 0})
    with pytest.raises(SunSpecNotFound):
        await discover(device.read)


async def test_read_battery_state_matches_the_simulated_battery():
    # A near-frozen simulated clock: on a loaded machine the household load would otherwise
    # move between the read and the comparison.
    async with simulator(3, time_scale=1e-6) as (sim, sites):
        for site, battery in zip(sites, sim.batteries, strict=True):
            state = await read_battery_state(site)
            assert state.soc_source == "802.SoC"
            assert state.soc_pct == pytest.approx(battery.model.soc_pct, abs=1.0)
            assert state.w == pytest.approx(battery.model.battery_w, abs=10.0)
            assert state.hz == pytest.approx(60.0)
            assert state.v == pytest.approx(240.0)
            assert set(state.channels()) == {"w", "var", "v", "hz", "soc_pct"}


async def test_unimplemented_points_read_as_none_and_soc_falls_back_to_713():
    async with simulator(2, unimplemented={"802.SoC", "701.Var", "701.W_SF"}) as (sim, sites):
        state = await read_battery_state(sites[1])
        assert state.soc_source == "713.SoC"
        assert state.soc_pct == pytest.approx(sim.batteries[1].model.soc_pct, abs=1.0)
        assert state.var is None  # 0x8000, not 0
        assert state.w is None  # its scale factor is not implemented
        assert state.hz == pytest.approx(60.0)
        battery = await sites[1].read_model(802)
        assert battery["SoC"] is None
        assert battery["WHRtg"] == sim.batteries[1].model.params.capacity_wh


async def test_setpoint_is_written_read_back_and_moves_soc_in_accelerated_time():
    # 1 wall second is 1 simulated hour.
    async with simulator(3, time_scale=3600.0) as (sim, sites):
        before = [await read_battery_state(site) for site in sites]
        results = [await write_setpoint(site, 4000.0, reversion_s=7200) for site in sites]
        for result in results:
            assert result.route == "704"
            assert result.readback["WSetEna"] == 1
            assert result.readback["WSet"] == pytest.approx(4000.0)
            assert result.readback["WSetRvrtTms"] == 7200
        # the simulator saw the setpoint through its action hook
        assert [b.setpoint_w for b in sim.batteries] == [4000.0, 4000.0, 4000.0]
        await asyncio.sleep(0.4)
        after = [await read_battery_state(site) for site in sites]
        for old, new in zip(before, after, strict=True):
            assert new.w == pytest.approx(4000.0, abs=10.0)
            # ~0.4 h at 4 kW from 13.5 kWh: about 12 points of SoC
            assert old.soc_pct - new.soc_pct > 5.0


async def test_charge_setpoint_and_reversion():
    async with simulator(1, time_scale=3600.0) as (sim, sites):
        await write_setpoint(sites[0], -3000.0, reversion_s=1800)  # 0.5 s of wall time
        assert sim.batteries[0].setpoint_w == -3000.0
        await asyncio.sleep(0.7)
        values = await sites[0].read_model(704)
        assert values["WSetEna"] == 0  # reverted
        assert sim.batteries[0].setpoint_w is None


async def test_device_that_ignores_writes_is_caught_by_the_read_back():
    async with simulator(2) as (sim, sites):
        sim.batteries[0].ignore_writes = True
        with pytest.raises(SetpointNotConfirmed) as caught:
            await write_setpoint(sites[0], 2500.0, reversion_s=600)
        assert caught.value.actual["WSetEna"] == 0
        assert sim.batteries[0].setpoint_w is None
        # the other unit on the same port is unaffected
        assert (await write_setpoint(sites[1], 2500.0, reversion_s=600)).route == "704"


async def test_device_rejects_a_setpoint_beyond_its_rating():
    async with simulator(1) as (sim, sites):
        with pytest.raises(DeviceRejected):
            await write_setpoint(sites[0], 9000.0, reversion_s=600)
        assert sim.batteries[0].setpoint_w is None


async def test_read_only_points_cannot_be_written():
    async with simulator(1) as (_sim, sites):
        entry = (await sites[0].discover()).find(802)
        soc_address = entry.start_address + model_definition(802).point("SoC").offset
        with pytest.raises(DeviceRejected):
            await sites[0].write_registers(soc_address, [100])


async def test_legacy_route_uses_124_and_103():
    async with simulator(3, legacy=True, time_scale=3600.0) as (sim, sites):
        for site, battery in zip(sites, sim.batteries, strict=True):
            result = await write_setpoint(site, 2500.0, reversion_s=3600)
            assert result.route == "124"
            assert result.readback["StorCtl_Mod"] == 0b10
            assert result.readback["OutWRte"] == pytest.approx(50.0)
            assert battery.setpoint_w == pytest.approx(2500.0)
        await asyncio.sleep(0.2)
        for site in sites:
            state = await read_battery_state(site)
            assert state.soc_source == "124.ChaState"
            assert state.w == pytest.approx(2500.0, abs=10.0)
        charge = await write_setpoint(sites[0], -1000.0, reversion_s=3600)
        assert charge.readback["StorCtl_Mod"] == 0b01
        assert charge.readback["InWRte"] == pytest.approx(20.0)
        assert await heartbeat(sites[0]) is None  # no model 715


async def test_heartbeat_counts_up():
    async with simulator(1) as (_sim, sites):
        assert await heartbeat(sites[0]) == 1
        assert await heartbeat(sites[0]) == 2
        assert (await sites[0].read_model(715))["ControllerHb"] == 2


async def test_pysunspec2_reads_the_simulator_like_we_do():
    async with simulator(2) as (sim, sites):
        host, port, unit = sim.endpoints[1]

        def scan() -> dict[int, dict]:
            device = SunSpecModbusClientDeviceTCP(slave_id=unit, ipaddr=host, ipport=port)
            try:
                device.scan()
                return {
                    mid: device.models[mid][0].get_dict(computed=True)
                    for mid in device.models
                    if isinstance(mid, int)
                }
            finally:
                device.close()

        theirs = await asyncio.to_thread(scan)
        assert sorted(theirs) == [1, 701, 702, 704, 713, 715, 802]
        battery = await sites[1].read_model(802)
        assert theirs[802]["SoC"] == pytest.approx(battery["SoC"])
        assert theirs[802]["WHRtg"] == battery["WHRtg"]
        assert theirs[1]["SN"] == sim.batteries[1].serial
        block = await read_model(sites[1].read_registers, (await sites[1].discover()).find(704))
        assert decode(704, block)["WSet_SF"] == theirs[704]["WSet_SF"]


async def test_poller_backs_off_a_dead_site_and_keeps_polling_the_others():
    async with simulator(3, units_per_port=1, site_timeout=0.3) as (sim, sites):
        t0 = datetime(2026, 7, 1, 18, 0, tzinfo=UTC)
        first = await poll_sites(sites, now=t0)
        assert [o.status for o in first] == ["ok", "ok", "ok"]
        assert first[0].channels["soc_pct"] is not None

        await sim.stop_port(sim.endpoints[1][1])
        second = await poll_sites(sites, now=t0 + timedelta(seconds=10))
        assert [o.status for o in second] == ["ok", "offline", "ok"]
        assert second[1].failures == 1
        assert second[1].next_attempt_at == t0 + timedelta(seconds=15)

        third = await poll_sites(sites, now=t0 + timedelta(seconds=12))
        assert [o.status for o in third] == ["ok", "backoff", "ok"]

        fourth = await poll_sites(sites, now=t0 + timedelta(seconds=15))
        assert [o.status for o in fourth] == ["ok", "offline", "ok"]
        assert fourth[1].next_attempt_at == t0 + timedelta(seconds=25)  # doubled

        await sim.start_port(sim.endpoints[1][1])
        fifth = await poll_sites(sites, now=t0 + timedelta(seconds=25))
        assert [o.status for o in fifth] == ["ok", "ok", "ok"]
        assert sites[1].backoff.failures == 0


async def test_a_new_connection_shares_one_response_table_and_copies_nothing(monkeypatch):
    """connectors_poll builds a client per site per round: pymodbus's `register` deep-copied
    its whole PDU table for each (about 0.06 ms of CPU per site)."""
    import copy

    copies = []
    real_deepcopy = copy.deepcopy
    monkeypatch.setattr(
        copy, "deepcopy", lambda *a, **k: copies.append(a) or real_deepcopy(*a, **k)
    )
    async with simulator(2) as (sim, sites):
        states = [await read_battery_state(site) for site in sites]
        tables = {id(site._client.ctx.framer.decoder.pdu_table) for site in sites}
    assert copies == []
    assert len(tables) == 1
    assert [s.soc_pct for s in states] == [
        pytest.approx(b.model.soc_pct, abs=0.1) for b in sim.batteries
    ]
